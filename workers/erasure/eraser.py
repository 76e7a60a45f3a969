"""Carrying out one forget request (requests.py): find the person, close the door on
them, erase them from every store, report.

1. The person: the identifiers asked for, and every one linked to them in a saved
   profile state, a buffered update or a message (person.py).
2. The door closes on all of them (workers/core/door.py); the eraser then waits until
   every process has read it (:data:`~workers.core.door.REFRESH_S`, twice), so that from
   then on no worker sends, saves or enqueues their data again.
3. Every store is erased: messages, the profile buffer, saved states and profile order,
   dead letters (Redis and SQL), suppression entries and frequency windows, recipient
   samples, message-log rows, then the traces (in Redis and SQL) and live-tail entries
   of the events met.
4. Redis's append-only file is rewritten soon after (aof.py).
5. The request records how many entries each store lost and where the person's data had
   gone: the profile platform if a profile of theirs was acknowledged (its newest
   acknowledged update's time), and each platform whose reports named them (when that
   report was fetched).

Every step can run again: a worker killed midway leaves the request pending and its
message unacknowledged, and the next attempt carries it out whole.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa

from workers.campaigns.sources import source_platform
from workers.core.door import REFRESH_S, Door
from workers.erasure.aof import ERASED_AT
from workers.erasure.person import Person
from workers.erasure.redis_stores import RedisStores
from workers.erasure.requests import ForgetRequests
from workers.erasure.sql_stores import SqlStores
from workers.profiles.order import SEQUENCE
from workers.trace.archive import TraceArchive
from workers.trace.trace import trace_key

logger = logging.getLogger(__name__)


class Eraser:
    """Parameters:
    client: the deployment's Redis; engine: its SQL store.
    door, requests: the door and the forget requests, on that Redis.
    settle_s: how long to wait for every process to read the door.
    """

    def __init__(
        self,
        client: redis.Redis,
        engine: sa.Engine,
        door: Door,
        requests: ForgetRequests,
        *,
        settle_s: float = 2 * REFRESH_S,
    ) -> None:
        self._client = client
        self._engine = engine
        self._door = door
        self._requests = requests
        self._settle_s = settle_s

    def carry_out(self, request_id: str) -> dict[str, int] | None:
        """Forget the person of a pending request; what was erased, or ``None`` if the
        request is not pending (done already, or unknown)."""
        pending = self._requests.pending(request_id)
        if pending is None:
            return None
        asked, suppress = pending
        stores = RedisStores(self._client, Person(asked))
        stores.link()
        keys = sorted(stores.person.keys)
        sent = max((s["sent"] for s in stores.saved_states() if s.get("sent")), default=None)
        number = int(self._client.get(SEQUENCE) or 0)
        self._door.close(keys, suppress=suppress, number=number)
        time.sleep(self._settle_s)
        erased, reports = self._erase(stores)
        platforms = _platforms(sent, reports)
        self._door.prune(int(time.time() * 1000))
        self._requests.finish(request_id, keys, erased, platforms)
        self._client.set(ERASED_AT, int(time.time() * 1000))
        logger.info("Forget request %s done: %d entries erased.", request_id, sum(erased.values()))
        return erased

    def _erase(self, stores: RedisStores) -> tuple[dict[str, int], dict[str, datetime]]:
        """What each store lost, and the reports (by source) that named the person."""
        sql = SqlStores(self._engine, stores.person)
        erased = {
            "messages": stores.erase_messages(),
            "profile_buffer": stores.erase_buffer(),
            "profile_states": stores.erase_states(),
            "dead_letters": stores.erase_dead_letters(),
            "suppressions_and_frequency": stores.erase_gate(),
            "recipient_samples": stores.erase_samples(),
        }
        erased.update({f"sql_{table}": count for table, count in sql.erase().items()})
        stores.event_ids |= sql.event_ids
        erased["traces"] = stores.erase_traces()
        moved = TraceArchive(self._engine).delete(map(trace_key, stores.event_ids))
        erased["sql_event_traces"] = moved
        return erased, sql.sources


def _platforms(sent: str | None, reports: dict[str, datetime]) -> list[dict[str, Any]]:
    """Where the person's data had gone, as far as hookrelay can tell (module docstring)."""
    platforms: list[dict[str, Any]] = []
    if sent:
        platforms.append({"platform": "crm", "what": "profile", "last": sent})
    for source, fetched_at in sorted(reports.items()):
        platforms.append(
            {
                "platform": source_platform(source),
                "what": f"named in its report {source}",
                "last": fetched_at.isoformat(),
            }
        )
    return platforms
