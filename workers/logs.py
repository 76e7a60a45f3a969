"""Keep event contents out of the worker's logs.

Dramatiq logs a message as ``actor(args...)``, which for hookrelay is a whole event
with its emails, phones and tokens. :class:`MessagesById` rewrites any message in a
log record's arguments as ``actor[message_id]``, which is enough to find it.
"""

from __future__ import annotations

import logging

from dramatiq import Message
from dramatiq.broker import MessageProxy


class MessagesById(logging.Filter):
    """Render Dramatiq messages in log records by actor and id only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_by_id(arg) for arg in record.args)
        return True


def _by_id(arg: object) -> object:
    if isinstance(arg, Message | MessageProxy):
        return f"{arg.actor_name}[{arg.message_id}]"
    return arg


def install() -> None:
    """Attach the filter to every handler of the root logger (the worker's output)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(MessagesById())
