"""One person to forget: every identifier hookrelay links to the ones a request names.

A person starts as the identifiers given; every saved profile state, buffered update or
message that shares a key with them adds its own identifiers (:meth:`Person.link`), so
an address only ever sent together with the uid is forgotten with it.

:meth:`Person.mentions` tells whether a stored value (an event, a batch reference, a
platform's message-log row) names the person (:func:`~schemas.identities.named_keys`:
identifiers under their own names, any string that is an email address, each compared
in its normal form).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.identities import keys_of, named_keys


class Person:
    """The identity keys (normal form) of one person, growing as more are linked."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: set[str] = set(keys)

    def link(self, ids: dict[str, Any]) -> bool:
        """Add ``ids`` (identifiers by kind) if one of them is the person's; returns
        whether any was new."""
        keys = set(keys_of(ids))
        if not keys & self.keys or keys <= self.keys:
            return False
        self.keys |= keys
        return True

    def mentions(self, value: Any) -> bool:
        """Whether ``value`` (JSON-like, any depth) names the person."""
        return not self.keys.isdisjoint(named_keys(value))
