"""A campaign's follow-up schedule: when its statistics are fetched, created exactly once.

A schedule is a set of delayed ``fetch_stats`` messages, one per statistics source per
step of ``FOLLOWUP_SCHEDULE`` (seconds after the start, times ``FOLLOWUP_TIME_SCALE``),
written straight into the broker's delay queue, or, for steps due past the horizon
(``HOOKRELAY_DELAY_HORIZON_S``), into the due set that keeps them out of broker consumers
until then (workers/queue/due.py). They live in Redis like every other message, so they
survive restarts of every process.

"Exactly once" is a marker key per campaign, set in the same Lua step that writes the
messages (``schedule.lua``): a campaign start and any number of post-send hooks
(webhook/posthook/) race for it, and one wins.

An automated campaign, which sends every day its crontab says between ``run_from`` and
``run_to``, is also followed daily (workers/campaigns/daily.py): its schedule holds a
:data:`FOLLOW_DAILY` message for a day after the start, and each day's message, once,
fetches every source and writes the next day's (a marker per campaign and day).
"""

from __future__ import annotations

import time
from collections.abc import Collection

import redis

from workers.campaigns.campaign import Campaign
from workers.campaigns.sources import scheduled_sources
from workers.core import lua
from workers.core.settings import Settings
from workers.queue.due import DEFAULT_HORIZON_S
from workers.queue.layout import ENQUEUE_LUA, NAMESPACE, Route, delay_queue, redis_message
from workers.queue.routes import FETCH_STATS, FOLLOW_DAILY

SCHEDULE_PREFIX = "hookrelay:schedule:"
#: Longer than any sensible schedule: a campaign is followed once per 30 days.
MARKER_TTL_S = 30 * 24 * 3600
DAY_S = 86400

_SCRIPT = lua.source(__package__, "schedule.lua", ENQUEUE_LUA)


class FollowupScheduler:
    """Parameters:
    client: the broker's Redis.
    schedule_s: seconds after the start at which statistics are fetched.
    time_scale: multiplies every delay (tests shrink them to milliseconds).
    platforms: the platforms configured; sources of the others are not scheduled.
    horizon_s: steps due later than this are deferred to the due set.
    deprecated: also fetch the sources whose calls the platform marks deprecated.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        schedule_s: tuple[int, ...],
        time_scale: float = 1.0,
        platforms: Collection[str] | None = None,
        horizon_s: float = DEFAULT_HORIZON_S,
        deprecated: bool = False,
    ) -> None:
        self._schedule_ms = [int(step * time_scale * 1000) for step in schedule_s]
        self.day_ms = int(DAY_S * time_scale * 1000)
        self._platforms = platforms
        self._deprecated = deprecated
        self._horizon_ms = int(horizon_s * 1000)
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> FollowupScheduler:
        """The schedule ``FOLLOWUP_SCHEDULE`` and ``FOLLOWUP_TIME_SCALE`` configure, for
        the platforms that are on."""
        return cls(
            client,
            schedule_s=settings.followup_schedule,
            time_scale=settings.followup_time_scale,
            platforms=settings.platforms_on,
            horizon_s=settings.worker.delay_horizon_s,
            deprecated=bool(settings.pushwoosh and settings.pushwoosh.msg_stats),
        )

    def sources(self) -> tuple[str, ...]:
        """The sources each step fetches (workers/campaigns/sources.py)."""
        return scheduled_sources(self._platforms, deprecated=self._deprecated)

    def ensure(self, campaign: Campaign) -> bool:
        """Create the campaign's schedule unless it has one; True if this call did."""
        now_ms = int(time.time() * 1000)
        args: list[str | bytes | int] = [NAMESPACE, MARKER_TTL_S]
        for step, delay_ms in enumerate(self._schedule_ms):
            for source in self.sources():
                args += self._delayed(
                    FETCH_STATS, (campaign.as_dict(), source), now_ms + delay_ms, step=step
                )
        if campaign.kind == "automated":
            args += self._delayed(FOLLOW_DAILY, (campaign.as_dict(), 1), now_ms + self.day_ms)
        return bool(self._script(keys=[SCHEDULE_PREFIX + campaign.key], args=args))

    def ensure_day(self, campaign: Campaign, day: int, *, last: bool) -> bool:
        """Day ``day``'s fetches of an automated campaign, and unless it is the
        ``last`` the next day's follow-up, once; True if this call wrote them."""
        now_ms = int(time.time() * 1000)
        args: list[str | bytes | int] = [NAMESPACE, MARKER_TTL_S]
        for source in self.sources():
            message_id, data = redis_message(FETCH_STATS, (campaign.as_dict(), source))
            args += [FETCH_STATS.queue_name, message_id, data, ""]
        if not last:
            next_day = (campaign.as_dict(), day + 1)
            args += self._delayed(FOLLOW_DAILY, next_day, now_ms + self.day_ms)
        marker = f"{SCHEDULE_PREFIX}{campaign.key}:day:{day}"
        return bool(self._script(keys=[marker], args=args))

    def _delayed(self, route: Route, args: tuple, eta_ms: int, **kwargs: int) -> list:
        """The script's arguments for one message due at ``eta_ms``: deferred to the due
        set past the horizon."""
        message_id, data = redis_message(route, args, kwargs=kwargs, eta_ms=eta_ms)
        deferred = eta_ms if eta_ms - time.time() * 1000 > self._horizon_ms else ""
        return [delay_queue(route), message_id, data, deferred]
