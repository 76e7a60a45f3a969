"""A middleware that does a small job on a timer inside each worker process."""

from __future__ import annotations

import logging
import threading

import redis
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

#: How long :meth:`Periodic.stop` waits for a tick under way to finish.
STOP_TIMEOUT_S = 10.0


class Periodic(Middleware):
    """Calls :meth:`tick` every ``interval_s`` on a thread of its own, from :meth:`start`
    to :meth:`stop`; as a middleware, from worker boot to worker shutdown. A tick that
    fails on Redis is logged and the next one tries again, so a Redis restart pauses
    the job instead of ending it.

    Subclasses set :attr:`job` (how logs name it) and fill in :meth:`tick`.
    """

    job = "periodic job"

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, broker) -> None:
        """Start ticking (once; a second call does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        name = "hookrelay-" + self.job.replace(" ", "-")
        self._thread = threading.Thread(target=self._run, args=(broker,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; wait for a tick under way to finish."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(STOP_TIMEOUT_S)

    def after_worker_boot(self, broker, worker) -> None:
        self.start(broker)

    def before_worker_shutdown(self, broker, worker) -> None:
        self.stop()

    def tick(self, broker) -> None:
        raise NotImplementedError

    def _run(self, broker) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick(broker)
            except redis.RedisError as error:
                logger.warning("%s failed, will try again: %s", self.job.capitalize(), error)
