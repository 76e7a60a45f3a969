"""Each worker thread holds the writes nobody waits for (trace entries, the rate
limit's stamp, the circuit's record, the delivery count) while it works on a message,
so that they go with its next round trip to Redis (workers/core/roundtrip.py), and
sends what is left when it is done with the message, before it is acknowledged."""

from __future__ import annotations

from typing import Any

from dramatiq import Broker
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from workers.core import roundtrip


class HeldWrites(Middleware):
    """First in the broker's middleware: its ``before_`` hook runs before any other
    writes, its ``after_`` hooks after every other one's."""

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        roundtrip.flush()  # what an earlier message left, should its end have failed
        roundtrip.hold()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        roundtrip.flush()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        roundtrip.flush()
