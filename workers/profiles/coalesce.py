"""Merging buffered profile updates into the platform's batch hashmaps (pure functions).

The S2S platform identifies a profile by any of uid, phone, email or wp_token and
wants one hashmap per profile in a batch, never two that share an identifier.

Rules (also in the README):

- Two updates belong to one profile when they share an identifier value and do not
  conflict, i.e. never name two different values for the same kind (two uids, two
  emails...). Sharing is transitive: ``{uid 1, email x}`` and ``{email x, phone p}``
  make one profile ``{uid 1, email x, phone p}``.
- An update that conflicts with a profile (``{uid 2, email x}`` after ``{uid 1, email
  x}``) starts a profile of its own; the two go to different batches.
- Each field keeps the value with the newest event time; on equal times the later
  arrival wins.
- A hashmap carries the profile's whole known state (what earlier flushes sent, kept in
  Redis, plus the new updates) and ``update_profile_last_updated_at`` = the newest event
  time in it, or, if that is not later than the time the previous flush sent for this
  profile, that time plus :data:`STAMP_STEP`. So each flush of a profile is stamped
  strictly later than the one before and holds everything it held: the platform, which
  ignores an update older than its last, keeps the newest state whatever order batches
  arrive in. (With equal stamps, an earlier batch arriving second would be accepted and
  roll back a field.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.crm import profile_hashmap
from schemas.events import IDENTIFIERS

#: How much later than the previous flush's stamp a profile's next stamp must be.
STAMP_STEP = timedelta(milliseconds=1)


@dataclass
class Profile:
    """One profile's merged state: identifiers, and each field's newest value and time."""

    ids: dict[str, str] = field(default_factory=dict)
    fields: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: The stamp the last flush of this profile carried, if any.
    sent: str | None = None

    @property
    def keys(self) -> list[str]:
        return [identity_key(kind, value) for kind, value in self.ids.items()]

    @property
    def home_key(self) -> str:
        """The key its saved state lives under: its first identifier in
        ``IDENTIFIERS`` order (a uid if it has one); the others point there."""
        kind = next(kind for kind in IDENTIFIERS if kind in self.ids)
        return identity_key(kind, self.ids[kind])

    @property
    def stamp(self) -> str | None:
        """The newest event time, made strictly later than :attr:`sent`."""
        newest = max((t for _, t in self.fields.values()), key=_instant, default=None)
        if self.sent is None or (newest is not None and _instant(newest) > _instant(self.sent)):
            return newest
        try:
            return _format(_instant(self.sent) + STAMP_STEP)
        except OverflowError:
            # A stamp at the end of time (saved before the receiver bounded event
            # times) cannot be stepped: send it again; the platform takes an equal one.
            return self.sent

    def accepts(self, ids: dict[str, str]) -> bool:
        """Shares an identifier with ``ids`` and names no other value for any kind."""
        shared = any(self.ids.get(kind) == value for kind, value in ids.items())
        return shared and all(self.ids.get(kind, value) == value for kind, value in ids.items())

    def absorb(
        self, ids: dict[str, str], fields: dict[str, tuple[Any, str]], sent: str | None = None
    ) -> None:
        self.ids.update(ids)
        if sent is not None and (self.sent is None or _instant(sent) > _instant(self.sent)):
            self.sent = sent
        for name, (value, stamp) in fields.items():
            current = self.fields.get(name)
            if current is None or _instant(stamp) >= _instant(current[1]):
                self.fields[name] = (value, stamp)

    def hashmap(self) -> dict[str, Any]:
        fields = {name: value for name, (value, _) in self.fields.items()}
        return profile_hashmap(self.ids, fields, self.stamp)

    def to_state(self) -> dict[str, Any]:
        """What to save once this profile's hashmap is sent (``sent`` = its stamp)."""
        fields = {n: list(v) for n, v in self.fields.items()}
        return {"ids": self.ids, "fields": fields, "sent": self.stamp}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Profile:
        fields = {n: (v, t) for n, (v, t) in state["fields"].items()}
        return cls(dict(state["ids"]), fields, state.get("sent"))


def identity_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def update_ids(update: dict[str, Any]) -> dict[str, str]:
    return {kind: str(update["user"][kind]) for kind in IDENTIFIERS if update["user"].get(kind)}


def buffered_identity(update: dict[str, Any]) -> str:
    """The key the buffer counts a profile update under (its first identifier)."""
    kind, value = next(iter(update_ids(update).items()))
    return identity_key(kind, value)


def merge(updates: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> list[Profile]:
    """Merge canonical ``profile`` events (in arrival order) onto their known states.

    ``states`` maps identity keys to saved :meth:`Profile.to_state` dicts.
    """
    profiles: list[Profile] = []
    index: dict[str, Profile] = {}
    ordered = sorted(enumerate(updates), key=lambda pair: (_instant(pair[1]["timestamp"]), pair[0]))
    for _, update in ordered:
        ids = update_ids(update)
        profile = _find(ids, index) or _start(ids, states, profiles)
        stamp = update["timestamp"]
        profile.absorb(
            ids, {name: (value, stamp) for name, value in update.get("fields", {}).items()}
        )
        _fold(profile, ids, index, profiles)
    return profiles


def batches(profiles: list[Profile], batch_max: int) -> list[list[Profile]]:
    """Pack profiles into batches of at most ``batch_max`` sharing no identifier."""
    packed: list[tuple[list[Profile], set[str]]] = []
    for profile in profiles:
        keys = set(profile.keys)
        home = next((b for b in packed if len(b[0]) < batch_max and not keys & b[1]), None)
        if home is None:
            home = ([], set())
            packed.append(home)
        home[0].append(profile)
        home[1].update(keys)
    return [batch for batch, _ in packed]


def _find(ids: dict[str, str], index: dict[str, Profile]) -> Profile | None:
    for kind, value in ids.items():
        profile = index.get(identity_key(kind, value))
        if profile is not None and profile.accepts(ids):
            return profile
    return None


def _start(ids: dict[str, str], states: dict, profiles: list[Profile]) -> Profile:
    """A new profile for ``ids``, seeded with every compatible saved state."""
    profile = Profile(ids=dict(ids))
    for kind, value in ids.items():
        state = states.get(identity_key(kind, value))
        if state is not None:
            saved = Profile.from_state(state)
            if profile.accepts(saved.ids):
                profile.absorb(saved.ids, saved.fields, saved.sent)
    profiles.append(profile)
    return profile


def _fold(profile: Profile, ids: dict[str, str], index: dict, profiles: list[Profile]) -> None:
    """Index ``profile`` by its keys, folding in other profiles this update bridged."""
    for kind, value in ids.items():
        other = index.get(identity_key(kind, value))
        if other is not None and other is not profile and profile.accepts(other.ids):
            profile.absorb(other.ids, other.fields, other.sent)
            profiles.remove(other)
            for key in other.keys:
                if index.get(key) is other:
                    index[key] = profile
    for key in profile.keys:
        index.setdefault(key, profile)


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _format(moment: datetime) -> str:
    """The canonical form of event times (see schemas.events)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
