"""Where each accepted event goes, by name, so that the receiver (which writes) and
the workers (which read) agree without the receiver importing any actor.

- ``event`` events become one Dramatiq message each, for :data:`ROUTES`' actor.
- ``profile`` events go to the profile buffer (:data:`PROFILE_BUFFER`); flushes turn
  them into batch messages for :data:`PROFILE_BATCH`'s actor.
"""

from __future__ import annotations

from dataclasses import dataclass

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
