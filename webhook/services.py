"""What the views need, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from workers.deadletters import DeadLetterQueue
from workers.enqueue import EventQueue
from workers.followup import SendLog
from workers.gate import SendGate
from workers.metrics import BacklogCollector
from workers.settings import Settings
from workers.store import Store
from workers.throughput import DeliveryRate

EXTENSION = "hookrelay"


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis
    queue: EventQueue
    dead_letters: DeadLetterQueue
    gate: SendGate
    sends: SendLog
    store: Store
    #: What waits in Redis, for ``/metrics`` and ``/status`` (workers/metrics.py).
    backlog: BacklogCollector
    throughput: DeliveryRate


def current() -> Services:
    return current_app.extensions[EXTENSION]
