"""One person to forget: every identifier hookrelay links to the ones a request names.

A person starts as the identifiers given; every saved profile state, buffered update or
message that shares a key with them adds its own identifiers (:meth:`Person.link`), so
an address only ever sent together with the uid is forgotten with it.

:meth:`Person.mentions` tells whether a stored value (an event, a batch reference, a
platform's message-log row) names the person: identifiers under their own names (``uid``,
``email``, ``phone``, ``wp_token`` and the names platforms use), and any string that is an
email address of theirs, in whichever spelling (compared in the normal form).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.events import IDENTIFIERS
from schemas.identities import identity_key

#: Field names that hold an identifier of the kind they map to, in what hookrelay stores
#: (its own events, and rows the platforms answer).
NAMED = {
    **{kind: kind for kind in IDENTIFIERS},
    "user_id": "uid",
    "userId": "uid",
    "external_id": "uid",
    "push_token": "wp_token",
    "hwid": "wp_token",
    "phone_number": "phone",
    "msisdn": "phone",
}


class Person:
    """The identity keys (normal form) of one person, growing as more are linked."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: set[str] = set(keys)

    def link(self, ids: dict[str, Any]) -> bool:
        """Add ``ids`` (identifiers by kind) if one of them is the person's; returns
        whether any was new."""
        keys = {identity_key(kind, str(ids[kind])) for kind in IDENTIFIERS if ids.get(kind)}
        if not keys & self.keys or keys <= self.keys:
            return False
        self.keys |= keys
        return True

    def mentions(self, value: Any) -> bool:
        """Whether ``value`` (JSON-like, any depth) names the person."""
        if isinstance(value, dict):
            return any(
                self._named(name, item) or self.mentions(item) for name, item in value.items()
            )
        if isinstance(value, list | tuple):
            return any(self.mentions(item) for item in value)
        if isinstance(value, str) and "@" in value:
            return identity_key("email", value) in self.keys
        return False

    def _named(self, name: Any, value: Any) -> bool:
        kind = NAMED.get(name) if isinstance(name, str) else None
        if kind is None or not isinstance(value, str | int) or isinstance(value, bool):
            return False
        return identity_key(kind, str(value)) in self.keys
