"""Each worker thread holds the writes nobody waits for (trace entries, the rate
limit's stamp, the circuit's record, the delivery count) while it works on a message,
so that they go with its next round trip to Redis (workers/core/roundtrip.py). The
last of them go before the message is acknowledged: with the acknowledgement itself
on the Redis broker, whose dispatch script runs with the thread's held writes
(workers/queue/broker.py), just before it on RabbitMQ."""

from __future__ import annotations

from dramatiq import Broker
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from workers.core import roundtrip


class HeldWrites(Middleware):
    """First in the broker's middleware: its ``before_`` hook runs before any other
    writes, its ``after_`` hooks after every other one's. ``acks_carry``: the broker's
    acknowledgements take the held writes along (Dramatiq acknowledges in the worker
    thread, after every ``after_process_message`` hook)."""

    def __init__(self, *, acks_carry: bool) -> None:
        self.acks_carry = acks_carry

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        roundtrip.flush()  # what an earlier message left, should its end have failed
        roundtrip.hold()

    def before_ack(self, broker: Broker, message: MessageProxy) -> None:
        if not self.acks_carry:
            roundtrip.flush()

    def before_nack(self, broker: Broker, message: MessageProxy) -> None:
        self.before_ack(broker, message)

    def after_ack(self, broker: Broker, message: MessageProxy) -> None:
        roundtrip.flush()  # what the acknowledgement did not take (one left unacknowledged)

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        roundtrip.flush()
