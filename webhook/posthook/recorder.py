"""Post-send hooks: each counts one send of a campaign and may sample its recipient.

:class:`PostHookRecorder` runs ``record.lua``: it counts the send, keeps a bounded
sample of the campaign's recipients for the Altcraft history fetch
(workers/campaigns/sample.py), and asks for the campaign's follow-up schedule while it
has none (workers/campaigns/schedule.py). The counts reach the append-only file within
about a second (webhook/journal.py).
"""

from __future__ import annotations

import redis

from schemas.identities import identity_key
from webhook.journal import Journal
from workers.campaigns.campaign import Campaign
from workers.campaigns.sample import SAMPLE_PREFIX, SAMPLE_SIZE, SAMPLE_TTL_S
from workers.campaigns.schedule import SCHEDULE_PREFIX, FollowupScheduler
from workers.core import lua
from workers.core.door import Door

#: Sends per campaign (a hash of campaign key → count).
CAMPAIGN_SENDS = "hookrelay:campaign-sends"

_RECORD = lua.read(__package__, "record.lua")
_PERSIST = lua.read(__package__, "persist.lua")


class PostHookRecorder:
    """Parameters:
    client: the Redis holding counts, samples and schedule markers.
    scheduler: creates a campaign's follow-up schedule.
    journal_interval_s: how often counts are written through the append-only file.
    door: keeps a forgotten, suppressed person out of the samples (workers/core/door.py).
    """

    def __init__(
        self,
        client: redis.Redis,
        scheduler: FollowupScheduler,
        *,
        journal_interval_s: float = 1.0,
        door: Door | None = None,
    ) -> None:
        self._door = door
        self._script = client.register_script(_RECORD)
        self._persist = client.register_script(_PERSIST)
        self._scheduler = scheduler
        self.journal = Journal(
            self.write_back, unique=True, interval_s=journal_interval_s, name="send counts"
        )

    def record(self, campaign: Campaign, recipient_email: str | None) -> int:
        """Count one send; create the follow-up schedule if the campaign has none.

        Returns the campaign's send count.
        """
        key = campaign.key
        if recipient_email and self._suppressed(recipient_email):
            recipient_email = None
        sends, needs_schedule = self._script(
            keys=[CAMPAIGN_SENDS, SAMPLE_PREFIX + key, SCHEDULE_PREFIX + key],
            args=[key, SAMPLE_SIZE, recipient_email or "", SAMPLE_TTL_S],
        )
        self.journal.add([key])
        if needs_schedule:
            self._scheduler.ensure(campaign)
        return sends

    def _suppressed(self, email: str) -> bool:
        """Whether the door keeps ``email`` out of samples (a forgotten, suppressed person)."""
        return self._door is not None and self._door.suppresses([identity_key("email", email)])

    def write_back(self, campaign_keys: list[str | int]) -> None:
        """Write these campaigns' send counts through the append-only file."""
        self._persist(keys=[CAMPAIGN_SENDS], args=campaign_keys)
