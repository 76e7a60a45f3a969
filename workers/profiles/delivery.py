"""How one profile batch message is delivered, retried and given up
(workers/profiles/buffer.py says how batches are made).

A message carries its profiles' identifiers and the batch id that owns them. Each
attempt sends their newest unacknowledged state; the platform's acceptance is an
acknowledgement, its echo is checked for dropped fields (workers/profiles/dropped.py). A
batch refused for what it holds comes back as two halves to send again (they own the
profiles as the batch did), down to the one refused profile, which alone is
dead-lettered. A message without a batch id is such a profile's dead letter replayed:
its hashmaps, the values the platform refused, are sent as they are.
"""

from __future__ import annotations

import logging

import dramatiq
import redis

from workers.platforms.crm import CrmClient
from workers.platforms.errors import PlatformError, Rejected, Unsendable
from workers.platforms.unconfigured import Unconfigured
from workers.profiles.buffer import ProfileBuffer
from workers.profiles.dropped import DroppedFields

logger = logging.getLogger(__name__)

#: Two halves of a refused batch to send again, as (identifiers or hashmaps, kwargs).
Halves = list[tuple[list[dict], dict]]


class BatchDelivery:
    """Parameters: the S2S platform's ``crm`` client, the profile ``buffer``, and the
    ``dropped_fields`` counter."""

    def __init__(
        self, *, crm: CrmClient | Unconfigured, buffer: ProfileBuffer, dropped_fields: DroppedFields
    ) -> None:
        self.crm = crm
        self.buffer = buffer
        self.dropped_fields = dropped_fields

    def deliver(self, refs: list[dict], batch: str | None) -> Halves:
        """Send one attempt; return the halves to send again if the platform refused
        a batch of several profiles for what it holds. The platform's other errors
        propagate (retried or dead-lettered by the delivery policy)."""
        if batch is None:
            return self._send_as_given(refs)
        attempt = self.buffer.attempt(refs, batch)
        if not attempt.profiles:
            return []
        hashmaps = attempt.hashmaps
        try:
            echo = self.crm.upsert_profiles(hashmaps)
        except (Rejected, Unsendable) as error:
            if len(attempt.profiles) > 1:
                return _halves(attempt.refs, {"batch": batch}, error)
            raise
        self.buffer.acknowledge(attempt)
        self._count_dropped(hashmaps, echo)
        return []

    def give_up(self, message: dramatiq.Message, error: BaseException) -> dramatiq.Message:
        """A given-up batch lets go of its profiles; returns its dead letter. A profile
        the platform refused forgets the refused values, which its letter keeps as a
        hashmap (a replay sends them as they were); a batch whose retries ran out is
        kept as it is (its replay sends the profiles' newest state)."""
        batch = message.kwargs.get("batch")
        if batch is None:
            return message
        attempt = self.buffer.attempt(message.args[0], batch)
        refused = isinstance(error, (Rejected, Unsendable))
        self.buffer.release(attempt, refused=refused)
        if refused and attempt.profiles:
            return message.copy(args=(attempt.hashmaps,), kwargs={})
        return message

    def _send_as_given(self, hashmaps: list[dict]) -> Halves:
        try:
            echo = self.crm.upsert_profiles(hashmaps)
        except (Rejected, Unsendable) as error:
            if len(hashmaps) > 1:
                return _halves(hashmaps, {}, error)
            raise
        self._count_dropped(hashmaps, echo)
        return []

    def _count_dropped(self, hashmaps: list[dict], echo) -> None:
        """A Redis hiccup here must not fail a batch the platform already took."""
        try:
            self.dropped_fields.record(hashmaps, echo)
        except redis.RedisError as error:
            logger.warning("Could not count the profile fields the platform dropped: %s", error)


def _halves(items: list[dict], kwargs: dict, error: PlatformError) -> Halves:
    half = len(items) // 2
    logger.warning(
        "A batch of %d profiles was refused (%s); sending it again as %d + %d.",
        len(items),
        error,
        half,
        len(items) - half,
    )
    return [(items[:half], kwargs), (items[half:], kwargs)]
