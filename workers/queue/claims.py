"""A message is delivered only once the replicas know this worker took it
(``REDIS_MIN_REPLICAS``).

A worker acknowledges a message on the primary after delivering it. When the primary
dies, every acknowledgement it had not yet sent to a replica is lost, and the promoted
replica hands those messages out again: without a check, everything delivered while
the replicas lagged (a held link, a slow replica) goes to the platform twice. So before
each message, :class:`ConfirmedClaims` writes the replication marker and waits
(``WAIT``) until the replicas have it, and with it every earlier acknowledgement and
this message's own fetch; while they do not, delivery waits, as intake does. A
failover can then double only the messages in flight at that moment.

It also asks, on the server it now talks to, whether this worker still holds the
message. A message fetched from a primary that has since died is not held on its
successor, which still has it queued and will hand it out again: this copy is skipped,
not delivered a second time, and marked :data:`LEAVE_UNACKED` so that it is not
acknowledged either. Its successor's copy, often fetched by this same worker within
milliseconds (the lost messages are at the head of the queue), has the same Redis id,
and acknowledging the skipped one would delete that copy's data before its fetch read
it.

Trade-off: one more round trip per message, a replica's confirmation, only with
``REDIS_MIN_REPLICAS`` set, and only for the Redis broker (RabbitMQ keeps its own
deliveries). ``bench/replicas.py`` measures it: 0.70-0.84 of the delivery rate without
it, with primary, replica, sandbox and workers sharing 2 cores. Confirming once per
fetch instead, in the consumer thread (with only the ``SISMEMBER`` per message), hides
the wait: 0.93-0.96 of the rate in the same bench. But the prefetched messages (twice
the threads) are then still delivered while the replicas lag, and the failover test
got 10-30 events twice instead of 0-8; with the prefetch cut to the threads to narrow
that, the gain was gone (0.75-0.89, 0-16 twice).
"""

from __future__ import annotations

import logging

import redis
from dramatiq import Broker
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, SkipMessage

from workers.core.background import FailureStreak
from workers.core.replication import MARKER, Replication
from workers.queue.layout import REDIS_ID

logger = logging.getLogger(__name__)

#: Set in a message's options to leave it unacknowledged, for another worker to be
#: given: its claim is another copy's (here), or its outcome could not be stored as
#: the worker stopped with Redis away (workers/queue/retry.py).
LEAVE_UNACKED = "leave_unacked"
#: Pause between tries while the replicas do not confirm (or Redis is away).
RETRY_S = 0.2


class ConfirmedClaims(Middleware):
    def __init__(self, client: redis.Redis, replication: Replication) -> None:
        self.client = client
        self.replication = replication
        #: One warning per process and outage, however many threads wait through it.
        self.streak = FailureStreak(
            logger, "Confirming claims with the replicas", expected=(redis.RedisError,)
        )

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        # Claims exist only on the Redis queues: ``broker`` is a SweepingRedisBroker.
        held = broker.held_key(message.queue_name)  # type: ignore[attr-defined]
        claim = message.options[REDIS_ID]
        still_held = self.streak.until_done(
            lambda: self.replication.pipelined(
                self.client, lambda pipe: pipe.sismember(held, claim).incr(MARKER)
            ),
            RETRY_S,
            retry_on=(redis.RedisError,),
        )
        if not still_held:
            logger.info(
                "Message %s was taken from a primary that is gone; its successor hands it "
                "out again.",
                message.message_id,
            )
            message.options[LEAVE_UNACKED] = True
            raise SkipMessage("claim lost with the old primary")
