"""Erasing one person from every place in Redis that holds people's data.

Each ``erase_*`` method returns how many entries it erased (or cut the person out of)
and records the event ids it met (:attr:`RedisStores.event_ids`), whose traces and
live-tail entries are erased last. Messages are rewritten, never deleted: one the
person alone is in becomes a tombstone (workers/queue/forgotten.py) that a worker skips
and acknowledges, so a message a worker holds is never left without its body; each
rewrite is a compare-and-set, done again if a worker changed the message meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import redis
from dramatiq import Message
from dramatiq.common import dq_name, xq_name
from dramatiq.errors import DecodeError

from workers.campaigns.sample import SAMPLE_PREFIX
from workers.campaigns.suppressions import DELETIONS, FREQUENCY_PREFIX, SUPPRESSIONS
from workers.erasure.person import Person
from workers.profiles.buffer import BUFFER, parse_item
from workers.profiles.coalesce import update_ids
from workers.profiles.flush_lock import TTL_MS, FlushLock
from workers.profiles.order import AFTER_PREFIX, ORDER_PREFIX, UNSETTLED
from workers.profiles.states import STATE_PREFIX
from workers.queue.deadletters import ENTRIES, INDEX
from workers.queue.due import DUE_MESSAGES, due_entry
from workers.queue.forgotten import FORGOTTEN, scrubbed, users_of
from workers.queue.layout import messages_key
from workers.queue.routes import QUEUES
from workers.trace.tail import KEY as TAIL_KEY
from workers.trace.trace import trace_key

SCAN_COUNT = 1000
TAIL_PAGE = 200
#: Every hash messages are kept in: each queue's, its delay queue's and its dead
#: queue's (Dramatiq's ``XQ``), and the due set's (workers/queue/due.py).
MESSAGE_HASHES = [
    messages_key(name) for queue in QUEUES for name in (queue, dq_name(queue), xq_name(queue))
] + [DUE_MESSAGES]
#: Compare-and-set: rewrite a field only if it still holds what was read.
_SWAP = """
if redis.call("hget", KEYS[1], ARGV[1]) == ARGV[2] then
    redis.call("hset", KEYS[1], ARGV[1], ARGV[3])
    return 1
end
return 0
"""


class RedisStores:
    def __init__(self, client: redis.Redis, person: Person) -> None:
        self._client = client
        self.person = person
        self.event_ids: set[str] = set()
        self._swap = client.register_script(_SWAP)
        self._flush_lock = FlushLock(client)

    def link(self) -> None:
        """Link every identifier stored with one of the person's (saved states,
        buffered updates, messages), until nothing new comes."""
        users = [*self._buffered_users(), *self._message_users()]
        while True:
            states = self.saved_states()
            grown = any(self.person.link(state.get("ids") or {}) for state in states)
            grown = any([self.person.link(user) for user in users]) or grown
            if not grown:
                return

    def erase_messages(self) -> int:
        """Cut the person out of every queued, delayed, due, held or dead message."""
        erased = 0
        for hash_key in MESSAGE_HASHES:
            for message_id, data in self._client.hscan_iter(hash_key, count=SCAN_COUNT):
                erased += self._rewrite(hash_key, message_id, data)
        return erased

    def erase_buffer(self) -> int:
        """Profile updates and batch records waiting in the buffer or in a claim, with
        no flush running meanwhile (the flush's own lock)."""
        with self._flush_lock.held(wait_s=2 * TTL_MS / 1000) as taken:
            if not taken:
                raise TimeoutError("the profile flush lock stayed taken")
            lists = [f"{BUFFER}:pending"] + [
                f"{BUFFER}:claim:{claim.decode()}"
                for claim in self._client.zrange(f"{BUFFER}:claims", 0, -1)
            ]
            erased = sum(self._erase_items(key) for key in lists)
            self._client.srem(f"{BUFFER}:identities", *self.person.keys)
            return erased

    def erase_states(self) -> int:
        """Saved profile states and their pointers, and the person's profile order."""
        keys = sorted(self.person.keys)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(*[STATE_PREFIX + key for key in keys])
            pipe.delete(*[ORDER_PREFIX + key for key in keys])
            pipe.zrem(UNSETTLED, *keys)
            erased, _, _ = pipe.execute()
        return int(erased)

    def erase_dead_letters(self) -> int:
        """Dead letters in Redis whose message names the person."""
        ids = []
        for letter_id, entry in self._client.hscan_iter(ENTRIES, count=SCAN_COUNT):
            letter = json.loads(entry)
            if self.person.mentions(letter.get("message")):
                ids.append(letter_id)
                self._note(letter.get("event_id"))
        if ids:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hdel(ENTRIES, *ids)
                pipe.zrem(INDEX, *ids)
                pipe.execute()
        return len(ids)

    def erase_gate(self) -> int:
        """Suppression entries (under the address itself) and frequency windows."""
        keys = sorted(self.person.keys)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(SUPPRESSIONS, *keys)
            pipe.hdel(DELETIONS, *keys)
            pipe.delete(*[FREQUENCY_PREFIX + key for key in keys])
            suppressions, _, windows = pipe.execute()
        return int(suppressions) + int(windows)

    def erase_samples(self) -> int:
        """The person in each campaign's recipient sample."""
        erased = 0
        for key in self._client.scan_iter(match=f"{SAMPLE_PREFIX}*", count=SCAN_COUNT):
            members = [m for m in self._client.smembers(key) if self.person.mentions(m.decode())]
            if members:
                erased += int(self._client.srem(key, *members))
        return erased

    def erase_traces(self) -> int:
        """The traces, event-order notes and live-tail entries of the events met."""
        if not self.event_ids:
            return 0
        ids = sorted(self.event_ids)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.delete(*[trace_key(event_id) for event_id in ids])
            pipe.delete(*[AFTER_PREFIX + event_id for event_id in ids])
            traces, _ = pipe.execute()
        return int(traces) + self._erase_tail()

    def _erase_tail(self) -> int:
        """The live-tail entries naming the events met, read a page at a time (an
        entry of a batch holds up to 1,000 ids)."""
        erased, start = 0, "-"
        while page := self._client.xrange(TAIL_KEY, min=start, count=TAIL_PAGE):
            stale = [entry_id for entry_id, fields in page if self.event_ids & _tail_ids(fields)]
            if stale:
                erased += int(self._client.xdel(TAIL_KEY, *stale))
            start = "(" + page[-1][0].decode()
        return erased

    def _rewrite(self, hash_key: str, message_id: bytes, data: bytes) -> bool:
        """Cut the person out of one message; ``True`` if it was and the message is
        done with, ``False`` if it names them not; read again if it changed meanwhile."""
        due = hash_key == DUE_MESSAGES
        while True:
            head, body = due_entry(data) if due else (b"", data)
            message = _decoded(body)
            if message is None:
                return False
            clean = scrubbed(message, lambda user, _: self.person.mentions(user))
            if clean is None:
                return False
            first = message.args[0] if message.args else None
            self._note(first.get("id") if isinstance(first, dict) else None)
            rewritten = head + b"\n" + clean.encode() if due else clean.encode()
            if self._swap(keys=[hash_key], args=[message_id, data, rewritten]):
                return True
            data = self._client.hget(hash_key, message_id)
            if data is None:
                return False

    def _erase_items(self, key: str) -> int:
        erased = 0
        for item in self._client.lrange(key, 0, -1):
            update = _item(item)
            if update is not None and self.person.mentions(update.get("user")):
                self._note(update.get("id"))
                erased += int(self._client.lrem(key, 1, item))
        return erased

    def _buffered_users(self) -> Iterator[dict]:
        for item in self._client.lrange(f"{BUFFER}:pending", 0, -1):
            update = _item(item)
            if update is not None:
                yield update_ids(update)

    def _message_users(self) -> Iterator[dict]:
        for hash_key in MESSAGE_HASHES:
            due = hash_key == DUE_MESSAGES
            for _, data in self._client.hscan_iter(hash_key, count=SCAN_COUNT):
                message = _decoded(due_entry(data)[1] if due else data)
                if message is not None and not message.options.get(FORGOTTEN):
                    yield from users_of(message.actor_name, message.args)

    def saved_states(self) -> list[dict]:
        """The person's saved profile states, following the pointers under their other
        identifiers to the home key the state is kept under."""
        keys = sorted(self.person.keys)
        values = self._client.mget([STATE_PREFIX + key for key in keys])
        homes = {v[1:].decode() for v in values if v is not None and v.startswith(b"@")}
        homes -= self.person.keys
        if homes:
            values += self._client.mget([STATE_PREFIX + home for home in sorted(homes)])
        return [json.loads(v) for v in values if v is not None and not v.startswith(b"@")]

    def _note(self, event_id: object) -> None:
        if isinstance(event_id, str):
            self.event_ids.add(event_id)


def _decoded(data: bytes) -> Message | None:
    """A stored message, or ``None`` if it cannot be read (it is left as it is)."""
    try:
        return Message.decode(data)
    except DecodeError:
        return None


def _item(item: bytes) -> dict | None:
    """A buffered item (:func:`~workers.profiles.buffer.parse_item`), or ``None`` if it
    cannot be read (a poison: the flush dead-letters it)."""
    try:
        parsed = parse_item(item)
    except (ValueError, TypeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _tail_ids(fields: dict[bytes, bytes]) -> set[str]:
    events = fields.get(b"events")
    if events is not None:
        return {pair[0] for pair in json.loads(events)}
    event_id = fields.get(b"event_id")
    return {event_id.decode()} if event_id else set()
