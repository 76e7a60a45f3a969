"""Dramatiq's Redis message layout, written down once.

hookrelay writes messages straight into Dramatiq's Redis queues from Lua, so that an
event, its dedup key, a profile flush or a campaign's schedule land in one atomic step.
What such a message looks like is defined here and nowhere else:

- :func:`redis_message` encodes a message as Dramatiq's ``RedisBroker`` stores it (its id
  doubles as the ``redis_message_id`` option the worker acknowledges by);
- :data:`ENQUEUE_LUA` is the snippet every enqueuing script starts with: it stores that
  encoding under the broker's keys (``enqueue_message(namespace, queue, id, data)``,
  ``enqueue_messages`` for several of one queue in two calls);
- :class:`MessageWriter` enqueues one message from Python through the same snippet.

tests/workers/test_message_layout.py enqueues through each of our scripts and reads the
messages back with Dramatiq's own consumer, so a Dramatiq upgrade that changes the
layout fails a test instead of stranding messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.common import current_millis, dq_name

from workers.core import lua

#: The message option saying what a delayed message waits for, when the delivery
#: policy delayed it: ``retrying`` (a failed attempt's backoff), ``postponed`` (its
#: user's earlier profile update), ``paused`` (an open circuit). The backlog counts
#: delayed messages by it (workers/metrics/backlog.py).
WAITS = "waits"

#: A message as middleware and actors' options get it (Dramatiq's proxy), or as it is
#: stored and enqueued.
AnyMessage = dramatiq.Message | MessageProxy

#: The Dramatiq namespace of every queue key.
NAMESPACE = "dramatiq"

#: The message option holding the id Dramatiq's Redis broker acknowledges a message by.
REDIS_ID = "redis_message_id"


def queue_key(queue: str, namespace: str = NAMESPACE) -> str:
    """The list of ``queue``'s message ids (a delay queue's too: ``crm.DQ``)."""
    return f"{namespace}:{queue}"


def messages_key(queue: str, namespace: str = NAMESPACE) -> str:
    """The hash of ``queue``'s encoded messages, by id."""
    return f"{namespace}:{queue}.msgs"


def heartbeats_key(namespace: str = NAMESPACE) -> str:
    """The sorted set of worker (broker) ids, scored by their last heartbeat (ms)."""
    return f"{namespace}:__heartbeats__"


def acks_prefix(worker: str, namespace: str = NAMESPACE) -> str:
    """What the keys of ``worker``'s acknowledgement sets start with; the queue follows."""
    return f"{namespace}:__acks__.{worker}."


def is_delay_queue(queue: str) -> bool:
    """Whether ``queue`` is one of Dramatiq's delay queues (``dq_name`` of a queue)."""
    return queue.endswith(".DQ")


#: ``enqueue_message(namespace, queue, message_id, data)``, for scripts that enqueue.
ENQUEUE_LUA = lua.read(__package__, "layout.lua")

_WRITE_ONE = ENQUEUE_LUA + "\nenqueue_message(ARGV[1], ARGV[2], ARGV[3], ARGV[4])\n"


@dataclass(frozen=True)
class Route:
    """Which actor handles a message, and the queue it waits in."""

    actor_name: str
    queue_name: str


def redis_message(
    route: Route,
    args: tuple,
    *,
    kwargs: dict | None = None,
    options: dict[str, Any] | None = None,
    eta_ms: int | None = None,
) -> tuple[str, bytes]:
    """A message for ``route`` as Dramatiq's Redis broker stores it: its id and encoding.

    The one id serves as message id and Redis message id, which the worker acks by.
    With ``eta_ms`` it is a delayed message, for ``delay_queue(route)``; its timestamp
    is its eta, so its retry budget (``RETRY_MAX_AGE_S``) starts when it is due.
    """
    message_id = str(uuid4())
    options = {**(options or {}), "redis_message_id": message_id}
    if eta_ms is not None:
        options["eta"] = eta_ms
    message: dramatiq.Message = dramatiq.Message(
        queue_name=route.queue_name if eta_ms is None else delay_queue(route),
        actor_name=route.actor_name,
        args=args,
        kwargs=kwargs or {},
        options=options,
        message_id=message_id,
        message_timestamp=current_millis() if eta_ms is None else eta_ms,
    )
    return message_id, message.encode()


def delay_queue(route: Route) -> str:
    """The queue where ``route``'s delayed messages wait until due."""
    return dq_name(route.queue_name)


class MessageWriter:
    """Enqueues one message at a time, atomically, as a ``RedisBroker`` would."""

    def __init__(self, client: redis.Redis, *, namespace: str = NAMESPACE) -> None:
        self._namespace = namespace
        self._script = client.register_script(_WRITE_ONE)

    def send(self, route: Route, args: tuple) -> str:
        """Enqueue a message for ``route``'s actor; return its id."""
        message_id, data = redis_message(route, args)
        self.write(route.queue_name, message_id, data)
        return message_id

    def write(self, queue_name: str, message_id: str, data: bytes) -> None:
        """Enqueue a message already encoded (:func:`redis_message`)."""
        self._script(args=[self._namespace, queue_name, message_id, data])
