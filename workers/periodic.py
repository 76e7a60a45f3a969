"""A middleware that does a small job on a timer inside each worker process."""

from __future__ import annotations

import logging
import threading

import redis
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)


class Periodic(Middleware):
    """Calls :meth:`tick` every ``interval_s`` on a daemon thread, from worker boot to
    shutdown. A tick that fails on Redis is logged and the next one tries again, so a
    Redis restart pauses the job instead of ending it.

    Subclasses set :attr:`job` (how logs name it) and fill in :meth:`tick`.
    """

    job = "periodic job"

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker) -> None:
        self._stop.clear()
        name = "hookrelay-" + self.job.replace(" ", "-")
        threading.Thread(target=self._run, args=(broker,), name=name, daemon=True).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()

    def tick(self, broker) -> None:
        raise NotImplementedError

    def _run(self, broker) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick(broker)
            except redis.RedisError as error:
                logger.warning("%s failed, will try again: %s", self.job.capitalize(), error)
