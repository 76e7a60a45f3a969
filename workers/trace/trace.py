"""Each event's trace: its delivery attempts and their outcomes, for
``GET /v1/events/<id>`` and ``hookrelay events show``.

The receiver writes nothing for it: the event's dedup key already says it was accepted
(its remaining time to live tells when) and whether it is a queued message or a
buffered profile update. The workers add an entry when they take a message
(``taken``) and when they are done with that attempt (``delivered``, ``retried``,
``postponed``, ``paused``, ``dead_lettered``), the profile flush one per update
(``batched``: the batch its profile went out in, or waits behind), and the receiver one
per duplicate submission. A profile batch has its own trace, under its batch id.

Each trace is a Redis list of small JSON objects, its newest :data:`MAX_ENTRIES` kept;
an attempt's outcome takes the place of its ``taken`` entry (``append.lua``), so a
delivered event costs one entry. Redis keeps a trace only while something is under way:
an entry after which nothing is (:data:`FINAL`) lists the trace in :data:`SETTLED`, and
the workers move its entries to the SQL store in batches soon after (mover.py), where
they are kept ``TRACE_RETENTION_S`` after the last; a trace never moved (no worker
running) expires from Redis after as long.

No payload goes in a trace (the event's fields, the platform's answer to a success):
only what delivery needs debugging by, and a failed call's answer truncated to
:data:`ANSWER_LIMIT` characters and masked as log lines are. Writing is best effort: a
trace that cannot be written (Redis away or full) never holds back a delivery."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import msgspec
import redis

from workers.core import lua
from workers.core.background import FailureStreak
from workers.core.logs import mask
from workers.core.roundtrip import Held, later
from workers.trace.tail import KEY as TAIL_KEY
from workers.trace.tail import MAX_ENTRIES as TAIL_MAX

logger = logging.getLogger(__name__)

PREFIX = "hookrelay:trace:"
BATCH_PREFIX = "hookrelay:trace-batch:"
#: The traces ready to move to SQL, each scored by its final entry's time.
SETTLED = "hookrelay:traces:settled"
#: The snippet every script that writes a trace has (``append_trace``), after the clock.
APPEND_LUA = "\n".join([lua.constants(trace_settled=SETTLED), lua.read(__package__, "append.lua")])
_APPEND = lua.source(__package__, "trace.lua", lua.CLOCK, APPEND_LUA)
_TAIL = lua.read(__package__, "tail.lua")
MAX_ENTRIES = 50
#: Outcomes that are waits, which a repeat of replaces rather than adds to.
WAITS = ("postponed", "paused")
#: Entries that are no outcome of an attempt (see trace.lua's ``settles``).
NOTES = ("taken", "unwaited")
#: Entries after which nothing is under way: the trace can move to SQL.
FINAL = ("delivered", "dead_lettered", "batched")
ANSWER_LIMIT = 200


def trace_key(event_id: str) -> str:
    return PREFIX + event_id


def batch_key(batch: str) -> str:
    return BATCH_PREFIX + batch


def answer_excerpt(body: str | None) -> str | None:
    """A failed call's answer as a trace keeps it: truncated, then masked."""
    if not body:
        return None
    return mask(body[:ANSWER_LIMIT])


class EventTrace:
    """Appends trace entries (see the module docstring), and outcomes to the live tail.

    Parameters:
      client: the deployment's Redis.
      retention_s: how long a trace lives after its last entry; 0: traces are off
        (the tail is not).
    """

    def __init__(self, client: redis.Redis, retention_s: int) -> None:
        self.retention_s = retention_s
        self._append = client.register_script(_APPEND)
        self._tail = client.register_script(_TAIL)
        self._streak = FailureStreak(logger, "Writing event traces", expected=(redis.RedisError,))
        # An entry that cannot be encoded is a bug: logged with its traceback, once.

    @property
    def on(self) -> bool:
        return self.retention_s > 0

    def add(self, key: str, entry: dict, tail: dict | None = None) -> None:
        """Append ``entry`` to the trace at ``key`` (see :func:`trace_key`) and, in the
        same round trip, ``tail`` to the live tail (workers/trace/tail.py)."""
        self.add_many([(key, entry)], tail=tail)

    def add_many(self, entries: Iterable[tuple[str, dict]], tail: dict | None = None) -> None:
        """Append each ``(key, entry)``, in one round trip: held writes
        (workers/core/roundtrip.py), so a worker thread sends them with its next
        round trip, or when it is done with its message."""
        entries = list(entries) if self.on else []
        try:
            calls = [self._appending(key, entry) for key, entry in entries]
            if tail is not None:
                fields = _without_none(tail)
                args = [TAIL_MAX, *(item for pair in fields.items() for item in pair)]
                calls.append(lua.ScriptCall(self._tail, [TAIL_KEY], args))
        except (TypeError, ValueError) as error:  # an entry that cannot be encoded
            self._streak.failed(error)
            return
        later(*(Held(call, self._streak.failed, self._written) for call in calls))

    def _appending(self, key: str, entry: dict) -> lua.ScriptCall:
        kind = entry.get("do")
        settles = "0" if kind in NOTES else "1"
        repeats = kind if kind in WAITS else ""
        final = "1" if kind in FINAL else "0"
        data = msgspec.json.encode(_without_none(entry))
        args = [data, self.retention_s, MAX_ENTRIES, settles, repeats, final]
        return lua.ScriptCall(self._append, [key], args)

    def _written(self, answer: object) -> None:
        self._streak.succeeded()


def _without_none(entry: dict) -> dict:
    return {name: value for name, value in entry.items() if value is not None}


def decoded(raw: Iterable[bytes]) -> Iterator[dict]:
    """A trace's entries as dicts, skipping any that cannot be read."""
    for item in raw:
        try:
            entry = msgspec.json.decode(item)
        except msgspec.DecodeError:
            continue
        if isinstance(entry, dict):
            yield entry
