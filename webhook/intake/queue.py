"""Durable, idempotent hand-off of accepted events from the receiver to the workers.

:meth:`EventQueue.submit` runs one Lua script per request (see ``enqueue.lua``): every
event whose id is new within :data:`DEDUP_TTL_S` is written — an ``event`` as a Dramatiq
message on its route's queue, a ``profile`` into the profile buffer — and its id is
remembered, in a single atomic step. So a request is all or nothing, costs one round
trip whatever its size, and an id is never marked seen unless its event is in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import redis
from redis.exceptions import NoScriptError

from webhook.direct import DirectScript
from workers.core import lua
from workers.core.door import Door
from workers.core.replication import Replication
from workers.core.spans import NO_SPANS, Spans
from workers.profiles.coalesce import identity_keys
from workers.profiles.order import (
    AFTER_PREFIX,
    EVERY_PROFILE,
    ORDER_PREFIX,
    ORDER_TTL_S,
    SEQUENCE,
    UNSETTLED,
)
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, redis_message
from workers.queue.routes import DEDUP_PREFIX, DEDUP_TTL_S, PROFILE_BUFFER, ROUTES
from workers.trace.tail import KEY as TAIL_KEY
from workers.trace.tail import WINDOW_MS as TAIL_WINDOW_MS
from workers.trace.trace import APPEND_LUA, MAX_ENTRIES, PREFIX

UNREPLICATED = Replication()
#: The types that take part in ordering: a profile update opens, an event waits (a
#: campaign start waits too, for every user's updates).
ORDERED = ("profile", "event")

_SCRIPT = lua.source(
    __package__,
    "enqueue.lua",
    lua.CLOCK,
    ENQUEUE_LUA,
    APPEND_LUA,
    lua.constants(
        namespace=NAMESPACE,
        dedup_prefix=DEDUP_PREFIX,
        sequence=SEQUENCE,
        order_prefix=ORDER_PREFIX,
        after_prefix=AFTER_PREFIX,
        unsettled=UNSETTLED,
        every_profile=EVERY_PROFILE,
        order_ttl=ORDER_TTL_S,
        trace_prefix=PREFIX,
        trace_max=MAX_ENTRIES,
        tail=TAIL_KEY,
        tail_window_ms=TAIL_WINDOW_MS,
    ),
)


@dataclass(frozen=True)
class SubmitResult:
    accepted: int
    duplicates: int
    #: One flag per submitted event, in order: True if it was new, False if a duplicate
    #: or stopped.
    new: tuple[bool, ...] = ()
    #: The indexes of the events the door stopped: a suppressed person's, answered as
    #: accepted and dropped (workers/core/door.py).
    stopped: tuple[int, ...] = ()


class EventQueue:
    """Writes canonical events as Dramatiq messages that the Redis broker consumes.

    Parameters:
      client: a Redis client; its errors (down, timeout, OOM) propagate to the caller.
      dedup_ttl_s: how long an event id counts as seen.
      events_after_profiles: record what an ``event`` must wait for, so that it reaches
        the platform after the profile updates of its user accepted before it
        (``EVENTS_AFTER_PROFILES``; workers/profiles/order.py).
      replication: replicas that must confirm each submit (``REDIS_MIN_REPLICAS``).
      trace_retention_s: how long a duplicate's note in its event's trace is kept
        (``TRACE_RETENTION_S``; 0: none is written).
      spans: where the enqueue span goes (workers/core/spans.py); the events keep its
        traceparent, so their delivery attempts' spans are its children.
      door: stops a suppressed person's events (workers/core/door.py).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        dedup_ttl_s: int = DEDUP_TTL_S,
        events_after_profiles: bool = True,
        replication: Replication = UNREPLICATED,
        trace_retention_s: int = 0,
        spans: Spans = NO_SPANS,
        door: Door | None = None,
    ) -> None:
        self._client = client
        self._door = door
        self._trace_retention_s = trace_retention_s
        self._replication = replication
        self._ordered = events_after_profiles
        self._dedup_ttl_s = dedup_ttl_s
        self._script = DirectScript(client, _SCRIPT, retry_timeouts=False)
        self._spans = spans

    def submit(self, events: list[dict], *, traceparent: str | None = None) -> SubmitResult:
        """Write ``events``; a ``traceparent`` (webhook/tracecontext.py) goes with each,
        into its message's options or its buffered update."""
        suppressing = self._door is not None and self._door.suppresses_anyone()
        keys = [self._keys(event, suppressing) for event in events]
        stopped: tuple[int, ...] = ()
        if suppressing:
            stopped = tuple(i for i, user_keys in enumerate(keys) if self._suppressed(user_keys))
        let_in = [i for i in range(len(events)) if i not in stopped]
        if not let_in:
            return SubmitResult(0, 0, (False,) * len(events), stopped)
        span = self._spans.start("hookrelay.enqueue", traceparent, events=len(let_in))
        kept = span.traceparent or traceparent
        args: list[str | bytes | int] = [self._dedup_ttl_s, self._trace_retention_s]
        for i in let_in:
            event = events[i]
            destination = _destination(event, keys[i], ordered=self._ordered, traceparent=kept)
            args += [event["id"], event["type"], *destination]
        try:
            flags = iter(bool(flag) for flag in self._enqueue(args))
        except Exception as error:
            span.end(error=type(error).__name__)
            raise
        new = tuple(False if i in stopped else next(flags) for i in range(len(events)))
        accepted = sum(new)
        span.end(accepted=accepted)
        duplicates = len(let_in) - accepted
        return SubmitResult(accepted, duplicates, new, stopped)

    def stops(self, event: dict) -> bool:
        """Whether ``event``'s person is suppressed (the door, from its snapshot)."""
        if self._door is None or not event.get("user") or not self._door.suppresses_anyone():
            return False
        return self._suppressed(identity_keys(event))

    def _keys(self, event: dict, suppressing: bool) -> list[str]:
        """The identity keys of ``event``'s user where something needs them (the
        buffer, the event order, the door), else none: they cost a few µs each."""
        needed = event["type"] == "profile" or self._ordered or suppressing
        return identity_keys(event) if needed and event.get("user") else []

    def _suppressed(self, keys: list[str]) -> bool:
        return self._door is not None and bool(keys) and self._door.suppresses(keys)

    def _enqueue(self, args: list) -> list:
        """Run the script; with ``REDIS_MIN_REPLICAS``, with ``WAIT`` in the same round
        trip (raising :class:`NotReplicated` if too few replicas confirm)."""
        if not self._replication.replicas:
            return self._script([], args)

        def evalsha(pipe: redis.client.Pipeline) -> None:
            pipe.evalsha(self._script.sha, 0, *args)

        try:
            return self._replication.pipelined(self._client, evalsha)
        except NoScriptError:  # a new primary after a failover, or a flushed one
            self._script.load()
            return self._replication.pipelined(self._client, evalsha)


def _destination(
    event: dict, keys: list[str], *, ordered: bool, traceparent: str | None = None
) -> tuple[str, str, str, str | bytes, bytes]:
    """The script's kind, destination, extra, keys and data for one event whose user
    has identity ``keys`` (``[]`` where nothing is ordered, :data:`EVERY_PROFILE` for a
    campaign start)."""
    kind = event["type"]
    if kind == "profile":
        waits = _compact(keys) if ordered else b"[]"
        update = {**event, "traceparent": traceparent} if traceparent else event
        return "buffer", PROFILE_BUFFER, keys[0], waits, _compact(update)
    route = ROUTES[kind]
    options = {"traceparent": traceparent} if traceparent else None
    message_id, data = redis_message(route, (event,), options=options)
    waits = b"[]"
    if ordered and kind in ORDERED:
        waits = _compact(keys)
    elif ordered and kind == "campaign_start":
        waits = _compact([EVERY_PROFILE])
    return "queue", route.queue_name, message_id, waits, data


#: Compact JSON, integers of any size written exactly. Events hold no NaN or infinity,
#: which it would write as null: the receiver refuses them (webhook/api/bodies.py).
_compact = msgspec.json.Encoder().encode
