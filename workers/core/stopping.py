"""One stop per stop request, however many copies of the signal arrive.

A Procfile runner (honcho, foreman), systemd (``KillMode=control-group``) and
Heroku send ``SIGTERM`` to every process of the worker, and Dramatiq's main process
forwards its own copy to each worker process as well. Dramatiq takes a second
``SIGTERM`` as "stop now": the worker process exits at once, without putting back
the messages it prefetched or finishing the ones in hand, and they come back only
through the dead-worker sweep (``HOOKRELAY_HEARTBEAT_TIMEOUT_S`` later).

:func:`single_stop` makes the copies that arrive within :data:`SAME_STOP_S` of the
first one count as that one; :class:`SingleStop` applies it to each worker process,
and the metrics fork applies it to itself. A ``SIGTERM`` sent later still means
"stop now".
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import dramatiq
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

#: Copies of one stop request arrive within milliseconds of each other.
SAME_STOP_S = 2.0


def single_stop(same_stop_s: float = SAME_STOP_S) -> None:
    """Wrap this process's ``SIGTERM`` handler so that copies of one stop request
    count once (call it from the main thread, after Dramatiq set its handler)."""
    handler = signal.getsignal(signal.SIGTERM)
    if not callable(handler):
        return
    first: list[float] = []

    def on_term(signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if first and now - first[0] < same_stop_s:
            logger.debug("Another copy of the stop signal: stopping as asked already.")
            return
        first[:] = [now]
        handler(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


class SingleStop(Middleware):
    """:func:`single_stop` in each worker process, once it booted."""

    def __init__(self, same_stop_s: float = SAME_STOP_S) -> None:
        self.same_stop_s = same_stop_s

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if threading.current_thread() is threading.main_thread():
            single_stop(self.same_stop_s)
