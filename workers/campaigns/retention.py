"""The raw message-log rows' retention: a thread in every worker process deletes rows
fetched more than ``MESSAGE_LOG_RETENTION_DAYS`` ago, once an hour.

A log row is one row a platform listed, per message sent: it grows with traffic, unlike
the statistics, which grow with campaigns. The totals and series computed from the rows
are snapshots of their own and stay. Every worker prunes (a DELETE on an index, cheap
and idempotent), so nothing depends on one process being up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dramatiq

from workers.campaigns.store import Store
from workers.core.periodic import Periodic

logger = logging.getLogger(__name__)

INTERVAL_S = 3600.0


class LogRetention(Periodic):
    """Parameters:
    store: the stats store.
    days: rows older than this are deleted.
    """

    job = "message-log retention"

    def __init__(self, store: Store, *, days: int, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s=interval_s)
        self.store = store
        self.days = days

    def tick(self, broker: dramatiq.Broker) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.days)
        deleted = self.store.prune_log_rows(cutoff)
        if deleted:
            logger.info("Deleted %d message-log rows older than %d days.", deleted, self.days)
