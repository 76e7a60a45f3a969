"""The actors: each turns one queued message into platform calls.

:func:`register` binds them to a broker and to the services they use, so nothing is
declared at import time and tests can bind them to anything. An actor returns only
when the platform accepted the call, and only then is its message acknowledged; a
platform error propagates to :class:`~workers.retry.DeliveryPolicy`, which retries
or dead-letters the message (``throws`` just tells Dramatiq these are expected, so it
logs no traceback for them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dramatiq

from schemas.crm import event_post

from .campaigns import CampaignStarter, StartInProgress
from .platforms.crm import CrmClient
from .platforms.errors import PermanentError, PlatformError
from .routes import CAMPAIGN_ACTION, FETCH_STATS, PROFILE_BATCH, ROUTES, source_platform
from .stats import StatsFetcher
from .store import Campaign

logger = logging.getLogger(__name__)

#: Polling a not-ready source: the first pause, the longest, and when to give up.
POLL_FIRST_S = 5.0
POLL_MAX_S = 600.0
POLL_LIMIT = 30


class NeverReady(PermanentError):
    """A source stayed not ready for :data:`POLL_LIMIT` polls: dead-lettered, so that
    ``hookrelay dlq replay`` can start polling it again."""


@dataclass(frozen=True)
class Services:
    """What the actors call; built once per worker process."""

    crm: CrmClient
    starter: CampaignStarter
    fetcher: StatsFetcher
    #: Multiplies poll delays, like FOLLOWUP_TIME_SCALE does for the schedule.
    time_scale: float = 1.0


def poll_delay_ms(polls: int, time_scale: float) -> int:
    """Exponential pause before poll number ``polls + 1`` of a not-ready source."""
    return int(min(POLL_MAX_S, POLL_FIRST_S * 2**polls) * time_scale * 1000)


def register(broker: dramatiq.Broker, services: Services) -> dict[str, dramatiq.Actor]:
    """Declare every actor on ``broker``; returns them by actor name."""
    crm = services.crm

    def crm_upsert_profiles(hashmaps: list[dict]) -> None:
        crm.upsert_profiles(hashmaps)

    def crm_post_event(event: dict) -> None:
        crm.post_event(event_post(event))

    def start_campaign(event: dict) -> None:
        outcome = services.starter.start(Campaign.from_dict(event["campaign"]))
        logger.info("Campaign start event %s: %s.", event["id"], outcome.state)

    def campaign_action(campaign: dict, action: str) -> None:
        crm.campaign_action(campaign["kind"], campaign["id"], action)

    def fetch_stats(campaign: dict, source: str, step: int = 0, state=None, polls=0) -> None:
        later = services.fetcher.fetch(Campaign.from_dict(campaign), source, state)
        if later is None:
            return
        if polls >= POLL_LIMIT:
            raise NeverReady(
                f"still not ready after {polls} polls",
                platform=source_platform(source),
                method="fetch",
                url=source,
            )
        actors[FETCH_STATS.actor_name].send_with_options(
            args=(campaign, source),
            kwargs={"step": step, "state": later.state, "polls": polls + 1},
            delay=poll_delay_ms(polls, services.time_scale),
        )

    handlers = [
        (PROFILE_BATCH, crm_upsert_profiles),
        (ROUTES["event"], crm_post_event),
        (ROUTES["campaign_start"], start_campaign),
        (CAMPAIGN_ACTION, campaign_action),
        (FETCH_STATS, fetch_stats),
    ]
    actors = {
        route.actor_name: dramatiq.actor(
            handler,
            actor_name=route.actor_name,
            queue_name=route.queue_name,
            broker=broker,
            throws=(PlatformError, StartInProgress),
        )
        for route, handler in handlers
    }
    return actors
