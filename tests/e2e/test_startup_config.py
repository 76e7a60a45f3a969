"""A bad setting stops ``web`` and ``worker`` at start-up with one line naming it."""

from __future__ import annotations

import pytest

from ..support import API_KEY, ProcfileProcess, free_port


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
    base = {"HOOKRELAY_API_KEYS": API_KEY, "PORT": str(free_port()), "WORKER_PROCESSES": "1"}
    started = ProcfileProcess(process, {**base, **env}, tmp_path)
    assert started.process.wait(30) != 0
    started.stop()
    log = started.log()
    assert f"hookrelay {process}: configuration error: {problem}" in log
    assert "Traceback" not in log
