"""The web worker's garbage collector settings (webhook/collector.py)."""

import gc
import importlib
import types

import pytest

from webhook.collector import YOUNG_THRESHOLD, tune_collector
from webhook.server import WholeBody


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield threshold
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_what_exists_is_frozen_and_the_youngest_generation_collected_less_often(
    restored_collector,
):
    tune_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *restored_collector[1:])


def test_each_gunicorn_worker_settles_its_collector_once_it_has_started(
    restored_collector, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOOKRELAY_API_KEYS", "test-key")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/stats.db")
    from workers.campaigns.schema import migrate

    migrate(f"sqlite:///{tmp_path}/stats.db")
    conf = importlib.import_module("webhook.gunicorn_conf")
    worker = types.SimpleNamespace(wsgi=lambda environ, start_response: [])
    conf.post_worker_init(worker)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert isinstance(worker.wsgi, WholeBody), "each body read whole before the app"
