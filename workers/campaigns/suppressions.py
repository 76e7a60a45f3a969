"""The suppression list: who must not be sent to, and why.

One Redis hash, ``hookrelay:suppressions``: identity key (in its normal form,
schemas/identities.py) → ``{"reason", "source", "at"}``. The pre-send gate
refuses a send to any identifier in it (webhook/gate). Entries come from the API
(``POST /v1/suppressions``), from ``profile`` events that unsubscribe, and from what
the platforms report back (:meth:`SuppressionList.from_feedback`): Pushwoosh's bounced
emails and Altcraft's history, for the kinds ``SUPPRESS_FROM_FEEDBACK`` names.

Deleting a suppression remembers when (``hookrelay:suppressions:deleted``), so that the
next fetch of the same report does not bring it back: only a report dated after the
deletion does.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import redis

from schemas.identities import identity_key, normal_key
from workers.core import lua

SUPPRESSIONS = "hookrelay:suppressions"
DELETIONS = "hookrelay:suppressions:deleted"
#: One sorted set of allowed sends per identity key, for the frequency cap (kept by the
#: pre-send hook, webhook/gate/).
FREQUENCY_PREFIX = "hookrelay:frequency:"

_FEEDBACK = lua.read(__package__, "suppressions.lua")


@dataclass(frozen=True)
class Feedback:
    """One address a platform reported: ``kind`` (one of
    :data:`~workers.core.env_values.FEEDBACK_KINDS`),
    ``source`` (``pushwoosh.bounces: Hardbounce``), and when, if it said."""

    email: str
    kind: str
    source: str
    reported_at: str | None = None


class SuppressionList:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._feedback = client.register_script(_FEEDBACK)

    def suppress(self, user: dict[str, str], reason: str = "", source: str = "api") -> list[str]:
        """Suppress every identifier of ``user`` at once (idempotent); return their ids."""
        entry = json.dumps({"reason": reason, "source": source, "at": time.time()})
        mapping = {identity_key(kind, value): entry for kind, value in user.items()}
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(SUPPRESSIONS, mapping=mapping)
            pipe.hdel(DELETIONS, *mapping)
            pipe.execute()
        return list(mapping)

    def unsuppress(self, key: str) -> bool:
        """Remove the suppression ``key`` (``email:a@example.com``, in any case) and
        remember when, so that feedback reported before now does not bring it back."""
        normal = normal_key(key)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(SUPPRESSIONS, normal)
            pipe.hset(DELETIONS, normal, time.time())
            removed, _ = pipe.execute()
        return bool(removed)

    def listing(self, limit: int) -> tuple[int, list[dict]]:
        """How many there are, and up to ``limit`` of them."""
        _, found = self._client.hscan(SUPPRESSIONS, count=limit)
        entries = [{"id": key.decode(), **json.loads(raw)} for key, raw in found.items()]
        return self._client.hlen(SUPPRESSIONS), entries[:limit]

    def from_feedback(self, reports: list[Feedback], kinds: frozenset[str]) -> int:
        """Suppress each reported address whose kind is in ``kinds``, once; return how
        many were added."""
        args: list = []
        for report in reports:
            if report.kind in kinds and report.email:
                entry = {"reason": report.kind, "source": report.source, "at": time.time()}
                key = identity_key("email", report.email)
                args += [key, json.dumps(entry), _seconds(report.reported_at)]
        if not args:
            return 0
        return self._feedback(keys=[SUPPRESSIONS, DELETIONS], args=args)


def _seconds(moment: str | None) -> float:
    """A report's time as Unix seconds; 0 (older than any deletion) if it has none."""
    try:
        return datetime.fromisoformat(str(moment).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0
