"""The move of settled traces from Redis to the SQL store: a thread in every worker
process (workers/trace/archive.py says why).

Every :data:`INTERVAL_S`, each worker claims the traces whose final entry (delivered,
dead-lettered, batched, a duplicate) is at least :data:`DELAY_MS` old, :data:`BATCH`
at a time, reads their entries in one round trip, writes them to SQL in one statement,
then takes what it wrote out of Redis (``release.lua``). Workers share the work
through the claim's lease; the delay lets a trace gather what follows its outcome
closely (a duplicate submission) into one row.

Trade-offs, written down:

- A trace moves a few seconds after it settles: Redis holds traces only for what is in
  flight, retrying or just done, and a delivered event leaves its dedup key alone for
  the rest of its 24 h (docs/footprint.md).
- A move is at least once: a worker that dies between the SQL commit and the Redis
  clean-up leaves the trace to the next claim, which writes the same row (same digest)
  again and so stores nothing new.
- With SQL unreachable, nothing moves and traces stay in Redis (each expiring
  ``TRACE_RETENTION_S`` after its last entry, as before there was a move): the answer
  to ``GET /v1/events/<id>`` is whole either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import dramatiq
import msgspec
import redis

from workers.core import lua
from workers.core.periodic import Periodic
from workers.trace.archive import ArchivedTrace, TraceArchive
from workers.trace.trace import SETTLED

logger = logging.getLogger(__name__)

INTERVAL_S = 2.0
#: How long after its final entry a trace moves.
DELAY_MS = 5_000
#: How long a claim keeps a trace from other workers.
LEASE_MS = 60_000
BATCH = 500
#: Claims per tick at most, so a backlog is moved in steps that let the thread stop.
ROUNDS = 20
#: How often expired rows are deleted.
PRUNE_EVERY_S = 60.0

_CLAIM = lua.draining(lua.source(__package__, "claim.lua", lua.CLOCK))
_RELEASE = lua.draining(lua.read(__package__, "release.lua"))


class TraceMover(Periodic):
    """Parameters:
    client: the deployment's Redis.
    archive: the traces' SQL table.
    delay_ms: how long after its final entry a trace moves (tests: 0).
    """

    job = "trace move"

    def __init__(
        self,
        client: redis.Redis,
        archive: TraceArchive,
        *,
        delay_ms: int = DELAY_MS,
        interval_s: float = INTERVAL_S,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._client = client
        self.archive = archive
        self.delay_ms = delay_ms
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._pruned_at = 0.0

    def tick(self, broker: dramatiq.Broker) -> None:
        for _ in range(ROUNDS):
            if self.move() < BATCH:
                break
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            self.prune()

    def move(self) -> int:
        """Move one batch of settled traces; how many were claimed."""
        lease, *claimed = self._claim(keys=[SETTLED], args=[self.delay_ms, LEASE_MS, BATCH])
        if not claimed:
            return 0
        with self._client.pipeline(transaction=False) as pipe:
            for trace in claimed:
                pipe.lrange(trace, 0, -1)
            lists = pipe.execute()
        found = list(zip(claimed, lists, strict=True))
        self.archive.add(_archived(trace.decode(), entries) for trace, entries in found if entries)
        released: list[bytes | str | int] = [lease]
        for trace, entries in found:
            released += [trace, len(entries), *entries]
        self._release(keys=[SETTLED], args=released)
        return len(claimed)

    def prune(self) -> None:
        seconds, micros = self._client.time()
        deleted = self.archive.prune(seconds * 1000 + micros // 1000)
        self._pruned_at = time.monotonic()
        if deleted:
            logger.info("Deleted %d expired event traces.", deleted)


def _archived(trace: str, entries: Sequence[bytes]) -> ArchivedTrace:
    moments = [_at(entry) for entry in entries]
    known = [moment for moment in moments if moment is not None] or [int(time.time() * 1000)]
    return ArchivedTrace(trace=trace, entries=entries, first_at=min(known), last_at=max(known))


class _Stamped(msgspec.Struct):
    at: int | float | None = None


def _at(entry: bytes) -> int | None:
    """An entry's time (ms), read without decoding the rest of it."""
    try:
        moment = msgspec.json.decode(entry, type=_Stamped).at
    except msgspec.DecodeError:
        return None
    return None if moment is None else int(moment)
