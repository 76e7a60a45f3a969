"""Inbound events: the body of ``POST /v1/events``.

A body is one event object, or ``{"events": [...]}`` (or the bare array) with up to
:data:`MAX_BATCH` events. :func:`load_batch` validates all of them and either returns every event in
canonical form or raises :class:`BatchValidationError` whose ``errors`` map each bad
event's index to its field errors — a batch is all or nothing.

Canonical form is a plain JSON-able dict (it travels inside a Dramatiq message): the
timestamp becomes an ISO-8601 string in UTC and absent optional keys are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    post_load,
    validate,
    validates_schema,
)
from marshmallow.types import ErrorMessages

from schemas.fast import fast_event, stored_time
from schemas.limits import (
    EARLIEST_EVENT,
    EMAIL_MAX,
    FIELD_NAME_LENGTH,
    ID_LENGTH,
    IDENTIFIERS,
    MAX_AHEAD,
    NAME_LENGTH,
    PHONE_PATTERN,
    UID_LENGTH,
    WP_TOKEN_LENGTH,
)
from schemas.values import unsendable

MAX_BATCH = 1000
EVENT_TYPES = ("profile", "event", "campaign_start")
#: The most segments one start generates.
MAX_START_SEGMENTS = 20
PLATFORMS = ("crm", "pushwoosh", "altcraft")
CAMPAIGN_KINDS = ("mailing", "ab", "automated")
#: What the API and the CLI may tell a campaign to do; a start comes only from a
#: ``campaign_start`` event.
CONTROL_ACTIONS = ("pause", "resume", "archive")
#: Platforms whose campaigns hookrelay can start (the others only report statistics).
STARTABLE_PLATFORMS = ("crm",)
#: Campaign ids are stored as 64-bit integers.
MAX_CAMPAIGN_ID = 2**63 - 1
#: What ``user`` is, wherever it appears.
WHO = (
    "Who: at least one of uid, email, phone, wp_token. Updates sharing any of them are one profile."
)


class BatchValidationError(Exception):
    """Some events of a body are invalid; ``errors`` is ``{index: {field: [msg]}}``."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("invalid events")
        self.errors = errors


class NumberOrString(ma.fields.String):
    """A string, or a whole JSON number taken as its decimal digits: SDKs send numeric
    user ids (``"uid": 42`` is ``"42"``). ``true`` and ``4.2`` are still refused."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012 (as marshmallow declares it)
        "invalid": "Must be a string or a whole number."
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class UserSchema(Schema):
    class Meta:
        unknown = RAISE

    uid = NumberOrString(
        validate=validate.Length(*UID_LENGTH),
        metadata={"description": "The app's user id (a whole number is taken as its digits)."},
    )
    email = ma.fields.Email(validate=validate.Length(max=EMAIL_MAX))
    phone = NumberOrString(
        validate=validate.Regexp(PHONE_PATTERN, error="Not a valid phone number."),
        metadata={
            "description": "5 to 20 digits, an optional leading +.",
            "example": "+79160000001",
        },
    )
    wp_token = ma.fields.String(
        validate=validate.Length(*WP_TOKEN_LENGTH), metadata={"description": "A push token."}
    )

    @validates_schema
    def _needs_an_identifier(self, data: dict, **kwargs: Any) -> None:
        if not any(data.get(key) for key in IDENTIFIERS):
            raise ValidationError(f"Needs at least one of: {', '.join(IDENTIFIERS)}.")


class CampaignSchema(Schema):
    class Meta:
        unknown = RAISE

    platform = ma.fields.String(
        required=True,
        validate=validate.OneOf(
            STARTABLE_PLATFORMS,
            error="Only crm campaigns can be started; Pushwoosh and Altcraft statistics "
            "are followed for them (pushwoosh_message_code, post-send hooks).",
        ),
    )
    kind = ma.fields.String(
        required=True,
        validate=validate.OneOf(CAMPAIGN_KINDS),
        metadata={"description": "Which path starts it: mailings, ab-mailings, auto-mailings."},
    )
    id = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_CAMPAIGN_ID),
        metadata={"description": "The campaign's id at the platform."},
    )
    pushwoosh_message_code = ma.fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "Pushwoosh's message code, to follow its statistics too."},
    )


class EventTime(ma.fields.AwareDateTime):
    """An event time with an offset, between :data:`EARLIEST_EVENT` and
    :data:`MAX_AHEAD` past the receiver's clock: a far-future time would outrank every
    later update of the profile, and one past 9999 cannot even be converted to UTC."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012 (as marshmallow declares it)
        "invalid_awareness": 'Has no offset: add "Z" (UTC) or an offset such as "+02:00" '
        "(2026-11-23T10:00:00Z).",
        "invalid": "Not an ISO 8601 time such as 2026-11-23T10:00:00Z.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        latest = datetime.now(UTC) + MAX_AHEAD
        if not EARLIEST_EVENT <= moment <= latest:
            raise ValidationError(
                f"Must be between {EARLIEST_EVENT:%Y-%m-%dT%H:%M:%SZ} and "
                f"{MAX_AHEAD.days * 24} h after now ({latest:%Y-%m-%dT%H:%M:%SZ})."
            )
        return moment


class _EventSchema(Schema):
    """Fields every event has; subclasses add what their type needs."""

    class Meta:
        unknown = RAISE

    id = ma.fields.String(
        required=True,
        validate=validate.Length(*ID_LENGTH),
        metadata={
            "description": "The idempotency key: an id seen in the last 24 h is answered as "
            "a duplicate and not sent again."
        },
    )
    type = ma.fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    timestamp = EventTime(
        required=True,
        metadata={
            "description": "When it happened: ISO 8601 with an offset (Z or +02:00), from "
            "2000-01-01 to 24 h after the receiver's clock. A profile's newest update wins.",
            "example": "2026-11-23T10:00:00Z",
        },
    )

    @post_load
    def _canonical(self, data: dict, **kwargs: Any) -> dict:
        data["timestamp"] = stored_time(data["timestamp"])
        return data


def _type(name: str) -> ma.fields.String:
    """A subclass's ``type``: its own name only (so the OpenAPI document says so)."""
    return ma.fields.String(required=True, validate=validate.OneOf((name,)))


class ProfileEventSchema(_EventSchema):
    type = _type("profile")
    user = ma.fields.Nested(UserSchema, required=True, metadata={"description": WHO})
    unsubscribe = ma.fields.Boolean(
        truthy={True},
        falsy={False},
        metadata={"description": "true puts every identifier of user on the suppression list."},
    )
    # marshmallow takes declared fields off the class: this one does not shadow Schema.fields.
    fields = ma.fields.Dict(  # type: ignore[assignment]
        keys=ma.fields.String(validate=validate.Length(*FIELD_NAME_LENGTH)),
        metadata={
            "description": "The profile's fields, as the platform names them; only those "
            "whose value it has not acknowledged yet are sent."
        },
    )


class TrackEventSchema(_EventSchema):
    type = _type("event")
    user = ma.fields.Nested(UserSchema, required=True, metadata={"description": WHO})
    name = ma.fields.String(
        required=True,
        validate=validate.Length(*NAME_LENGTH),
        metadata={"description": "The event's name at the platform."},
    )
    payload = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={
            "description": "Sent as the event's payload, with the user's identifiers added "
            "where it has none of its own."
        },
    )


class CampaignStartEventSchema(_EventSchema):
    type = _type("campaign_start")
    campaign = ma.fields.Nested(
        CampaignSchema,
        required=True,
        metadata={"description": "The campaign to start, once however often this is sent."},
    )
    segments = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_CAMPAIGN_ID)),
        validate=validate.Length(max=MAX_START_SEGMENTS),
        metadata={
            "description": "Segments to generate before the start, after every profile "
            "update accepted before it."
        },
    )


class _UnknownTypeSchema(_EventSchema):
    """Reports the common fields' errors when ``type`` names no known schema."""

    class Meta:
        unknown = EXCLUDE


_SCHEMAS: dict[str, Schema] = {
    "profile": ProfileEventSchema(),
    "event": TrackEventSchema(),
    "campaign_start": CampaignStartEventSchema(),
}
_UNKNOWN_TYPE = _UnknownTypeSchema()


def load_event(data: Any) -> dict:
    """Validate one event; raise :class:`marshmallow.ValidationError` naming each field.

    The common case takes the fast path (schemas/fast.py), which answers only where
    the schema would answer the same; everything else goes through the schema."""
    fast = fast_event(data)
    if fast is not None:
        return fast
    return load_by_schema(data)


def load_by_schema(data: Any) -> dict:
    """:func:`load_event` through the marshmallow schemas alone."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["Each event must be a JSON object."]})
    event_type = data.get("type")
    schema = _SCHEMAS.get(event_type) if isinstance(event_type, str) else None
    if schema is None:
        _UNKNOWN_TYPE.load(data)
        raise ValidationError({"type": [f"Must be one of: {', '.join(EVENT_TYPES)}."]})
    return schema.load(data)


def load_batch(body: Any, *, check_values: bool = True) -> list[dict]:
    """Validate a request body (one event, ``{"events": [...]}`` or an array); all or
    nothing.

    ``check_values``: also look for values no platform can be sent
    (:mod:`schemas.values`); a caller that knows the body holds none may skip it.
    """
    items = _unwrap(body)
    events, errors = [], {}
    for index, item in enumerate(items):
        try:
            events.append(load_checked(item, check_values=check_values))
        except ValidationError as error:
            errors[str(index)] = error.messages
    if errors:
        raise BatchValidationError(errors)
    return events


def load_checked(item: Any, *, check_values: bool) -> dict:
    """:func:`load_event`, and with ``check_values`` the values no platform can be sent
    (:mod:`schemas.values`) refused as well, in the same :class:`ValidationError`."""
    found = unsendable(item) if check_values else {}
    try:
        event = load_event(item)
    except ValidationError as error:
        if found:
            raise ValidationError(_merged(error.messages, found)) from None
        raise
    if found:
        raise ValidationError(found)
    return event


def _merged(messages: Any, found: dict[str, Any]) -> dict[str, Any]:
    """marshmallow's messages for one event with the unsendable values' errors added."""
    merged = dict(messages) if isinstance(messages, dict) else {"_schema": messages}
    for key, value in found.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _unwrap(body: Any) -> list:
    if isinstance(body, list):
        body = {"events": body}
    if isinstance(body, dict) and "events" in body:
        extra = sorted(set(body) - {"events"})
        if extra:
            raise BatchValidationError({"_schema": {key: ["Unknown field."] for key in extra}})
        items = body["events"]
        if not isinstance(items, list):
            raise BatchValidationError({"_schema": {"events": ["Must be a list of events."]}})
        if not 1 <= len(items) <= MAX_BATCH:
            raise BatchValidationError(
                {"_schema": {"events": [f"Must hold between 1 and {MAX_BATCH} events."]}}
            )
        return items
    if isinstance(body, dict):
        return [body]
    raise BatchValidationError(
        {"_schema": {"_body": ['Must be an event, {"events": [...]} or an array of events.']}}
    )
