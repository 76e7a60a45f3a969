"""Relay benchmark: how fast the outbox relay moves messages from Redis to RabbitMQ.

    python -m bench.relay

Needs a RabbitMQ (``HOOKRELAY_TEST_RABBITMQ``, default the local one, guest/guest) and
starts an embedded Redis. For 5,000 messages of the size of an event message, side by
side in one run:

- **publish**: confirmed publishes straight to RabbitMQ, with no Redis (the ceiling);
- **relay, 1 thread**: :meth:`Relay.relay_once` from a Redis outbox, as one worker does;
- **relay, 3 threads**: three relays (three worker processes' worth) on one outbox.

It prints messages/s for each and the ratio to the ceiling.
"""

from __future__ import annotations

import threading
import time
import uuid

import redis
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerConnectionError

from tests.rabbitmq import RABBITMQ_URL, purge
from tests.support import temporary_redis
from workers.ops.doctor import without_password
from workers.queue.broker import SweepingRedisBroker
from workers.queue.relay import Relay

COUNT = 5000
EVENT = {"id": "x" * 36, "type": "event", "user": {"uid": "u" * 12}, "name": "purchase"}


def messages(queue: str) -> list[Message]:
    return [Message(queue, "crm_post_event", ({**EVENT, "seq": n},), {}, {}) for n in range(COUNT)]


def rabbit() -> RabbitmqBroker:
    return RabbitmqBroker(url=RABBITMQ_URL, confirm_delivery=True, middleware=[])


def publish_rate(queue: str) -> float:
    broker = rabbit()
    batch = messages(queue)
    started = time.perf_counter()
    for message in batch:
        broker.enqueue(message)
    elapsed = time.perf_counter() - started
    broker.close()
    return COUNT / elapsed


def relay_rate(redis_url: str, queue: str, threads: int) -> float:
    outbox = SweepingRedisBroker(client=redis.Redis.from_url(redis_url), middleware=[])
    outbox.declare_queue(queue)
    for message in messages(queue):
        outbox.enqueue(message)

    def drain() -> None:
        relay, broker = Relay(outbox, queues=(queue,)), rabbit()
        while relay.relay_once(broker):
            pass
        broker.close()

    workers = [threading.Thread(target=drain) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return COUNT / (time.perf_counter() - started)


def main() -> None:
    queue = f"bench-relay-{uuid.uuid4().hex[:8]}"
    admin = rabbit()
    try:
        purge(admin, (queue,))
    except BrokerConnectionError:
        print(f"RabbitMQ not reachable at {without_password(RABBITMQ_URL)}: relay bench skipped")
        return
    with temporary_redis("hr-bench-") as server:
        rows = [
            ("publish (no Redis)", publish_rate(queue)),
            ("relay, 1 thread", relay_rate(server.url, queue, 1)),
            ("relay, 3 threads", relay_rate(server.url, queue, 3)),
        ]
    for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
        admin.channel.queue_delete(name)
    admin.close()
    ceiling = rows[0][1]
    print(f"{COUNT:,} messages, confirmed publishes to {without_password(RABBITMQ_URL)}\n")
    print("| path | messages/s | vs publish |")
    print("|---|---:|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / ceiling:.2f} |")


if __name__ == "__main__":
    main()
