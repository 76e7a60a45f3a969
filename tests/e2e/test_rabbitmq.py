"""The Procfile's processes with RabbitMQ as the broker (``BROKER_URL=amqp://…``): the
receiver writes to Redis as always, each worker relays to RabbitMQ and consumes from
it. A worker killed mid-run and RabbitMQ cut off for a while lose nothing; retries and
the follow-up schedule's delayed fetches go through RabbitMQ's delay queues."""

from __future__ import annotations

import time

import pytest

from workers.queue.routes import QUEUES

from ..rabbitmq import RABBITMQ_URL, private_rabbitmq, proxy_to, purge, rabbitmq_or_skip
from ..support import wait_for
from .stack import running_stack
from .test_campaigns import start_event
from .test_procfile_stack import event_seqs, profile_event, track_event


def delivered_profiles(sandbox) -> set[str]:
    return {h["uid"] for r in sandbox.accepted("crm.users_batch") for h in r["body"]}


@pytest.fixture
def empty_rabbitmq():
    """The shared RabbitMQ with hookrelay's queues emptied, or skip."""
    rabbit = rabbitmq_or_skip()
    purge(rabbit, QUEUES)
    rabbit.close()


@pytest.mark.usefixtures("empty_rabbitmq")
def test_a_killed_worker_and_a_broker_outage_lose_nothing(tmp_path):
    total = 400
    events = [track_event(i, "mq") for i in range(total)]
    profiles = [profile_event(i, "mq") for i in range(total)]
    with (
        proxy_to(RABBITMQ_URL) as proxy,
        running_stack(
            tmp_path, workers=2, BROKER_URL=proxy.url_for(RABBITMQ_URL), FOLLOWUP_SCHEDULE="1,2"
        ) as stack,
    ):
        sandbox = stack.sandbox
        sandbox.fault("crm.events", status=503, ratio=0.2, delay_s=0.02)
        for start in range(0, total // 2, 50):
            stack.post(events[start : start + 50] + profiles[start : start + 50])
        stack.post([start_event("mq-start")])
        wait_for(lambda: len(event_seqs(sandbox)) >= 40, timeout_s=60)

        stack.workers[0].kill()
        proxy.cut()
        for start in range(total // 2, total, 50):
            stack.post(events[start : start + 50] + profiles[start : start + 50])
        time.sleep(2)
        cut_off = len(event_seqs(sandbox))
        proxy.restore()
        stack.workers[0] = stack.start_worker()

        wait_for(lambda: len(event_seqs(sandbox)) == total, timeout_s=120, interval_s=0.5)
        wait_for(lambda: len(delivered_profiles(sandbox)) == total, timeout_s=30)
        wait_for(lambda: len(sandbox.accepted("crm.reports")) >= 2, timeout_s=60)

        seqs = event_seqs(sandbox)
        assert set(seqs) == set(range(total))
        assert len(sandbox.accepted("crm.campaign_action")) == 1
        assert any(r["status"] == 503 for r in sandbox.received("crm.events")), "retries ran"
        assert "Relay to the broker paused" in stack.workers[1].log()
        redelivered = sum(count - 1 for count in seqs.values())
        print(
            f"\nRabbitMQ: {cut_off}/{total} delivered when the outage ended; "
            f"{redelivered} delivered twice (kill -9 and the cut)"
        )


@pytest.mark.usefixtures("empty_rabbitmq")
def test_workers_started_while_rabbitmq_is_down_deliver_once_it_answers(tmp_path):
    with proxy_to(RABBITMQ_URL) as proxy:
        proxy.cut()
        with running_stack(tmp_path, BROKER_URL=proxy.url_for(RABBITMQ_URL)) as stack:
            stack.post([track_event(i, "boot") for i in range(50)])
            time.sleep(3)
            assert stack.workers[0].process.poll() is None, "the worker waits for RabbitMQ"
            assert not event_seqs(stack.sandbox)
            proxy.restore()
            wait_for(lambda: len(event_seqs(stack.sandbox)) == 50, timeout_s=60)
            assert set(event_seqs(stack.sandbox).values()) == {1}


def test_a_long_delay_never_waits_in_a_rabbitmq_consumer(tmp_path):
    """A follow-up step 10 s away, on a RabbitMQ that closes a consumer holding a delivery
    for 4 s: the step waits in Redis's due set (horizon 1 s), so no consumer is closed,
    and it is fetched once, on time."""
    step_s = 10
    with (
        private_rabbitmq(consumer_timeout_ms=4000) as url,
        running_stack(
            tmp_path,
            BROKER_URL=url,
            FOLLOWUP_SCHEDULE=str(step_s),
            HOOKRELAY_DELAY_HORIZON_S="1",
        ) as stack,
    ):
        started = time.monotonic()
        stack.post([start_event("mq-long")])
        wait_for(lambda: stack.sandbox.accepted("crm.reports"), timeout_s=60, interval_s=0.5)
        assert time.monotonic() - started > step_s - 1, "not fetched before it was due"
        time.sleep(2)
        assert len(stack.sandbox.accepted("crm.reports")) == 1
        assert "PRECONDITION_FAILED" not in stack.workers[0].log()
