"""The Redis buffer of profile updates, and how one flush of it goes.

The receiver appends each accepted ``profile`` event to the buffer
(webhook/intake/enqueue.lua). :class:`~workers.profiles.flusher.ProfileFlusher`, a
thread in every worker process, flushes it
every ``flush_ms`` after the oldest update arrived, or as soon as ``batch_max``
profiles are waiting. A flush (:meth:`ProfileBuffer.flush`), under a Redis lock so
flushes never overlap:

1. claims the pending updates (they move to a claim list, atomically);
2. merges them onto the profiles' saved states (workers/profiles/coalesce.py) and
   packs batches;
3. commits, atomically: one Dramatiq message per batch on the platform's queue, the
   merged states saved (once per profile, under its :attr:`~workers.profiles.coalesce.
   Profile.home_key`, with a pointer under each other identifier), the claim deleted.

A flusher killed between 1 and 3 leaves its claim behind; any flusher puts claims
older than ``claim_timeout_s`` back at the head of the buffer, so nothing is lost and,
because a commit only happens while its claim exists, nothing is sent twice by two
successful flushes. The batch messages then go through the actor like any other:
rate-limited, retried with their content intact, dead-lettered if refused.

A claim that cannot be merged (step 2 raises: a poison update) would fail the same way
at every flush and hold back every profile behind it. So its updates are then merged
one by one: each that fails alone is dead-lettered (its replay buffers it again), and
the rest go out. A saved state that cannot be read is ignored. A profile the platform
refused on its own loses its saved field values (:meth:`ProfileBuffer.forget_fields`),
so its refused values do not come back in that user's later batches.
"""

from __future__ import annotations

import hashlib
import json
import logging
from uuid import NAMESPACE_URL, uuid4, uuid5

import dramatiq
import redis

from schemas.events import IDENTIFIERS
from workers.core import lua
from workers.core.settings import Settings
from workers.profiles.coalesce import (
    Profile,
    batches,
    buffered_identity,
    identity_key,
    merge,
    update_ids,
)
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, redis_message
from workers.queue.routes import PROFILE_BATCH, PROFILE_BUFFER, REBUFFER

logger = logging.getLogger(__name__)

BUFFER = PROFILE_BUFFER
STATE_PREFIX = f"{BUFFER}:state:"
#: Saved profile states outlive any plausible delay between two updates of a user.
STATE_TTL_S = 30 * 86400
#: A saved state under a profile's other identifiers: this, then its home key
#: (:attr:`~workers.profiles.coalesce.Profile.home_key`), so the state is kept once.
POINTER = "@"
#: How many buffered updates one flush takes at most, as a multiple of batch_max.
CLAIM_FACTOR = 20
LOCK_TTL_MS = 30_000

_SCRIPT = lua.source(__package__, "buffer.lua", lua.CLOCK, ENQUEUE_LUA)
_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""


class ProfileBuffer:
    """Parameters:
    client: the Redis holding the buffer (``REDIS_URL``'s; the broker's queues must be
      in the same server, which is the default).
    batch_max: most profiles in one batch (``PROFILE_BATCH_MAX``).
    flush_ms: longest an update waits in the buffer (``PROFILE_FLUSH_MS``).
    dead_letters: where updates that cannot be merged go (default: Redis's, uncapped).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        batch_max: int,
        flush_ms: int,
        dead_letters: DeadLetterQueue | None = None,
    ) -> None:
        self._client = client
        self._dead_letters = dead_letters or DeadLetterQueue(client)
        self.batch_max = batch_max
        self.flush_ms = flush_ms
        self._script = client.register_script(_SCRIPT)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> ProfileBuffer:
        """The buffer ``PROFILE_BATCH_MAX`` and ``PROFILE_FLUSH_MS`` configure."""
        return cls(
            client,
            batch_max=settings.profile_batch_max,
            flush_ms=settings.profile_flush_ms,
            dead_letters=DeadLetterQueue.from_settings(client, settings),
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
        token = str(uuid4())
        if not self._client.set(f"{BUFFER}:lock", token, nx=True, px=LOCK_TTL_MS):
            return 0
        try:
            return self._flush_claimed()
        finally:
            self._release(keys=[f"{BUFFER}:lock"], args=[token])

    def reap(self, older_than_s: float) -> int:
        """Put back claims older than ``older_than_s`` (their flusher died)."""
        return self._script(keys=[BUFFER], args=["reap", int(older_than_s * 1000)])

    def _flush_claimed(self) -> int:
        claim_id = str(uuid4())
        raw = self._script(keys=[BUFFER], args=["claim", claim_id, self.batch_max * CLAIM_FACTOR])
        if not raw:
            return 0
        try:
            packed = self._pack([json.loads(item) for item in raw])
        except redis.RedisError:
            raise
        except Exception:
            logger.exception(
                "Profile claim %s could not be merged; merging its %d updates one by one.",
                claim_id,
                len(raw),
            )
            packed = self._pack_apart(raw)
        committed = self._script(
            keys=[BUFFER], args=["commit", claim_id, *self._commit_args(packed)]
        )
        if not committed:
            logger.warning("Profile claim %s was reclaimed before it committed.", claim_id)
            return 0
        logger.info(
            "Flushed %d profile updates as %d profiles in %d batches.",
            len(raw),
            sum(len(batch) for batch in packed),
            len(packed),
        )
        return len(packed)

    def append(self, update: dict) -> None:
        """Buffer ``update`` again, as the receiver does (a replayed dead letter)."""
        self._script(keys=[BUFFER], args=["append", buffered_identity(update), json.dumps(update)])

    def forget_fields(self, hashmap: dict) -> None:
        """Drop the saved field values of the profile ``hashmap`` names (one the platform
        refused), so that its refused values do not come back in that user's later
        batches. The stamp it was sent with stays, so later stamps still rise."""
        keys = [identity_key(kind, str(hashmap[kind])) for kind in IDENTIFIERS if hashmap.get(kind)]
        for home, raw in set(self._read_states(keys).values()):
            if raw is None:
                continue
            try:
                state = json.loads(raw)
            except ValueError:
                state = None
            if isinstance(state, dict):
                forgotten = json.dumps({**state, "fields": {}})
                self._client.set(STATE_PREFIX + home, forgotten, keepttl=True)
            else:
                self._client.delete(STATE_PREFIX + home)

    def _pack(self, updates: list[dict]) -> list[list[Profile]]:
        return batches(merge(updates, self._saved_states(updates)), self.batch_max)

    def _pack_apart(self, raw: list[bytes]) -> list[list[Profile]]:
        """Pack the updates of ``raw`` that can be merged; dead-letter each one that
        cannot (a poison), so that it stops failing the claim it is in at every flush."""
        good = []
        for item in raw:
            try:
                update = json.loads(item)
                self._pack([update])
            except redis.RedisError:
                raise
            except Exception as error:
                self._dead_letter(item, error)
            else:
                good.append(update)
        return self._pack(good)

    def _dead_letter(self, item: bytes, error: Exception) -> None:
        """A dead letter whose replay buffers the update again (:data:`REBUFFER`). Its
        id follows from the update, so a claim isolated twice leaves one letter."""
        try:
            update = json.loads(item)
        except ValueError:
            update = item.decode(errors="replace") if isinstance(item, bytes) else item
        message = dramatiq.Message(
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

    def _saved_states(self, updates: list[dict]) -> dict[str, dict]:
        """The saved states of the updates' identifiers. One that cannot be read (corrupt,
        or written by another release) is left out, so that its profile is merged as a
        new one instead of failing the whole claim again at every flush."""
        keys = sorted({identity_key(k, v) for u in updates for k, v in update_ids(u).items()})
        states = {}
        for key, (_, value) in self._read_states(keys).items():
            if value is None:
                continue
            try:
                states[key] = json.loads(value)
                Profile.from_state(states[key]).stamp  # noqa: B018 (parses every time in it)
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                logger.warning(
                    "Ignoring the unreadable saved state of profile %s (%s).",
                    key,
                    type(error).__name__,
                )
                states.pop(key, None)
        return states

    def _read_states(self, keys: list[str]) -> dict[str, tuple[str, bytes | None]]:
        """Each identity key's (home key, saved state), following the pointers of a
        profile's other identifiers to its home key: two round trips at most."""
        values = self._client.mget([STATE_PREFIX + key for key in keys])
        found = {key: (key, value) for key, value in zip(keys, values, strict=True)}
        pointers = {key: v[1:].decode() for key, (_, v) in found.items() if _points(v)}
        if pointers:
            homes = sorted(set(pointers.values()))
            states = self._client.mget([STATE_PREFIX + home for home in homes])
            by_home = {
                home: None if _points(state) else state
                for home, state in zip(homes, states, strict=True)
            }
            found.update({key: (home, by_home[home]) for key, home in pointers.items()})
        return found

    def _commit_args(self, packed: list[list[Profile]]) -> list:
        args: list = [NAMESPACE, PROFILE_BATCH.queue_name, len(packed)]
        for batch in packed:
            args += redis_message(PROFILE_BATCH, ([profile.hashmap() for profile in batch],))
        args.append(STATE_TTL_S)
        for profile in (profile for batch in packed for profile in batch):
            home = profile.home_key
            args += [STATE_PREFIX + home, json.dumps(profile.to_state())]
            for key in profile.keys:
                if key != home:
                    args += [STATE_PREFIX + key, POINTER + home]
        return args


def _points(value: bytes | None) -> bool:
    """Whether a saved value is a pointer to the profile's home key."""
    return value is not None and value.startswith(POINTER.encode())
