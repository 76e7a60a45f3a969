"""The circuit breaker end to end: the Procfile's ``web`` and two workers, the sandbox
failing every call to the CRM for longer than messages may retry."""

from __future__ import annotations

import time

import redis

from workers.health.report import PlatformHealth

from ..support import API_KEY, wait_for
from .stack import running_stack
from .test_operations import samples, total
from .test_procfile_stack import event_seqs, track_event

#: The issue's 60 s / 30 s / 90 s outage, scaled down twenty-fold but for the outage,
#: which is kept longer than RETRY_MAX_AGE_S so that messages not paused would be
#: dead-lettered.
FAILING_S, PROBE_S, OUTAGE_S, MAX_AGE_S = 2, 2, 16, 10
EVENTS = 300
#: Calls already sent when the circuit opened still arrive just after.
IN_FLIGHT_S = 0.5


def gauge(stack, name: str, **labels: str) -> float:
    found = samples(stack.http.get("/metrics").text)
    assert any(key == name for key, _ in found), f"{name} is not served"
    return total(found, name, **labels)


def circuit_open_metric(stack) -> float:
    return gauge(stack, "hookrelay_circuit_open", platform="crm")


def test_a_platform_down_for_longer_than_retries_last_gets_one_probe_per_interval(tmp_path):
    with running_stack(
        tmp_path,
        workers=2,
        CIRCUIT_FAILING_S=str(FAILING_S),
        CIRCUIT_PROBE_S=str(PROBE_S),
        RETRY_MAX_AGE_S=str(MAX_AGE_S),
    ) as stack:
        health = PlatformHealth(redis.Redis.from_url(stack.redis.url))
        # Events older than MAX_AGE_S at their first failure are dead-lettered: a worker
        # that took that long to start (10 s on a loaded machine) made 26 of them so.
        stack.wait_for_workers()
        stack.sandbox.fault("crm.events", status=503)
        broke = time.time()
        for start in range(0, EVENTS, 100):
            stack.post([track_event(i, "cb") for i in range(start, start + 100)])

        wait_for(lambda: circuit_open_metric(stack) == 1, timeout_s=30)
        opened_at = health.read(["crm"])["crm"].opened_at.timestamp()
        status = stack.http.get("/status", auth=("", API_KEY)).text
        assert "circuit open" in status
        wait_for(lambda: gauge(stack, "hookrelay_messages", state="paused") > 0, timeout_s=10)
        time.sleep(max(0.0, broke + OUTAGE_S - time.time()))
        stack.sandbox.http.delete("/_sandbox/faults").raise_for_status()
        healed_at = time.time()

        wait_for(lambda: len(event_seqs(stack.sandbox)) == EVENTS, timeout_s=60, interval_s=0.5)
        assert circuit_open_metric(stack) == 0
        seqs = event_seqs(stack.sandbox)
        assert set(seqs) == set(range(EVENTS)) and set(seqs.values()) == {1}, "each once"
        assert redis.Redis.from_url(stack.redis.url).zcard("hookrelay:dlq:index") == 0

        calls = [r["at"] for r in stack.sandbox.received("crm.events")]
        while_open = [at for at in calls if opened_at + IN_FLIGHT_S <= at < healed_at]
        window = healed_at - opened_at - IN_FLIGHT_S
        assert len(while_open) <= window // PROBE_S + 1, (len(while_open), window)
        assert len(while_open) >= window // PROBE_S - 1, "it kept probing"
        logs = "".join(worker.log() for worker in stack.workers)
        assert logs.count("crm circuit opened") == 1, "one line for the deployment"
        assert logs.count("crm circuit closed") == 1
        print(
            f"\nopen {healed_at - opened_at:.1f} s: {len(while_open)} calls while open, "
            f"{len(calls)} calls in all for {EVENTS} events"
        )


def test_a_degraded_platform_keeps_its_circuit_closed_and_gets_everything(tmp_path):
    """40 % of calls failing is degraded, not down: retries deliver every event soon,
    and the circuit never opens (it opened within seconds, and held 40 events for
    minutes, when a share of failed calls could open it)."""
    with running_stack(
        tmp_path,
        workers=1,
        CIRCUIT_FAILING_S=str(FAILING_S),
        CIRCUIT_PROBE_S="30",
        RETRY_MIN_BACKOFF_MS="50",
        RETRY_MAX_BACKOFF_MS="200",
    ) as stack:
        stack.wait_for_workers()
        stack.sandbox.fault("crm.events", status=503, ratio=0.4)
        stack.post([track_event(i, "degraded") for i in range(40)])
        wait_for(lambda: len(event_seqs(stack.sandbox)) == 40, timeout_s=20, interval_s=0.2)
        logs = "".join(worker.log() for worker in stack.workers)
        assert "circuit opened" not in logs
        assert health_of(stack).opened_at is None


def health_of(stack):
    return PlatformHealth(redis.Redis.from_url(stack.redis.url)).read(["crm"])["crm"]
