"""The Segment-spec API's messages (``POST /v1/batch``, ``/v1/identify``, …) and what
each becomes: the one place their shape and their mapping onto hookrelay's events are
defined (the README's table says the same).

A message is read leniently, as Segment's own API reads it (unknown fields are kept out,
not refused), then mapped (:func:`to_event`) onto one hookrelay event, which must then
pass :func:`schemas.events.load_event` like any other. A message that maps to nothing
(an anonymous one, an ``alias``, a ``page`` not forwarded) is :class:`Dropped` with the
reason, never an error.

Mapping:

- ``identify`` → a ``profile`` update: ``userId`` → ``uid``; ``traits.email`` /
  ``traits.phone`` → ``email`` / ``phone``; ``context.device.token`` → ``wp_token``; the
  other traits → ``fields``, nested objects flattened with ``_`` (``address.city`` is
  ``address_city``). The traits are ``traits``, or ``context.traits`` where there are
  none (RudderStack's SDK sends them there only).
- ``track`` → an ``event``: ``event`` → ``name``, ``properties`` → ``payload``. A track
  named like the configured campaign event (``Campaign Started``) is a
  ``campaign_start`` instead, from ``properties.campaign_id``, ``.kind`` (default
  ``mailing``) and ``.pushwoosh_message_code``.
- ``page``, ``screen``, ``group``: an ``event`` named ``page``, ``screen`` or ``group``
  when forwarded (the payload: ``properties`` or ``traits``, with ``name`` /
  ``groupId``), else dropped.
- ``alias``: dropped, counted. hookrelay keeps no anonymous profiles to merge, and a
  profile cannot carry two ``uid`` values.
- The user is ``userId``, else whatever identifier the traits or the context carry
  (``context.traits`` too, where RudderStack copies them). ``anonymousId`` alone is no
  one the platforms know: dropped, "identify the user first".

Fast paths, each answering only where the long way answers the same (property tests
in tests/unit/test_fast_events.py): :func:`load_message` and :func:`load_batch` read a
plain message or body without running the schema; schemas/segment_fast.py maps a
plain ``identify`` or ``track`` in one pass, and reads a whole ``/v1/batch`` body of
them with msgspec.

Times: ``timestamp`` is corrected for the sender's clock the way the spec says,
``receivedAt - (sentAt - timestamp)``, when the batch says when it was sent.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from marshmallow import EXCLUDE, Schema, ValidationError, validate

from .events import CAMPAIGN_KINDS, NumberOrString
from .fast import aware_time
from .limits import ID_LENGTH, NAME_LENGTH, UID_LENGTH

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
#: What may be delivered as an ``event`` instead of being dropped (``SEGMENT_FORWARD``).
FORWARDABLE = ("page", "screen", "group")
#: Segment's own limits: one message, one request (after gzip is undone).
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
#: A ``uid`` key in traits would be ambiguous: identifiers come from these only.
IDENTITY_TRAITS = ("email", "phone")


@dataclass(frozen=True)
class Dropped:
    """A message accepted but not sent anywhere, and why."""

    reason: str


class MessageSchema(Schema):
    """One Segment message, as far as hookrelay reads it."""

    class Meta:
        unknown = EXCLUDE

    type = ma.fields.String(required=True, validate=validate.OneOf(MESSAGE_TYPES))
    messageId = NumberOrString(validate=validate.Length(*ID_LENGTH))
    timestamp = ma.fields.AwareDateTime(allow_none=True)
    originalTimestamp = ma.fields.AwareDateTime(allow_none=True)
    userId = NumberOrString(allow_none=True, validate=validate.Length(*UID_LENGTH))
    anonymousId = NumberOrString(allow_none=True)
    traits = ma.fields.Dict(allow_none=True)
    context = ma.fields.Dict(allow_none=True)
    event = ma.fields.String(validate=validate.Length(*NAME_LENGTH))
    properties = ma.fields.Dict(allow_none=True)
    name = ma.fields.String(allow_none=True)
    groupId = NumberOrString(allow_none=True)
    previousId = NumberOrString(allow_none=True)


class BatchSchema(Schema):
    """``POST /v1/batch``: the messages stay raw here, each is read on its own."""

    class Meta:
        unknown = EXCLUDE

    batch = ma.fields.List(ma.fields.Raw(allow_none=True), required=True)
    sentAt = ma.fields.AwareDateTime(allow_none=True)
    writeKey = ma.fields.String(allow_none=True)


MESSAGE = MessageSchema()
BATCH = BatchSchema()


def load_batch(raw: Any) -> tuple[list[Any], datetime | None]:
    """A ``/v1/batch`` body's messages (each still raw) and its ``sentAt``, as
    :data:`BATCH` loads them (raising its :class:`~marshmallow.ValidationError`), the
    plain case without running it (tests/unit/test_fast_events.py checks they agree)."""
    fast = _plain_batch(raw)
    if fast is not None:
        return fast
    loaded = BATCH.load(raw)
    return loaded["batch"], loaded.get("sentAt")


def _plain_batch(raw: Any) -> tuple[list[Any], datetime | None] | None:
    if type(raw) is not dict or type(raw.get("batch")) is not list:
        return None
    sent_at, write_key = raw.get("sentAt"), raw.get("writeKey")
    moment = aware_time(sent_at)
    if (moment is None and sent_at is not None) or type(write_key) not in (str, type(None)):
        return None
    return raw["batch"], moment


#: The fast path of :func:`load_message`: how each field is read there (a string's
#: length bounds, an object, a time); a message holding anything else goes through the
#: schema. All but :data:`_NOT_NULLABLE` may be null.
_OBJECT, _TIME = "object", "time"
_ANY_LENGTH = (0, sys.maxsize)
_PLAIN_FIELDS: dict[str, Any] = {
    "type": _ANY_LENGTH,
    "messageId": ID_LENGTH,
    "userId": UID_LENGTH,
    "anonymousId": _ANY_LENGTH,
    "event": NAME_LENGTH,
    "name": _ANY_LENGTH,
    "groupId": _ANY_LENGTH,
    "previousId": _ANY_LENGTH,
    "traits": _OBJECT,
    "context": _OBJECT,
    "properties": _OBJECT,
    "timestamp": _TIME,
    "originalTimestamp": _TIME,
}
_NOT_NULLABLE = frozenset({"type", "messageId", "event"})


def load_message(raw: Any) -> dict[str, Any]:
    """One message loaded as :data:`MESSAGE` loads it (raising its
    :class:`~marshmallow.ValidationError`), the plain case without running it
    (tests/unit/test_fast_events.py checks the two agree)."""
    fast = _plain_message(raw)
    return fast if fast is not None else MESSAGE.load(raw)


def _plain_message(raw: Any) -> dict[str, Any] | None:
    if type(raw) is not dict or raw.get("type") not in MESSAGE_TYPES:
        return None
    loaded: dict[str, Any] = {}
    for key, value in raw.items():
        rule = _PLAIN_FIELDS.get(key)
        if rule is None:
            continue
        if value is None:
            if key in _NOT_NULLABLE:
                return None
        elif rule is _OBJECT:
            if type(value) is not dict:
                return None
        elif rule is _TIME:
            value = aware_time(value)
            if value is None:
                return None
        elif type(value) is not str or not rule[0] <= len(value) <= rule[1]:
            return None
        loaded[key] = value
    return loaded


@dataclass(frozen=True)
class Mapping:
    """How messages map (the ``SEGMENT_*`` settings)."""

    #: Which of :data:`FORWARDABLE` are delivered as events.
    forward: frozenset[str] = frozenset()
    #: A track of this name starts a campaign (``None``: none does).
    campaign_event: str | None = "Campaign Started"


def message_id(raw: dict[str, Any], given: str | None) -> str:
    """The message's idempotency key: its ``messageId``, else a digest of the message
    (so a resent copy is still the same message)."""
    if given:
        return given
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def corrected_time(
    message: dict[str, Any], received_at: datetime, sent_at: datetime | None
) -> datetime:
    """When it happened by the receiver's clock: ``receivedAt - (sentAt - timestamp)``."""
    happened = message.get("timestamp") or message.get("originalTimestamp")
    return corrected(happened, received_at, sent_at)


def corrected(
    happened: datetime | None, received_at: datetime, sent_at: datetime | None
) -> datetime:
    if happened is None:
        return received_at
    if sent_at is None:
        return happened
    try:
        return received_at - (sent_at - happened)
    except OverflowError:
        raise ValidationError(
            {"timestamp": ["Too far from sentAt to be corrected for the sender's clock."]}
        ) from None


def to_event(message: dict[str, Any], event_id: str, when: str, mapping: Mapping) -> Any:
    """The hookrelay event a loaded message becomes (still to be validated as one), or
    :class:`Dropped`."""
    kind = message["type"]
    if kind == "alias":
        return Dropped("alias is not sent: hookrelay keeps no anonymous profiles to merge")
    if kind in FORWARDABLE and kind not in mapping.forward:
        return Dropped(f"{kind} messages are not forwarded (SEGMENT_FORWARD)")
    base = {"id": event_id, "timestamp": when}
    if (
        kind == "track"
        and mapping.campaign_event
        and message.get("event") == mapping.campaign_event
    ):
        return {**base, "type": "campaign_start", "campaign": _campaign(message)}
    user = _user(message)
    if not user:
        return Dropped(
            "no userId, email, phone or push token: anonymous messages are not sent "
            "(identify the user first)"
        )
    if kind == "identify":
        fields = _traits(message)
        if fields is None:
            raise ValidationError({"context": {"traits": ["Not a valid mapping type."]}})
        return {**base, "type": "profile", "user": user, "fields": flattened(fields)}
    if kind == "track":
        if "event" not in message:
            raise ValidationError({"event": ["Missing data for required field."]})
        payload = message.get("properties") or {}
        return {**base, "type": "event", "user": user, "name": message["event"], "payload": payload}
    return {**base, "type": "event", "user": user, "name": kind, "payload": _forwarded(message)}


def _user(message: dict[str, Any]) -> dict[str, str]:
    """The identifiers the message carries (:func:`_identifiers`)."""
    context = message.get("context") or {}
    return identifiers(
        message.get("userId"), message.get("traits"), context.get("traits"), context.get("device")
    )


def identifiers(user_id: Any, traits: Any, context_traits: Any, device: Any) -> dict[str, str]:
    """``userId``, then the traits' identifiers (the message's own, then
    ``context.traits``), then the context's push token."""
    user: dict[str, str] = {"uid": user_id} if user_id else {}
    for given in (traits, context_traits):
        if given and isinstance(given, dict):
            for kind in IDENTITY_TRAITS:
                value = given.get(kind)
                if value and kind not in user:
                    user[kind] = str(value)
    if isinstance(device, dict) and device.get("token"):
        user["wp_token"] = str(device["token"])
    return user


def _traits(message: dict[str, Any]) -> dict[str, Any] | None:
    """An ``identify``'s traits but its identifiers, the fields of its profile update
    (``None`` if ``context.traits``, the only traits it carries, is not an object)."""
    traits = _given_traits(message)
    return without_identities(traits) if type(traits) is dict else None


def without_identities(traits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in traits.items() if k not in IDENTITY_TRAITS}


def _given_traits(message: dict[str, Any]) -> Any:
    """An ``identify``'s traits as sent: ``traits``, else ``context.traits`` (where
    RudderStack's SDK puts them), else none; not yet known to be an object."""
    return message.get("traits") or (message.get("context") or {}).get("traits") or {}


def _campaign(message: dict[str, Any]) -> dict[str, Any]:
    properties = message.get("properties") or {}
    campaign = {
        "platform": properties.get("platform", "crm"),
        "kind": properties.get("kind", CAMPAIGN_KINDS[0]),
        "id": properties.get("campaign_id"),
    }
    if properties.get("pushwoosh_message_code"):
        campaign["pushwoosh_message_code"] = properties["pushwoosh_message_code"]
    return campaign


def _forwarded(message: dict[str, Any]) -> dict[str, Any]:
    if message["type"] == "group":
        return {**(message.get("traits") or {}), "groupId": message.get("groupId")}
    return {**(message.get("properties") or {}), "name": message.get("name")}


def flattened(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as flat fields: ``{"address": {"city": "X"}}`` is
    ``{"address_city": "X"}``; lists and other values are kept as they are."""
    if not prefix and not any(type(value) is dict for value in values.values()):
        return values
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flattened(value, f"{name}_"))
        else:
            flat[name] = value
    return flat
