"""What a campaign start waits for before it is sent: first every profile update
accepted before it (every user's, workers/profiles/order.py), then the generation of
the segments it names, so that the campaign reaches the audience those updates made.

Waiting is a postponement (workers/queue/policy.py), never a sleeping worker thread:
the start comes back every ``poll_ms`` while profile updates are unsettled, and every
``segment_poll_ms`` while a segment is being generated.

The documentation gives no way to learn that a generation finished. A generation is
started once per start event and segment (remembered in Redis under
:data:`SEGMENTS_PREFIX`, so a retried or postponed start does not start it again). If
the generate call's answer carries a ``status``, the segment is read until its status
is no longer one of :data:`BUSY`; a status in :data:`FAILED` dead-letters the start
(its replay generates again). If the answer carries no status, the start waits
``segment_pause_ms`` after the generate call instead (``CAMPAIGN_SEGMENT_PAUSE_S``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from workers.platforms.crm import PATHS, CrmClient
from workers.platforms.errors import PermanentError
from workers.platforms.unconfigured import Unconfigured
from workers.queue.policy import Postponed
from workers.trace.trace import EventTrace, trace_key

logger = logging.getLogger(__name__)

SEGMENTS_PREFIX = "hookrelay:start:segments:"
#: How long a start's generations are remembered: as long as it may be retried.
SEGMENTS_TTL_S = 86400
#: Whether what a start waits for is settled: ``None`` while not, then the dead
#: letters of updates it went without (workers/profiles/order.py's ``EventOrder.settled``).
Settled = Callable[[str], "list[str] | None"]
#: Statuses (any case) that mean a generation is still under way.
BUSY = frozenset({"generating", "pending", "queued", "processing", "in_progress", "running"})
#: Statuses that mean it failed.
FAILED = frozenset({"failed", "error"})
#: What a segment's entry holds once its generation is known to be over.
DONE = "done"
POLL = "poll"


class SegmentFailed(PermanentError):
    """A segment's generation failed: the start is dead-lettered rather than sent to a
    stale audience; its replay starts the generation again."""


@dataclass
class StartPrelude:
    """Parameters: ``settled``, whether the profile updates a start waits for are
    settled (``None`` with EVENTS_AFTER_PROFILES off: nothing to wait for); the S2S
    platform's ``crm`` client; the ``client`` of the Redis holding the generations
    started; the start's ``trace``; and the pauses."""

    settled: Settled | None
    crm: CrmClient | Unconfigured
    client: redis.Redis
    trace: EventTrace
    poll_ms: int
    segment_poll_ms: int
    segment_pause_ms: int

    def ready(self, event: dict) -> None:
        """Return once the start ``event`` may be sent; raise :class:`Postponed` until
        then, :class:`SegmentFailed` if a generation failed."""
        self._profiles_settled(event["id"])
        segments = [int(segment) for segment in event.get("segments") or ()]
        if segments:
            self._segments_generated(event["id"], segments)

    def _profiles_settled(self, event_id: str) -> None:
        if self.settled is None:
            return
        letters = self.settled(event_id)
        if letters is None:
            raise Postponed(
                "the profile updates accepted before it are not all acknowledged yet",
                delay_ms=self.poll_ms,
            )
        if letters:
            logger.warning(
                "Campaign start %s goes without %d profile updates it waited for: they were"
                " dead-lettered (%s).",
                event_id,
                len(letters),
                ", ".join(letters),
            )
            entry = {"at": int(time.time() * 1000), "do": "unwaited", "letters": letters}
            self.trace.add(trace_key(event_id), entry)

    def _segments_generated(self, event_id: str, segments: list[int]) -> None:
        key = SEGMENTS_PREFIX + event_id
        known = {
            int(segment): state.decode() for segment, state in self.client.hgetall(key).items()
        }
        now_ms = int(time.time() * 1000)
        waiting = []
        for segment in segments:
            state = known.get(segment) or self._generate(key, segment, now_ms)
            if state == POLL:
                state = self._poll(key, segment)
            if state != DONE and not (state.isdigit() and int(state) <= now_ms):
                waiting.append(segment)
        if waiting:
            raise Postponed(
                f"segments {', '.join(map(str, waiting))} are being generated",
                delay_ms=self.segment_poll_ms,
            )
        self.client.delete(key)

    def _generate(self, key: str, segment: int, now_ms: int) -> str:
        """Start the generation; what to wait on: ``poll``, or the time it is over."""
        answer = self.crm.generate_segment(segment)
        has_status = isinstance(answer, dict) and "status" in answer
        state = POLL if has_status else str(now_ms + self.segment_pause_ms)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, str(segment), state)
            pipe.expire(key, SEGMENTS_TTL_S)
            pipe.execute()
        logger.info("Segment %s: generation started (%s).", segment, answer)
        return state

    def _poll(self, key: str, segment: int) -> str:
        status = str(self.crm.segment(segment).get("status") or "").lower()
        if status in FAILED:
            self.client.hdel(key, str(segment))
            raise SegmentFailed(
                f"segment {segment}: its generation ended {status!r}",
                platform="crm",
                method="GET",
                url=PATHS["segment"].format(id=segment),
            )
        if status in BUSY:
            return POLL
        self.client.hset(key, str(segment), DONE)
        return DONE
