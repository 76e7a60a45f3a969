"""Where the door (workers/core/door.py) stops a forgotten person's data in the workers.

A message names people through its actor's arguments (:func:`users_of`): an event's or
a profile update's user, a batch's profile references, refused hashmaps. What the door
stops is cut out of a message (:func:`scrubbed`); a message with nobody left becomes a
*tombstone*: its arguments dropped and :data:`FORGOTTEN` set, so that a worker skips it.

- :class:`ForgottenGuard`, a middleware, skips a tombstone or a message whose every
  user is stopped, and cuts stopped users out of one that names several, before it is
  processed: a worker that held it in memory while the person was erased never sends it.
- :class:`ScrubsForgotten`, a broker mix-in, scrubs what a worker enqueues (a retry,
  a delayed message coming due, a refused batch's halves), so that no worker writes a
  forgotten person's data back into Redis after the erasure purged it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from schemas.identities import keys_of
from workers.core.door import Door
from workers.queue.layout import AnyMessage
from workers.queue.routes import PROFILE_BATCH, PROFILE_HASHMAPS, REBUFFER, ROUTES

logger = logging.getLogger(__name__)

#: The option that marks a tombstone.
FORGOTTEN = "forgotten"
#: Actors whose one argument is an event or update with a ``user``.
_ONE_USER = (ROUTES["event"].actor_name, REBUFFER.actor_name)
#: Actors whose first argument is a list of identifier dicts (refs or hashmaps).
_MANY = (PROFILE_BATCH.actor_name, PROFILE_HASHMAPS.actor_name)


def users_of(actor_name: str, args: tuple | list) -> list[dict]:
    """The identifier dicts a message's arguments name (none for a campaign's)."""
    if not args:
        return []
    if actor_name in _ONE_USER and isinstance(args[0], dict):
        return [args[0].get("user") or {}]
    if actor_name in _MANY and isinstance(args[0], list):
        return [item for item in args[0] if isinstance(item, dict)]
    return []


def tombstone(message: AnyMessage) -> dramatiq.Message:
    """``message`` with nothing of its content: a worker that takes it skips it."""
    return message.copy(args=(), kwargs={}, options={**message.options, FORGOTTEN: True})


#: Whether one user (identifiers by kind) of a message is to be cut out of it.
Stops = Callable[[dict, AnyMessage], bool]


def scrubbed(message: AnyMessage, stops: Stops) -> dramatiq.Message | None:
    """``message`` without the users ``stops`` (a tombstone if nothing is left), or
    ``None`` if it stops none of them."""
    if message.options.get(FORGOTTEN):
        return None
    users = users_of(message.actor_name, message.args)
    kept = [user for user in users if not stops(user, message)]
    if len(kept) == len(users):
        return None
    if not kept or message.actor_name in _ONE_USER:
        return tombstone(message)
    return message.copy(args=(kept, *message.args[1:]))


def door_stops(door: Door) -> Stops:
    """What the door stops: a user it is closed on, of data accepted before that."""

    def stops(user: dict, message: AnyMessage) -> bool:
        return door.stops(keys_of(user), accepted_ms=message.message_timestamp)

    return stops


class ForgottenGuard(Middleware):
    """Skips what the door stops, before a worker processes it (module docstring)."""

    def __init__(self, door: Door) -> None:
        self.stops = door_stops(door)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if message.options.get(FORGOTTEN):
            raise SkipMessage("its person was forgotten")
        clean = scrubbed(message, self.stops)
        if clean is None:
            return
        if clean.options.get(FORGOTTEN):
            logger.info("Skipped message %s: its person was forgotten.", message.message_id)
            raise SkipMessage("its person was forgotten")
        # A MessageProxy reads its fields from _message (dramatiq/broker.py, pinned).
        message._message = clean
        logger.info("Message %s: left out a forgotten person.", message.message_id)


class ScrubsForgotten(dramatiq.Broker):
    """A broker mix-in: what a worker enqueues is scrubbed first (module docstring)."""

    #: Set by :func:`~workers.queue.broker.build_broker`; ``None``: nothing is scrubbed.
    stops: Stops | None = None

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        clean = scrubbed(message, self.stops) if self.stops is not None else None
        return super().enqueue(clean or message, delay=delay)
