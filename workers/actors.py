"""The actors: each turns one queued message (an event, or a batch of coalesced
profiles) into one platform call.

:func:`register` binds them to a broker and to the clients they use, so nothing is
declared at import time and tests can bind them to anything. An actor returns only
when the platform accepted the call, and only then is its message acknowledged; a
platform error propagates to :class:`~workers.retry.DeliveryPolicy`, which retries
or dead-letters the message (``throws`` just tells Dramatiq these are expected, so it
logs no traceback for them).
"""

from __future__ import annotations

import dramatiq

from schemas.crm import event_post

from .platforms.crm import CrmClient
from .platforms.errors import PlatformError
from .routes import PROFILE_BATCH, ROUTES


def register(broker: dramatiq.Broker, *, crm: CrmClient) -> dict[str, dramatiq.Actor]:
    """Declare every actor on ``broker``; returns them by actor name."""

    def crm_upsert_profiles(hashmaps: list[dict]) -> None:
        crm.upsert_profiles(hashmaps)

    def crm_post_event(event: dict) -> None:
        crm.post_event(event_post(event))

    handlers = [(PROFILE_BATCH, crm_upsert_profiles), (ROUTES["event"], crm_post_event)]
    return {
        route.actor_name: dramatiq.actor(
            handler,
            actor_name=route.actor_name,
            queue_name=route.queue_name,
            broker=broker,
            throws=(PlatformError,),
        )
        for route, handler in handlers
    }
