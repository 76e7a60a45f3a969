"""Log lines: messages by actor and id, never by content; personal data and secrets
masked; JSON with the delivery's fields."""

from __future__ import annotations

import json
import logging

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workers.core import logs
from workers.core.logs import Masked, MessagesById, mask


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


def record(message: str, *args, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("workers.retry", logging.INFO, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to jane.doe+x@mail.example.co.uk now", "to [email] now"),
        ("phone +79161234567 or 79161234567", "phone [phone] or [phone]"),
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer [secret]"),
        ("token " + "f" * 64, "token [token]"),
        ("key crm-secret-1 leaked", "key [secret] leaked"),
    ],
)
def test_personal_data_and_secrets_are_masked(text, masked):
    assert mask(text, ["crm-secret-1"]) == masked


def test_ids_times_and_statuses_stay_readable():
    text = "crm_post_event event e-17 [8c3e2f1a-1b2c-4d5e-8f90-123456789abc] -> 503 at 2026-11-23"
    assert mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "crm_post_event event e-17 outcome retried at 1796166125253",
        "next fetch at 1796166125 (epoch seconds)",
        "accepted 2026-12-06T15:35:21.446+00:00, answered 2026-12-06 15:35:21,503",
        "retry due 15:35:21.5, after 120 s (Retry-After 120)",
        "message 550e8400-e29b-41d4-a716-446655440000 on stream entry 1796166125253-0",
        "redis at 127.0.0.1:6379 and 10.0.0.12:26379, sandbox on port 8100",
        "delivered 48213 events of batch b-17-5 in 1532 ms, attempt 3, status 503",
    ],
)
def test_times_ids_counts_and_durations_are_not_phones(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "+79161234567",
        "+7 916 123-45-67",
        "+7 (916) 123-45-67",
        "8 (916) 123-45-67",
        "79161234567",
        "+1 555 010 0199",
        "(415) 555-0199",
        "+44 20 7946 0958",
        "0049 30 1234567",
    ],
)
def test_phone_numbers_however_written_are_masked(phone):
    assert mask(f"refused {phone}, at 1796166125253") == "refused [phone], at 1796166125253"


@pytest.mark.parametrize(
    "text",
    [
        "message 550e8400-e29b-41d4-a716-446655440000 delivered",
        "script 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 was missing; loaded again",
    ],
)
def test_uuids_and_digests_are_not_taken_for_phones_or_tokens(text):
    assert mask(text) == text
    assert mask(f"{text} for +79161234567") == f"{text} for [phone]"


def test_every_json_field_is_masked_not_only_the_message():
    formatter = Masked(as_json=True, secrets=[])
    line = formatter.format(record("delivered", event_id="jane.doe@example.com", actor="a"))
    assert json.loads(line)["event_id"] == "[email]"
    line = formatter.format(record("delivered", event_id="tel-79161112233"))
    assert json.loads(line)["event_id"] == "tel-[phone]"


def test_json_lines_carry_the_delivery_fields_and_mask_the_message():
    formatter = Masked(as_json=True, secrets=["s3cret-key"])
    line = formatter.format(
        record("%s rejected with s3cret-key", "a@b.example", event_id="e1", attempt=2, status=400)
    )
    entry = json.loads(line)
    assert entry["message"] == "[email] rejected with [secret]"
    assert (entry["event_id"], entry["attempt"], entry["status"]) == ("e1", 2, 400)
    assert entry["level"] == "info"


def test_text_lines_are_masked_too():
    line = Masked(as_json=False, secrets=[]).format(record("sent to %s", "a@b.example"))
    assert line.endswith("workers.retry: sent to [email]")


#: Text built of what the patterns look for: digits and their separators, ``@``, token
#: characters, the credential words, a UUID, a date, a secret; in any order.
_PIECES = st.sampled_from(
    [
        *"0123456789 +().-_:/#@aZ",
        "1234",
        "+7 916",
        "Bearer ",
        "basic ",
        "example.com",
        "550e8400-e29b-41d4-a716-446655440000",
        "2026-12-07T10:00:00Z",
        "s3cret-key",
        "x" * 39,
    ]
)


@settings(max_examples=500)
@given(st.lists(_PIECES, max_size=30).map("".join))
@example("+1234567")  # each pattern's least match: a phone after a +,
@example("at 123456789")  # a bare one,
@example("a@b.c")  # an address,
@example("basic x")  # a credential,
@example("x" * 40)  # a token
def test_a_text_left_as_it_is_is_one_the_patterns_leave_as_it_is(text):
    assert mask(text, ["s3cret-key"]) == logs._masked(text, ["s3cret-key"])


def consumer_record(msg: str, queue: str = "crm") -> logging.LogRecord:
    name = f"dramatiq.worker.ConsumerThread({queue})"
    return logging.LogRecord(name, logging.CRITICAL, __file__, 1, msg, ("boom",), None)


def test_a_broker_outage_is_one_line_from_all_consumer_threads():
    now = [0.0]
    outages = logs.ConsumerOutages(quiet_s=10, clock=lambda: now[0])
    error = "Consumer encountered a connection error: %s"
    passed = []
    for second in range(0, 30, 3):  # a 30 s outage: every thread fails every 3 s
        now[0] = second
        for queue in ("crm", "crm.DQ", "stats", "stats.DQ"):
            for msg in (error, "Restarting consumer in %0.2f seconds."):
                record = consumer_record(msg, queue)
                if outages.filter(record):
                    passed.append(record.getMessage())
    assert len(passed) == 1 and passed[0].startswith("Consumer encountered a connection error")

    now[0] = 60.0  # the next outage, after a quiet spell, is told again
    assert outages.filter(consumer_record(error))
    unexpected = consumer_record("Consumer encountered an unexpected error.")
    assert outages.filter(unexpected), "other errors always pass"
    assert outages.filter(logging.LogRecord("other", 40, __file__, 1, error, ("x",), None))


def test_installing_twice_leaves_one_filter_of_each_kind(monkeypatch):
    root = logging.getLogger()
    handler = logging.StreamHandler()
    monkeypatch.setattr(root, "handlers", [handler])
    for _ in range(2):
        logs.install(log_format="json", level=logging.INFO, secrets=[])
    kinds = [type(f) for f in handler.filters]
    assert kinds.count(logs.ConsumerOutages) == 1 and kinds.count(logs.MessagesById) == 1
