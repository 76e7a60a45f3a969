"""When a failed delivery is retried, how long it waits, and when it is given up."""

from __future__ import annotations

import threading
import time

import dramatiq
import pytest

from workers.platforms import errors
from workers.queue.policy import GiveUp, Postponed, RetryLater, RetryPolicy

POLICY = RetryPolicy(min_backoff_ms=1000, max_backoff_ms=60_000, max_age_ms=3_600_000)
CONTEXT = {"platform": "crm", "method": "POST", "url": "http://x/"}


def retryable(retry_after=None):
    return errors.ServerError("boom", status=503, retry_after=retry_after, **CONTEXT)


@pytest.mark.parametrize("error_class", [errors.Rejected, errors.Unauthorized, errors.NotFound])
def test_permanent_errors_are_given_up_at_once(error_class):
    decision = POLICY.decide(attempts=1, age_ms=0, error=error_class("no", status=400, **CONTEXT))
    assert isinstance(decision, GiveUp)
    assert decision.reason.startswith("permanent: crm POST http://x/ -> 400")


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 500, 1000), (2, 1000, 2000), (3, 2000, 4000), (7, 30_000, 60_000), (30, 30_000, 60_000)],
)
def test_backoff_doubles_with_jitter_up_to_the_maximum(attempts, low, high):
    least = POLICY.decide(attempts=attempts, age_ms=0, error=retryable(), jitter=lambda: 0.0)
    most = POLICY.decide(attempts=attempts, age_ms=0, error=retryable(), jitter=lambda: 0.999)
    assert least == RetryLater(low)
    assert low <= most.delay_ms < high


def test_retry_after_is_a_floor():
    decision = POLICY.decide(
        attempts=1, age_ms=0, error=retryable(retry_after=30), jitter=lambda: 0
    )
    assert decision == RetryLater(30_000)


def test_unexpected_errors_are_retried_too():
    assert isinstance(POLICY.decide(attempts=1, age_ms=0, error=KeyError("x")), RetryLater)


def test_given_up_once_the_next_attempt_would_pass_the_maximum_age():
    decision = POLICY.decide(attempts=40, age_ms=3_590_000, error=retryable(), jitter=lambda: 0)
    assert isinstance(decision, GiveUp)
    assert "still failing after 40 attempts over 3590 s" in decision.reason


def test_a_postponed_message_waits_exactly_its_pause_until_the_maximum_age():
    wait = Postponed("its profile first", delay_ms=250)
    assert POLICY.decide(attempts=40, age_ms=10_000, error=wait) == RetryLater(250)
    given_up = POLICY.decide(attempts=1, age_ms=3_599_900, error=wait)
    assert isinstance(given_up, GiveUp) and "its profile first" in given_up.reason


def test_the_retry_is_stored_before_the_original_can_be_acknowledged(monkeypatch):
    import dramatiq
    import redis

    from workers.queue import retry

    monkeypatch.setattr(retry, "REDIS_RETRY_S", 0)
    attempts = []

    class Broker:
        def get_actor(self, name):
            raise dramatiq.errors.ActorNotFound(name)

        def enqueue(self, message, delay):
            attempts.append(delay)
            if len(attempts) < 3:
                raise redis.ConnectionError("Redis is restarting")

    message = dramatiq.Message(
        queue_name="crm",
        actor_name="a",
        args=({"id": "e"},),
        kwargs={},
        options={},
        message_timestamp=int(1e15),
    )
    policy = retry.DeliveryPolicy(POLICY, dead_letters=None)
    policy.after_process_message(Broker(), message, exception=retryable(retry_after=2))
    assert attempts == [2000, 2000, 2000], "kept trying until Redis took it"


def test_a_stopping_worker_leaves_a_message_it_cannot_store_for_another(monkeypatch):
    """Ctrl-C with Redis away: the outcome is not waited for; the original is left
    unacknowledged (on a broker that can), to come back to a worker."""
    import dramatiq
    import redis

    from workers.queue import retry
    from workers.queue.claims import LEAVE_UNACKED

    monkeypatch.setattr(retry, "REDIS_RETRY_S", 0.01)

    class RedisAway:
        stopping = threading.Event()

        def get_actor(self, name):
            raise dramatiq.errors.ActorNotFound(name)

        def enqueue(self, message, delay):
            raise redis.ConnectionError("Redis is gone")

    message = dramatiq.Message(
        queue_name="crm", actor_name="a", args=({"id": "e"},), kwargs={}, options={}
    )
    policy = retry.DeliveryPolicy(POLICY, dead_letters=None)
    RedisAway.stopping.set()  # the worker was asked to stop
    started = time.monotonic()
    policy.after_process_message(RedisAway(), message, exception=retryable())
    assert time.monotonic() - started < 1
    assert message.options[LEAVE_UNACKED] is True


def test_a_failed_attempt_has_a_traceback_only_when_the_actor_did_not_expect_it(caplog):
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from workers.queue import retry

    broker = StubBroker()
    enqueued = []
    broker.enqueue = lambda message, delay=None: enqueued.append(message)

    @dramatiq.actor(broker=broker, actor_name="calls_crm", throws=(errors.PlatformError,))
    def calls_crm():
        pass

    message = calls_crm.message().copy(message_timestamp=int(1e15))
    policy = retry.DeliveryPolicy(POLICY, dead_letters=None)
    with caplog.at_level("WARNING", logger="workers.queue.retry"):
        policy.after_process_message(broker, message, exception=retryable(retry_after=2))
        policy.after_process_message(broker, message, exception=KeyError("a bug"))
    expected, unexpected = caplog.records
    assert expected.exc_info is None, "a platform's answer needs no traceback"
    assert unexpected.exc_info[1].args == ("a bug",)
    assert len(enqueued) == 2, "both are retried"


def circuit_open(wait_ms=2_000, probe_ms=30_000):
    return errors.CircuitOpen(wait_ms=wait_ms, probe_ms=probe_ms, **CONTEXT)


def test_an_open_circuit_is_waited_out_however_old_the_message():
    decision = POLICY.decide(attempts=40, age_ms=10**9, error=circuit_open(), jitter=lambda: 0)
    assert decision == RetryLater(2_000), "never given up for an open circuit"


@pytest.mark.parametrize(
    ("paused_ms", "spread_ms"),
    [(0, 7_500), (30_000, 15_000), (120_000, 60_000), (10**8, 4 * 30_000)],
)
def test_a_paused_message_spreads_its_return_more_the_longer_it_waited(paused_ms, spread_ms):
    """A quarter of a probe interval at first (a short open costs little once it closes),
    half the time already paused after, four probe intervals at most."""
    decision = POLICY.decide(
        attempts=1, age_ms=0, error=circuit_open(), jitter=lambda: 0.999, paused_ms=paused_ms
    )
    assert 2_000 + 0.99 * spread_ms < decision.delay_ms < 2_000 + spread_ms


def test_a_pause_counts_no_attempt_and_its_time_is_not_age():
    from dramatiq.brokers.stub import StubBroker

    from workers.queue import retry

    broker = StubBroker()
    enqueued = []
    broker.enqueue = lambda message, delay=None: enqueued.append((message, delay))
    hour_ago = int(time.time() * 1000) - 3_600_000
    message = dramatiq_message(hour_ago, {"retries": 3, "paused_ms": 3_500_000})
    policy = retry.DeliveryPolicy(POLICY, dead_letters=None)
    policy.after_process_message(broker, message, exception=circuit_open())
    [(paused, delay)] = enqueued
    assert paused.options["retries"] == 3, "no attempt counted"
    assert paused.options["paused_ms"] == 3_500_000 + delay
    assert paused.options["waits"] == "paused", "the backlog counts it as paused"
    policy.after_process_message(broker, paused, exception=retryable())
    (retried, _) = enqueued[-1]
    assert retried.options["retries"] == 4, "an hour old, but only 100 s of it failing"
    assert retried.options["waits"] == "retrying"


def dramatiq_message(timestamp_ms: int, options: dict) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name="crm",
        actor_name="crm_post_event",
        args=({"id": "e"},),
        kwargs={},
        options=options,
        message_timestamp=timestamp_ms,
    )


def test_a_crowded_delivery_waits_a_second_or_two_and_counts_no_attempt():
    crowded = errors.Crowded(platform="crm", method="POST", url="http://x/", delay_ms=1000)
    early = POLICY.decide(attempts=1, age_ms=0, error=crowded, jitter=lambda: 0)
    late = POLICY.decide(attempts=1, age_ms=0, error=crowded, jitter=lambda: 0.999)
    assert early == RetryLater(1000) and 1990 < late.delay_ms < 2000
    assert isinstance(POLICY.decide(attempts=1, age_ms=3_600_000, error=crowded), GiveUp)
