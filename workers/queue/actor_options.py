"""What hookrelay's actors declare beside Dramatiq's own options, read by the delivery
policy (workers/queue/retry.py), which declares them to the broker:

- ``throws``: the exceptions the actor expects (a platform's answer, a postponement),
  logged without a traceback, as Dramatiq's ``Retries`` would;
- ``platform``: the platform the actor calls, for metrics and log lines, or a function
  of the message's arguments that tells it;
- ``dead_letter_as``: a function of the message and its error, called when it is
  given up, that lets go of what the message held and returns the message to keep as
  the dead letter (what its replay should send).
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq import Broker
from dramatiq.broker import MessageProxy
from dramatiq.errors import ActorNotFound

from workers.queue.layout import AnyMessage

logger = logging.getLogger(__name__)

NAMES = ("throws", "platform", "dead_letter_as")


def dead_letter_as(
    broker: Broker, message: MessageProxy, exception: BaseException, subject: str
) -> AnyMessage:
    """What the actor's ``dead_letter_as`` makes of ``message``, or ``message`` itself
    (without one, or when it fails: the letter is kept as it came, its replay retries)."""
    hook = _option(broker, message, "dead_letter_as")
    if hook is None:
        return message
    try:
        return hook(message, exception)
    except Exception:
        logger.exception("Letting go of what %s held", subject)
        return message


def expected(broker: Broker, message: MessageProxy, exception: BaseException) -> bool:
    """Whether ``exception`` is one the actor declares it ``throws`` (a platform's
    answer, a postponement), which needs no traceback."""
    throws = _option(broker, message, "throws")
    return bool(throws) and isinstance(exception, throws)


def platform_of(broker: Broker, message: AnyMessage) -> str:
    """The platform ``message``'s actor calls, from its ``platform`` option."""
    platform = _option(broker, message, "platform", "unknown")
    return platform(message.args) if callable(platform) else platform


def _option(broker: Broker, message: AnyMessage, name: str, default: Any = None) -> Any:
    """Option ``name`` of ``message``'s actor, or ``default`` (also for an actor this
    broker does not know)."""
    try:
        return broker.get_actor(message.actor_name).options.get(name, default)
    except ActorNotFound:
        return default
