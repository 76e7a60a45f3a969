"""Identities re-keyed into today's normal form (schemas/identities.py), by ``hookrelay
migrate``: what was kept under a spelling that the normal form now reads otherwise
moves to the normal name, so that it keeps holding for the person it was kept for.

- suppressions (fields of one hash): moved; an entry under the normal name wins;
- frequency windows (sorted sets): merged, so no send counted before is forgotten;
- saved profile states: moved (one under the normal name wins), and the pointers of
  a profile's other identifiers rewritten to its normal home;
- event order: each identity's hash merged (events wait for both), the identities
  each waiting event names rewritten, and each unsettled identity renamed (campaign
  starts wait for both).

Each move is one atomic step (``rekey.lua``). A second run finds nothing to move.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from redis.commands.core import Script

from schemas.identities import normal_key
from workers.campaigns.suppressions import FREQUENCY_PREFIX, SUPPRESSIONS
from workers.core import lua
from workers.profiles.order import AFTER_PREFIX, ORDER_PREFIX, UNSETTLED
from workers.profiles.states import POINTER, STATE_PREFIX

SCAN_BATCH = 500

_REKEY = lua.read(__package__, "rekey.lua")


def rekey_identities(client: redis.Redis) -> Iterator[tuple[str, int]]:
    """Move what each store keeps under a spelling not in the normal form; yield
    (what, how many moved) per store."""
    rekey = client.register_script(_REKEY)
    yield "suppressions", _suppressions(client)
    yield "frequency windows", _keys(client, rekey, FREQUENCY_PREFIX, "zset")
    states = _keys(client, rekey, STATE_PREFIX, "state") + _pointers(client, rekey)
    yield "saved profile states", states
    order = _keys(client, rekey, ORDER_PREFIX, "order") + _waits(client)
    yield "event order", order + _unsettled(client, rekey)


def _renamed(name: str) -> str | None:
    """An identity key's normal name, if it differs from ``name``."""
    normal = normal_key(name)
    return normal if normal != name else None


def _suppressions(client: redis.Redis) -> int:
    moved = 0
    for field, entry in client.hscan_iter(SUPPRESSIONS, count=SCAN_BATCH):
        normal = _renamed(field.decode())
        if normal is not None:
            client.hsetnx(SUPPRESSIONS, normal, entry)
            client.hdel(SUPPRESSIONS, field)
            moved += 1
    return moved


def _keys(client: redis.Redis, rekey: Script, prefix: str, how: str) -> int:
    """Move every ``<prefix><identity key>`` whose identity key is not normal."""
    moved, pairs = 0, []
    for key in client.scan_iter(match=f"{prefix}*", count=SCAN_BATCH):
        normal = _renamed(key.decode()[len(prefix) :])
        if normal is not None:
            pairs += [key, prefix + normal]
        if len(pairs) >= 2 * SCAN_BATCH:
            moved += rekey(keys=pairs, args=[how])
            pairs = []
    return moved + (rekey(keys=pairs, args=[how]) if pairs else 0)


def _pointers(client: redis.Redis, rekey: Script) -> int:
    """Rewrite each state pointer (``@<home key>``) whose home key is not normal, the
    states read a scan page at a time."""
    rewritten, page = 0, []
    for key in client.scan_iter(match=f"{STATE_PREFIX}*", count=SCAN_BATCH):
        page.append(key)
        if len(page) == SCAN_BATCH:
            rewritten += _rewrite_pointers(client, rekey, page)
            page = []
    return rewritten + _rewrite_pointers(client, rekey, page)


def _rewrite_pointers(client: redis.Redis, rekey: Script, keys: list[bytes]) -> int:
    rewritten = 0
    for key, value in zip(keys, client.mget(keys) if keys else [], strict=True):
        if value is None or not value.startswith(POINTER.encode()):
            continue
        home = _renamed(value.decode()[len(POINTER) :])
        if home is not None:
            rewritten += rekey(keys=[key], args=["pointer", value, POINTER + home])
    return rewritten


def _waits(client: redis.Redis) -> int:
    """Rename, in each waiting event's list, the identities that are not normal: the
    normal name is written first, so the event never looks ready in between."""
    renamed = 0
    for key in client.scan_iter(match=f"{AFTER_PREFIX}*", count=SCAN_BATCH):
        for field, number in client.hgetall(key).items():
            normal = _renamed(field.decode())
            if normal is not None:
                current = client.hget(key, normal)
                client.hset(key, normal, max(int(number), int(current or 0)))
                client.hdel(key, field)
                renamed += 1
    return renamed


def _unsettled(client: redis.Redis, rekey: Script) -> int:
    """Rename the unsettled identities that are not normal, each at the lower score."""
    renamed = 0
    for member, _ in client.zscan_iter(UNSETTLED, count=SCAN_BATCH):
        normal = _renamed(member.decode())
        if normal is not None:
            renamed += rekey(keys=[UNSETTLED], args=["member", member, normal])
    return renamed
