"""The circuit breaker against a real Redis and the real sandbox: when it opens, that
one probe goes per interval whoever asks, and that the first success closes it."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time

import pytest
import redis

from workers.core.platform_settings import CircuitConfig, CrmConfig
from workers.health.circuit import CircuitBreaker
from workers.health.report import PlatformHealth
from workers.platforms import errors
from workers.platforms.crm import CrmClient

FAST = CircuitConfig(failing_s=0.3, probe_s=0.5, min_calls=10)


def breaker(redis_url: str, config: CircuitConfig = FAST) -> CircuitBreaker:
    return CircuitBreaker(redis.Redis.from_url(redis_url), "crm", config)


def fail_for(circuit: CircuitBreaker, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        circuit.failed(RuntimeError("down"))
        time.sleep(0.02)


def test_every_call_failing_opens_it_and_a_success_closes_it(redis_url, caplog):
    circuit = breaker(redis_url)
    caplog.set_level(logging.WARNING, logger="workers.health.circuit")
    circuit.failed(RuntimeError("down"))
    assert circuit.admit().go, "one failure is not an outage"
    fail_for(circuit, 0.4)
    admission = circuit.admit()
    assert not admission.go and 0 < admission.wait_ms <= 500
    fail_for(circuit, 0.1)
    circuit.succeeded()
    assert circuit.admit() == circuit.admit() and circuit.admit().go
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("crm circuit opened: calls failing for 0 s (last: down)")
    assert lines[1].startswith("crm circuit closed after 0 s open")


def test_one_probe_per_interval_whoever_asks(redis_url):
    circuits = [breaker(redis_url) for _ in range(8)]
    fail_for(circuits[0], 0.4)
    probes: list[float] = []
    deadline = time.monotonic() + 1.6

    def ask(circuit: CircuitBreaker) -> None:
        while time.monotonic() < deadline:
            if circuit.admit().go:
                probes.append(time.monotonic())
                circuit.failed(RuntimeError("still down"))

    threads = [threading.Thread(target=ask, args=(circuit,)) for circuit in circuits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 2 <= len(probes) <= 4, probes
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert all(gap >= 0.45 for gap in gaps), gaps


@pytest.mark.parametrize("share_failing", [0.4, 0.5])
def test_a_platform_that_answers_most_calls_never_opens_it(redis_url, share_failing):
    """Degraded is not down: calls failing at random at that share, over 3 s (ten times
    CIRCUIT_FAILING_S), retries and all. (Opening takes a run of failures lasting
    CIRCUIT_FAILING_S: here some 60 calls in a row, at 0.5 one chance in 10**18.)"""
    circuit = breaker(redis_url)
    outcomes = random.Random(7)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if outcomes.random() < share_failing:
            circuit.failed(RuntimeError("503"))
        else:
            circuit.succeeded()
        assert circuit.admit().go
        time.sleep(0.005)


def test_an_unlucky_run_shorter_than_the_failing_time_does_not_open_it(redis_url):
    circuit = breaker(redis_url)
    for _ in range(50):
        circuit.failed(RuntimeError("503"))
    assert circuit.admit().go, "50 failures in a row, but not for CIRCUIT_FAILING_S"
    circuit.succeeded()
    fail_for(circuit, 0.2)
    circuit.succeeded()
    fail_for(circuit, 0.2)
    assert circuit.admit().go, "a success in between starts over"


def test_too_few_calls_or_failures_far_apart_do_not_open_it(redis_url):
    circuit = breaker(redis_url, CircuitConfig(failing_s=0.2, min_calls=10))
    for _ in range(3):
        circuit.failed(RuntimeError("now and then"))
        time.sleep(0.3)
    assert circuit.admit().go
    slow = breaker(redis_url, CircuitConfig(failing_s=0.1, min_calls=10))
    for _ in range(5):
        slow.failed(RuntimeError("a rarely called platform"))
        time.sleep(0.05)
    assert slow.admit().go, "failing for long enough, but only 5 calls"


def test_off_it_never_opens_and_still_counts(redis_url):
    circuit = breaker(redis_url, CircuitConfig(enabled=False, failing_s=0.1, min_calls=1))
    fail_for(circuit, 0.3)
    assert circuit.admit().go
    health = PlatformHealth(redis.Redis.from_url(redis_url)).read(["crm"])["crm"]
    assert health.state == "degraded" and not health.open
    assert health.calls[5][0] == health.calls[5][1] > 5
    assert health.last_error == "down"


def test_the_health_report_tells_open_degraded_and_healthy(redis_url):
    client = redis.Redis.from_url(redis_url)
    circuit = breaker(redis_url)
    assert PlatformHealth(client).read(["crm"])["crm"].state == "healthy"
    fail_for(circuit, 0.4)
    health = PlatformHealth(client).read(["crm", "altcraft"])
    assert health["crm"].state == "circuit open" and health["crm"].opened_at is not None
    assert health["crm"].error_rate(60) == 1.0
    assert health["altcraft"].state == "healthy" and health["altcraft"].error_rate(5) is None
    calls, failed = health["crm"].calls[5]
    assert calls == failed > 1
    for _ in range(20 * failed):
        circuit.succeeded()
    healed = PlatformHealth(client).read(["crm"])["crm"]
    assert healed.state == "healthy", "fewer than 5 % failed, and the latest call worked"
    assert healed.last_error == "down", "the last error stays on show"


def test_a_client_behind_an_open_circuit_sends_nothing(redis_url, clean_sandbox):
    config = CrmConfig(
        base_url=f"{clean_sandbox.url}/crm", login="sandbox", secret="sandbox-secret"
    )
    client = CrmClient(config, circuit=breaker(redis_url))
    clean_sandbox.fault("crm.events", status=503)
    failures = []
    while True:
        try:
            client.post_event({"name": "x"})
        except errors.CircuitOpen as error:
            opened = error
            break
        except errors.ServerError as error:
            failures.append(error)
    assert len(failures) == len(clean_sandbox.received("crm.events")) > 1
    assert 0 < opened.wait_ms <= 500 and opened.probe_ms == 500
    with pytest.raises(errors.CircuitOpen):
        client.post_event({"name": "x"})
    assert len(clean_sandbox.received("crm.events")) == len(failures), "nothing was sent"
    clean_sandbox.reset()
    time.sleep(opened.wait_ms / 1000)
    assert client.post_event({"name": "x"}) is not None, "the probe goes, and it worked"
    assert client.post_event({"name": "y"}) is not None, "closed: calls go again"


def test_a_4xx_or_429_is_the_platform_answering(redis_url, clean_sandbox):
    config = CrmConfig(base_url=f"{clean_sandbox.url}/crm", login="sandbox", secret="wrong")
    circuit = breaker(redis_url, CircuitConfig(failing_s=0.1, min_calls=1))
    client = CrmClient(config, circuit=circuit)
    for _ in range(20):
        with pytest.raises(errors.Unauthorized):
            client.post_event({"name": "x"})
        time.sleep(0.01)
    assert circuit.admit().go
