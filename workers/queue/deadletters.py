"""The dead-letter queue: messages given up on, each with the reason, kept until they
are replayed or purged (never expired).

Entries live in Redis beside the broker's queues: a hash of id → JSON entry and a
sorted set of ids by the time they failed; past ``DLQ_REDIS_MAX`` of them, new ones go
to the SQL store instead (workers/queue/archive.py), so Redis stays bounded. Replaying
re-enqueues the original event as a fresh message (attempts and age start again) and
removes the entry, in the same atomic step for one in Redis (see ``replay.lua``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from dramatiq.common import q_name

from workers.core import lua
from workers.core.settings import Settings
from workers.platforms.errors import PlatformError
from workers.queue.archive import DeadLetterArchive
from workers.queue.layout import (
    ENQUEUE_LUA,
    NAMESPACE,
    REDIS_ID,
    AnyMessage,
    MessageWriter,
    Route,
    redis_message,
)

ENTRIES = "hookrelay:dlq:entries"
INDEX = "hookrelay:dlq:index"
#: Letters Redis holds before new ones go to the SQL store (``DLQ_REDIS_MAX``).
DEFAULT_REDIS_CAP = 100_000

#: Options that belong to one attempt and are dropped when a letter is replayed.
_PER_ATTEMPT = (REDIS_ID, "retries", "eta", "traceback", "requeue_timestamp")
#: Arguments that carry a message's own progress (a statistics source's polls so far
#: and where to resume them): dropped too, so a replay starts afresh.
_PROGRESS = ("polls", "state")

_REPLAY = lua.draining(lua.source(__package__, "replay.lua", ENQUEUE_LUA))


@dataclass(frozen=True)
class DeadLetter:
    id: str
    actor: str
    queue: str
    event_id: str | None
    reason: str
    error: dict[str, Any]
    attempts: int
    failed_at: float
    message: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The entry without the message itself (which holds the event's personal data)."""
        return {key: value for key, value in self.__dict__.items() if key != "message"}


@dataclass(frozen=True)
class Selection:
    """Which dead letters a bulk replay takes: those that meet every criterion given.

    ``platform``, ``actor`` and ``status`` (the platform's HTTP status) are compared
    exactly, ``reason`` as a case-insensitive substring; ``since`` and ``until`` bound
    when the letter failed (Unix seconds, ``until`` excluded); ``ids`` are letter ids
    or event ids (a list a user kept).
    """

    platform: str | None = None
    actor: str | None = None
    reason: str | None = None
    status: int | None = None
    since: float | None = None
    until: float | None = None
    ids: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        ids: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        **criteria: Any,
    ) -> Selection:
        """The selection of filters as a caller reads them: times as datetimes (UTC
        where they name no zone), ids as any iterable."""
        return cls(
            ids=None if ids is None else frozenset(ids),
            since=_seconds(since),
            until=_seconds(until),
            **criteria,
        )

    @property
    def narrowed(self) -> bool:
        """Whether any criterion other than ``ids`` is given."""
        criteria = (self.platform, self.actor, self.reason, self.status, self.since, self.until)
        return any(value is not None for value in criteria)

    def matches(self, letter: DeadLetter) -> bool:
        error = letter.error or {}
        return (
            (self.platform is None or error.get("platform") == self.platform)
            and (self.actor is None or letter.actor == self.actor)
            and (self.reason is None or self.reason.lower() in letter.reason.lower())
            and (self.status is None or error.get("status") == self.status)
            and (self.since is None or letter.failed_at >= self.since)
            and (self.until is None or letter.failed_at < self.until)
            and (self.ids is None or bool({letter.id, letter.event_id} & self.ids))
        )


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _age(letter: DeadLetter) -> float:
    return letter.failed_at


class DeadLetterQueue:
    """The dead letters: in Redis up to ``redis_cap``, then in ``overflow`` (the SQL
    store, workers/queue/archive.py), listed, replayed and purged as one queue.

    The cap is soft: workers that add at the same moment may each find room, so Redis
    can hold a few more than ``redis_cap``. A letter Redis refuses for want of memory
    goes to the overflow too. Without an overflow, every letter stays in Redis.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = NAMESPACE,
        overflow: DeadLetterArchive | None = None,
        redis_cap: int = DEFAULT_REDIS_CAP,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._overflow = overflow
        self._redis_cap = redis_cap
        self._replay = client.register_script(_REPLAY)
        self._writer = MessageWriter(client, namespace=namespace)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> DeadLetterQueue:
        """The queue ``DLQ_REDIS_MAX`` caps, overflowing into ``DATABASE_URL``'s store."""
        overflow = DeadLetterArchive.from_url(settings.database_url)
        return cls(client, overflow=overflow, redis_cap=settings.dlq_redis_max)

    def add(
        self,
        message: AnyMessage,
        *,
        reason: str,
        error: BaseException,
        attempts: int,
        platform: str | None = None,
    ) -> DeadLetter:
        """Keep ``message``; ``platform`` is the one its actor calls (the error's own,
        for a platform's answer), which a bulk replay can select by."""
        details = error_details(error)
        if platform and "platform" not in details:
            details["platform"] = platform
        letter = DeadLetter(
            id=message.message_id,
            actor=message.actor_name,
            queue=q_name(message.queue_name),
            event_id=event_id_of(message),
            reason=reason,
            error=details,
            attempts=attempts,
            failed_at=time.time(),
            message=message.asdict(),
        )
        if self._overflow is not None and self._client.zcard(INDEX) >= self._redis_cap:
            self._overflow.add(letter.__dict__)
            return letter
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(ENTRIES, letter.id, json.dumps(letter.__dict__))
                pipe.zadd(INDEX, {letter.id: letter.failed_at})
                pipe.execute()
        except redis.exceptions.OutOfMemoryError:
            if self._overflow is None:
                raise
            self._overflow.add(letter.__dict__)  # Redis is full: SQL has room
        return letter

    def count(self) -> int:
        archived = self._overflow.count() if self._overflow is not None else 0
        return self._client.zcard(INDEX) + archived

    def newest(self, limit: int = 50) -> list[DeadLetter]:
        """The newest ``limit`` entries, newest first."""
        ids = self._client.zrevrange(INDEX, 0, limit - 1)
        raw = self._client.hmget(ENTRIES, ids) if ids else []
        letters = [DeadLetter(**json.loads(item)) for item in raw if item]
        if self._overflow is not None:
            letters += [DeadLetter(**entry) for entry in self._overflow.newest(limit)]
        return sorted(letters, key=lambda letter: letter.failed_at, reverse=True)[:limit]

    def show(self, letter_id: str) -> DeadLetter | None:
        raw = self._client.hget(ENTRIES, letter_id)
        if raw:
            return DeadLetter(**json.loads(raw))
        entry = self._overflow.get(letter_id) if self._overflow is not None else None
        return DeadLetter(**entry) if entry else None

    def replay(self, letter_id: str) -> bool:
        """Re-enqueue one entry; False if it is not (or no longer) in the queue.

        A letter in Redis moves in one atomic step, so it is never enqueued twice. One
        in the SQL store is enqueued, then deleted: a replay interrupted between the two
        leaves it listed, and replaying it again may deliver it twice (never zero times).
        """
        letter = self.show(letter_id)
        if letter is None:
            return False
        redis_id, data = _fresh_message(letter)
        moved = self._replay(
            keys=[ENTRIES, INDEX], args=[self._namespace, letter.id, letter.queue, redis_id, data]
        )
        if moved or self._overflow is None or self._overflow.get(letter_id) is None:
            return bool(moved)
        self._writer.write(letter.queue, redis_id, data)
        self._overflow.delete(letter_id)
        return True

    def replay_all(self) -> int:
        """Re-enqueue every entry; return how many were moved."""
        return sum(self.replay(letter_id) for letter_id in self.select(Selection()))

    def select(self, selection: Selection) -> list[str]:
        """The ids of the entries ``selection`` takes, oldest first."""
        letters = [
            DeadLetter(**json.loads(raw)) for _, raw in self._client.hscan_iter(ENTRIES, count=500)
        ]
        if self._overflow is not None:
            letters += [DeadLetter(**entry) for entry in self._overflow.entries()]
        chosen = sorted((letter for letter in letters if selection.matches(letter)), key=_age)
        return [letter.id for letter in chosen]

    def purge(self) -> int:
        """Delete every entry; return how many there were."""
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zcard(INDEX)
            pipe.delete(ENTRIES, INDEX)
            count, _ = pipe.execute()
        return count + (self._overflow.purge() if self._overflow is not None else 0)


def _fresh_message(letter: DeadLetter) -> tuple[str, bytes]:
    """The letter's message as a new one: its attempts, age and progress start again."""
    kept = {k: v for k, v in letter.message["options"].items() if k not in _PER_ATTEMPT}
    return redis_message(
        Route(letter.actor, letter.queue),
        tuple(letter.message["args"]),
        kwargs={k: v for k, v in letter.message["kwargs"].items() if k not in _PROGRESS},
        options=kept,
    )


def event_id_of(message: AnyMessage) -> str | None:
    """The id of the event a message carries, if it carries one (a batch does not)."""
    event = message.args[0] if message.args else None
    return event.get("id") if isinstance(event, dict) else None


def error_details(error: BaseException) -> dict[str, Any]:
    """What the dead-letter queue keeps about the error that ended a message."""
    details: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, PlatformError):
        details.update(platform=error.platform, status=error.status, body=error.body, url=error.url)
    return details
