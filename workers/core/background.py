"""A named thread with an explicit start and stop, for the jobs a process runs beside
its main work (the journals, the periodic jobs, the relay); none relies on ``atexit``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How long :meth:`BackgroundThread.stop` waits for the work under way to finish.
STOP_TIMEOUT_S = 10.0


class BackgroundThread:
    """Runs ``run(*args)`` on a daemon thread from :meth:`start` to :meth:`stop`; ``run``
    loops until :meth:`wait` answers True."""

    def __init__(self, name: str, run: Callable[..., None]) -> None:
        self.name = name
        self._run = run
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *args: object) -> None:
        """Start the thread (once; a second call does nothing)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, args=args, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop, and wait for the work under way to finish."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(STOP_TIMEOUT_S)

    def wait(self, seconds: float) -> bool:
        """Pause up to ``seconds``; True once :meth:`stop` was called."""
        return self._stopping.wait(seconds)

    def stopping(self) -> bool:
        return self._stopping.is_set()


class GaveUp(Exception):
    """:meth:`FailureStreak.until_done` stopped trying, its ``stop`` being set."""


class FailureStreak:
    """Says once that a background job started failing, and once that it works again:
    a job retried every 100 ms through an outage logs two lines, not thousands. An
    unexpected error (not the store being away) is logged with its traceback."""

    def __init__(self, logger: logging.Logger, job: str, *, expected: tuple = ()) -> None:
        self._logger = logger
        self._job = job
        self._expected = expected
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.failures == 1:
            self._logger.warning(
                "%s failed, will try again: %s",
                self._job,
                error,
                exc_info=None if isinstance(error, self._expected) else error,
            )

    def succeeded(self) -> None:
        if self.failures:
            self._logger.info("%s works again after %d failed tries.", self._job, self.failures)
            self.failures = 0

    def until_done(
        self,
        action: Callable[[], T],
        pause_s: float,
        *,
        retry_on: tuple = (Exception,),
        stop: threading.Event | None = None,
    ) -> T:
        """Call ``action`` until it raises none of ``retry_on``, pausing ``pause_s`` after
        each failure; return what it returned. Raises :class:`GaveUp` after a failure
        once ``stop`` is set (which also ends a pause at once)."""
        while True:
            try:
                result = action()
            except retry_on as error:
                self.failed(error)
                if stop is None:
                    time.sleep(pause_s)
                elif stop.is_set() or stop.wait(pause_s):
                    raise GaveUp(f"{self._job}: gave up ({error})") from error
            else:
                self.succeeded()
                return result
