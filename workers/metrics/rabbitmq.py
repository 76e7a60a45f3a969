"""RabbitMQ's queue depths, for ``/metrics``, ``/status`` and ``doctor`` when it is the
broker. Only imported where it is (the one module of ours that ``web`` needs pika for)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import pika
import pika.exceptions

from workers.metrics.backlog import BrokerUnavailable


class RabbitmqDepths:
    """Messages waiting in RabbitMQ's queues, read by a passive declare, which neither
    creates a queue nor touches its messages. RabbitMQ tells no message's age.

    Each read opens and closes its own connection: reads come once per scrape or page
    view, and a connection kept idle in between would need heartbeats serviced.
    """

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        self._parameters = pika.URLParameters(url)
        self._parameters.socket_timeout = timeout_s
        self._parameters.connection_attempts = 1

    def read(self, names: Iterable[str]) -> dict[str, int]:
        """Depth per queue name; a queue not declared yet counts 0. Raises
        :class:`~workers.metrics.backlog.BrokerUnavailable` (caused by pika's error) if
        RabbitMQ does not answer."""
        try:
            return self._read(names)
        except pika.exceptions.AMQPError as error:
            raise BrokerUnavailable(str(error) or type(error).__name__) from error

    def _read(self, names: Iterable[str]) -> dict[str, int]:
        connection = pika.BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            depths = {}
            for name in names:
                try:
                    depths[name] = channel.queue_declare(name, passive=True).method.message_count
                except pika.exceptions.ChannelClosedByBroker:
                    depths[name] = 0
                    channel = connection.channel()
            return depths
        finally:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
