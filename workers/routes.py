"""Where each accepted event goes, by name, so that the receiver (which writes) and
the workers (which read) agree without the receiver importing any actor.

- ``event`` events become one Dramatiq message each, for :data:`ROUTES`' actor.
- ``profile`` events go to the profile buffer (:data:`PROFILE_BUFFER`); flushes turn
  them into batch messages for :data:`PROFILE_BATCH`'s actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dramatiq

#: The Dramatiq namespace of every queue key.
NAMESPACE = "dramatiq"
#: Where profile updates wait to be coalesced (see workers/profiles.py).
PROFILE_BUFFER = "hookrelay:profiles"


@dataclass(frozen=True)
class Route:
    actor_name: str
    queue_name: str


ROUTES = {"event": Route("crm_post_event", "crm")}
PROFILE_BATCH = Route("crm_upsert_profiles", "crm")


def redis_message(
    route: Route, args: tuple, *, kwargs: dict | None = None, options: dict[str, Any] | None = None
) -> tuple[str, bytes]:
    """A message for ``route`` as Dramatiq's Redis broker stores it: its id and encoding.

    The one id serves as message id and Redis message id, which the worker acks by.
    """
    message_id = str(uuid4())
    message = dramatiq.Message(
        queue_name=route.queue_name,
        actor_name=route.actor_name,
        args=args,
        kwargs=kwargs or {},
        options={**(options or {}), "redis_message_id": message_id},
        message_id=message_id,
    )
    return message_id, message.encode()
