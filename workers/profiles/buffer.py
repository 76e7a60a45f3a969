"""The Redis buffer of profile updates, and how one flush of it goes.

The receiver appends each accepted ``profile`` event to the buffer
(webhook/intake/enqueue.lua). :class:`~workers.profiles.flusher.ProfileFlusher`, a
thread in every worker process, flushes it every ``flush_ms`` after the oldest update
arrived, or as soon as ``batch_max`` profiles are waiting. A flush
(:meth:`ProfileBuffer.flush`), under a Redis lock so flushes never overlap:

1. claims the pending items (they move to a claim list, atomically), leaving out a
   forgotten person's (workers/core/door.py);
2. merges them onto the profiles' saved states (workers/profiles/coalesce.py);
3. packs into batches each profile that has something unacknowledged and is in no
   batch yet, which then becomes the profile's :attr:`~workers.profiles.coalesce.
   Profile.owner`; a profile whose batch is still unacknowledged waits;
4. commits, atomically: one Dramatiq message per batch on the platform's queue (the
   profiles' identifiers and the batch id, not their fields), the merged states
   saved (once per profile, under its :attr:`~workers.profiles.coalesce.Profile.
   home_key`, with a pointer under each other identifier), the claim deleted.

A flusher killed between 1 and 4 leaves its claim behind; any flusher puts claims
older than ``claim_timeout_s`` back at the head of the buffer, so nothing is lost and,
because a commit only happens while its claim exists, nothing is committed twice.

Each attempt of a batch (:meth:`ProfileBuffer.attempt`) reads its profiles' newest
states and sends what the platform has not acknowledged of them; a retried batch is
never resent stale. Its outcome comes back into the buffer as a record
(:meth:`ProfileBuffer.acknowledge`, :meth:`~ProfileBuffer.release`), which the next
flush merges: the flush is the only writer of profile states, so no outcome can be
overwritten by a flush that read the state before it. A profile acknowledged while
newer updates waited is sent again by that flush.

A claim that cannot be merged (step 2 raises: a poison update) would fail at every
flush and hold back every profile behind it; so its items are then merged one by one,
each that fails alone dead-lettered (its replay buffers it again). A saved state that
cannot be read is ignored. A profile the platform refused on its own loses the refused
values, so they do not come back in that user's later batches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

import dramatiq
import redis

from schemas.identities import keys_of
from workers.core import lua
from workers.core.door import Door
from workers.core.settings import Settings
from workers.profiles import states
from workers.profiles.coalesce import (
    MAX_WAITING,
    NUDGE,
    RECORDS,
    RELEASE,
    Profile,
    batches,
    buffered_identity,
    identity_keys,
    merge,
    update_ids,
)
from workers.profiles.flush_lock import FlushLock
from workers.profiles.order import LET_GO, LET_GO_KEPT, ORDER_PREFIX, UNSETTLED
from workers.profiles.states import SavedStates
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, redis_message
from workers.queue.routes import PROFILE_BATCH, PROFILE_BUFFER, REBUFFER
from workers.trace.trace import EventTrace, trace_key

logger = logging.getLogger(__name__)

BUFFER = PROFILE_BUFFER
#: How many buffered updates one flush takes at most, as a multiple of batch_max.
CLAIM_FACTOR = 20

_SCRIPT = lua.source(
    __package__,
    "buffer.lua",
    lua.CLOCK,
    ENQUEUE_LUA,
    lua.constants(unsettled=UNSETTLED, let_go=LET_GO, let_go_kept=LET_GO_KEPT),
)


@dataclass
class Attempt:
    """One attempt of a batch: the profiles it owns that have something to send."""

    batch: str
    profiles: list[Profile]

    @property
    def hashmaps(self) -> list[dict]:
        return [profile.hashmap() for profile in self.profiles]

    @property
    def refs(self) -> list[dict[str, str]]:
        return [dict(profile.ids) for profile in self.profiles]


class ProfileBuffer:
    """Parameters:
    client: the Redis holding the buffer (``REDIS_URL``'s; the broker's queues must be
      in the same server, which is the default).
    batch_max: most profiles in one batch (``PROFILE_BATCH_MAX``).
    flush_ms: longest an update waits in the buffer (``PROFILE_FLUSH_MS``).
    dead_letters: where updates that cannot be merged go (default: Redis's, uncapped).
    trace: where each update's batch is traced (workers/trace); none by default.
    door: what a flush leaves out, a forgotten person's (workers/core/door.py).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        batch_max: int,
        flush_ms: int,
        dead_letters: DeadLetterQueue | None = None,
        trace: EventTrace | None = None,
        door: Door | None = None,
    ) -> None:
        self._client = client
        self._door = door
        self._states = SavedStates(client)
        self._dead_letters = dead_letters or DeadLetterQueue(client)
        self._trace = trace
        self.batch_max = batch_max
        self.flush_ms = flush_ms
        self._script = client.register_script(_SCRIPT)
        self._lock = FlushLock(client)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> ProfileBuffer:
        """The buffer ``PROFILE_BATCH_MAX`` and ``PROFILE_FLUSH_MS`` configure."""
        return cls(
            client,
            batch_max=settings.profile_batch_max,
            flush_ms=settings.profile_flush_ms,
            dead_letters=DeadLetterQueue.from_settings(client, settings),
            trace=EventTrace(client, settings.trace_retention_s),
            door=Door(client, settings.suppression_key),
        )

    def due(self) -> bool:
        """Enough profiles are waiting, or the oldest has waited ``flush_ms``."""
        with self._client.pipeline(transaction=False) as pipe:
            pipe.scard(f"{BUFFER}:identities")
            pipe.get(f"{BUFFER}:since")
            pipe.time()
            waiting, since, (seconds, micros) = pipe.execute()
        if waiting >= self.batch_max:
            return True
        return since is not None and seconds * 1000 + micros // 1000 - int(since) >= self.flush_ms

    def flush(self) -> int:
        """Flush once if no other flush is running; return how many batches were sent."""
        with self._lock.held() as taken:
            return self._flush_claimed() if taken else 0

    def reap(self, older_than_s: float) -> int:
        """Put back claims older than ``older_than_s`` (their flusher died)."""
        return self._script(keys=[BUFFER], args=["reap", int(older_than_s * 1000)])

    def append(self, update: dict) -> None:
        """Buffer ``update`` again, as the receiver does (a replayed dead letter)."""
        self._script(keys=[BUFFER], args=["append", buffered_identity(update), json.dumps(update)])

    def attempt(self, refs: list[dict], batch: str) -> Attempt:
        """The newest state of each profile of ``refs`` that ``batch`` owns and has
        something unacknowledged. A profile the batch no longer owns (a replayed dead
        letter) is nudged, so the next flush sends it if it needs sending."""
        keyed = [(ref, keys_of(ref)) for ref in refs]
        found = self._states.read(sorted({key for _, keys in keyed for key in keys}))
        owned: dict[str, Profile] = {}
        records, settled = [], []
        for ref, keys in keyed:
            profile = states.saved_profile(keys, found)
            if profile is None or profile.owner != batch:
                records.append({"type": NUDGE, "user": ref})
            elif profile.unsent:
                owned.setdefault(profile.home_key, profile)
            else:
                settled.append(profile)
        records += [_release_record(profile, batch, refused=False) for profile in settled]
        self._settle(records, settled)
        return Attempt(batch, list(owned.values()))

    def acknowledge(self, attempt: Attempt) -> None:
        """The platform accepted ``attempt``: its fields count as acknowledged."""
        records = [profile.acknowledgement(attempt.batch) for profile in attempt.profiles]
        self._settle(records, attempt.profiles)

    def release(self, attempt: Attempt, *, refused: bool, letter: str = "") -> None:
        """``attempt``'s batch lets go of its profiles without an acknowledgement; if
        the platform ``refused`` them, their unacknowledged values are forgotten.
        ``letter``: the batch's dead letter, which a campaign start that waited for
        these updates names in its trace."""
        records = [_release_record(p, attempt.batch, refused=refused) for p in attempt.profiles]
        self._settle(records, attempt.profiles, letter)

    def _settle(self, records: list[dict], profiles: list[Profile], letter: str = "") -> None:
        """Buffer ``records`` for the next flush; the updates merged into ``profiles``
        no longer hold back their users' events or campaign starts
        (workers/profiles/order.py); ``letter`` lets them go unacknowledged."""
        if not records and not profiles:
            return
        args: list = ["settle", ORDER_PREFIX, letter, len(records)]
        for record in records:
            args += [buffered_identity(record), json.dumps(record)]
        for profile in profiles:
            for key in profile.keys:
                args += [key, profile.seq]
        self._script(keys=[BUFFER], args=args)

    def _flush_claimed(self) -> int:
        claim_id = str(uuid4())
        raw = self._script(keys=[BUFFER], args=["claim", claim_id, self.batch_max * CLAIM_FACTOR])
        if not raw:
            return 0
        raw = self._let_through(raw)
        try:
            profiles = self._merge([parse_item(item) for item in raw])
        except redis.RedisError:
            raise
        except Exception:
            logger.exception(
                "Profile claim %s: merging its %d items one by one.", claim_id, len(raw)
            )
            profiles = self._merge_apart(raw)
        packed = self._assign(profiles)
        traced = self._trace_plan(raw, profiles, {batch_id for batch_id, _ in packed})
        committed = self._script(
            keys=[BUFFER], args=["commit", claim_id, *self._commit_args(profiles, packed)]
        )
        if not committed:
            logger.warning("Profile claim %s was reclaimed before it committed.", claim_id)
            return 0
        if traced and self._trace is not None:
            self._trace.add_many(traced)
        logger.info(
            "Flushed %d profile items onto %d profiles; %d batches of %d profiles sent.",
            len(raw),
            len(profiles),
            len(packed),
            sum(len(batch) for _, batch in packed),
        )
        return len(packed)

    def _let_through(self, raw: list[bytes]) -> list[bytes]:
        """The claimed items the door lets through: it stops a forgotten person's
        updates accepted before they were forgotten, and their records."""
        return [item for item in raw if self._door is None or not self._stopped(item)]

    def _stopped(self, item: bytes) -> bool:
        assert self._door is not None
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
            update = parse_item(item)  # a poison is let through: the merge dead-letters it
            return self._door.stops(identity_keys(update), number=update.get("seq"))
        return False

    def _trace_plan(
        self, raw: list[bytes], profiles: list[Profile], new: set[str]
    ) -> list[tuple[str, dict]]:
        """The trace entry of each update this flush merged: the batch its profile goes
        out in, or (``behind``) the one in flight it waits behind, its id then kept on
        the profile until a later flush packs that profile into a batch of its own; and
        the entries of the ids that waited so. One that finds nothing left to send went
        out in the retry of the batch it waited behind, which its trace already names.
        Run before the commit, which saves the ids kept."""
        if self._trace is None or not self._trace.on:
            return []
        by_key = {key: profile for profile in profiles for key in profile.keys}
        now_ms = int(time.time() * 1000)
        entries = [
            (trace_key(event_id), {"at": now_ms, "do": "batched", "batch": profile.owner})
            for profile in profiles
            if profile.owner in new
            for event_id in profile.waiting
        ]
        for profile in profiles:
            if profile.owner in new or not profile.unsent:
                profile.waiting = []
        for item in raw:
            with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
                update = parse_item(item)
                if update.get("type") in RECORDS or not update.get("id"):
                    continue
                merged = next((by_key[k] for k in identity_keys(update) if k in by_key), None)
                if merged is None:
                    continue
                entry = {"at": now_ms, "do": "batched", "batch": merged.owner}
                if update.get("traceparent"):
                    entry["traceparent"] = update["traceparent"]
                if merged.owner is not None and merged.owner not in new:
                    entry["behind"] = True
                    merged.waiting = [*merged.waiting, update["id"]][-MAX_WAITING:]
                entries.append((trace_key(update["id"]), entry))
        return entries

    def _merge(self, items: list[dict]) -> list[Profile]:
        return merge(items, self._states.of_updates(items))

    def _assign(self, profiles: list[Profile]) -> list[tuple[str, list[Profile]]]:
        """Batches of the profiles stirred by this flush that have something
        unacknowledged and no batch yet; each batch becomes its profiles' owner."""
        ready = [p for p in profiles if p.stirred and p.owner is None and p.unsent]
        packed = []
        for batch in batches(ready, self.batch_max):
            batch_id = str(uuid4())
            for profile in batch:
                profile.owner = batch_id
            packed.append((batch_id, batch))
        return packed

    def _merge_apart(self, raw: list[bytes]) -> list[Profile]:
        """Merge the items of ``raw`` that can be merged; dead-letter each one that
        cannot (a poison), so that it stops failing the claim it is in at every flush."""
        good = []
        for item in raw:
            try:
                parsed = parse_item(item)
                self._merge([parsed])
            except redis.RedisError:
                raise
            except Exception as error:
                self._dead_letter(item, error)
            else:
                good.append(parsed)
        return self._merge(good)

    def _dead_letter(self, item: bytes, error: Exception) -> None:
        """A dead letter whose replay buffers the update again (:data:`REBUFFER`). Its
        id follows from the update, so a claim isolated twice leaves one letter. Its
        user's events no longer wait for it."""
        update: Any
        try:
            update = parse_item(item)
        except (ValueError, TypeError):
            update = item.decode(errors="replace") if isinstance(item, bytes) else item
        message: dramatiq.Message = dramatiq.Message(
            queue_name=REBUFFER.queue_name,
            actor_name=REBUFFER.actor_name,
            args=(update,),
            kwargs={},
            options={},
            message_id=str(uuid5(NAMESPACE_URL, hashlib.sha256(item).hexdigest())),
        )
        reason = f"could not be merged into a profile batch ({type(error).__name__})"
        letter = self._dead_letters.add(message, reason=reason, error=error, attempts=1)
        logger.warning("Dead-lettered profile update %s: %s.", letter.event_id, reason)
        self._unblock_events(update, letter.id)

    def _unblock_events(self, update: Any, letter: str) -> None:
        try:
            unblocked = Profile(update_ids(update), seq=int(update.get("seq", 0)))
        except (TypeError, ValueError, KeyError, AttributeError):
            return
        self._settle([], [unblocked], letter)

    def _commit_args(
        self, profiles: list[Profile], packed: list[tuple[str, list[Profile]]]
    ) -> list:
        args: list = [NAMESPACE, PROFILE_BATCH.queue_name, len(packed)]
        for batch_id, batch in packed:
            refs = [dict(profile.ids) for profile in batch]
            args += redis_message(PROFILE_BATCH, (refs, batch_id))
        return [*args, states.STATE_TTL_S, *states.writes(profiles)]


def parse_item(item: bytes) -> dict:
    """A pending item: ``<number> <update>`` as the receiver writes it (the number goes
    into the update as ``seq``), or bare JSON (batch records, replays)."""
    number, space, rest = item.partition(b" ")
    if space and number.isdigit():
        update = json.loads(rest)
        update["seq"] = int(number)
        return update
    return json.loads(item)


def _release_record(profile: Profile, batch: str, *, refused: bool) -> dict:
    record = {"type": RELEASE, "batch": batch, "user": dict(profile.ids)}
    if refused:
        record["refused"] = {name: list(pair) for name, pair in profile.changed.items()}
    return record
