"""The pre-send gate a platform's hook asks before each send, answered from Redis alone.

Identifiers are compared in their normal form (``identity_key``, schemas/identities.py:
every spelling of one mailbox or number is one key). A send is refused when any of the
recipient's identifiers is on the suppression list, or, with ``FREQUENCY_CAP`` set,
when any of them already had that many *allowed* sends in the last 24 hours. An
allowed send is counted against every identifier given, in the same atomic step as
the check (``decide.lua``), so two concurrent hooks for one recipient cannot both slip
under the cap. Counts reach the
append-only file within about a second, not before the answer (webhook/journal.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

import redis

from schemas.identities import identity_key
from webhook.direct import DirectScript
from webhook.journal import Journal
from workers.campaigns.suppressions import FREQUENCY_PREFIX, SUPPRESSIONS, SuppressionList
from workers.core import lua
from workers.core.door import Door

WINDOW_MS = 24 * 3600 * 1000

_SCRIPT = lua.source(__package__, "decide.lua", lua.CLOCK)
_PERSIST = lua.source(__package__, "persist.lua", lua.CLOCK)


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str = ""


class PreSendGate:
    """Parameters:
    client: the Redis holding suppressions and send counts.
    cap: most allowed sends per recipient per rolling 24 h; ``None`` = no cap.
    journal_interval_s: how often counts are written through the append-only file.
    door: refuses a forgotten person who asked to be suppressed (workers/core/door.py).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        cap: int | None,
        journal_interval_s: float = 1.0,
        door: Door | None = None,
    ) -> None:
        self._client = client
        self._door = door
        self._cap = cap or 0
        self._decide = DirectScript(client, _SCRIPT, retry_timeouts=True)
        self._persist = client.register_script(_PERSIST)
        self._suppressions = SuppressionList(client)
        self.journal = Journal(
            self.write_back, width=3, interval_s=journal_interval_s, name="frequency counts"
        )

    def decide(self, recipient: dict[str, str]) -> Decision:
        """Allow or refuse one send to ``recipient`` (its identifiers by kind)."""
        keys = [identity_key(kind, value) for kind, value in recipient.items()]
        if self._door is not None and self._door.suppresses(keys):
            return Decision(False, "suppressed: forgotten at the person's request")
        counts = [FREQUENCY_PREFIX + key for key in keys]
        send_id = str(uuid4()) if self._cap else ""
        # A platform calls the pre-hook once per recipient: the hottest call in the
        # receiver, so it runs on the thread's own connection. A call retried after a
        # broken connection or a timeout may count one allowed send twice, which errs
        # toward the cap.
        allowed, reason, *at = self._decide(
            [SUPPRESSIONS, *counts], [self._cap, WINDOW_MS, send_id, *keys]
        )
        if allowed and self._cap:
            self.journal.add([value for key in counts for value in (key, at[0], send_id)])
        return Decision(bool(allowed), reason.decode() if isinstance(reason, bytes) else reason)

    def write_back(self, entries: list[str | int]) -> None:
        """Write counted sends through the append-only file (``persist.lua``);
        ``entries`` are flat (key, time, send id) triples. A forgotten person's sends
        counted before they were forgotten are not written back."""
        triples = [entries[i : i + 3] for i in range(0, len(entries), 3)]
        kept = [t for t in triples if not self._forgotten_before(str(t[0]), int(t[1]))]
        if kept:
            self._persist(
                keys=[t[0] for t in kept], args=[WINDOW_MS, *(v for t in kept for v in t[1:])]
            )

    def _forgotten_before(self, counts_key: str, at_ms: int) -> bool:
        key = counts_key.removeprefix(FREQUENCY_PREFIX)
        return self._door is not None and self._door.stops([key], accepted_ms=at_ms)

    def suppress(self, user: dict[str, str], reason: str = "", source: str = "api") -> list[str]:
        """Suppress every identifier of ``user`` at once (idempotent); return their ids."""
        return self._suppressions.suppress(user, reason, source)

    def unsuppress(self, key: str) -> bool:
        """Remove ``key``'s suppression, and open the door to it if it was forgotten."""
        reopened = self._door.reopen(self._door.hashes([key])) if self._door else 0
        return self._suppressions.unsuppress(key) or reopened > 0

    def suppressions(self, limit: int) -> tuple[int, list[dict]]:
        """How many there are, and up to ``limit`` of them."""
        return self._suppressions.listing(limit)
