"""Starting a campaign exactly once, however often its ``campaign_start`` is replayed.

The campaign's run in the stats store remembers whether it was started and how many
start calls were attempted. A start whose outcome is unknown (the call timed out, or
the worker died after sending it) is never blindly repeated: the next attempt first
asks the platform for the campaign's status, as it does for a campaign first seen
in post-send hooks (``external``: it may have been started elsewhere). A status that
is a known "started" word (:data:`STARTED`) ends there. Any other status, or none, is
no proof either way, so the start is sent; the platform refuses a second start of a
started campaign, and that refusal then counts as the campaign being started.

A Redis lock per campaign keeps two workers from starting the same campaign at the
same moment. It is renewed for as long as the start takes (the call may wait a long
time for the shared rate limit), and a worker that finds it taken retries later.

Once started, the campaign gets its follow-up schedule (workers/campaigns/schedule.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from redis.lock import Lock

from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.store import Store
from workers.platforms import errors
from workers.platforms.crm import CrmClient
from workers.platforms.unconfigured import Unconfigured

logger = logging.getLogger(__name__)

LOCK_PREFIX = "hookrelay:starting:"
#: How long the lock outlives a worker that died holding it; renewed every third of it
#: while the start goes on.
LOCK_TTL_MS = 60_000
#: The documentation names no campaign status. These words (any case) mean a start is
#: needed; the sandbox reports ``draft`` until started.
NOT_STARTED = frozenset({"draft", "new", "created"})
#: These mean the platform took a start. Any other word, or none, proves nothing.
STARTED = frozenset(
    {"started", "active", "running", "sending", "sent", "paused", "completed", "finished", "done"}
)


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
        crm: CrmClient | Unconfigured,
        scheduler: FollowupScheduler,
        client: redis.Redis,
        lock_ttl_ms: int = LOCK_TTL_MS,
    ) -> None:
        self.store = store
        self.crm = crm
        self.scheduler = scheduler
        self.client = client
        self.lock_ttl_ms = lock_ttl_ms

    def start(self, campaign: Campaign) -> StartOutcome:
        lock = self.client.lock(
            LOCK_PREFIX + campaign.key,
            timeout=self.lock_ttl_ms / 1000,
            blocking=False,
            thread_local=False,
        )
        if not lock.acquire():
            raise StartInProgress(f"campaign {campaign.key} is being started by another worker")
        try:
            with _renewed(lock, self.lock_ttl_ms / 3000):
                outcome = self._start_once(campaign)
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
        self.scheduler.ensure(campaign)
        return outcome

    def _start_once(self, campaign: Campaign) -> StartOutcome:
        run = self.store.ensure_run(campaign, "new")
        if run.state == "started":
            return StartOutcome(False, run.state)
        unsure = run.start_attempts > 0 or run.state == "external"
        status = self._platform_status(campaign) if unsure else None
        if status in STARTED:
            self.store.mark_started(run.id)
            return StartOutcome(False, "started")
        self.store.note_start_attempt(run.id)
        try:
            self.crm.campaign_action(campaign.kind, campaign.campaign_id, "start")
        except errors.Rejected as error:
            if not unsure or status in NOT_STARTED:
                raise
            logger.warning(
                "Campaign %s: the platform refused a start (%s) while its status reads %r;"
                " an earlier start went through, so it counts as started.",
                campaign.key,
                error,
                status,
            )
            self.store.mark_started(run.id)
            return StartOutcome(False, "started")
        self.store.mark_started(run.id)
        return StartOutcome(True, "started")

    def _platform_status(self, campaign: Campaign) -> str:
        """The campaign's status, lower case (``""`` if it has none); asked when an
        earlier start's outcome is unknown, or when the campaign's statistics were
        already followed (post hooks came: it may be sending)."""
        answer = self.crm.campaign(campaign.kind, campaign.campaign_id)
        status = str(answer.get("status") or "").lower()
        logger.info(
            "Campaign %s may have been started already; the platform says %r.",
            campaign.key,
            status,
        )
        return status


@contextlib.contextmanager
def _renewed(lock: Lock, every_s: float) -> Iterator[None]:
    """Keep ``lock`` from expiring while the block runs, renewing it every ``every_s``.
    A renewal that fails (the lock was lost, Redis away) is logged and the start goes
    on; another worker may then take the lock, and since the run counts this attempt,
    it reads the campaign's status before it sends anything."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(every_s):
            try:
                lock.reacquire()
            except redis.RedisError as error:
                logger.warning("Could not renew the start lock %s: %s", lock.name, error)
                return

    renewer = threading.Thread(target=renew, name="start-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
