"""Each profile's saved state: what was last merged and sent for it, kept so that the
next flush sends only what changed.

A state lives under its profile's home key (:attr:`~workers.profiles.coalesce.Profile.
home_key`); each of the profile's other identifiers holds a pointer to it
(:data:`POINTER` then the home key), so a state is kept once however many identifiers
reach it. The buffer's commit (buffer.lua) writes both, with :data:`STATE_TTL_S`.
"""

from __future__ import annotations

import json
import logging

import redis

from workers.profiles.coalesce import Profile, identity_key, update_ids
from workers.queue.routes import PROFILE_BUFFER

logger = logging.getLogger(__name__)

STATE_PREFIX = f"{PROFILE_BUFFER}:state:"
#: Saved profile states outlive any plausible delay between two updates of a user.
STATE_TTL_S = 30 * 86400
#: A saved state under a profile's other identifiers: this, then its home key.
POINTER = "@"

#: Each identity key's (home key, saved state or ``None``).
Found = dict[str, tuple[str, bytes | None]]


class SavedStates:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def read(self, keys: list[str]) -> Found:
        """Each identity key's (home key, saved state), following the pointers of a
        profile's other identifiers to its home key: two round trips at most."""
        values = self._client.mget([STATE_PREFIX + key for key in keys]) if keys else []
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

    def of_updates(self, items: list[dict]) -> dict[str, dict]:
        """The saved states of the items' identifiers. One that cannot be read (corrupt,
        or written by another release) is left out, so that its profile is merged as a
        new one instead of failing the whole claim again at every flush."""
        keys = sorted({identity_key(k, v) for u in items for k, v in update_ids(u).items()})
        states = {}
        for key, (_, value) in self.read(keys).items():
            state = _readable(key, value)
            if state is not None:
                states[key] = state
        return states


def saved_profile(keys: list[str], found: Found) -> Profile | None:
    """The saved profile under the first of ``keys`` that has a readable one."""
    for key in keys:
        home, value = found[key]
        state = _readable(home, value)
        if state is not None:
            return Profile.from_state(state)
    return None


def writes(profiles: list[Profile]) -> list:
    """The (key, value) pairs that save ``profiles``: each state under its home key, a
    pointer under each other key, flattened for the commit script."""
    args: list = []
    for profile in profiles:
        home = profile.home_key
        args += [STATE_PREFIX + home, json.dumps(profile.to_state())]
        for key in profile.keys:
            if key != home:
                args += [STATE_PREFIX + key, POINTER + home]
    return args


def _readable(key: str, value: bytes | None) -> dict | None:
    """A saved state, or None if there is none or it cannot be read (with a warning)."""
    if value is None:
        return None
    try:
        state = json.loads(value)
        Profile.from_state(state).stamp  # noqa: B018 (parses every time in it)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        logger.warning(
            "Ignoring the unreadable saved state of profile %s (%s).", key, type(error).__name__
        )
        return None
    return state


def _points(value: bytes | None) -> bool:
    """Whether a saved value is a pointer to the profile's home key."""
    return value is not None and value.startswith(POINTER.encode())
