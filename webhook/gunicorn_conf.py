"""Gunicorn settings for the ``web`` process (``hookrelay web`` runs
``gunicorn -c python:webhook.gunicorn_conf``, after giving the group its metrics
directory: see workers/metrics/multiprocess.py).

Settings are validated here, in the master, so bad variables stop the process with one
line each instead of a traceback from every worker; the stats store's schema is
checked here too (``hookrelay migrate`` upgrades it), and the masking log format set.
Each worker starts the app's background threads once the app is loaded and stops them
before it exits. ``WEB_CONCURRENCY`` sets the number of processes (the default suits a
2-core machine); each serves its connections as greenlets (webhook/server.py).
"""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING

from workers.campaigns.schema import current_store
from workers.core import logs
from workers.core.settings import ConfigError, load_settings

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

    from webhook.hub import Hub

try:
    _settings = load_settings()
    _settings.require_api_keys()
    current_store(_settings.database_url).dispose()
except ConfigError as error:
    print(error.report("hookrelay web"), file=sys.stderr)
    sys.exit(2)


def post_worker_init(worker: Worker) -> None:
    """Start the loaded app's background threads (its journals) in this worker, have
    each body read whole before the app runs (webhook/server.py), and set the garbage
    collector for requests (webhook/collector.py)."""
    from webhook.app import MAX_BODY_BYTES
    from webhook.collector import tune_collector
    from webhook.server import WholeBody

    hub = _hub(worker)
    if hub is not None:
        hub.start()
    worker.wsgi = WholeBody(
        worker.wsgi, limit=MAX_BODY_BYTES, timeout_s=_settings.web_read_timeout_s
    )
    tune_collector()


def worker_exit(server: Arbiter, worker: Worker) -> None:
    """Stop them, writing what they still hold, as this worker exits."""
    hub = _hub(worker)
    if hub is not None:
        hub.stop()


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Drop a finished worker's live gauges."""
    from workers.metrics.exposition import mark_process_dead

    mark_process_dead(worker.pid)


def _hub(worker: Worker) -> Hub | None:
    """The app's :class:`~webhook.hub.Hub`, or ``None`` if the app did not load
    (imported here, in the worker that loaded it: the master imports nothing of it)."""
    from webhook.hub import EXTENSION

    app = getattr(worker, "wsgi", None)
    app = getattr(app, "app", app)  # inside WholeBody, once post_worker_init has run
    return getattr(app, "extensions", {}).get(EXTENSION)


bind = f"{_settings.bind_address}:{_settings.port}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A greenlet per connection: a slow client holds no thread (webhook/server.py).
worker_class = "gevent"
# How long a head may take to arrive, on a new connection or between two requests.
keepalive = math.ceil(_settings.web_read_timeout_s)
graceful_timeout = 20
accesslog = None
logger_class = "webhook.server.AccessLogOff"
logconfig_dict = logs.dict_config(
    log_format=_settings.log_format, level=_settings.log_level, secrets=_settings.secrets()
)
# The control socket defaults to one path per user; several instances would collide.
control_socket_disable = True
