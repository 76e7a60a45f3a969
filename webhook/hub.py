"""What the views need, built once per process by ``create_app``: the :class:`Hub`."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from webhook.gate.gate import PreSendGate
from webhook.intake.headroom import Headroom
from webhook.intake.queue import EventQueue
from webhook.posthook.recorder import PostHookRecorder
from workers.campaigns.store import Store
from workers.core.door import Door
from workers.core.settings import Settings
from workers.core.spans import Spans
from workers.erasure.requests import ForgetRequests
from workers.metrics.backlog import BacklogCollector
from workers.metrics.deployment import DeploymentCollector
from workers.metrics.throughput import DeliveryRate
from workers.profiles.dropped import DroppedFields
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import MessageWriter
from workers.trace.reader import TraceReader

EXTENSION = "hookrelay"


@dataclass(frozen=True)
class Hub:
    settings: Settings
    redis: redis.Redis
    queue: EventQueue
    #: hookrelay's own spans (workers/core/spans.py): none unless OpenTelemetry is on.
    spans: Spans
    #: Refuses new events when Redis is nearly full (webhook/intake/headroom.py).
    headroom: Headroom
    #: Single messages the API enqueues (campaign actions).
    messages: MessageWriter
    dead_letters: DeadLetterQueue
    gate: PreSendGate
    #: A forgotten person's door (workers/core/door.py), and the forget requests.
    door: Door
    forget_requests: ForgetRequests
    post_hooks: PostHookRecorder
    store: Store
    #: What waits in Redis, for ``/metrics`` and ``/status`` (workers/metrics/backlog.py).
    backlog: BacklogCollector
    #: Redis's memory and replicas, and the workers alive, for ``/metrics``.
    deployment: DeploymentCollector
    throughput: DeliveryRate
    #: The profile fields the platform's echo left out (workers/profiles/dropped.py).
    dropped_fields: DroppedFields
    #: Each event's trace (workers/trace).
    traces: TraceReader

    def start(self) -> None:
        """Start the journals that write hook counts through the append-only file
        (webhook/journal.py); each gunicorn worker calls it once the app is loaded."""
        self.gate.journal.start()
        self.post_hooks.journal.start()

    def stop(self) -> None:
        """Stop the journals, writing what they still hold."""
        self.gate.journal.stop()
        self.post_hooks.journal.stop()


def current_hub() -> Hub:
    return current_app.extensions[EXTENSION]
