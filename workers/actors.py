"""The actors: each turns one queued message into platform calls.

:func:`build_worker_hub` makes what they call from the settings; :func:`register` binds
them to a broker and to those services, so nothing is
declared at import time and tests can bind them to anything. An actor returns only
when the platform accepted the call, and only then is its message acknowledged; a
platform error propagates to :class:`~workers.queue.retry.DeliveryPolicy`, which
retries or dead-letters the message (``throws`` just tells Dramatiq these are
expected, so it logs no traceback for them; ``platform`` labels the outcome).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis

from schemas.crm import event_post
from workers.campaigns.campaign import Campaign
from workers.campaigns.control import CampaignControl
from workers.campaigns.daily import DailyFollow
from workers.campaigns.fetcher import StatsFetcher
from workers.campaigns.prelude import StartPrelude
from workers.campaigns.sample import RecipientSample
from workers.campaigns.schedule import FollowupScheduler
from workers.campaigns.sources import source_platform
from workers.campaigns.starter import CampaignStarter, StartInProgress
from workers.campaigns.store import Store
from workers.campaigns.suppressions import SuppressionList
from workers.core.connections import redis_client
from workers.core.door import Door
from workers.core.settings import Settings
from workers.erasure.eraser import Eraser
from workers.erasure.requests import ForgetRequests
from workers.health.circuit import CircuitBreaker
from workers.platforms.crm import CrmClient
from workers.platforms.errors import PermanentError, PlatformError
from workers.platforms.registry import altcraft_client, crm_client, pushwoosh_client
from workers.platforms.unconfigured import Unconfigured
from workers.profiles.buffer import ProfileBuffer
from workers.profiles.delivery import BatchDelivery
from workers.profiles.dropped import DroppedFields
from workers.profiles.order import EventOrder
from workers.queue.layout import Route
from workers.queue.policy import Postponed
from workers.queue.routes import (
    CAMPAIGN_ACTION,
    FETCH_STATS,
    FOLLOW_DAILY,
    FORGET,
    PROFILE_BATCH,
    PROFILE_HASHMAPS,
    REBUFFER,
    ROUTES,
)
from workers.ratelimit.limiter import SharedRateLimiter, platform_limiter
from workers.trace.trace import EventTrace

logger = logging.getLogger(__name__)

#: Polling a not-ready source: the first pause, the longest, and when to give up.
POLL_FIRST_S = 5.0
POLL_MAX_S = 600.0
POLL_LIMIT = 30
#: How often a start reads a segment being generated.
SEGMENT_POLL_S = 5.0


class NeverReady(PermanentError):
    """A source stayed not ready for :data:`POLL_LIMIT` polls: dead-lettered, so that
    ``hookrelay dlq replay`` can start polling it again."""


@dataclass(frozen=True)
class WorkerHub:
    """What the actors call, as webhook/hub.py's ``Hub`` is what the views call; built
    once per worker process (workers/app.py). A platform that is off is an
    :class:`~workers.platforms.unconfigured.Unconfigured` client."""

    crm: CrmClient | Unconfigured
    starter: CampaignStarter
    control: CampaignControl
    fetcher: StatsFetcher
    daily: DailyFollow
    #: The profile buffer, which replayed updates go back to.
    profiles: ProfileBuffer
    #: How a profile batch message is delivered, and given up.
    batches: BatchDelivery
    #: Whether an event's earlier profile updates are settled; ``None`` with
    #: EVENTS_AFTER_PROFILES off (the receiver then records no wait to ask about).
    order: EventOrder | None
    #: What a campaign start waits for before it is sent.
    prelude: StartPrelude
    #: Carries out forget requests (workers/erasure/).
    eraser: Eraser
    #: How long an event waits before asking ``order`` again.
    order_poll_ms: int = 200
    #: Multiplies poll delays, like FOLLOWUP_TIME_SCALE does for the schedule.
    time_scale: float = 1.0


def build_worker_hub(
    settings: Settings, store: Store, client: redis.Redis | None = None
) -> WorkerHub:
    """The clients, each behind its platform's shared rate limit and circuit breaker,
    and what uses them; ``client``: the process's Redis client, if it has one already
    (the broker's, so that their calls share round trips: workers/core/roundtrip.py)."""
    shared_state = client or redis_client(settings)

    def guards(name: str) -> tuple[SharedRateLimiter, CircuitBreaker]:
        return (
            platform_limiter(shared_state, settings, name),
            CircuitBreaker(shared_state, name, settings.circuit),
        )

    crm = crm_client(settings, *guards("crm"))
    scheduler = FollowupScheduler.from_settings(shared_state, settings)
    profiles = ProfileBuffer.from_settings(shared_state, settings)
    order = EventOrder(shared_state) if settings.events_after_profiles else None
    door = Door(shared_state, settings.suppression_key)
    order_poll_ms = max(50, settings.profile_flush_ms // 4)
    return WorkerHub(
        crm=crm,
        starter=CampaignStarter(store=store, crm=crm, scheduler=scheduler, client=shared_state),
        control=CampaignControl(crm, store),
        daily=DailyFollow(store, crm, scheduler, settings.automated_follow_days),
        fetcher=StatsFetcher(
            store=store,
            crm=crm,
            pushwoosh=pushwoosh_client(settings, *guards("pushwoosh")),
            altcraft=altcraft_client(settings, *guards("altcraft")),
            sample=RecipientSample(shared_state),
            suppressions=SuppressionList(shared_state),
            feedback_kinds=settings.suppress_from_feedback,
            door=door,
        ),
        time_scale=settings.followup_time_scale,
        profiles=profiles,
        batches=BatchDelivery(crm=crm, buffer=profiles, dropped_fields=DroppedFields(shared_state)),
        order=order,
        prelude=StartPrelude(
            settled=order.settled if order else None,
            crm=crm,
            client=shared_state,
            trace=EventTrace(shared_state, settings.trace_retention_s),
            poll_ms=order_poll_ms,
            segment_poll_ms=int(SEGMENT_POLL_S * 1000 * settings.followup_time_scale),
            segment_pause_ms=settings.segment_pause_s * 1000,
        ),
        order_poll_ms=order_poll_ms,
        eraser=Eraser(shared_state, store.engine, door, ForgetRequests(shared_state, door)),
    )


def poll_delay_ms(polls: int, time_scale: float) -> int:
    """Exponential pause before poll number ``polls + 1`` of a not-ready source."""
    return int(min(POLL_MAX_S, POLL_FIRST_S * 2**polls) * time_scale * 1000)


def fetch_platform(args: tuple | list) -> str:
    """The platform a ``fetch_stats`` message calls: its source's."""
    return source_platform(str(args[1])) if len(args) > 1 else "unknown"


def register(broker: dramatiq.Broker, services: WorkerHub) -> dict[str, dramatiq.Actor]:
    """Declare every actor on ``broker``; returns them by actor name."""
    crm = services.crm

    def crm_upsert_batch(refs: list[dict], batch: str) -> None:
        for part in services.batches.deliver(refs, batch):
            actors[PROFILE_BATCH.actor_name].send(part, batch)

    def crm_upsert_profiles(hashmaps: list[dict]) -> None:
        for part in services.batches.send_as_given(hashmaps):
            actors[PROFILE_HASHMAPS.actor_name].send(part)

    def buffer_profile_update(update: dict) -> None:
        services.profiles.append(update)

    def crm_post_event(event: dict) -> None:
        if services.order is not None and not services.order.ready(event["id"]):
            raise Postponed(
                "an earlier profile update of its user is not delivered yet",
                delay_ms=services.order_poll_ms,
            )
        crm.post_event(event_post(event))

    def start_campaign(event: dict) -> None:
        services.prelude.ready(event)
        outcome = services.starter.start(Campaign.from_dict(event["campaign"]))
        logger.info("Campaign start event %s: %s.", event["id"], outcome.state)

    def follow_daily(campaign: dict, day: int) -> None:
        outcome = services.daily.follow(Campaign.from_dict(campaign), day)
        logger.info("Campaign %s, day %d: %s.", campaign.get("id"), day, outcome)

    def campaign_action(campaign: dict, action: str) -> None:
        services.control.apply(campaign["kind"], campaign["id"], action)

    def forget_user(request_id: str) -> None:
        services.eraser.carry_out(request_id)

    def fetch_stats(
        campaign: dict, source: str, step: int = 0, state: dict | None = None, polls: int = 0
    ) -> None:
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

    handlers: list[tuple[Route, Callable[..., None], object, Callable[..., Any] | None]] = [
        (PROFILE_BATCH, crm_upsert_batch, "crm", services.batches.give_up),
        (PROFILE_HASHMAPS, crm_upsert_profiles, "crm", None),
        (REBUFFER, buffer_profile_update, "crm", None),
        (ROUTES["event"], crm_post_event, "crm", None),
        (ROUTES["campaign_start"], start_campaign, "crm", None),
        (CAMPAIGN_ACTION, campaign_action, "crm", None),
        (FOLLOW_DAILY, follow_daily, "crm", None),
        (FETCH_STATS, fetch_stats, fetch_platform, None),
        (FORGET, forget_user, "hookrelay", None),
    ]
    actors = {
        route.actor_name: dramatiq.actor(
            actor_name=route.actor_name,
            queue_name=route.queue_name,
            broker=broker,
            throws=(PlatformError, StartInProgress, Postponed),
            platform=platform,
            dead_letter_as=dead_letter_as,
        )(handler)
        for route, handler, platform, dead_letter_as in handlers
    }
    return actors
