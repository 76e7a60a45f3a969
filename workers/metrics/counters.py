"""The Prometheus counters and histograms every hookrelay process counts in: events and
hooks in ``web``; platform calls, deliveries, retries, dead letters, rate-limit waits
and delivery latency in ``worker``. A leaf: it imports nothing of ours, so every layer
may count (how processes add up: workers/metrics/multiprocess.py)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "hookrelay_events",
    "Events posted to /v1/events, by type and outcome (accepted, duplicate, dropped, rejected).",
    ["type", "outcome"],
)
HTTP_RESPONSES = Counter(
    "hookrelay_http_responses",
    "The receiver's answers, by HTTP status code.",
    ["status"],
)
SEGMENT_MESSAGES = Counter(
    "hookrelay_segment_messages",
    "Messages posted to the Segment-spec routes, by type and outcome (accepted, "
    "duplicate, dropped, invalid).",
    ["type", "outcome"],
)
HOOKS = Counter(
    "hookrelay_hooks",
    "Platform hooks answered, by stage and outcome (allowed, refused, recorded, rejected).",
    ["stage", "outcome"],
)
PLATFORM_CALLS = Counter(
    "hookrelay_platform_requests",
    "HTTP calls to platforms, by platform and status (or timeout, connection_failed).",
    ["platform", "status"],
)
DELIVERIES = Counter(
    "hookrelay_deliveries",
    "Messages the workers finished, by platform, actor and outcome "
    "(delivered, retried, dead_lettered).",
    ["platform", "actor", "outcome"],
)
RETRIES = Counter(
    "hookrelay_retries",
    "Failed attempts that will be retried, by platform and error class.",
    ["platform", "error"],
)
DEAD_LETTERED = Counter(
    "hookrelay_dead_lettered",
    "Messages given up on and stored in the dead-letter queue, by platform.",
    ["platform"],
)
PROFILE_FIELDS_DROPPED = Counter(
    "hookrelay_profile_fields_dropped",
    "Profile fields sent that the platform's echo left out (undeclared), by field name.",
    ["field"],
)
CIRCUIT_TRANSITIONS = Counter(
    "hookrelay_circuit_transitions",
    "A platform's circuit breaker opening or closing, by platform and to (open, closed).",
    ["platform", "to"],
)
RATE_LIMIT_WAIT = Histogram(
    "hookrelay_rate_limit_wait_seconds",
    "How long each platform call waited for its shared rate limit.",
    ["platform"],
    buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DELIVERY_LATENCY = Histogram(
    "hookrelay_delivery_latency_seconds",
    "From acceptance (a scheduled fetch: from when it was due) to the platform's success.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
)


def count_each(counter: Counter, labels: Iterable[tuple[str, ...]]) -> None:
    """Add one to ``counter`` per item of ``labels`` (one label tuple each), with one
    increment per distinct tuple: a batch of 100 alike costs one, not 100."""
    for values, times in Tally(labels).items():
        counter.labels(*values).inc(times)
