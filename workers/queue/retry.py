"""What happens to a message whose delivery failed, inside the worker: retried later or
dead-lettered, as :class:`~workers.queue.policy.RetryPolicy` decides (the rules are
there). :class:`DeliveryPolicy` applies the decision in place of Dramatiq's ``Retries``
middleware, and traces each attempt.

Retrying re-enqueues a copy with a delay and acknowledges the original, as Dramatiq
does; dead-lettering stores the message with its reason, then acknowledges it. The
write must succeed before the original is acknowledged, so while it fails (Redis away
or full, RabbitMQ refusing) it is tried again every :data:`REDIS_RETRY_S` (Dramatiq
retries its own acks the same way); a worker killed meanwhile leaves the original to
be redelivered. A worker asked to stop does not wait for Redis to come back: on a
broker that can (Redis), it leaves the original unacknowledged for the dead-worker
sweep to give to another worker, and stops in seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq import Broker, Message
from dramatiq.broker import MessageProxy
from dramatiq.errors import BrokerError
from dramatiq.middleware import Middleware

from workers.core.background import FailureStreak, GaveUp
from workers.metrics.counters import DEAD_LETTERED, DELIVERIES, DELIVERY_LATENCY, RETRIES
from workers.metrics.throughput import DeliveryRate
from workers.platforms.base import forget_status, last_status, rate_limit_waited_ms
from workers.platforms.errors import CircuitOpen, Crowded
from workers.queue import actor_options
from workers.queue.claims import LEAVE_UNACKED
from workers.queue.deadletters import DeadLetterQueue, event_id_of
from workers.queue.layout import WAITS, AnyMessage
from workers.queue.policy import Postponed, RetryLater, RetryPolicy
from workers.queue.routes import PROFILE_BATCH, PROFILE_HASHMAPS, ROUTES
from workers.trace.tail import OUTCOMES as TAIL_OUTCOMES
from workers.trace.trace import EventTrace, answer_excerpt, batch_key, trace_key

logger = logging.getLogger(__name__)

REDIS_RETRY_S = 1.0
#: The event type the live tail names each actor's outcomes by.
TYPE_OF_ACTOR = {
    **{route.actor_name: event_type for event_type, route in ROUTES.items()},
    PROFILE_BATCH.actor_name: "profile",
    PROFILE_HASHMAPS.actor_name: "profile",
}


@dataclass(frozen=True)
class _Attempt:
    """What every outcome of one attempt of ``message`` reports."""

    number: int
    paused_ms: int
    elapsed_ms: int
    platform: str
    subject: str

    @classmethod
    def of(cls, broker: Broker, message: MessageProxy) -> _Attempt:
        return cls(
            number=message.options.get("retries", 0) + 1,
            paused_ms=message.options.get("paused_ms", 0),
            elapsed_ms=int(time.time() * 1000) - message.message_timestamp,
            platform=actor_options.platform_of(broker, message),
            subject=describe(message),
        )


class DeliveryPolicy(Middleware):
    """Applies a :class:`RetryPolicy` to every failed message (see the module docstring).
    Declares the actor options of workers/queue/actor_options.py (``throws``, as
    ``Retries`` would, ``platform`` and ``dead_letter_as``)."""

    @property
    def actor_options(self) -> set[str]:
        return set(actor_options.NAMES)

    def __init__(
        self,
        policy: RetryPolicy,
        dead_letters: DeadLetterQueue,
        throughput: DeliveryRate | None = None,
        confirm: Callable[[], object] = lambda: None,
        trace: EventTrace | None = None,
    ) -> None:
        self.policy = policy
        self.dead_letters = dead_letters
        self.throughput = throughput
        #: Each attempt and its outcome, for ``GET /v1/events/<id>`` (workers/trace).
        self.trace = trace
        #: Waits until the replicas have what was just stored (``REDIS_MIN_REPLICAS``).
        self.confirm = confirm

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        forget_status()
        attempt = message.options.get("retries", 0) + 1
        self._trace(message, "taken", attempt=attempt, accepted=self._accepted(message))

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        attempt = _Attempt.of(broker, message)
        if exception is None:
            self._delivered(message, attempt)
            return
        decision = self.policy.decide(
            attempts=attempt.number,
            age_ms=attempt.elapsed_ms - attempt.paused_ms,
            error=exception,
            paused_ms=attempt.paused_ms,
        )
        # Dramatiq's own line for a failure is dropped (workers/core/logs.py): ours
        # carries the traceback of an error the actor does not expect.
        shown = None if actor_options.expected(broker, message, exception) else exception
        if not isinstance(decision, RetryLater):
            self._dead_lettered(broker, message, attempt, exception, decision.reason, shown)
        elif isinstance(exception, Postponed | CircuitOpen | Crowded):
            self._postponed(broker, message, attempt, exception, decision.delay_ms)
        else:
            self._retried(broker, message, attempt, exception, decision, shown)

    def _delivered(self, message: MessageProxy, attempt: _Attempt) -> None:
        status = last_status()
        fields = _outcome(message, attempt.platform, "delivered", attempt.number, status)
        DELIVERY_LATENCY.labels(attempt.platform).observe(max(0, attempt.elapsed_ms) / 1000)
        logger.info("%s delivered (attempt %d)", attempt.subject, attempt.number, extra=fields)
        if self.throughput is not None:
            self.throughput.count(attempt.platform)
        self._trace(
            message,
            "delivered",
            accepted=self._accepted(message),
            attempt=attempt.number,
            platform=attempt.platform,
            status=status,
            wait_ms=rate_limit_waited_ms(),
        )

    def _postponed(
        self,
        broker: Broker,
        message: MessageProxy,
        attempt: _Attempt,
        exception: BaseException,
        delay_ms: int,
    ) -> None:
        """Not an attempt: its user's profile update, an open circuit or a crowded
        platform holds it back; it keeps its retry count."""
        logger.debug("%s postponed %d ms: %s", attempt.subject, delay_ms, exception)
        kind = "paused" if isinstance(exception, CircuitOpen) else "postponed"
        options = {"retries": attempt.number - 1, WAITS: kind}
        if isinstance(exception, CircuitOpen):
            options["paused_ms"] = attempt.paused_ms + delay_ms
        due = int(time.time() * 1000) + delay_ms
        self._trace(message, kind, reason=str(exception), next=due)
        self._store_retry(broker, message, message.copy(options=options), delay_ms)

    def _retried(
        self,
        broker: Broker,
        message: MessageProxy,
        attempt: _Attempt,
        exception: BaseException,
        decision: RetryLater,
        shown: BaseException | None,
    ) -> None:
        status = getattr(exception, "status", None)
        fields = _outcome(message, attempt.platform, "retried", attempt.number, status)
        RETRIES.labels(attempt.platform, type(exception).__name__).inc()
        logger.warning(
            "%s failed (attempt %d), retrying in %.1f s: %s",
            attempt.subject,
            attempt.number,
            decision.delay_ms / 1000,
            exception,
            extra=fields,
            exc_info=shown,
        )
        retry = message.copy(options={"retries": attempt.number, WAITS: "retrying"})
        self._store_retry(broker, message, retry, decision.delay_ms)
        self._trace_failure(
            message, "retried", attempt.number, attempt.platform, exception, decision
        )

    def _dead_lettered(
        self,
        broker: Broker,
        message: MessageProxy,
        attempt: _Attempt,
        exception: BaseException,
        reason: str,
        shown: BaseException | None,
    ) -> None:
        status = getattr(exception, "status", None)
        fields = _outcome(message, attempt.platform, "dead_lettered", attempt.number, status)
        DEAD_LETTERED.labels(attempt.platform).inc()
        logger.error("%s dead-lettered: %s", attempt.subject, reason, extra=fields, exc_info=shown)
        letter = actor_options.dead_letter_as(broker, message, exception, attempt.subject)
        self._until_stored(
            broker,
            message,
            lambda: self.dead_letters.add(
                letter,
                reason=reason,
                error=exception,
                attempts=attempt.number,
                platform=attempt.platform,
            ),
        )
        self._until_stored(broker, message, self.confirm)
        self._trace_failure(
            message,
            "dead_lettered",
            attempt.number,
            attempt.platform,
            exception,
            dlq=letter.message_id,
        )

    def _store_retry(
        self, broker: Broker, message: MessageProxy, retry: Message, delay_ms: int
    ) -> None:
        self._until_stored(broker, message, lambda: broker.enqueue(retry, delay=delay_ms))
        self._until_stored(broker, message, self.confirm)

    def _until_stored(
        self, broker: Broker, message: MessageProxy, write: Callable[[], object]
    ) -> None:
        """Run ``write`` until Redis (or RabbitMQ, for a retry) takes it; the original is
        acknowledged only after. Any failure is tried again, not only an unreachable
        store: a full Redis (``OutOfMemoryError``), a read-only replica or a refused
        publish must not let the original be acknowledged with its outcome stored
        nowhere. Once the worker is stopping, a broker that can leaves the original
        unacknowledged instead, for another worker."""
        subject = describe(message)
        streak = FailureStreak(
            logger, f"Storing the outcome of {subject}", expected=(redis.RedisError, BrokerError)
        )
        # Only a broker that can leave a message unacknowledged says it is stopping.
        stopping = getattr(broker, "stopping", None)
        try:
            streak.until_done(write, REDIS_RETRY_S, stop=stopping)
        except GaveUp:
            logger.warning(
                "Stopping with the outcome of %s not stored: it is left for another worker.",
                subject,
            )
            message.options[LEAVE_UNACKED] = True

    @staticmethod
    def _accepted(message: MessageProxy) -> int | None:
        """When ``message`` was accepted, on its first attempt's entries (later ones
        need not repeat it)."""
        return message.message_timestamp if not message.options.get("retries") else None

    def _trace(self, message: MessageProxy, kind: str, **fields: Any) -> None:
        """One entry in the trace of ``message``'s event (or profile batch) and, for an
        attempt's outcome, one in the live tail."""
        traced = traced_as(message)
        if self.trace is None or traced is None:
            return
        key, subject = traced
        now_ms = int(time.time() * 1000)
        entry = {"at": now_ms, "do": kind, "actor": message.actor_name, **fields}
        if fields.get("accepted") and "traceparent" in message.options:
            entry["traceparent"] = message.options["traceparent"]  # the caller's, once
        tail = None
        if kind in TAIL_OUTCOMES:
            tail = {
                "outcome": kind,
                "at": now_ms,
                "event_id": subject,
                "type": TYPE_OF_ACTOR.get(message.actor_name, message.actor_name),
                "platform": fields.get("platform"),
                "status": fields.get("status"),
                "latency_ms": now_ms - message.message_timestamp,
                "attempt": fields.get("attempt"),
            }
        self.trace.add(key, entry, tail=tail)

    def _trace_failure(
        self,
        message: MessageProxy,
        kind: str,
        attempt: int,
        platform: str,
        exception: BaseException,
        decision: RetryLater | None = None,
        **fields: Any,
    ) -> None:
        """A failed attempt's entry: the error, the platform's answer and, when it is
        retried, when the next attempt is due."""
        due = decision.delay_ms if isinstance(decision, RetryLater) else None
        self._trace(
            message,
            kind,
            accepted=self._accepted(message),
            attempt=attempt,
            platform=platform,
            status=getattr(exception, "status", None),
            error=type(exception).__name__,
            reason=str(exception),
            answer=answer_excerpt(getattr(exception, "body", None)),
            wait_ms=rate_limit_waited_ms(),
            next=None if due is None else int(time.time() * 1000) + due,
            **fields,
        )


def _outcome(
    message: AnyMessage, platform: str, outcome: str, attempts: int, status: int | None
) -> dict:
    """Count a delivery's outcome; return the fields its log line carries."""
    DELIVERIES.labels(platform, message.actor_name, outcome).inc()
    fields = {
        "event_id": event_id_of(message),
        "message_id": message.message_id,
        "actor": message.actor_name,
        "platform": platform,
        "outcome": outcome,
        "status": status,
        "attempt": attempts,
    }
    if "traceparent" in message.options:
        fields["traceparent"] = message.options["traceparent"]
    return fields


def traced_as(message: AnyMessage) -> tuple[str, str] | None:
    """Where ``message``'s attempts are traced, and the id the tail names it by: its
    event's trace, or its profile batch's; ``None`` for a message of neither (a
    statistics fetch)."""
    event_id = event_id_of(message)
    if isinstance(event_id, str) and event_id:  # a campaign's id is a number: not an event
        return trace_key(event_id), event_id
    if message.actor_name != PROFILE_BATCH.actor_name or len(message.args) != 2:
        return None
    batch = message.args[1]
    return (batch_key(batch), batch) if isinstance(batch, str) and batch else None


def describe(message: AnyMessage) -> str:
    """How logs name a message: actor and event id, never the event's content."""
    event_id = event_id_of(message)
    label = f"event {event_id}" if event_id else f"message {message.message_id}"
    return f"{message.actor_name} {label}"
