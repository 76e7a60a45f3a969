"""Background jobs never die of an error: they log it once per streak, with a traceback
when it is not the store being away, and carry on."""

from __future__ import annotations

import logging
import threading

import redis

from workers.core.periodic import Periodic


class Flaky(Periodic):
    """Fails its first ``failures`` ticks with ``error``, then marks a good tick."""

    job = "flaky job"

    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__(interval_s=0.001)
        self.error = error
        self.left = failures
        self.good = threading.Event()

    def tick(self, broker) -> None:
        if self.left:
            self.left -= 1
            raise self.error
        self.good.set()


def run_until_good(job: Flaky) -> None:
    job.start(None)
    try:
        assert job.good.wait(10), "the job carried on after its errors"
    finally:
        job.stop()


def test_an_unexpected_error_is_logged_once_with_its_traceback(caplog):
    caplog.set_level(logging.INFO, logger="workers.core.periodic")
    run_until_good(Flaky(ValueError("a poison value"), failures=50))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "once per streak, not once per tick"
    assert warnings[0].getMessage() == "Flaky job failed, will try again: a poison value"
    assert warnings[0].exc_info is not None
    [recovered] = [r for r in caplog.records if r.levelno == logging.INFO]
    assert recovered.getMessage() == "Flaky job works again after 50 failed tries."


def test_redis_being_away_is_one_line_without_a_traceback(caplog):
    caplog.set_level(logging.INFO, logger="workers.core.periodic")
    run_until_good(Flaky(redis.ConnectionError("Connection refused"), failures=20))
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.exc_info is None
    assert "Connection refused" in warning.getMessage()


def test_stop_ends_the_thread():
    job = Flaky(ValueError("x"), failures=0)
    run_until_good(job)
    assert "hookrelay-flaky-job" not in {thread.name for thread in threading.enumerate()}
