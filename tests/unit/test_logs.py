"""Messages appear in worker logs by actor and id, never by content."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.broker import MessageProxy

from workers.logs import MessagesById


def test_messages_are_logged_by_id():
    message = dramatiq.Message(
        queue_name="crm",
        actor_name="crm_post_event",
        args=({"user": {"email": "a@example.com"}},),
        kwargs={},
        options={},
    )
    record = logging.LogRecord(
        "dramatiq.worker",
        logging.ERROR,
        __file__,
        1,
        "Failed to process message %s with %s.",
        (MessageProxy(message), "Rejected"),
        None,
    )
    assert MessagesById().filter(record)
    text = record.getMessage()
    assert text == f"Failed to process message crm_post_event[{message.message_id}] with Rejected."
    assert "a@example.com" not in text
