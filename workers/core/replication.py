"""Writes that count only once replicas have them (``REDIS_MIN_REPLICAS``).

Redis replicates asynchronously: a primary that fails over loses what it acknowledged
but had not yet sent to a replica. ``WAIT n timeout`` blocks the connection that wrote
until ``n`` replicas confirm everything it wrote, or the timeout passes; it answers how
many did. With :attr:`Replication.replicas` set:

- the receiver sends its enqueue script and ``WAIT`` down one connection in one round
  trip (:meth:`Replication.pipelined`) and answers ``503`` (retry with the same ids)
  when fewer replicas confirm, so a ``202`` survives losing the primary;
- the workers confirm a stored retry or dead letter (:meth:`Replication.confirm`)
  before they acknowledge the message it replaces. That write went through the pool,
  on a connection this code no longer holds, so ``confirm`` writes a marker and waits
  for it: the replication stream is one ordered log, so a replica that has the marker
  has every write the primary took before it;
- the workers confirm their claim on a message, and every acknowledgement before it,
  the same way before they deliver it (workers/queue/claims.py).

Trade-offs: every ``202`` then costs one replica round trip (``bench/replicas.py``
measures it), and with fewer live replicas than required the receiver refuses
everything and the workers hold their messages until one is back: availability is
traded for the promise. A ``503`` for a write that did reach the primary is the
ambiguous kind: the retry is answered as a duplicate if it survived. ``WAIT`` does not
make a write durable on the replica's disk, only in its memory (see docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from workers.core.settings import Settings

#: The key :meth:`Replication.confirm` writes: a counter, one key however often.
MARKER = "hookrelay:replication:marker"


class NotReplicated(redis.RedisError):
    """The primary took a write, but fewer replicas than required confirmed it in time:
    it may or may not survive a failover (retry it idempotently)."""


@dataclass(frozen=True)
class Replication:
    #: Replicas that must confirm a write; 0: none (``WAIT`` is never sent).
    replicas: int = 0
    timeout_ms: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> Replication:
        return cls(settings.redis_min_replicas, settings.redis_replica_timeout_ms)

    def pipelined(self, client: redis.Redis, write: Callable[[redis.client.Pipeline], Any]) -> Any:
        """Run ``write(pipe)`` (queueing commands, the last of them a write) and ``WAIT``
        on one connection; return the first command's answer, or raise
        :class:`NotReplicated`."""
        with client.pipeline(transaction=False) as pipe:
            write(pipe)
            pipe.wait(self.replicas, self.timeout_ms)
            answer, *_, confirmed = pipe.execute()
        if confirmed < self.replicas:
            raise NotReplicated(
                f"{confirmed} of the {self.replicas} replicas required (REDIS_MIN_REPLICAS) "
                f"confirmed the write within {self.timeout_ms} ms"
            )
        return answer

    def confirm(self, client: redis.Redis) -> None:
        """Make sure the replicas have every write the primary took so far."""
        if self.replicas:
            self.pipelined(client, lambda pipe: pipe.incr(MARKER))
