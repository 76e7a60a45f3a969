"""Starting a campaign exactly once, however often its ``campaign_start`` is replayed.

The campaign's run in the stats store remembers whether it was started and how many
start calls were attempted. A start whose outcome is unknown (the call timed out, or
the worker died after sending it) is never blindly repeated: the next attempt first
asks the platform for the campaign's status, as it does for a campaign first seen
in post-send hooks (``external``: it may have been started elsewhere). A Redis lock
per campaign keeps two workers from starting the same campaign at the same moment.

Once started, the campaign gets its follow-up schedule (workers/campaigns/schedule.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.store import Store
from workers.platforms.crm import CrmClient

logger = logging.getLogger(__name__)

LOCK_PREFIX = "hookrelay:starting:"
#: Longer than a start call can take (timeouts are 10 s), short enough to recover.
LOCK_TTL_MS = 60_000
#: Statuses that mean the platform took a start call (the documentation names none;
#: the sandbox reports ``draft`` until started).
NOT_STARTED = frozenset({"draft", "new", "created"})


class StartInProgress(Exception):
    """Another worker is starting this campaign right now; its message is retried."""


@dataclass(frozen=True)
class StartOutcome:
    started_now: bool
    state: str


class CampaignStarter:
    """Parameters: the ``store`` of runs, the platform client, the follow-up
    ``scheduler``, and a ``client`` of the Redis holding the per-campaign locks."""

    def __init__(
        self,
        *,
        store: Store,
        crm: CrmClient,
        scheduler: FollowupScheduler,
        client: redis.Redis,
    ) -> None:
        self.store = store
        self.crm = crm
        self.scheduler = scheduler
        self.client = client

    def start(self, campaign: Campaign) -> StartOutcome:
        lock = self.client.lock(
            LOCK_PREFIX + campaign.key, timeout=LOCK_TTL_MS / 1000, blocking=False
        )
        if not lock.acquire():
            raise StartInProgress(f"campaign {campaign.key} is being started by another worker")
        try:
            outcome = self._start_once(campaign)
        finally:
            lock.release()
        self.scheduler.ensure(campaign)
        return outcome

    def _start_once(self, campaign: Campaign) -> StartOutcome:
        run = self.store.ensure_run(campaign, "new")
        if run.state == "started":
            return StartOutcome(False, run.state)
        unsure = run.start_attempts > 0 or run.state == "external"
        if unsure and self._platform_says_started(campaign):
            self.store.mark_started(run.id)
            return StartOutcome(False, "started")
        self.store.note_start_attempt(run.id)
        self.crm.campaign_action(campaign.kind, campaign.campaign_id, "start")
        self.store.mark_started(run.id)
        return StartOutcome(True, "started")

    def _platform_says_started(self, campaign: Campaign) -> bool:
        """Asked when an earlier start's outcome is unknown, or when the campaign's
        statistics were already followed (post hooks came: it may be sending)."""
        status = str(self.crm.campaign(campaign.kind, campaign.campaign_id).get("status", ""))
        logger.info(
            "Campaign %s may have been started already; the platform says %r.",
            campaign.key,
            status,
        )
        return status.lower() not in NOT_STARTED
