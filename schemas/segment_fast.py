"""The one-pass path of the Segment-spec messages (schemas/segment.py defines them and
their mapping): a plain ``identify`` or ``track`` is mapped in one pass
(:func:`plain_event`), read as a :class:`PlainMessage`, the few fields the mapping
reads, typed; a ``/v1/batch`` body whose every message is one is read straight into
them by msgspec (:func:`decode_batch`), never parsed into dicts. Each answers only
where the long way answers the same (property tests in tests/unit/test_fast_events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from marshmallow import ValidationError
from msgspec import UNSET, UnsetType

from .fast import aware_time, canonical_time, is_text, plain_mapping, valid_identifiers
from .limits import FIELD_NAME_LENGTH, ID_LENGTH, NAME_LENGTH, UID_LENGTH
from .segment import (
    IDENTITY_TRAITS,
    MAX_MESSAGE_BYTES,
    Mapping,
    corrected,
    flattened,
    identifiers,
    without_identities,
)


class _Context(msgspec.Struct):
    """What the mapping reads of a message's ``context``, each of the plain kind."""

    traits: dict | None = None
    device: dict | None = None


class PlainMessage(msgspec.Struct):
    """A message as the one-pass path reads it: the fields of
    :data:`schemas.segment.MESSAGE`, each of the plain kind its rule in
    ``schemas.segment._PLAIN_FIELDS`` takes (a string, an object, a time
    as a string), unknown ones left out. ``messageId`` and ``event`` may be missing but
    not null; what else a field must be is checked by :func:`decoded_event`."""

    type: str
    messageId: str | UnsetType = UNSET
    event: str | UnsetType = UNSET
    userId: str | None = None
    anonymousId: str | None = None
    name: str | None = None
    groupId: str | None = None
    previousId: str | None = None
    traits: dict | None = None
    context: _Context | None = None
    properties: dict | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None


def plain_event(
    raw: Any, received_at: datetime, sent_at: datetime | None, mapping: Mapping
) -> dict[str, Any] | None:
    """The canonical event a plain ``identify`` or ``track`` becomes, built in one pass,
    or ``None`` where only the long way may decide (any other message, a campaign
    start, a message without a ``messageId``, a value the checks refuse).

    The long way reads the message (:func:`schemas.segment.load_message`), corrects its
    time, maps it (:func:`schemas.segment.to_event`), and validates the result as any
    event is validated (:func:`schemas.events.load_event`), which parses and formats its
    time again;
    tests/unit/test_fast_events.py checks that whenever this answers, the long way
    answers the same."""
    try:
        message = msgspec.convert(raw, PlainMessage)
    except msgspec.ValidationError:
        return None
    return decoded_event(message, received_at, sent_at, mapping)


def decoded_event(
    message: PlainMessage, received_at: datetime, sent_at: datetime | None, mapping: Mapping
) -> dict[str, Any] | None:
    """:func:`plain_event` of a message already read as a :class:`PlainMessage` (as
    :func:`decode_batch` reads a whole body)."""
    kind, event_id, name, user_id = message.type, message.messageId, message.event, message.userId
    if (
        (kind != "identify" and kind != "track")
        or not is_text(event_id, ID_LENGTH)
        or (name is not UNSET and not is_text(name, NAME_LENGTH))
        or (user_id is not None and not is_text(user_id, UID_LENGTH))
    ):
        return None
    context = message.context or _NO_CONTEXT
    user = identifiers(user_id, message.traits, context.traits, context.device)
    if not user or not valid_identifiers(user):
        return None
    when = _plain_time(message, received_at, sent_at)
    if when is None:
        return None
    if kind == "identify":
        fields = _plain_fields(message.traits or context.traits or {})
        if fields is None:
            return None
        return {
            "id": event_id,
            "timestamp": when,
            "user": user,
            "type": "profile",
            "fields": fields,
        }
    payload = plain_mapping(message.properties or {}, None)
    if name is UNSET or name == mapping.campaign_event or payload is None:
        return None
    return {
        "id": event_id,
        "timestamp": when,
        "user": user,
        "type": "event",
        "name": name,
        "payload": payload,
    }


_NO_CONTEXT = _Context()


def _plain_fields(traits: Any) -> dict[str, Any] | None:
    """An ``identify``'s fields (its traits as sent but their identifiers, flattened) if
    every name is one the schema takes, in one pass where no trait is an object to
    flatten."""
    if type(traits) is not dict:
        return None
    shortest, longest = FIELD_NAME_LENGTH
    fields = {}
    for key, value in traits.items():
        if type(value) is dict:
            return plain_mapping(flattened(without_identities(traits)), FIELD_NAME_LENGTH)
        if key in IDENTITY_TRAITS:
            continue
        if type(key) is not str or not shortest <= len(key) <= longest:
            return None
        fields[key] = value
    return fields


def _plain_time(
    message: PlainMessage, received_at: datetime, sent_at: datetime | None
) -> str | None:
    """The message's time, corrected and as stored, if its every time is one the schema
    takes."""
    happened = None
    for text in (message.timestamp, message.originalTimestamp):
        if text is not None:
            moment = aware_time(text)
            if moment is None:
                return None
            happened = happened or moment
    try:
        return canonical_time(corrected(happened, received_at, sent_at), received_at)
    except ValidationError:
        return None


class _Batch(msgspec.Struct):
    batch: list[PlainMessage]
    sentAt: str | None = None
    writeKey: str | None = None


class _Slices(msgspec.Struct):
    batch: list[msgspec.Raw]


@dataclass(frozen=True)
class DecodedBatch:
    """A ``/v1/batch`` body read by :func:`decode_batch`."""

    messages: list[PlainMessage]
    sent_at: datetime | None
    write_key: str | None
    #: The indexes of the messages that may be over :data:`MAX_MESSAGE_BYTES` (over
    #: :data:`SURELY_WITHIN_BYTES` as sent, in a body over the limit).
    large: frozenset[int]


#: A message no longer than this as sent is within :data:`MAX_MESSAGE_BYTES` written
#: out compact, as the usual way sizes it: that drops spaces and shortens escapes, and
#: only a number can grow, at most 4.5 times (``1e15`` is ``1000000000000000.0``).
SURELY_WITHIN_BYTES = MAX_MESSAGE_BYTES // 5
_BATCH_DECODER = msgspec.json.Decoder(_Batch)
_SLICES_DECODER = msgspec.json.Decoder(_Slices)


def decode_batch(raw: bytes) -> DecodedBatch | None:
    """A ``/v1/batch`` body whose every message is a :class:`PlainMessage`, read in one
    call, or ``None`` where it must be read the usual way (parsed into dicts, then
    :func:`schemas.segment.load_batch` and a message at a time).

    msgspec reads and type-checks the body in C and never builds what the mapping does
    not read (an SDK's ``integrations``, ``context.library``, …), which is most of what
    parsing a batch into dicts costs. It reads JSON as :mod:`json` does where it answers
    (the last of repeated keys, integers of any size) and refuses what the usual way
    must look at: a lone surrogate, a number out of any float's range, invalid JSON or
    UTF-8, a field of another kind. A body over :data:`MAX_MESSAGE_BYTES` is also cut
    into its messages' bytes as sent, and those over :data:`SURELY_WITHIN_BYTES` are
    sized the usual way."""
    try:
        decoded = _BATCH_DECODER.decode(raw)
    except (msgspec.MsgspecError, RecursionError):
        return None
    sent_at = aware_time(decoded.sentAt)
    if sent_at is None and decoded.sentAt is not None:
        return None
    large: frozenset[int] = frozenset()
    if len(raw) > MAX_MESSAGE_BYTES:
        slices = _SLICES_DECODER.decode(raw).batch
        large = frozenset(i for i, part in enumerate(slices) if len(part) > SURELY_WITHIN_BYTES)
    return DecodedBatch(decoded.batch, sent_at, decoded.writeKey, large)
