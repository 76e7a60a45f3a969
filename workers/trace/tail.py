"""The live tail: every outcome (accepted, delivered, retried, dead-lettered) as it
happens, for ``GET /v1/tail`` and ``hookrelay tail``.

A Redis stream (:data:`KEY`) trimmed as it is written, so the server's memory stays
bounded whoever reads it or not. The receiver adds one entry per request for the events
it accepted (``events``: a JSON array of ``[id, type]`` pairs,
webhook/intake/enqueue.lua), which :func:`expanded` turns into one outcome per event,
and trims the stream to its last :data:`WINDOW_MS`; the workers add one per finished
attempt (workers/queue/retry.py), in the same round trip as the event's trace, and
trim it to about :data:`MAX_ENTRIES` entries. A follower starts from the newest entry,
so nothing reads further back than a follower that fell behind: one more than a
minute behind misses what was trimmed. (Bounded by entries alone, a tail of batches of
1,000 could hold ~500 MB; bounded by a minute too, it holds a minute of traffic.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import redis

KEY = "hookrelay:tail"
MAX_ENTRIES = 10_000
#: How far back the receiver trims the stream to, as it writes.
WINDOW_MS = 60_000
OUTCOMES = ("accepted", "delivered", "retried", "dead_lettered")


def expanded(fields: dict[bytes, bytes]) -> list[dict]:
    """One stream entry as the outcomes it stands for."""
    entry = {key.decode(): value.decode() for key, value in fields.items()}
    events = entry.pop("events", None)
    if events is None:
        return [_typed(entry)]
    return [
        _typed({**entry, "event_id": event_id, "type": event_type})
        for event_id, event_type in json.loads(events)
    ]


def _typed(entry: dict) -> dict:
    for name in ("at", "status", "latency_ms", "attempt"):
        if entry.get(name, "").isdigit():
            entry[name] = int(entry[name])
    return entry


class Tail:
    """Follows the stream from now on, keeping the outcomes a filter selects."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def follow(
        self,
        *,
        platform: str | None = None,
        outcome: str | None = None,
        event_type: str | None = None,
        block_ms: int = 1000,
    ) -> Iterator[dict | None]:
        """Each outcome after this call that matches; ``None`` after ``block_ms``
        without one (a chance to send a heartbeat, or to stop)."""
        last = self._newest()

        def outcomes() -> Iterator[dict | None]:
            nonlocal last
            while True:
                answer = self._client.xread({KEY: last}, block=block_ms, count=500)
                if not answer:
                    yield None
                    continue
                for entry_id, fields in answer[0][1]:
                    last = entry_id
                    for item in expanded(fields):
                        if _matches(item, platform, outcome, event_type):
                            yield item

        return outcomes()

    def _newest(self) -> str:
        """The id of the newest entry, to follow from (``0-0`` before the first)."""
        newest = self._client.xrevrange(KEY, count=1)
        return newest[0][0] if newest else "0-0"


def _matches(item: dict, platform: str | None, outcome: str | None, event_type: str | None) -> bool:
    return (
        (platform is None or item.get("platform") == platform)
        and (outcome is None or item.get("outcome") == outcome)
        and (event_type is None or item.get("type") == event_type)
    )
