"""How one profile batch message is delivered, retried and given up
(workers/profiles/buffer.py says how batches are made).

A message carries its profiles' identifiers and the batch id that owns them. Each
attempt sends their newest unacknowledged state; the platform's acceptance is an
acknowledgement, its echo is checked for dropped fields (workers/profiles/dropped.py). A
batch refused for what it holds comes back as two halves to send again (they own the
profiles as the batch did), down to the one refused profile, which alone is
dead-lettered as a message of hashmaps (:data:`~workers.queue.routes.PROFILE_HASHMAPS`):
its replay sends the values the platform refused as they are.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import redis

from workers.platforms.crm import CrmClient
from workers.platforms.errors import PlatformError, Rejected, Unsendable
from workers.platforms.unconfigured import Unconfigured
from workers.profiles.buffer import ProfileBuffer
from workers.profiles.dropped import DroppedFields
from workers.queue.routes import PROFILE_HASHMAPS

logger = logging.getLogger(__name__)

#: Two halves of a refused batch to send again (identifiers, or hashmaps).
Halves = list[list[dict]]


class BatchDelivery:
    """Parameters: the S2S platform's ``crm`` client, the profile ``buffer``, and the
    ``dropped_fields`` counter."""

    def __init__(
        self, *, crm: CrmClient | Unconfigured, buffer: ProfileBuffer, dropped_fields: DroppedFields
    ) -> None:
        self.crm = crm
        self.buffer = buffer
        self.dropped_fields = dropped_fields

    def deliver(self, refs: list[dict], batch: str) -> Halves:
        """Send one attempt of ``batch``; return the halves to send again if the
        platform refused a batch of several profiles for what it holds. The platform's
        other errors propagate (retried or dead-lettered by the delivery policy)."""
        attempt = self.buffer.attempt(refs, batch)
        if not attempt.profiles:
            return []
        hashmaps = attempt.hashmaps
        try:
            echo = self.crm.upsert_profiles(hashmaps)
        except (Rejected, Unsendable) as error:
            if len(attempt.profiles) > 1:
                return _halves(attempt.refs, error)
            raise
        self.buffer.acknowledge(attempt)
        self._count_dropped(hashmaps, echo)
        return []

    def give_up(self, message: dramatiq.Message, error: BaseException) -> dramatiq.Message:
        """A given-up batch lets go of its profiles; returns its dead letter. A profile
        the platform refused forgets the refused values, which its letter keeps as a
        hashmap (a replay sends them as they were); a batch whose retries ran out is
        kept as it is (its replay sends the profiles' newest state)."""
        attempt = self.buffer.attempt(*message.args)
        refused = isinstance(error, (Rejected, Unsendable))
        self.buffer.release(attempt, refused=refused, letter=message.message_id)
        if refused and attempt.profiles:
            return message.copy(
                actor_name=PROFILE_HASHMAPS.actor_name, args=(attempt.hashmaps,), kwargs={}
            )
        return message

    def send_as_given(self, hashmaps: list[dict]) -> Halves:
        """Send ``hashmaps`` as they are; return the halves to send again if the
        platform refused several for what they hold."""
        try:
            echo = self.crm.upsert_profiles(hashmaps)
        except (Rejected, Unsendable) as error:
            if len(hashmaps) > 1:
                return _halves(hashmaps, error)
            raise
        self._count_dropped(hashmaps, echo)
        return []

    def _count_dropped(self, hashmaps: list[dict], echo: Any) -> None:
        """A Redis hiccup here must not fail a batch the platform already took."""
        try:
            self.dropped_fields.record(hashmaps, echo)
        except redis.RedisError as error:
            logger.warning("Could not count the profile fields the platform dropped: %s", error)


def _halves(items: list[dict], error: PlatformError) -> Halves:
    half = len(items) // 2
    logger.warning(
        "A batch of %d profiles was refused (%s); sending it again as %d + %d.",
        len(items),
        error,
        half,
        len(items) - half,
    )
    return [items[:half], items[half:]]
