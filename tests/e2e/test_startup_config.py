"""Bad settings stop ``web`` and ``worker`` at start-up with one line per problem, and
a store whose schema is behind stops them with what to run."""

from __future__ import annotations

import pytest

from ..support import API_KEY, ProcfileProcess, free_port, run_release


def failed_start(process: str, env: dict[str, str], tmp_path) -> str:
    """Start ``process`` with ``env``; it must exit non-zero. Returns its log."""
    base = {
        "HOOKRELAY_API_KEYS": API_KEY,
        "PORT": str(free_port()),
        "WORKER_PROCESSES": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stats.db'}",
    }
    started = ProcfileProcess(process, {**base, **env}, tmp_path)
    assert started.process.wait(30) != 0
    started.stop()
    log = started.log()
    assert "Traceback" not in log
    return log


@pytest.mark.parametrize(
    ("process", "env", "problem"),
    [
        ("web", {"HOOKRELAY_API_KEYS": ""}, "HOOKRELAY_API_KEYS: not set"),
        ("web", {"PORT": "http"}, "PORT: Not a valid integer."),
        ("worker", {"CRM_RATE_LIMIT": "fast"}, "CRM_RATE_LIMIT: Not a valid number."),
        ("worker", {"REDIS_URL": "localhost"}, "REDIS_URL: expected a redis://"),
        ("web", {"DATABASE_URL": "nonsense://x"}, "DATABASE_URL: cannot prepare the store"),
        ("worker", {"DATABASE_URL": "nonsense://x"}, "DATABASE_URL: cannot prepare the store"),
    ],
)
def test_bad_setting_is_one_line_and_a_failed_start(tmp_path, process, env, problem):
    log = failed_start(process, env, tmp_path)
    assert f"hookrelay {process}: configuration error: {problem}" in log


@pytest.mark.parametrize("process", ["web", "worker"])
def test_every_bad_setting_is_reported_at_once(tmp_path, process):
    env = {"CRM_RATE_LIMIT": "fast", "CRM_BASE_URL": "http://crm.example", "LOG_FORMAT": "xml"}
    log = failed_start(process, env, tmp_path)
    for problem in (
        "CRM_LOGIN: not set, and crm needs it",
        "CRM_RATE_LIMIT: Not a valid number.",
        "CRM_SECRET: not set, and crm needs it",
        "LOG_FORMAT: Must be one of",
    ):
        assert f"hookrelay {process}: configuration error: {problem}" in log


@pytest.mark.parametrize("process", ["web", "worker"])
def test_a_store_not_migrated_says_to_run_the_release_step(tmp_path, process):
    log = failed_start(process, {}, tmp_path)
    assert (
        f"hookrelay {process}: configuration error: DATABASE_URL: the store's schema is at "
        "revision none, this release needs 0003: run 'hookrelay migrate'"
    ) in log


def test_the_release_step_migrates_once(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'stats.db'}"}
    assert run_release(env) == "store schema upgraded: empty -> 0003\n"
    assert run_release(env) == "store schema already at 0003\n"
