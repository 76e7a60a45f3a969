"""Middleware that runs a job on a thread of its own inside each worker process: any
thread bound to the worker's life (:class:`ThreadMiddleware`), and one on a timer
(:class:`Periodic`)."""

from __future__ import annotations

import logging

import redis
from dramatiq import Broker, Worker
from dramatiq.middleware import Middleware

from workers.core.background import BackgroundThread, FailureStreak

logger = logging.getLogger(__name__)


class ThreadMiddleware(Middleware):
    """A middleware that runs :meth:`_run` on a thread of its own from :meth:`start` to
    :meth:`stop`: in a worker, from its boot to its shutdown."""

    def __init__(self, thread_name: str) -> None:
        self._thread = BackgroundThread(thread_name, self._run)

    def start(self, broker: Broker) -> None:
        """Start the thread (once; a second call does nothing)."""
        self._thread.start(broker)

    def stop(self) -> None:
        """Stop the thread; wait for the work under way to finish."""
        self._thread.stop()

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self.start(broker)

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self.stop()

    def _run(self, broker: Broker) -> None:
        raise NotImplementedError


class Periodic(ThreadMiddleware):
    """Calls :meth:`tick` every ``interval_s`` on a thread of its own, from :meth:`start`
    to :meth:`stop`; as a middleware, from worker boot to worker shutdown. A tick that
    fails, on Redis or anything else, is logged (once per streak of failures, with a
    traceback unless Redis was away) and the next one tries again: a Redis restart or
    a bad tick pauses the job instead of ending its thread.

    Subclasses set :attr:`job` (how logs name it) and fill in :meth:`tick`.
    """

    job = "periodic job"

    def __init__(self, *, interval_s: float) -> None:
        super().__init__("hookrelay-" + self.job.replace(" ", "-"))
        self.interval_s = interval_s

    def tick(self, broker: Broker) -> None:
        raise NotImplementedError

    def _run(self, broker: Broker) -> None:
        streak = FailureStreak(logger, self.job.capitalize(), expected=(redis.RedisError,))
        while not self._thread.wait(self.interval_s):
            try:
                self.tick(broker)
            except Exception as error:
                streak.failed(error)
            else:
                streak.succeeded()
