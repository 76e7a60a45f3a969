"""Messages due later than a horizon wait in Redis, not in a broker's consumer.

Dramatiq delays a message by putting it on the queue's delay queue (``.DQ``), whose
consumer holds it unacknowledged, in worker memory, until its eta. The follow-up
schedule delays fetches by up to 72 h, and RabbitMQ (3.8.15+) closes a consumer that
holds a delivery longer than its ``consumer_timeout`` (30 min by default), redelivers
everything it held and starts the loop again. So a delayed message due later than
``HOOKRELAY_DELAY_HORIZON_S`` (60 s) is written to the due set instead:

- ``dramatiq:__due__``, a sorted set of message ids scored by eta (ms), and
- ``dramatiq:__due__.msgs``, each id's delay queue and encoded message,

by the same Lua step that would have enqueued it (``defer_message`` in layout.lua: the
campaign schedule writes its marker and its deferred fetches in one step). Every
worker's sweep moves what falls due within the horizon to its delay queue in Redis
(:meth:`DueSet.promote`, atomic), where it continues as any delayed message: Dramatiq's
Redis delay consumer, or the relay to RabbitMQ's, holds it for at most about the
horizon. Retries and polls that the workers delay go the same way
(:class:`DefersLongDelays`).

Trade-offs: a deferred message reaches its delay queue up to one sweep interval
late only if every worker is down, and is otherwise on time; the horizon must stay
well above the sweep interval (5 s) and below RabbitMQ's ``consumer_timeout``.
"""

from __future__ import annotations

import time
from uuid import uuid4

import dramatiq
import redis
from dramatiq.common import dq_name, q_name

from workers.core import lua
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, REDIS_ID

DEFAULT_HORIZON_S = 60.0
#: The due set of the default namespace (and ``.msgs``, its messages).
DUE_KEY = f"{NAMESPACE}:__due__"
#: Its messages: each id's delay queue, a newline, then the encoded message.
DUE_MESSAGES = f"{DUE_KEY}.msgs"
#: Messages moved per Lua call (each call is one short atomic step).
PROMOTE_BATCH = 500

_DEFER = lua.draining(
    ENQUEUE_LUA + "\ndefer_message(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n"
)
_PROMOTE = lua.draining(lua.source(__package__, "promote.lua", ENQUEUE_LUA))


def due_entry(value: bytes) -> tuple[bytes, bytes]:
    """A due-set message's delay queue and encoded message (:data:`DUE_MESSAGES`)."""
    queue, _, message = value.partition(b"\n")
    return queue, message


class DueSet:
    """The due set in ``client``'s Redis (see the module docstring).

    Parameters:
      horizon_s: delays longer than this are deferred here; shorter ones go straight
        to the delay queue.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        horizon_s: float = DEFAULT_HORIZON_S,
        namespace: str = NAMESPACE,
    ) -> None:
        self.client = client
        self.horizon_ms = int(horizon_s * 1000)
        self.namespace = namespace
        self.key = f"{namespace}:__due__"
        self._defer = client.register_script(_DEFER)
        self._promote = client.register_script(_PROMOTE)

    def defers(self, eta_ms: int, now_ms: int | None = None) -> bool:
        """Whether a message due at ``eta_ms`` waits here rather than in its delay queue."""
        return eta_ms > (now_ms if now_ms is not None else _now_ms()) + self.horizon_ms

    def defer(self, message: dramatiq.Message) -> None:
        """Keep ``message`` (a delay queue's, with ``eta`` and ``redis_message_id``
        options) until it falls due within the horizon."""
        options = message.options
        self._defer(
            args=[
                self.namespace,
                message.queue_name,
                options[REDIS_ID],
                message.encode(),
                options["eta"],
            ]
        )

    def promote(self, now_ms: int | None = None) -> int:
        """Move every message due within the horizon to its delay queue; returns how
        many moved."""
        until_ms = (now_ms if now_ms is not None else _now_ms()) + self.horizon_ms
        keys = [self.key, f"{self.key}.msgs"]
        moved = 0
        while True:
            batch = self._promote(keys=keys, args=[self.namespace, until_ms, PROMOTE_BATCH])
            moved += batch
            if batch < PROMOTE_BATCH:
                return moved

    def __len__(self) -> int:
        return self.client.zcard(self.key)


def delayed_copy(message: dramatiq.Message, delay_ms: int) -> dramatiq.Message:
    """``message`` as Dramatiq's Redis broker would put it on its delay queue: a fresh
    Redis id and an eta ``delay_ms`` from now."""
    return message.copy(
        queue_name=dq_name(q_name(message.queue_name)),
        options={REDIS_ID: str(uuid4()), "eta": _now_ms() + delay_ms},
    )


class DefersLongDelays(dramatiq.Broker):
    """A broker mix-in: :meth:`enqueue` with a delay longer than the due set's horizon
    defers the message to the due set instead of the broker's delay queue."""

    #: Set by the broker's constructor.
    due: DueSet

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is None or delay <= self.due.horizon_ms:
            return super().enqueue(message, delay=delay)
        self.emit_before("enqueue", message, delay)
        deferred = delayed_copy(message, delay)
        self.due.defer(deferred)
        self.emit_after("enqueue", deferred, delay)
        return deferred


def _now_ms() -> int:
    return int(time.time() * 1000)
