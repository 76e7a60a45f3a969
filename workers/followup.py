"""A campaign's follow-up schedule: when its statistics are fetched, created exactly once.

A schedule is a set of delayed ``fetch_stats`` messages, one per statistics source per
step of ``FOLLOWUP_SCHEDULE`` (seconds after the start, times ``FOLLOWUP_TIME_SCALE``),
written straight into the broker's delay queue. They live in Redis like every other
message, so they survive restarts of every process.

"Exactly once" is a marker key per campaign, set in the same Lua step that writes the
messages (``followup.lua``): a campaign start and any number of post-send hooks race
for it, and one wins. Post hooks are counted by :class:`SendLog` (``sends.lua``),
which also keeps a bounded sample of the campaign's recipients for the Altcraft
history fetch, and asks for a schedule only while the marker is missing. The counts
reach the append-only file within about a second (workers/journal.py).
"""

from __future__ import annotations

import time
from importlib.resources import files

import redis

from .journal import Journal
from .routes import FETCH_STATS, NAMESPACE, delay_queue, redis_message
from .store import Campaign

SCHEDULE_PREFIX = "hookrelay:schedule:"
CAMPAIGN_SENDS = "hookrelay:campaign-sends"
SAMPLE_PREFIX = "hookrelay:recipients:"
#: Longer than any sensible schedule: a campaign is followed once per 30 days.
MARKER_TTL_S = 30 * 24 * 3600
#: Recipients kept per campaign for the Altcraft history fetch.
SAMPLE_SIZE = 20

CRM_SOURCES = ("crm.report",)
PUSHWOOSH_SOURCES = (
    "pushwoosh.messages",
    "pushwoosh.totals",
    "pushwoosh.message_log",
    "pushwoosh.links",
    "pushwoosh.link_devices",
    "pushwoosh.bounces",
    "pushwoosh.msg_stats",
)
ALTCRAFT_SOURCES = ("altcraft.history",)

_SCHEDULE_SCRIPT = files(__package__).joinpath("followup.lua").read_text()
_SENDS_SCRIPT = files(__package__).joinpath("sends.lua").read_text()
_PERSIST_SCRIPT = files(__package__).joinpath("sends_persist.lua").read_text()


def sources_for(campaign: Campaign) -> tuple[str, ...]:
    """Where a campaign's numbers come from: the platform's report, Pushwoosh when the
    campaign names a Pushwoosh message, and the Altcraft history of its recipients."""
    pushwoosh = PUSHWOOSH_SOURCES if campaign.message_code else ()
    return (*CRM_SOURCES, *pushwoosh, *ALTCRAFT_SOURCES)


class FollowupScheduler:
    """Parameters:
    client: the broker's Redis.
    schedule_s: seconds after the start at which statistics are fetched.
    time_scale: multiplies every delay (tests shrink them to milliseconds).
    """

    def __init__(
        self, client: redis.Redis, *, schedule_s: tuple[int, ...], time_scale: float = 1.0
    ) -> None:
        self._schedule_ms = [int(step * time_scale * 1000) for step in schedule_s]
        self._script = client.register_script(_SCHEDULE_SCRIPT)

    def ensure(self, campaign: Campaign) -> bool:
        """Create the campaign's schedule unless it has one; True if this call did."""
        now_ms = int(time.time() * 1000)
        queue = delay_queue(FETCH_STATS)
        args: list[str | bytes | int] = [NAMESPACE, MARKER_TTL_S]
        for step, delay_ms in enumerate(self._schedule_ms):
            for source in sources_for(campaign):
                message_id, data = redis_message(
                    FETCH_STATS,
                    (campaign.as_dict(), source),
                    kwargs={"step": step},
                    eta_ms=now_ms + delay_ms,
                )
                args += [queue, message_id, data]
        return bool(self._script(keys=[SCHEDULE_PREFIX + campaign.key], args=args))


class SendLog:
    """Counts post-send hooks per campaign and samples their recipients.

    Parameters:
    client: the Redis holding counts, samples and schedule markers.
    scheduler: creates a campaign's follow-up schedule.
    journal_interval_s: how often counts are written through the append-only file
      (workers/journal.py).
    """

    def __init__(
        self, client: redis.Redis, scheduler: FollowupScheduler, *, journal_interval_s: float = 1.0
    ) -> None:
        self._client = client
        self._script = client.register_script(_SENDS_SCRIPT)
        self._persist = client.register_script(_PERSIST_SCRIPT)
        self._scheduler = scheduler
        self._journal = Journal(
            self.write_back, unique=True, interval_s=journal_interval_s, name="send counts"
        )

    def record(self, campaign: Campaign, recipient_email: str | None) -> int:
        """Count one send; create the follow-up schedule if the campaign has none.

        Returns the campaign's send count.
        """
        key = campaign.key
        sends, needs_schedule = self._script(
            keys=[CAMPAIGN_SENDS, SAMPLE_PREFIX + key, SCHEDULE_PREFIX + key],
            args=[key, SAMPLE_SIZE, recipient_email or "", MARKER_TTL_S],
        )
        self._journal.add([key])
        if needs_schedule:
            self._scheduler.ensure(campaign)
        return sends

    def flush_counts(self) -> None:
        """Write the pending send counts through the append-only file now."""
        self._journal.flush()

    def write_back(self, campaign_keys: list[str]) -> None:
        """Write these campaigns' send counts through the append-only file."""
        self._persist(keys=[CAMPAIGN_SENDS], args=campaign_keys)

    def sample(self, campaign: Campaign) -> list[str]:
        members = self._client.smembers(SAMPLE_PREFIX + campaign.key)
        return sorted(member.decode() for member in members)
