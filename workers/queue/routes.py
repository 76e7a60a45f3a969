"""Where each accepted event goes, by name, so that the receiver (which writes) and
the workers (which read) agree without the receiver importing any actor.

- ``event`` events become one Dramatiq message each, for :data:`ROUTES`' actor.
- ``profile`` events go to the profile buffer (:data:`PROFILE_BUFFER`); flushes turn
  them into batch messages for :data:`PROFILE_BATCH`'s actor.
- ``campaign_start`` events become one message each; a started campaign's follow-up
  schedule is a set of delayed :data:`FETCH_STATS` messages
  (workers/campaigns/schedule.py).
"""

from __future__ import annotations

from workers.queue.layout import Route

#: Where profile updates wait to be coalesced (workers/profiles/buffer.py).
PROFILE_BUFFER = "hookrelay:profiles"

#: Each accepted id's dedup key, kept for the dedup window (webhook/intake/queue.py);
#: its value says whether the event became a message or a buffered profile update.
DEDUP_PREFIX = "hookrelay:seen:"
DEDUP_TTL_S = 24 * 3600

ROUTES = {
    "event": Route("crm_post_event", "crm"),
    "campaign_start": Route("start_campaign", "campaigns"),
}
#: A flush's batch: its profiles' identifiers and the batch id that owns them; each
#: attempt sends their newest state (workers/profiles/delivery.py).
PROFILE_BATCH = Route("crm_upsert_batch", "crm")
#: Profile hashmaps sent as they are: a refused profile's dead letter, replayed.
PROFILE_HASHMAPS = Route("crm_upsert_profiles", "crm")
#: A profile update to put back in the buffer: the replay of one a flush could not merge.
REBUFFER = Route("buffer_profile_update", "crm")
#: Pause, resume or archive a campaign (``POST /v1/campaigns/<platform>/<id>/<action>``).
CAMPAIGN_ACTION = Route("campaign_action", "campaigns")
#: One statistics source of one campaign, fetched at one step of its follow-up schedule.
FETCH_STATS = Route("fetch_stats", "stats")
#: One day of an automated campaign's daily follow-up (workers/campaigns/daily.py).
FOLLOW_DAILY = Route("follow_daily", "campaigns")
#: Carry out one forget request (workers/erasure/), on a queue of its own so that a
#: long backlog of events never holds an erasure back.
FORGET = Route("forget_user", "erasure")
#: Every queue the workers consume.
QUEUES = tuple(
    sorted(
        {
            route.queue_name
            for route in (*ROUTES.values(), CAMPAIGN_ACTION, FETCH_STATS, FOLLOW_DAILY, FORGET)
        }
    )
)
