"""The door a forgotten person's data no longer passes (``POST /v1/users/forget``).

hookrelay keeps no address of a forgotten person: each identity key (its normal form,
schemas/identities.py) is kept as a keyed hash, HMAC-SHA256 under a secret
(``HOOKRELAY_SUPPRESSION_KEY``; unset, one generated once and kept in Redis, where a
copy of Redis alone could test a guessed address against it). Two Redis keys:

- :data:`FORGOTTEN`, hash → ``"<ms> <number>"``: when the person was forgotten and the
  newest profile update number then. Data of theirs accepted before is dropped wherever
  it is met later (a worker holding it in memory, a delayed message a worker
  re-enqueues); accepted after, it goes through (unless suppressed). What a platform
  reports about them (message-log rows, bounces) is not kept again. Kept for
  :data:`FORGOTTEN_KEEP_S`.
- :data:`SUPPRESSED`, a set of hashes: with ``"suppress": true``, everything of the
  person is dropped, whenever it is accepted, until the suppression is deleted.

Every process reads the door from a snapshot refreshed at most every
:data:`REFRESH_S` (one ``GET`` of :data:`VERSION`, the whole door only when it
changed), so checking costs no round trip per event. The erasure waits that long
after closing the door before it purges, so that every process has seen it.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from schemas.identities import named_keys

FORGOTTEN = "hookrelay:door:forgotten"
SUPPRESSED = "hookrelay:door:suppressed"
VERSION = "hookrelay:door:version"
#: The generated secret, when ``HOOKRELAY_SUPPRESSION_KEY`` is unset.
SECRET = "hookrelay:door:secret"
REFRESH_S = 1.0
HASHES_CACHED = 65536
#: How long a forget is remembered: as long as a saved profile state, a recipient sample
#: or a campaign's daily follow-up may bring the person back.
FORGOTTEN_KEEP_S = 30 * 86400


@dataclass(frozen=True)
class Closed:
    """Why the door stops someone: ``suppressed``, or forgotten at ``at_ms``, when the
    newest profile update was number ``number``."""

    suppressed: bool
    at_ms: int = 0
    number: int = 0

    def stops(self, accepted_ms: int | None = None, number: int | None = None) -> bool:
        """Whether data accepted at ``accepted_ms`` (or numbered ``number``) is stopped;
        data of unknown age is stopped."""
        if self.suppressed:
            return True
        if number is not None:
            return number <= self.number
        return accepted_ms is None or accepted_ms <= self.at_ms


class Door:
    """Parameters:
    client: the deployment's Redis.
    secret: ``HOOKRELAY_SUPPRESSION_KEY``; ``None``: the one kept in Redis.
    """

    def __init__(self, client: redis.Redis, secret: str | None = None) -> None:
        self._client = client
        self._secret = secret.encode() if secret else None
        self._lock = threading.Lock()
        self._version: bytes | None = None
        self._read_at = 0.0
        self._forgotten: dict[str, Closed] = {}
        self._suppressed: frozenset[str] = frozenset()
        #: The hashes of recent keys: a user's events come in runs.
        self._hash = functools.lru_cache(maxsize=HASHES_CACHED)(self._hash_of)

    def hashes(self, keys: Iterable[str]) -> list[str]:
        """The keyed hash of each identity key (already in its normal form)."""
        return [self._hash(key) for key in keys]

    def _hash_of(self, key: str) -> str:
        return hmac.digest(self._key(), key.encode(), "sha256")[:16].hex()

    def close(self, keys: list[str], *, suppress: bool, number: int) -> None:
        """Close the door on ``keys`` (one person's), whose profile updates numbered
        up to ``number`` were accepted before."""
        hashes = self.hashes(keys)
        seconds, micros = self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(FORGOTTEN, mapping={h: f"{now_ms} {number}" for h in hashes})
            if suppress:
                pipe.sadd(SUPPRESSED, *hashes)
            pipe.incr(VERSION)
            pipe.execute()

    def reopen(self, hashes: list[str]) -> int:
        """Delete the suppression of the keys ``hashes`` stand for; returns how many
        were suppressed."""
        if not hashes:
            return 0
        with self._client.pipeline(transaction=True) as pipe:
            pipe.srem(SUPPRESSED, *hashes)
            pipe.incr(VERSION)
            removed, _ = pipe.execute()
        return int(removed)

    def prune(self, now_ms: int) -> int:
        """Drop the forgets older than :data:`FORGOTTEN_KEEP_S`; how many keys went."""
        old = [
            field
            for field, value in self._client.hgetall(FORGOTTEN).items()
            if int(value.split()[0]) < now_ms - FORGOTTEN_KEEP_S * 1000
        ]
        return int(self._client.hdel(FORGOTTEN, *old)) if old else 0

    def _closed(self, keys: Iterable[str]) -> Closed | None:
        """Whether the door is closed on any of ``keys``, from the snapshot."""
        self._refresh()
        if not self._forgotten and not self._suppressed:
            return None
        hashes = self.hashes(keys)
        if any(h in self._suppressed for h in hashes):
            return Closed(True)
        marks = [self._forgotten[h] for h in hashes if h in self._forgotten]
        return max(marks, key=lambda closed: closed.at_ms, default=None)

    def stops(
        self, keys: Iterable[str], *, accepted_ms: int | None = None, number: int | None = None
    ) -> bool:
        """Whether the door stops data of ``keys`` accepted at ``accepted_ms`` (or
        numbered ``number``; of unknown age, stopped): :meth:`Closed.stops`."""
        closed = self._closed(keys)
        return closed is not None and closed.stops(accepted_ms, number)

    def suppresses(self, keys: Iterable[str]) -> bool:
        """Whether any of ``keys`` is suppressed: everything of theirs is dropped."""
        closed = self._closed(keys)
        return closed is not None and closed.suppressed

    def suppresses_anyone(self) -> bool:
        """Whether anyone is suppressed (from the snapshot): checking costs nothing
        per event until someone is."""
        self._refresh()
        return bool(self._suppressed)

    def names_forgotten(self, value: Any) -> bool:
        """Whether ``value`` (JSON-like: a platform's row, a report) names anyone the
        door is closed on, however long ago: it is not kept again."""
        keys = named_keys(value)
        return bool(keys) and self._closed(keys) is not None

    def _refresh(self) -> None:
        if time.monotonic() - self._read_at < REFRESH_S:
            return
        with self._lock:
            if time.monotonic() - self._read_at < REFRESH_S:
                return
            version = self._client.get(VERSION)
            if version != self._version:
                with self._client.pipeline(transaction=True) as pipe:
                    pipe.get(VERSION)
                    pipe.hgetall(FORGOTTEN)
                    pipe.smembers(SUPPRESSED)
                    version, forgotten, suppressed = pipe.execute()
                self._forgotten = {k.decode(): _mark(v) for k, v in forgotten.items()}
                self._suppressed = frozenset(h.decode() for h in suppressed)
                self._version = version
            self._read_at = time.monotonic()

    def _key(self) -> bytes:
        if self._secret is None:
            self._client.set(SECRET, secrets.token_hex(32), nx=True)
            self._secret = self._client.get(SECRET)
            assert self._secret is not None
        return self._secret


def _mark(value: bytes) -> Closed:
    at_ms, number = value.split()
    return Closed(False, int(at_ms), int(number))
