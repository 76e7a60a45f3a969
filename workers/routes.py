"""Which actor, on which queue, handles each deliverable event type.

The receiver writes messages by these names and the worker registers actors under
them, so both sides agree without the receiver importing any actor.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    actor_name: str
    queue_name: str


ROUTES = {
    "profile": Route("crm_upsert_profile", "crm"),
    "event": Route("crm_post_event", "crm"),
}

QUEUES = tuple(sorted({route.queue_name for route in ROUTES.values()}))
