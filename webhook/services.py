"""What the views need, built once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app
from prometheus_client import CollectorRegistry

from workers.deadletters import DeadLetterQueue
from workers.enqueue import EventQueue
from workers.followup import SendLog
from workers.gate import SendGate
from workers.settings import Settings
from workers.store import Store

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
    #: The backlog gauges ``/metrics`` serves (workers/metrics.py).
    backlog: CollectorRegistry


def current() -> Services:
    return current_app.extensions[EXTENSION]
