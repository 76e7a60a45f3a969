"""The Segment-spec API's messages (``POST /v1/batch``, ``/v1/identify``, …) and what
each becomes: the one place their shape and their mapping onto hookrelay's events are
defined (the README's table says the same).

One path for every message: read into a :class:`Message` (the fields the mapping reads,
any JSON value each, so that reading never refuses a message and never builds what it
does not read, such as an SDK's ``integrations`` or ``context.library``), mapped onto
one hookrelay event (:func:`to_event`), then validated as ``/v1/events`` validates an
event (:func:`schemas.events.load_checked`), its errors named as the message's fields
(:func:`in_segment_terms`). A message that maps to nothing (an anonymous one, an
``alias``, a ``page`` not forwarded) is :class:`Dropped` with the reason, never an
error.

Mapping:

- ``identify`` → a ``profile`` update: ``userId`` → ``uid``; ``traits.email`` /
  ``traits.phone`` → ``email`` / ``phone``; ``context.device.token`` → ``wp_token``; the
  other traits → ``fields``, nested objects flattened with ``_`` (``address.city`` is
  ``address_city``). The traits are ``traits``, or ``context.traits`` where there are
  none (RudderStack's SDK sends them there only).
- ``track`` → an ``event``: ``event`` → ``name``, ``properties`` → ``payload``. A track
  named like the configured campaign event (``Campaign Started``) is a
  ``campaign_start`` instead, from ``properties.campaign_id``, ``.kind`` (default
  ``mailing``), ``.pushwoosh_message_code`` and ``.segments``.
- ``page``, ``screen``, ``group``: an ``event`` named ``page``, ``screen`` or ``group``
  when forwarded (the payload: ``properties`` or ``traits``, with ``name`` /
  ``groupId``), else dropped.
- ``alias``: dropped, counted. hookrelay keeps no anonymous profiles to merge, and a
  profile cannot carry two ``uid`` values.
- The user is ``userId``, else whatever identifier the traits or the context carry
  (``context.traits`` too, where RudderStack copies them). ``anonymousId`` alone is no
  one the platforms know: dropped, "identify the user first".

Times: ``timestamp`` (else ``originalTimestamp``) is corrected for the sender's clock
the way the spec says, ``receivedAt - (sentAt - timestamp)``, when the batch says when
it was sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from marshmallow import ValidationError

from .events import CAMPAIGN_KINDS
from .fast import aware_time

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
#: What may be delivered as an ``event`` instead of being dropped (``SEGMENT_FORWARD``).
FORWARDABLE = ("page", "screen", "group")
#: Segment's own limits: one message, one request (after gzip is undone), in bytes as
#: sent, which is what an SDK measures before it sends.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
#: A ``uid`` key in traits would be ambiguous: identifiers come from these only.
IDENTITY_TRAITS = ("email", "phone")
#: A JSON value that is not an object: what a message or its ``context`` may be
#: instead, to be reported rather than to spoil the reading of the whole body.
NotAnObject = str | int | float | bool | list | None
TIME_FORMAT = "Not an ISO 8601 time with an offset, such as 2026-11-23T10:00:00Z."


class Context(msgspec.Struct):
    """What the mapping reads of a message's ``context``."""

    traits: Any = None
    device: Any = None


class Message(msgspec.Struct):
    """One Segment message, as far as hookrelay reads it; unknown fields are left out,
    as Segment's own API leaves them. ``sentAt`` and ``writeKey`` are a single
    message's route's (its body is the message)."""

    type: Any = None
    messageId: Any = None
    timestamp: Any = None
    originalTimestamp: Any = None
    userId: Any = None
    traits: Any = None
    context: Context | NotAnObject = None
    event: Any = msgspec.UNSET
    properties: Any = None
    name: Any = None
    groupId: Any = None
    sentAt: Any = None
    writeKey: Any = None


class Batch(msgspec.Struct):
    """``POST /v1/batch``'s body."""

    batch: list[Message | NotAnObject]
    sentAt: Any = None
    writeKey: Any = None


class Slices(msgspec.Struct):
    """``POST /v1/batch``'s body, each message as its bytes, to be measured."""

    batch: list[msgspec.Raw]


@dataclass(frozen=True)
class Dropped:
    """A message accepted but not sent anywhere, and why."""

    reason: str


@dataclass(frozen=True)
class Mapping:
    """How messages map (the ``SEGMENT_*`` settings)."""

    #: Which of :data:`FORWARDABLE` are delivered as events.
    forward: frozenset[str] = frozenset()
    #: A track of this name starts a campaign (``None``: none does).
    campaign_event: str | None = "Campaign Started"


def sent_time(value: Any) -> datetime | None:
    """A body's ``sentAt``; raises :class:`ValidationError` if it is not a time."""
    if value is None:
        return None
    moment = aware_time(value)
    if moment is None:
        raise ValidationError({"sentAt": [TIME_FORMAT]})
    return moment


def to_event(
    message: Message, received_at: datetime, sent_at: datetime | None, mapping: Mapping
) -> dict[str, Any] | Dropped:
    """The hookrelay event a message becomes (still to be validated as one), or
    :class:`Dropped`; raises :class:`ValidationError` where the message cannot be
    mapped, naming its field."""
    kind = message.type
    if kind != "identify" and kind != "track":
        dropped = _not_mapped(kind, mapping)
        if dropped is not None:
            return dropped
    traits, properties = message.traits, message.properties
    if (traits is not None and type(traits) is not dict) or (
        properties is not None and type(properties) is not dict
    ):
        raise ValidationError(_not_objects(message))
    given_id = message.messageId
    event_id = given_id if type(given_id) is str and given_id else message_id(message)
    when = _when(message, received_at, sent_at)
    if kind == "track" and mapping.campaign_event and message.event == mapping.campaign_event:
        start = {"id": event_id, "timestamp": when, "type": "campaign_start"}
        segments = (properties or {}).get("segments")
        if segments is not None:
            start["segments"] = segments
        return {**start, "campaign": _campaign(properties)}
    context = message.context if isinstance(message.context, Context) else _NO_CONTEXT
    user = identifiers(message.userId, traits, context.traits, context.device)
    if not user:
        return Dropped(
            "no userId, email, phone or push token: anonymous messages are not sent "
            "(identify the user first)"
        )
    event = {"id": event_id, "timestamp": when, "user": user}
    if kind == "identify":
        given = traits or context.traits or {}
        if type(given) is not dict:
            raise ValidationError({"context": {"traits": _NOT_AN_OBJECT}})
        event["type"], event["fields"] = "profile", _fields(given)
    elif kind == "track":
        if message.event is msgspec.UNSET:
            raise ValidationError({"event": ["Missing data for required field."]})
        event["type"], event["name"], event["payload"] = "event", message.event, properties or {}
    else:
        event["type"], event["name"], event["payload"] = "event", kind, _forwarded(message)
    return event


def _not_mapped(kind: Any, mapping: Mapping) -> Dropped | None:
    """Why a message that is neither an ``identify`` nor a ``track`` is dropped (or
    ``None``: it is a forwarded one); raises :class:`ValidationError` for no type."""
    if type(kind) is not str or kind not in MESSAGE_TYPES:
        raise ValidationError({"type": [f"Must be one of: {', '.join(MESSAGE_TYPES)}."]})
    if kind == "alias":
        return Dropped("alias is not sent: hookrelay keeps no anonymous profiles to merge")
    if kind not in mapping.forward:
        return Dropped(f"{kind} messages are not forwarded (SEGMENT_FORWARD)")
    return None


_NO_CONTEXT = Context()
#: A single message's body's own fields, which a resent copy may change.
_OF_THE_BODY = frozenset({"sentAt", "writeKey"})
_NOT_AN_OBJECT = ["Not a valid mapping type."]


def _not_objects(message: Message) -> dict[str, Any]:
    """The errors of a message whose ``traits`` or ``properties`` is not an object."""
    named = (("traits", message.traits), ("properties", message.properties))
    return {
        name: _NOT_AN_OBJECT
        for name, value in named
        if value is not None and type(value) is not dict
    }


def message_id(message: Message) -> Any:
    """The message's idempotency key: its ``messageId`` (a whole number as its digits),
    else a digest of what hookrelay reads of the message (so a resent copy is still the
    same message)."""
    given = message.messageId
    if type(given) is int:
        return str(given)
    if given is not None and given != "":
        return given
    read = {k: v for k, v in msgspec.to_builtins(message).items() if k not in _OF_THE_BODY}
    canonical = json.dumps(read, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _when(message: Message, received_at: datetime, sent_at: datetime | None) -> datetime:
    """When it happened (``timestamp``, else ``originalTimestamp``), by the receiver's
    clock: ``receivedAt - (sentAt - timestamp)``. An aware time, which the event's
    validation takes as it takes the text of one (never written out only to be read
    again)."""
    text = message.timestamp
    if text is None:
        text = message.originalTimestamp
        if text is None:
            return received_at
    happened = aware_time(text)
    if happened is None:
        name = "timestamp" if message.timestamp is not None else "originalTimestamp"
        raise ValidationError({name: [TIME_FORMAT]})
    if sent_at is None:
        return happened
    try:
        return received_at - (sent_at - happened)
    except OverflowError:
        raise ValidationError(
            {"timestamp": ["Too far from sentAt to be corrected for the sender's clock."]}
        ) from None


def identifiers(user_id: Any, traits: Any, context_traits: Any, device: Any) -> dict[str, Any]:
    """``userId``, then the traits' identifiers (the message's own, then
    ``context.traits``), then the context's push token."""
    user: dict[str, Any] = {"uid": user_id} if user_id else {}
    for given in (traits, context_traits):
        if given and type(given) is dict:
            for kind in IDENTITY_TRAITS:
                value = given.get(kind)
                if value and kind not in user:
                    user[kind] = value if type(value) is str else str(value)
    if type(device) is dict and device.get("token"):
        user["wp_token"] = str(device["token"])
    return user


def _fields(traits: dict[str, Any]) -> dict[str, Any]:
    """An ``identify``'s traits but its identifiers, flattened: its profile's fields."""
    fields = traits.copy()
    for identity in IDENTITY_TRAITS:
        fields.pop(identity, None)
    return flattened(fields) if dict in map(type, fields.values()) else fields


def _campaign(properties: dict[str, Any] | None) -> dict[str, Any]:
    properties = properties or {}
    campaign = {
        "platform": properties.get("platform", "crm"),
        "kind": properties.get("kind", CAMPAIGN_KINDS[0]),
        "id": properties.get("campaign_id"),
    }
    if properties.get("pushwoosh_message_code"):
        campaign["pushwoosh_message_code"] = properties["pushwoosh_message_code"]
    return campaign


def _forwarded(message: Message) -> dict[str, Any]:
    if message.type == "group":
        return {**(message.traits or {}), "groupId": message.groupId}
    return {**(message.properties or {}), "name": message.name}


def flattened(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as flat fields: ``{"address": {"city": "X"}}`` is
    ``{"address_city": "X"}``; lists and other values are kept as they are."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flattened(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


#: The message's field each field of the event it became comes from.
_SEGMENT_NAMES: dict[str, str] = {
    "id": "messageId",
    "name": "event",
    "payload": "properties",
    "fields": "traits",
    "user.uid": "userId",
    "user.email": "traits.email",
    "user.phone": "traits.phone",
    "user.wp_token": "context.device.token",
    "campaign.id": "properties.campaign_id",
    "campaign.kind": "properties.kind",
    "campaign.platform": "properties.platform",
    "campaign.pushwoosh_message_code": "properties.pushwoosh_message_code",
    "segments": "properties.segments",
}


def in_segment_terms(messages: Any) -> Any:
    """An event's error messages (marshmallow's) named as the message's fields."""
    if not isinstance(messages, dict):
        return messages
    named: dict[str, Any] = {}
    for key, value in messages.items():
        if key in ("user", "campaign") and isinstance(value, dict):
            for inner, text in value.items():
                path = f"{key}.{inner}"
                named[_SEGMENT_NAMES.get(path, path)] = text
        else:
            named[_SEGMENT_NAMES.get(str(key), str(key))] = value
    return named
