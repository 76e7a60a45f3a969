"""Events after their profile: an event waits while a profile update of the same user,
accepted before it, has not been acknowledged by the platform (or let go).

The receiver (webhook/intake/enqueue.lua) numbers every accepted profile update from
one counter (:data:`SEQUENCE`) and, for each identity key of the update, records the
newest number as ``open`` in ``<ORDER_PREFIX><key>``. An event accepted while a key of
its user has ``open`` above ``acked`` notes those numbers in ``<AFTER_PREFIX><event
id>``. When a batch's attempt is acknowledged or let go, ``acked`` rises to the newest
number merged into the profile (:meth:`ProfileBuffer.settle
<workers.profiles.buffer.ProfileBuffer.settle>`); a key whose ``acked`` reaches
``open`` is deleted, so nothing stays once a user's profile is delivered. The event's
actor asks :meth:`EventOrder.ready` before sending, and is postponed while it is not.

A campaign start waits for every user's updates accepted before it: the first identity
key of each open update (its profile settles all its keys at once) is in
:data:`UNSETTLED`, scored by a lower bound of its lowest unsettled number (the first
it opened; ``acked + 1`` once some are acknowledged). The
start notes the newest number accepted before it (its mark) and waits until no member
scores within it. An update let go without an acknowledgement (its batch dead-lettered,
or itself a poison) stops holding a start back; its dead letter is kept in
:data:`LET_GO`, scored the same way, so that the start's trace can name the updates it
did not see acknowledged.

Trade-off: an event waits for every earlier update of its user, about one
``PROFILE_FLUSH_MS`` and one batch call; ``EVENTS_AFTER_PROFILES=false`` turns the
wait off (the receiver then records nothing). Keys expire after :data:`ORDER_TTL_S`, so
a number nothing will ever acknowledge cannot hold events back longer than that.
"""

from __future__ import annotations

import redis

from workers.core import lua
from workers.core.roundtrip import run_together

ORDER_PREFIX = "hookrelay:profiles:order:"
AFTER_PREFIX = "hookrelay:profiles:after:"
SEQUENCE = "hookrelay:profiles:seq"
UNSETTLED = "hookrelay:profiles:unsettled"
LET_GO = "hookrelay:profiles:let-go"
#: The wait a campaign start notes instead of identity keys.
EVERY_PROFILE = "*"
#: How many let-go letters are kept for starts' traces (the newest).
LET_GO_KEPT = 1000
#: As long as an event may be retried (RETRY_MAX_AGE_S's default).
ORDER_TTL_S = 86400

_READY = lua.draining(
    lua.source(
        __package__,
        "order.lua",
        lua.constants(
            unsettled=UNSETTLED, let_go=LET_GO, every_profile=EVERY_PROFILE, cleanups=100
        ),
    )
)


class EventOrder:
    """Whether an event may go: the profile updates it waits for are settled."""

    def __init__(self, client: redis.Redis) -> None:
        self._ready = client.register_script(_READY)

    def ready(self, event_id: str) -> bool:
        return self.settled(event_id) is not None

    def settled(self, event_id: str) -> list[str] | None:
        """``None`` while what the event waits for is unsettled; then the dead letters
        of the updates it waited for that were let go (a campaign start's only)."""
        # With the writes this thread holds (the attempt's trace entry): one round trip.
        call = lua.ScriptCall(self._ready, [AFTER_PREFIX + event_id], [ORDER_PREFIX])
        answer = run_together([call])[0]
        if not answer:
            return None
        return [letter.decode() if isinstance(letter, bytes) else letter for letter in answer[1:]]
