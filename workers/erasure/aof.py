"""After an erasure, Redis's append-only file still holds what was erased (the file
is a log of writes) until Redis rewrites it, which by default happens only when the file
has doubled: for a steady deployment, days. :class:`AofRewrite`, a thread in every
worker process, asks Redis to rewrite it (``BGREWRITEAOF``) after an erasure:

- once a minute it compares the newest erasure (:data:`ERASED_AT`, written by the
  eraser) with the last rewrite it asked for; if an erasure is newer, no rewrite is
  running, and none was asked for in the last :data:`MIN_GAP_S`, it asks for one (one
  worker does: the others see the marker);
- so an erasure leaves the file within about ``MIN_GAP_S`` + a minute, however many
  erasures come at once: a burst of them costs one rewrite per ``MIN_GAP_S``.

A rewrite forks Redis and writes the whole dataset once (measured in bench/forget.py;
docs/operations.md). A Redis without the file (``appendonly no``) or that refuses the
command (some managed services) is left alone, with one warning. Replicas rewrite
their own files on their own schedule, and RDB snapshots keep what they held until the
next save: docs/operations.md says so.
"""

from __future__ import annotations

import logging
import time

import dramatiq
import redis

from workers.core.periodic import Periodic

logger = logging.getLogger(__name__)

#: When the newest erasure finished (ms).
ERASED_AT = "hookrelay:forget:erased-at"
#: When hookrelay last asked for a rewrite (ms); also what keeps workers from asking twice.
ASKED_AT = "hookrelay:forget:rewrite-asked-at"
INTERVAL_S = 60.0
MIN_GAP_S = 600


class AofRewrite(Periodic):
    job = "append-only file rewrite after erasures"

    def __init__(
        self, client: redis.Redis, *, interval_s: float = INTERVAL_S, min_gap_s: int = MIN_GAP_S
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._client = client
        self._min_gap_ms = min_gap_s * 1000
        self._warned = False

    def tick(self, broker: dramatiq.Broker) -> None:
        self.rewrite_if_due()

    def rewrite_if_due(self) -> bool:
        """Ask Redis for a rewrite if an erasure is newer than the last one asked for;
        whether it was asked."""
        erased, asked = self._client.mget(ERASED_AT, ASKED_AT)
        now_ms = int(time.time() * 1000)
        if erased is None or (asked is not None and int(asked) >= int(erased)):
            return False
        if asked is not None and now_ms - int(asked) < self._min_gap_ms:
            return False
        persistence = self._client.info("persistence")
        if not persistence.get("aof_enabled"):
            return False
        if persistence.get("aof_rewrite_in_progress") or persistence.get("aof_rewrite_scheduled"):
            return False
        with self._client.pipeline(transaction=True) as pipe:
            pipe.getset(ASKED_AT, now_ms)
            (previous,) = pipe.execute()
        if previous != asked:
            return False  # another worker asked meanwhile
        return self._ask()

    def _ask(self) -> bool:
        try:
            self._client.bgrewriteaof()
        except redis.ResponseError as error:
            self._client.delete(ASKED_AT)  # the next tick tries again
            if not self._warned:
                logger.warning("Redis refused to rewrite its append-only file: %s", error)
                self._warned = True
            return False
        logger.info("Asked Redis to rewrite its append-only file after an erasure.")
        return True
