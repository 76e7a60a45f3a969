"""Where each accepted event goes, by name, so that the receiver (which writes) and
the workers (which read) agree without the receiver importing any actor.

- ``event`` events become one Dramatiq message each, for :data:`ROUTES`' actor.
- ``profile`` events go to the profile buffer (:data:`PROFILE_BUFFER`); flushes turn
  them into batch messages for :data:`PROFILE_BATCH`'s actor.
- ``campaign_start`` events become one message each; a started campaign's follow-up
  schedule is a set of delayed :data:`FETCH_STATS` messages (see workers/followup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dramatiq
from dramatiq.common import dq_name

#: The Dramatiq namespace of every queue key.
NAMESPACE = "dramatiq"
#: Where profile updates wait to be coalesced (see workers/profiles.py).
PROFILE_BUFFER = "hookrelay:profiles"


@dataclass(frozen=True)
class Route:
    actor_name: str
    queue_name: str


ROUTES = {
    "event": Route("crm_post_event", "crm"),
    "campaign_start": Route("start_campaign", "campaigns"),
}
PROFILE_BATCH = Route("crm_upsert_profiles", "crm")
#: Pause, resume or archive a campaign (``POST /v1/campaigns/<platform>/<id>/<action>``).
CAMPAIGN_ACTION = Route("campaign_action", "campaigns")
#: One statistics source of one campaign, fetched at one step of its follow-up schedule.
FETCH_STATS = Route("fetch_stats", "stats")
#: Every queue the workers consume.
QUEUES = tuple(
    sorted({route.queue_name for route in (*ROUTES.values(), CAMPAIGN_ACTION, FETCH_STATS)})
)


def source_platform(source: str) -> str:
    """A statistics source names its platform first: ``pushwoosh.totals`` → ``pushwoosh``."""
    return source.split(".")[0]


def platform_of(actor_name: str, args: tuple | list) -> str:
    """The platform a message's actor calls: a statistics fetch, its source's; every
    other actor calls ``crm``."""
    if actor_name == FETCH_STATS.actor_name and len(args) > 1:
        return source_platform(str(args[1]))
    return "crm"


def redis_message(
    route: Route,
    args: tuple,
    *,
    kwargs: dict | None = None,
    options: dict[str, Any] | None = None,
    eta_ms: int | None = None,
) -> tuple[str, bytes]:
    """A message for ``route`` as Dramatiq's Redis broker stores it: its id and encoding.

    The one id serves as message id and Redis message id, which the worker acks by.
    With ``eta_ms`` it is a delayed message, for ``delay_queue(route)``; its timestamp
    is its eta, so its retry budget (``RETRY_MAX_AGE_S``) starts when it is due.
    """
    message_id = str(uuid4())
    options = {**(options or {}), "redis_message_id": message_id}
    extra = {}
    if eta_ms is not None:
        options["eta"] = eta_ms
        extra["message_timestamp"] = eta_ms
    message = dramatiq.Message(
        queue_name=route.queue_name if eta_ms is None else delay_queue(route),
        actor_name=route.actor_name,
        args=args,
        kwargs=kwargs or {},
        options=options,
        message_id=message_id,
        **extra,
    )
    return message_id, message.encode()


def delay_queue(route: Route) -> str:
    return dq_name(route.queue_name)
