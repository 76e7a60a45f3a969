"""Every way an inbound body can be refused names the event's index and the field."""

from __future__ import annotations

import copy

import pytest

from schemas.events import MAX_BATCH, BatchValidationError, load_batch

PROFILE = {
    "id": "evt-1",
    "type": "profile",
    "timestamp": "2026-11-23T10:00:00+03:00",
    "user": {"uid": "42", "email": "a@example.com", "phone": "+15550100", "wp_token": "t"},
    "fields": {"level": 7, "vip": True},
}
TRACK = {
    "id": "evt-2",
    "type": "event",
    "timestamp": "2026-11-23T10:00:00Z",
    "user": {"email": "a@example.com"},
    "name": "login_user",
    "payload": {"email": "a@example.com"},
}
CAMPAIGN = {
    "id": "evt-3",
    "type": "campaign_start",
    "timestamp": "2026-11-23T10:00:00Z",
    "campaign": {"platform": "crm", "kind": "mailing", "id": 9093},
}


def changed(event: dict, path: str, value) -> dict:
    """A copy of ``event`` with the dotted ``path`` set to ``value`` (or removed)."""
    event = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    if value is REMOVE:
        del target[last]
    else:
        target[last] = value
    return event


REMOVE = object()


def test_single_event_becomes_canonical():
    [event] = load_batch(PROFILE)
    assert event["timestamp"] == "2026-11-23T07:00:00Z"
    assert event["user"] == PROFILE["user"]
    assert event["fields"] == {"level": 7, "vip": True}


def test_batch_keeps_order_and_content():
    events = load_batch({"events": [PROFILE, TRACK]})
    assert [e["id"] for e in events] == ["evt-1", "evt-2"]
    assert events[1]["payload"] == {"email": "a@example.com"}


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        (changed(PROFILE, "id", REMOVE), "id", "Missing data for required field."),
        (changed(PROFILE, "id", ""), "id", "Length must be between 1 and 200."),
        (changed(PROFILE, "id", 5), "id", "Not a valid string."),
        (changed(PROFILE, "type", "purchase"), "type", "Must be one of:"),
        (changed(PROFILE, "type", REMOVE), "type", "Missing data for required field."),
        (changed(PROFILE, "timestamp", REMOVE), "timestamp", "Missing data for required field."),
        (changed(PROFILE, "timestamp", "2026-11-23T10:00:00"), "timestamp", 'add "Z"'),
        (changed(PROFILE, "timestamp", "yesterday"), "timestamp", "Not an ISO 8601 time"),
        (changed(PROFILE, "user", REMOVE), "user", "Missing data for required field."),
        (changed(PROFILE, "user", {}), "user._schema", "Needs at least one of"),
        (changed(PROFILE, "user.email", "not-an-email"), "user.email", "Not a valid email"),
        (changed(PROFILE, "user.phone", "call me"), "user.phone", "Not a valid phone"),
        (changed(PROFILE, "user.uid", ""), "user.uid", "Length must be between 1 and 256."),
        (changed(PROFILE, "user.uid", 4.2), "user.uid", "a string or a whole number"),
        (changed(PROFILE, "user.uid", True), "user.uid", "a string or a whole number"),
        (changed(PROFILE, "user.nickname", "x"), "user.nickname", "Unknown field."),
        (changed(PROFILE, "fields", [1]), "fields", "Not a valid mapping type."),
        (changed(PROFILE, "colour", "red"), "colour", "Unknown field."),
        (changed(TRACK, "name", REMOVE), "name", "Missing data for required field."),
        (changed(TRACK, "payload", "text"), "payload", "Not a valid mapping type."),
        (changed(TRACK, "user", REMOVE), "user", "Missing data for required field."),
        (changed(CAMPAIGN, "campaign.kind", "blast"), "campaign.kind", "Must be one of:"),
        (changed(CAMPAIGN, "campaign.platform", "x"), "campaign.platform", "Only crm campaigns"),
        (
            changed(CAMPAIGN, "campaign.platform", "pushwoosh"),
            "campaign.platform",
            "Only crm campaigns",
        ),
        (changed(CAMPAIGN, "campaign.id", "9093"), "campaign.id", "Not a valid integer."),
        ("just a string", "_schema", "must be a JSON object"),
    ],
)
def test_rejections_name_index_and_field(event, field, message):
    with pytest.raises(BatchValidationError) as caught:
        load_batch({"events": [TRACK, event]})
    errors = caught.value.errors
    assert set(errors) == {"1"}, "only the bad event's index is reported"
    found = errors["1"]
    for key in field.split("."):
        found = found[key]
    assert any(message in text for text in found), found


def test_numeric_ids_are_taken_as_their_digits():
    """SDKs send numeric user ids; the platform gets them as strings."""
    [event] = load_batch(changed(changed(PROFILE, "user.uid", 42), "user.phone", 79160000001))
    assert event["user"]["uid"] == "42"
    assert event["user"]["phone"] == "79160000001"


def test_a_bare_array_is_a_batch():
    """What ``hookrelay send FILE`` reads, the receiver takes too."""
    assert [e["id"] for e in load_batch([PROFILE, TRACK])] == ["evt-1", "evt-2"]
    with pytest.raises(BatchValidationError) as caught:
        load_batch([TRACK, changed(PROFILE, "id", REMOVE)])
    assert set(caught.value.errors) == {"1"}


def test_every_bad_event_is_reported_at_once():
    bad = changed(PROFILE, "id", REMOVE)
    with pytest.raises(BatchValidationError) as caught:
        load_batch({"events": [bad, PROFILE, bad]})
    assert set(caught.value.errors) == {"0", "2"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text", "or an array of events"),
        ([], f"between 1 and {MAX_BATCH}"),
        ({"events": []}, f"between 1 and {MAX_BATCH}"),
        ({"events": [PROFILE] * (MAX_BATCH + 1)}, f"between 1 and {MAX_BATCH}"),
        ({"events": PROFILE}, "Must be a list"),
        ({"events": [PROFILE], "extra": 1}, "Unknown field."),
    ],
)
def test_body_shape_errors(body, message):
    with pytest.raises(BatchValidationError) as caught:
        load_batch(body)
    texts = [text for messages in caught.value.errors["_schema"].values() for text in messages]
    assert any(message in text for text in texts), caught.value.errors


def test_full_batch_is_accepted():
    events = [changed(TRACK, "id", f"evt-{i}") for i in range(MAX_BATCH)]
    assert len(load_batch({"events": events})) == MAX_BATCH
