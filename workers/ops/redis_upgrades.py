"""Redis keys a release renamed, moved by ``hookrelay migrate`` (the release step) so
that an upgrade keeps what the old names held.

Each entry is history, like a migration of the SQL store: the prefixes are written out
here rather than imported, because the code that used the old name is gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis

from schemas.identities import normal_key
from workers.campaigns.suppressions import SUPPRESSIONS
from workers.core import lua

#: (old prefix, new prefix, what the keys hold).
RENAMED_PREFIXES = (
    ("hookrelay:sends:", "hookrelay:frequency:", "frequency-cap counts (sorted sets)"),
)
SCAN_BATCH = 500

_MOVE = lua.read(__package__, "rename_sorted_sets.lua")


def rename_keys(client: redis.Redis) -> Iterator[tuple[str, int]]:
    """Move every renamed key; yield (what, how many keys moved) per renamed prefix."""
    move = client.register_script(_MOVE)
    for old, new, what in RENAMED_PREFIXES:
        moved = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{old}*", count=SCAN_BATCH):
            batch.append(key)
            if len(batch) == SCAN_BATCH:
                moved += move(keys=batch, args=[old, new])
                batch = []
        if batch:
            moved += move(keys=batch, args=[old, new])
        yield what, moved
    yield "suppressions (identifiers now in their normal form)", _normalize_suppressions(client)


def _normalize_suppressions(client: redis.Redis) -> int:
    """Rename each suppression of an identifier not in its normal form (``email:A@B.COM``
    to ``email:a@b.com``), keeping an existing entry under the normal name."""
    moved = 0
    for field, entry in client.hscan_iter(SUPPRESSIONS, count=SCAN_BATCH):
        normal = normal_key(field.decode())
        if normal != field.decode():
            client.hsetnx(SUPPRESSIONS, normal, entry)
            client.hdel(SUPPRESSIONS, field)
            moved += 1
    return moved
