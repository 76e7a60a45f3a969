"""Each delivery attempt a ``hookrelay.deliver`` span (workers/core/spans.py), the
child of the traceparent its event kept (the receiver's enqueue span, or the caller's):
added to the broker only when spans are exported."""

from __future__ import annotations

from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy

from workers.core.spans import Span, Spans
from workers.queue.deadletters import event_id_of


class DeliverySpans(Middleware):
    def __init__(self, spans: Spans) -> None:
        self._spans = spans
        #: The span of each message a worker thread is processing, by message id.
        self._open: dict[str, Span] = {}

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._open[message.message_id] = self._spans.start(
            "hookrelay.deliver",
            message.options.get("traceparent"),
            **{
                "messaging.message.id": message.message_id,
                "hookrelay.actor": message.actor_name,
                "hookrelay.event_id": event_id_of(message),
                "hookrelay.attempt": message.options.get("retries", 0) + 1,
            },
        )

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        span = self._open.pop(message.message_id, None)
        if span is not None:
            failed = type(exception).__name__ if exception is not None else None
            span.end(**{"hookrelay.outcome": "failed" if failed else "done", "error.type": failed})

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        span = self._open.pop(message.message_id, None)
        if span is not None:
            span.end(**{"hookrelay.outcome": "skipped"})
