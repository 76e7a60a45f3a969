"""The actors: each turns one queued event into one platform call.

:func:`register` binds them to a broker and to the clients they use, so nothing is
declared at import time and tests can bind them to anything. Actors acknowledge a
message only when the platform accepted the call: a permanent error is not retried
(the message is dead-lettered), a retryable one is retried with backoff, honouring
the platform's ``Retry-After`` when it sent one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import dramatiq

from schemas.crm import event_post, profile_upsert

from .platforms.crm import CrmClient
from .platforms.errors import PermanentError, RetryableError
from .routes import ROUTES

logger = logging.getLogger(__name__)


def register(broker: dramatiq.Broker, *, crm: CrmClient) -> dict[str, dramatiq.Actor]:
    """Declare every actor on ``broker``; returns them by event type."""

    def crm_upsert_profile(event: dict) -> None:
        crm.upsert_profiles([profile_upsert(event)])

    def crm_post_event(event: dict) -> None:
        crm.post_event(event_post(event))

    handlers = {"profile": crm_upsert_profile, "event": crm_post_event}
    return {
        event_type: dramatiq.actor(
            _retrying(handler),
            actor_name=ROUTES[event_type].actor_name,
            queue_name=ROUTES[event_type].queue_name,
            broker=broker,
            throws=(PermanentError,),
        )
        for event_type, handler in handlers.items()
    }


def _retrying(handler: Callable[[dict], None]) -> Callable[[dict], None]:
    """Turn a retryable platform error into ``dramatiq.Retry`` (logged once, no traceback)."""

    @functools.wraps(handler)
    def actor(event: dict) -> None:
        try:
            handler(event)
        except RetryableError as error:
            delay_ms = None if error.retry_after is None else int(error.retry_after * 1000)
            logger.warning("Event %s will be retried: %s", event.get("id"), error)
            raise dramatiq.Retry(str(error), delay=delay_ms) from error
        except PermanentError as error:
            logger.error("Event %s refused for good: %s", event.get("id"), error)
            raise

    return actor
