"""An automated campaign followed daily while it is active.

An automated campaign sends on its crontab between ``run_from`` and ``run_to``, long
after the follow-up schedule's last step (72 h by default). So its schedule also holds a
follow-up for the day after its start (workers/campaigns/schedule.py), and each day's
follow-up first reads the campaign from the platform, then, while it is active, fetches
every statistics source once more and writes the next day's. The S2S platform's report
gives numbers per day, which the console draws (``/status/campaigns/<platform>/<id>``).

A campaign stops being followed when:

- it is archived: hookrelay archived it (its run's state), or the platform's status is
  one of :data:`ENDED`;
- its ``run_to`` has passed: that day's fetch still runs (the last day's sends), and
  none follows;
- ``AUTOMATED_FOLLOW_DAYS`` days have passed since its start (the horizon for a
  campaign with no ``run_to``, or a far one).

The documentation names no campaign status; :data:`ENDED` is an assumption
(docs/platforms.md). A status it does not list keeps the campaign followed until the
horizon, which costs some calls a day, never a lost day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from workers.campaigns.campaign import Campaign
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.store import Store
from workers.platforms.crm import CrmClient
from workers.platforms.unconfigured import Unconfigured

logger = logging.getLogger(__name__)

#: Statuses (any case) that mean a campaign sends no more.
ENDED = frozenset({"archived", "finished", "completed", "deleted", "stopped"})


@dataclass
class DailyFollow:
    """Parameters: the ``store`` of runs, the S2S platform's ``crm`` client, the
    ``scheduler`` that writes each day's messages, and the ``horizon_days``."""

    store: Store
    crm: CrmClient | Unconfigured
    scheduler: FollowupScheduler
    horizon_days: int

    def follow(self, campaign: Campaign, day: int) -> str:
        """Follow ``campaign`` on day ``day`` after its start; returns what was done:
        ``followed``, ``last`` (followed, none after), or why it ended."""
        run = self.store.run(campaign.platform, campaign.campaign_id)
        if run is not None and run.state == "archived":
            return self._ended(campaign, "archived through hookrelay")
        answer = self.crm.campaign(campaign.kind, campaign.campaign_id)
        status = str(answer.get("status") or "").lower()
        if status in ENDED:
            return self._ended(campaign, f"the platform says {status!r}")
        last = day >= self.horizon_days or _past(answer.get("run_to"))
        self.scheduler.ensure_day(campaign, day, last=last)
        if last:
            logger.info("Campaign %s: day %d is its last day followed.", campaign.key, day)
            return "last"
        return "followed"

    def _ended(self, campaign: Campaign, why: str) -> str:
        logger.info("Campaign %s is no longer followed daily: %s.", campaign.key, why)
        return why


def _past(run_to: object) -> bool:
    """Whether ``run_to`` (ISO 8601 with an offset, as the campaign schema requires)
    has passed; an absent or unreadable one has not."""
    if not isinstance(run_to, str) or not run_to:
        return False
    try:
        moment = datetime.fromisoformat(run_to)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment < datetime.now(UTC)
