"""What the platform kept of each profile: its batch upsert echoes the profiles back
without the fields the project does not declare ("undeclared fields will be ignored"),
so a misnamed field would otherwise be lost with no error anywhere.

:meth:`DroppedFields.record` compares the echo with what was sent and counts each
dropped field by name, never its value: in Redis (``hookrelay:profiles:dropped``, for
``/status``), in the ``hookrelay_profile_fields_dropped`` metric, and in one warning per
field name per hour across all workers. The names are the app's own field names, so
they are as many as the fields it sends (a bounded label set).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis

from schemas.events import IDENTIFIERS
from workers.metrics.counters import PROFILE_FIELDS_DROPPED

logger = logging.getLogger(__name__)

DROPPED = "hookrelay:profiles:dropped"
LAST_DROPPED = "hookrelay:profiles:dropped:last"
LOGGED_PREFIX = "hookrelay:profiles:dropped:logged:"
LOG_EVERY_S = 3600


def dropped_fields(sent: list[dict], echo: Any) -> Counter[str]:
    """Field names each sent hashmap had and its echo lacks. Echoes are matched to the
    sent hashmaps by position when there are as many, else by identifiers; an answer
    that is not such a list says nothing (nothing counted)."""
    if not isinstance(echo, list) or not all(isinstance(item, dict) for item in echo):
        return Counter()
    pairs: Iterable[tuple[dict, Any]]
    if len(echo) == len(sent):
        pairs = zip(sent, echo, strict=True)
    else:
        by_id = {_identity(item): item for item in echo}
        pairs = ((h, by_id[_identity(h)]) for h in sent if _identity(h) in by_id)
    dropped: Counter[str] = Counter()
    for hashmap, echoed in pairs:
        kept = echoed.get("fields") if isinstance(echoed.get("fields"), dict) else {}
        dropped.update(name for name in hashmap.get("fields") or {} if name not in kept)
    return dropped


def _identity(hashmap: dict) -> tuple:
    return tuple(str(hashmap.get(kind) or "") for kind in IDENTIFIERS)


class DroppedFields:
    """The dropped-field counts, kept in the Redis ``client``."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def record(self, sent: list[dict], echo: Any) -> Counter[str]:
        """Count what the platform dropped of ``sent``; return it."""
        dropped = dropped_fields(sent, echo)
        if not dropped:
            return dropped
        now = time.time()
        with self._client.pipeline(transaction=False) as pipe:
            for name, count in dropped.items():
                PROFILE_FIELDS_DROPPED.labels(name).inc(count)
                pipe.hincrby(DROPPED, name, count)
                pipe.hset(LAST_DROPPED, name, now)
                pipe.set(LOGGED_PREFIX + name, 1, nx=True, ex=LOG_EVERY_S)
            answers = pipe.execute()
        for name, first_this_hour in zip(dropped, answers[2::3], strict=True):
            if first_this_hour:
                logger.warning(
                    "The platform dropped the profile field %r (not declared in its project?);"
                    " counted on /status, logged again in an hour if it still is.",
                    name,
                )
        return dropped

    def read(self) -> list[tuple[str, int, float]]:
        """Each dropped field's name, count and when it was last dropped (Unix s),
        most dropped first."""
        counts = self._client.hgetall(DROPPED)
        last = self._client.hgetall(LAST_DROPPED)
        rows = [(n.decode(), int(c), float(last.get(n, 0))) for n, c in counts.items()]
        return sorted(rows, key=lambda row: (-row[1], row[0]))
