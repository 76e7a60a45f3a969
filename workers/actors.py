"""The actors: each turns one queued event into one platform call.

:func:`register` binds them to a broker and to the clients they use, so nothing is
declared at import time and tests can bind them to anything. An actor returns only
when the platform accepted the call, and only then is its message acknowledged; a
platform error propagates to :class:`~workers.retry.DeliveryPolicy`, which retries
or dead-letters the message (``throws`` just tells Dramatiq these are expected, so it
logs no traceback for them).
"""

from __future__ import annotations

import dramatiq

from schemas.crm import event_post, profile_upsert

from .platforms.crm import CrmClient
from .platforms.errors import PlatformError
from .routes import ROUTES


def register(broker: dramatiq.Broker, *, crm: CrmClient) -> dict[str, dramatiq.Actor]:
    """Declare every actor on ``broker``; returns them by event type."""

    def crm_upsert_profile(event: dict) -> None:
        crm.upsert_profiles([profile_upsert(event)])

    def crm_post_event(event: dict) -> None:
        crm.post_event(event_post(event))

    handlers = {"profile": crm_upsert_profile, "event": crm_post_event}
    return {
        event_type: dramatiq.actor(
            handler,
            actor_name=ROUTES[event_type].actor_name,
            queue_name=ROUTES[event_type].queue_name,
            broker=broker,
            throws=(PlatformError,),
        )
        for event_type, handler in handlers.items()
    }
