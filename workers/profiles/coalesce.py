"""Merging buffered profile updates into profiles, and what to send of them (pure).

The S2S platform identifies a profile by any of uid, phone, email or wp_token and
wants one hashmap per profile in a batch, never two that share an identifier.

Rules (also in the README):

- Identifiers are compared in a normal form (:func:`normal_identifier`): an email
  trimmed and in lower case, a phone number as its digits. The platform still gets them
  as the app sent them.
- Two updates belong to one profile when they share an identifier value and do not
  conflict, i.e. never name two different values for the same kind (two uids, two
  emails...). Sharing is transitive: ``{uid 1, email x}`` and ``{email x, phone p}``
  make one profile ``{uid 1, email x, phone p}``.
- An update that conflicts with a profile (``{uid 2, email x}`` after ``{uid 1, email
  x}``) starts a profile of its own; the two go to different batches.
- Each field keeps the value with the newest event time; on equal times the later
  arrival wins.
- A profile is in at most one unacknowledged batch (its :attr:`Profile.owner`). Each
  attempt of that batch sends the profile's newest state, and only what the platform
  has not acknowledged yet (:meth:`Profile.hashmap`): the changed fields, every
  identifier, and ``update_profile_last_updated_at`` = the newest event time of the
  whole profile, or, if that is not later than the stamp last acknowledged, that stamp
  plus :data:`STAMP_STEP`. So what the platform ends with is the newest value of every
  field whether it honours the stamp or applies batches in arrival order.

Besides canonical ``profile`` events, the buffer carries the outcome of batches as
records (:data:`ACK`, :data:`RELEASE`, :data:`NUDGE`), merged like updates so that the
flush stays the only writer of a profile's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.crm import profile_hashmap
from schemas.events import IDENTIFIERS
from schemas.fast import stored_time
from schemas.identities import identity_key, normal_identifier

#: How much later than the previous acknowledged stamp a profile's next stamp must be.
STAMP_STEP = timedelta(milliseconds=1)

#: A batch's attempt was acknowledged: ``fields`` maps each sent field to the
#: ``[value, time]`` sent, ``ids`` the identifier kinds sent, ``stamp`` the stamp. A
#: field counts as acknowledged if its current value is the one sent, whatever came
#: in between: that is the value the platform holds.
ACK = "ack"
#: A batch let go of its profile without an acknowledgement (dead-lettered, or the
#: platform refused it: then ``refused`` holds the refused ``[value, time]`` fields,
#: which are forgotten unless a newer value replaced them meanwhile).
RELEASE = "release"
#: Look at this profile again: send it if it has something unacknowledged and no batch
#: (a replayed dead letter of a batch that no longer owns it).
NUDGE = "nudge"
RECORDS = (ACK, RELEASE, NUDGE)


#: Update ids a profile keeps while they wait behind its batch in flight.
MAX_WAITING = 20


@dataclass
class Profile:
    """One profile's merged state: identifiers, each field's newest value and time, and
    what the platform has acknowledged of it."""

    ids: dict[str, str] = field(default_factory=dict)
    fields: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: The stamp of the last acknowledged batch of this profile, if any.
    sent: str | None = None
    #: The fields whose current value the platform acknowledged.
    acked: set[str] = field(default_factory=set)
    #: The identifier kinds the platform acknowledged.
    acked_ids: set[str] = field(default_factory=set)
    #: The batch this profile is in, until that batch is acknowledged or let go.
    owner: str | None = None
    #: The newest acceptance sequence number merged in (workers/profiles/order.py).
    seq: int = 0
    #: Ids of updates merged while :attr:`owner` was in flight, whose trace names the
    #: batch they go out in once there is one (workers/profiles/buffer.py); the newest
    #: :data:`MAX_WAITING` are kept.
    waiting: list[str] = field(default_factory=list, compare=False)
    #: Whether what was merged calls for sending it (not saved): an update, an
    #: acknowledgement (newer values may have waited), a nudge. A batch let go does
    #: not: what it did not send waits for the user's next update, and a refused
    #: profile is not sent again on its own.
    stirred: bool = field(default=False, compare=False)

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
        # Event times are at most a day ahead (schemas/limits.py): a step never overflows.
        return stored_time(_instant(self.sent) + STAMP_STEP)

    @property
    def changed(self) -> dict[str, tuple[Any, str]]:
        """The fields the platform has not acknowledged in their current value."""
        return {name: pair for name, pair in self.fields.items() if name not in self.acked}

    @property
    def unsent(self) -> bool:
        """Whether the platform lacks something of this profile."""
        return bool(self.changed) or not set(self.ids) <= self.acked_ids

    def accepts(self, ids: dict[str, str]) -> bool:
        """Shares an identifier with ``ids`` and names no other value for any kind."""
        mine = {kind: normal_identifier(kind, value) for kind, value in self.ids.items()}
        theirs = {kind: normal_identifier(kind, value) for kind, value in ids.items()}
        shared = any(mine.get(kind) == value for kind, value in theirs.items())
        return shared and all(mine.get(kind, value) == value for kind, value in theirs.items())

    def absorb(self, ids: dict[str, str], fields: dict[str, tuple[Any, str]], seq: int = 0) -> None:
        """Merge one update: newer values replace older ones; a value equal to an
        acknowledged one stays acknowledged."""
        self.ids.update(ids)
        self.seq = max(self.seq, seq)
        self.stirred = True
        for name, pair in fields.items():
            self._take(name, pair, acked=False)

    def fold(self, other: Profile) -> None:
        """Merge another profile's state into this one (an update bridged the two)."""
        self.ids.update(other.ids)
        self.seq = max(self.seq, other.seq)
        self.acked_ids |= other.acked_ids
        self.owner = self.owner or other.owner
        self.stirred = self.stirred or other.stirred
        self.waiting = [*self.waiting, *other.waiting][-MAX_WAITING:]
        if other.sent is not None and (self.sent is None or _later(other.sent, self.sent)):
            self.sent = other.sent
        for name, pair in other.fields.items():
            self._take(name, pair, acked=name in other.acked)

    def settle(self, record: dict[str, Any]) -> None:
        """Apply a batch's outcome (:data:`ACK`, :data:`RELEASE` or :data:`NUDGE`)."""
        batch = record.get("batch")
        if batch is not None and batch == self.owner:
            self.owner = None
        self.stirred = self.stirred or record["type"] != RELEASE
        if record["type"] == ACK:
            self._acknowledge(record)
        elif record["type"] == RELEASE:
            for name, (value, _) in (record.get("refused") or {}).items():
                if name in self.fields and _same(self.fields[name][0], value):
                    del self.fields[name]
                    self.acked.discard(name)

    def _acknowledge(self, record: dict[str, Any]) -> None:
        for name, (value, _) in record.get("fields", {}).items():
            if name in self.fields and _same(self.fields[name][0], value):
                self.acked.add(name)
        self.acked_ids |= {kind for kind in record.get("ids", ()) if kind in self.ids}
        stamp = record.get("stamp")
        if stamp is not None and (self.sent is None or _later(stamp, self.sent)):
            self.sent = stamp

    def _take(self, name: str, pair: tuple[Any, str], *, acked: bool) -> None:
        value, stamp = pair
        current = self.fields.get(name)
        if current is not None and _instant(stamp) < _instant(current[1]):
            return
        if current is None or not _same(current[0], value):
            self.acked.discard(name)
        if acked:
            self.acked.add(name)
        self.fields[name] = (value, stamp)

    def hashmap(self) -> dict[str, Any]:
        """What to send now: every identifier, the changed fields, the stamp."""
        fields = {name: value for name, (value, _) in self.changed.items()}
        stamp = self.stamp
        assert stamp is not None, "only a profile with changes is sent, and changes have times"
        return profile_hashmap(self.ids, fields, stamp)

    def acknowledgement(self, batch: str) -> dict[str, Any]:
        """The :data:`ACK` record of :meth:`hashmap` sent in ``batch``."""
        return {
            "type": ACK,
            "batch": batch,
            "user": dict(self.ids),
            "fields": {name: list(pair) for name, pair in self.changed.items()},
            "ids": sorted(self.ids),
            "stamp": self.stamp,
        }

    def to_state(self) -> dict[str, Any]:
        """What to save of this profile (empty parts left out)."""
        state: dict[str, Any] = {
            "ids": self.ids,
            "fields": {n: list(v) for n, v in self.fields.items()},
            "sent": self.sent,
            "acked": sorted(self.acked),
        }
        if not set(self.ids) <= self.acked_ids:
            state["acked_ids"] = sorted(self.acked_ids)
        if self.owner is not None:
            state["owner"] = self.owner
        if self.seq:
            state["seq"] = self.seq
        if self.waiting:
            state["waiting"] = self.waiting
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Profile:
        """A saved state; one saved before acknowledgements were tracked (no
        ``acked``) had all of it sent, in batches that carry it whole."""
        fields = {n: (v, t) for n, (v, t) in state["fields"].items()}
        ids = dict(state["ids"])
        acked = set(state["acked"]) if "acked" in state else set(fields)
        acked_ids = set(state.get("acked_ids", ids))
        owner, seq = state.get("owner"), int(state.get("seq", 0))
        waiting = list(state.get("waiting", ()))
        return cls(
            ids, fields, state.get("sent"), acked & set(fields), acked_ids, owner, seq, waiting
        )


def update_ids(update: dict[str, Any]) -> dict[str, str]:
    return {kind: str(update["user"][kind]) for kind in IDENTIFIERS if update["user"].get(kind)}


def identity_keys(update: dict[str, Any]) -> list[str]:
    """The identity keys of an event's (or a record's) user."""
    return [identity_key(kind, value) for kind, value in update_ids(update).items()]


def buffered_identity(update: dict[str, Any]) -> str:
    """The key the buffer counts a profile update under (its first identifier)."""
    return identity_keys(update)[0]


def merge(items: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> list[Profile]:
    """Merge canonical ``profile`` events (in arrival order) and batch records onto the
    profiles' known states; the records apply after the updates.

    ``states`` maps identity keys to saved :meth:`Profile.to_state` dicts; an update
    may carry ``seq``, its acceptance sequence number.
    """
    profiles: list[Profile] = []
    index: dict[str, Profile] = {}
    updates = [(n, item) for n, item in enumerate(items) if item.get("type") not in RECORDS]
    updates.sort(key=lambda pair: (_instant(pair[1]["timestamp"]), pair[0]))
    for _, update in updates:
        ids = update_ids(update)
        profile = _find(ids, index) or _new(ids, states, profiles)
        stamp = update["timestamp"]
        fields = {name: (value, stamp) for name, value in update.get("fields", {}).items()}
        profile.absorb(ids, fields, int(update.get("seq", 0)))
        _index(profile, ids, index, profiles)
    for record in (item for item in items if item.get("type") in RECORDS):
        ids = update_ids(record)
        known = _find(ids, index) or _saved(ids, states, profiles)
        if known is not None:
            known.settle(record)
            _index(known, ids, index, profiles)
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


def _new(ids: dict[str, str], states: dict, profiles: list[Profile]) -> Profile:
    """A new profile for ``ids``, seeded with every compatible saved state."""
    profile, _ = _seeded(ids, states)
    profiles.append(profile)
    return profile


def _saved(ids: dict[str, str], states: dict, profiles: list[Profile]) -> Profile | None:
    """As :func:`_new`, or none if no compatible state is saved."""
    profile, seeded = _seeded(ids, states)
    if not seeded:
        return None
    profiles.append(profile)
    return profile


def _seeded(ids: dict[str, str], states: dict) -> tuple[Profile, bool]:
    profile = Profile(ids=dict(ids))
    seeded = False
    for kind, value in ids.items():
        state = states.get(identity_key(kind, value))
        if state is not None:
            saved = Profile.from_state(state)
            if profile.accepts(saved.ids):
                profile.fold(saved)
                seeded = True
    return profile, seeded


def _index(profile: Profile, ids: dict[str, str], index: dict, profiles: list[Profile]) -> None:
    """Index ``profile`` by its keys, folding in other profiles this update bridged."""
    for kind, value in ids.items():
        other = index.get(identity_key(kind, value))
        if other is not None and other is not profile and profile.accepts(other.ids):
            profile.fold(other)
            profiles.remove(other)
            for key in other.keys:
                if index.get(key) is other:
                    index[key] = profile
    for key in profile.keys:
        index.setdefault(key, profile)


def _same(one: Any, other: Any) -> bool:
    """Equal JSON values (``1`` is not ``true``, nor ``1.0``)."""
    return type(one) is type(other) and one == other


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _later(one: str, other: str) -> bool:
    return _instant(one) > _instant(other)
