"""``GET /metrics``: counters of what the receiver did, and the backlog read from Redis."""

from __future__ import annotations

import re

import redis
from dramatiq import Message
from prometheus_client.parser import text_string_to_metric_families

from webhook.app import create_app
from workers.campaigns.schema import upgrade
from workers.campaigns.store import Store
from workers.queue.broker import SweepingRedisBroker
from workers.queue.deadletters import DeadLetterQueue
from workers.queue.layout import NAMESPACE
from workers.queue.routes import QUEUES
from workers.ratelimit.limiter import platform_limiter

from ..conftest import make_settings
from ..rabbitmq import RABBITMQ_URL, purge, rabbitmq_or_skip
from ..support import free_port
from ..workers.test_cli import letters_to_select
from ..workers.test_deadletters import failed_message, rejected
from .test_events import AUTH, profile, track


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def events(samples, event_type: str, outcome: str) -> float:
    key = ("hookrelay_events_total", (("outcome", outcome), ("type", event_type)))
    return samples.get(key, 0.0)


def test_events_are_counted_by_type_and_outcome(client):
    before = scrape(client)
    batch = {"events": [track("m1"), track("m2"), profile("m3")]}
    assert client.post("/v1/events", json=batch, headers=AUTH).status_code == 202
    assert client.post("/v1/events", json=track("m1"), headers=AUTH).status_code == 202
    bad = {"events": [track("m4"), {"type": "event", "id": ""}, {"type": "nonsense"}]}
    assert client.post("/v1/events", json=bad, headers=AUTH).status_code == 422
    after = scrape(client)

    def delta(event_type, outcome):
        return events(after, event_type, outcome) - events(before, event_type, outcome)

    assert delta("event", "accepted") == 2
    assert delta("profile", "accepted") == 1
    assert delta("event", "duplicate") == 1
    assert delta("event", "rejected") == 2
    assert delta("unknown", "rejected") == 1


def test_backlog_gauges_read_redis(client, redis_url, settings):
    client.post("/v1/events", json={"events": [track("q1"), track("q2")]}, headers=AUTH)
    dlq = DeadLetterQueue(redis.Redis.from_url(redis_url))
    dlq.add(failed_message("d1"), reason="permanent: 400", error=rejected(), attempts=1)
    limiter = platform_limiter(redis.Redis.from_url(redis_url), settings, "crm")
    limiter.slow_down()

    samples = scrape(client)
    assert samples[("hookrelay_queue_depth", (("queue", "crm"),))] == 2
    assert samples[("hookrelay_queue_depth", (("queue", "stats.DQ"),))] == 0
    assert samples[("hookrelay_queue_oldest_age_seconds", (("queue", "crm"),))] >= 0
    assert samples[("hookrelay_dead_letters", ())] == 1
    assert samples[("hookrelay_rate_limit_current", (("platform", "crm"),))] == (
        settings.rate_limits["crm"] / 2
    )
    assert (
        samples[("hookrelay_rate_limit_ceiling", (("platform", "crm"),))]
        == (settings.rate_limits["crm"])
    )
    assert samples[("hookrelay_backlog_up", ())] == 1


def app_on(redis_url: str, broker_url: str, directory):
    """The receiver with ``broker_url`` as BROKER_URL, on a store of its own."""
    database_url = f"sqlite:///{directory / 'stats.db'}"
    upgrade(Store(database_url))
    settings = make_settings(redis_url, BROKER_URL=broker_url, DATABASE_URL=database_url)
    return create_app(settings).test_client()


def test_with_rabbitmq_depths_come_from_it_and_redis_queues_are_the_outbox(redis_url, tmp_path):
    rabbit = rabbitmq_or_skip()
    purge(rabbit, QUEUES)
    for n in range(3):
        rabbit.enqueue(Message("crm", "crm_post_event", (n,), {}, {}))
    client = app_on(redis_url, RABBITMQ_URL, tmp_path)
    client.post("/v1/events", json={"events": [track("o1")]}, headers=AUTH)

    samples = scrape(client)
    assert samples[("hookrelay_queue_depth", (("queue", "crm"),))] == 3
    assert samples[("hookrelay_queue_depth", (("queue", "outbox.crm"),))] == 1
    assert samples[("hookrelay_queue_oldest_age_seconds", (("queue", "outbox.crm"),))] >= 0
    assert ("hookrelay_queue_oldest_age_seconds", (("queue", "crm"),)) not in samples
    assert samples[("hookrelay_broker_up", ())] == 1
    page = client.get("/status", headers=AUTH).get_data(as_text=True)
    assert 'data-queue="outbox.crm"' in page and 'data-queue="crm"' in page
    assert "RabbitMQ did not answer" not in page
    purge(rabbit, QUEUES)
    rabbit.close()


def test_an_unreachable_rabbitmq_leaves_the_redis_gauges(redis_url, tmp_path):
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    client = app_on(redis_url, nowhere, tmp_path)
    client.post("/v1/events", json={"events": [track("o2")]}, headers=AUTH)

    samples = scrape(client)
    assert samples[("hookrelay_broker_up", ())] == 0
    assert samples[("hookrelay_queue_depth", (("queue", "outbox.crm"),))] == 1
    assert ("hookrelay_queue_depth", (("queue", "crm"),)) not in samples
    assert samples[("hookrelay_backlog_up", ())] == 1
    page = client.get("/status", headers=AUTH)
    assert page.status_code == 200
    assert "RabbitMQ did not answer" in page.get_data(as_text=True)


def test_messages_are_counted_where_they_are_not_only_in_queues(client, redis_url):
    """A platform's outage leaves retries in the delay consumers' hands (workers'
    acknowledgement sets): counted as delayed, not as nothing."""
    client.post("/v1/events", json={"events": [track(f"s{n}") for n in range(4)]}, headers=AUTH)
    broker = SweepingRedisBroker(
        client=redis.Redis.from_url(redis_url), namespace=NAMESPACE, middleware=[]
    )
    broker.declare_queue("crm")
    consumer = broker.consume("crm", prefetch=2)
    taken = [next(consumer), next(consumer)]
    broker.enqueue(taken[0].copy(options={"retries": 1}), delay=60_000)
    consumer.ack(taken[0])
    # A worker's delay consumer fetches it at once and holds it until it is due.
    assert next(broker.consume("crm.DQ", prefetch=1)).options["retries"] == 1
    broker.sweep()  # the heartbeat that names the worker

    samples = scrape(client)

    def state(name):
        return samples[("hookrelay_messages", (("state", name),))]

    assert (state("waiting"), state("in_flight"), state("delayed")) == (2, 1, 1)
    assert (state("retrying"), state("paused")) == (0, 0), "not delayed by the policy"
    assert samples[("hookrelay_queue_depth", (("queue", "crm.DQ"),))] == 0, "the old view"
    page = client.get("/status", headers=AUTH).get_data(as_text=True)
    assert '<td class="n" data-state="delayed">1</td>' in page
    assert '<td class="n" data-state="in_flight">1</td>' in page


def test_retrying_and_paused_messages_are_told_from_other_delayed_ones(client, redis_url):
    """What the delivery policy delayed says why (its ``waits`` option), wherever it
    waits: a delay queue, a delay consumer's hands, or the due set."""
    client.post("/v1/events", json={"events": [track(f"w{n}") for n in range(4)]}, headers=AUTH)
    broker = SweepingRedisBroker(
        client=redis.Redis.from_url(redis_url), namespace=NAMESPACE, middleware=[]
    )
    broker.declare_queue("crm")
    consumer = broker.consume("crm", prefetch=4)
    taken = [next(consumer) for _ in range(4)]
    delays = [("retrying", 60_000), ("retrying", 10**9), ("paused", 60_000), (None, 60_000)]
    for message, (waits, delay) in zip(taken, delays, strict=True):
        options = {"retries": 1} if waits is None else {"retries": 1, "waits": waits}
        broker.enqueue(message.copy(options=options), delay=delay)
        consumer.ack(message)
    broker.sweep()

    samples = scrape(client)

    def state(name):
        return samples[("hookrelay_messages", (("state", name),))]

    assert (state("retrying"), state("paused"), state("delayed")) == (2, 1, 1)
    assert samples[("hookrelay_queue_depth", (("queue", "delayed-later"),))] == 1, "due set"
    page = client.get("/status", headers=AUTH).get_data(as_text=True)
    assert '<td class="n" data-state="retrying">2</td>' in page


def test_the_status_page_groups_dead_letters_by_reason_with_their_ids(client, redis_url):
    letters = letters_to_select(redis_url)
    again = DeadLetterQueue(redis.Redis.from_url(redis_url)).add(
        failed_message("s5"), reason="retries ran out after 24 h", error=rejected(), attempts=9
    )
    page = client.get("/status", headers=AUTH).get_data(as_text=True)
    groups = re.findall(GROUP_ROW, page)
    assert [(reason, int(count)) for reason, count, _ in groups] == [
        ("retries ran out after 24 h", 2),
        ("poison value", 1),
        ("permanent: Bad Email", 1),
        ("permanent: bad email", 1),
    ]
    assert re.findall(r"<code>([^<]+)</code>", groups[0][2]) == [again.id, letters[1].id]


GROUP_ROW = re.compile(
    r'<td class="reason">([^<]*)</td><td class="n count">(\d+)</td>\s*'
    r'<td class="ids">(.*?)</td>'
)
