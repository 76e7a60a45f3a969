"""The Segment-spec HTTP API: ``POST /v1/batch`` and ``/v1/<type>``, as Segment-style
SDKs (Segment's, RudderStack's) send them, so that an app switches by changing one
host name. Also under ``SEGMENT_PATH_PREFIX`` when one is set.

What differs from ``/v1/events``, because the SDKs expect it:

- the write key comes as the Basic auth user name, ``X-Write-Key`` or ``writeKey``
  (webhook/auth.py), and a request needs no signature (the SDKs cannot sign; one that
  comes is checked);
- a gzip body (``Content-Encoding: gzip``) is undone, at most :data:`MAX_BATCH_BYTES`;
- a batch is taken item by item: a malformed message is reported in the answer and
  dropped, the others are accepted;
- success is ``200`` (older SDKs retry anything else), a permanent refusal ``400`` or
  ``401`` (they give up), a transient one ``503`` with ``Retry-After`` (they retry), and
  every error body is ``{"code", "message"}`` (they read both).

Each message becomes a hookrelay event (schemas/segment.py) and goes through the same
validation, dedup (``messageId``, 24 h), queues and delivery as ``/v1/events``.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis
from flask import Blueprint, Flask, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from schemas.errors import one_line
from schemas.events import load_event
from schemas.fast import stored_time
from schemas.segment import (
    BATCH,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    Dropped,
    Mapping,
    corrected_time,
    load_batch,
    load_message,
    message_id,
    to_event,
)
from schemas.segment_fast import (
    DecodedBatch,
    decode_batch,
    decoded_event,
    plain_event,
)
from schemas.values import unsendable
from webhook import auth
from webhook.api.bodies import parse_json, read_body
from webhook.errors import REDIS_RETRY_AFTER_S, UNAVAILABLE, error_code
from webhook.hub import current_hub
from webhook.intake.headroom import RedisFull
from workers.metrics.counters import SEGMENT_MESSAGES, count_each

bp = Blueprint("segment", __name__)


def register(app: Flask, prefix: str) -> None:
    """Serve the routes at the root and, when ``prefix`` is set, under it as well."""
    app.register_blueprint(bp)
    if prefix:
        app.register_blueprint(bp, url_prefix=prefix, name="segment_prefixed")


class Invalid(Exception):
    """One message that cannot be accepted: ``code`` and ``message`` as the SDKs read."""

    def __init__(self, message: str, code: str = "invalid_message") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Body:
    """A request's parsed JSON, its size (unzipped), and whether it may hold a value no
    platform takes (only a body with an infinite number or a surrogate escape can:
    webhook/api/bodies.py)."""

    payload: Any
    suspicious: bool
    size: int


@bp.post("/v1/batch")
def batch() -> ResponseReturnValue:
    raw = _raw_body()
    decoded = decode_batch(raw)
    if decoded is None:
        body = _authorized_body(raw, 'The body must be {"batch": [...]}.')
        try:
            items, sent_at = load_batch(body.payload)
        except ValidationError as error:
            raise BadRequest(f"Not a batch: {one_line(error.messages)}") from None
        return _accept(items, sent_at, body)
    auth.require_write_key(decoded.write_key)
    return _answer(_sorted_out_decoded(decoded, raw, datetime.now(UTC), _mapping()))


def single(kind: str) -> ResponseReturnValue:
    """``POST /v1/identify``, ``/v1/track``, …: one message, its type from the path."""
    body = _authorized_body(_raw_body(), "The body must be one message, a JSON object.")
    payload = body.payload
    try:
        sent_at = BATCH.fields["sentAt"].deserialize(payload.get("sentAt"))
    except ValidationError:
        sent_at = None
    answer = _accept([{**payload, "type": kind}], sent_at, body)
    if answer["invalid"]:
        [refused] = answer["invalid"]
        raise Invalid(refused["message"], refused["code"])
    return answer


for _kind_route in MESSAGE_TYPES:
    bp.add_url_rule(
        f"/v1/{_kind_route}",
        endpoint=_kind_route,
        view_func=single,
        methods=["POST"],
        defaults={"kind": _kind_route},
    )


def _authorized_body(raw: bytes, shape: str) -> Body:
    """The body parsed, once it is a JSON object (else a 400 saying ``shape``) with a
    write key."""
    payload, suspicious = parse_json(raw)
    if not isinstance(payload, dict):
        raise BadRequest(shape)
    auth.require_write_key(payload.get("writeKey"))
    return Body(payload, suspicious, len(raw))


def _raw_body() -> bytes:
    """The body unzipped, within the batch limit, its signature (if any) checked."""
    raw = _unzipped(read_body())
    if len(raw) > MAX_BATCH_BYTES:
        raise Invalid(
            f"The request is over {MAX_BATCH_BYTES // 1024} KB: send fewer messages per batch.",
            code="request_too_large",
        )
    auth.check_signed(raw, current_hub().settings.signing_secrets, required=False)
    return raw


def _unzipped(raw: bytes) -> bytes:
    """The body with ``Content-Encoding: gzip`` undone, never more than one byte past
    the batch limit (a small body may unzip to gigabytes)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding != "gzip":
        raise Invalid(f"Content-Encoding {encoding!r} is not supported: send gzip or none.")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(raw, MAX_BATCH_BYTES + 1)
    except zlib.error as error:
        raise Invalid(f"The body is not valid gzip: {error}", code="invalid_request") from None


def _accept(items: list[Any], sent_at: datetime | None, body: Body) -> dict[str, Any]:
    """Map and validate each message; enqueue those that are valid and go somewhere."""
    return _answer(_sorted_out(items, datetime.now(UTC), sent_at, _mapping(), body))


def _mapping() -> Mapping:
    settings = current_hub().settings
    return Mapping(settings.segment_forward, settings.segment_campaign_event)


def _answer(sorted_out: SortedOut) -> dict[str, Any]:
    """Enqueue the events sorted out, count every message's outcome, and say them."""
    hub = current_hub()
    accepted = duplicates = 0
    outcomes = sorted_out.outcomes
    if sorted_out.events:
        hub.headroom.check()
        result = hub.queue.submit(sorted_out.events)
        accepted, duplicates = result.accepted, result.duplicates
        for kind, new in zip(sorted_out.kinds, result.new, strict=True):
            outcomes.append((kind, "accepted" if new else "duplicate"))
    count_each(SEGMENT_MESSAGES, outcomes)
    return {
        "success": True,
        "accepted": accepted,
        "duplicates": duplicates,
        "dropped": sorted_out.dropped,
        "invalid": sorted_out.invalid,
    }


@dataclass
class SortedOut:
    """A batch's messages sorted out: the events to enqueue (and each one's message
    type), the messages reported instead, and the outcomes counted so far."""

    events: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)


def _sorted_out(
    items: list[Any], received_at: datetime, sent_at: datetime | None, mapping: Mapping, body: Body
) -> SortedOut:
    """Each message mapped in one pass where :func:`plain_event` can, else the long way."""
    out = SortedOut()
    oversized = _oversized(items, body.size)
    for index, item in enumerate(items):
        _sort_one(out, index, item, received_at, sent_at, mapping, body, index in oversized)
    return out


def _sorted_out_decoded(
    decoded: DecodedBatch, raw: bytes, received_at: datetime, mapping: Mapping
) -> SortedOut:
    """Each message of a decoded body mapped in one pass where :func:`decoded_event`
    can; the others, and any that may be over 32 KB, from the body parsed the usual way
    (once, the first time one needs it)."""
    out = SortedOut()
    usual: Body | None = None
    sent_at = decoded.sent_at
    for index, message in enumerate(decoded.messages):
        event = None
        if index not in decoded.large:
            event = decoded_event(message, received_at, sent_at, mapping)
        if event is not None:
            out.events.append(event)
            out.kinds.append(message.type)
            continue
        if usual is None:
            usual = Body(*parse_json(raw), len(raw))
        item = usual.payload["batch"][index]
        oversized = index in decoded.large and _size(item) > MAX_MESSAGE_BYTES
        _sort_one(out, index, item, received_at, sent_at, mapping, usual, oversized)
    return out


def _sort_one(
    out: SortedOut,
    index: int,
    item: Any,
    received_at: datetime,
    sent_at: datetime | None,
    mapping: Mapping,
    body: Body,
    oversized: bool,
) -> None:
    """Sort out one message: its event, or why it is dropped or refused."""
    plain = None
    if not body.suspicious and not oversized:
        plain = plain_event(item, received_at, sent_at, mapping)
    if plain is not None:
        out.events.append(plain)
        out.kinds.append(item["type"])
        return
    try:
        kind, event = _mapped(item, received_at, sent_at, mapping, body, oversized)
    except Invalid as error:
        out.invalid.append({"index": index, "code": error.code, "message": error.message})
        out.outcomes.append((_kind(item), "invalid"))
        return
    if isinstance(event, Dropped):
        out.dropped.append(
            {"index": index, "messageId": item.get("messageId"), "reason": event.reason}
        )
        out.outcomes.append((kind, "dropped"))
        return
    out.events.append(event)
    out.kinds.append(kind)


def _mapped(
    item: Any,
    received_at: datetime,
    sent_at: datetime | None,
    mapping: Mapping,
    body: Body,
    oversized: bool,
) -> tuple[str, Any]:
    """(the message's type, the hookrelay event it is or :class:`Dropped`), the long way
    (:func:`plain_event` having not answered)."""
    if not isinstance(item, dict):
        raise Invalid("Each message must be a JSON object.")
    if oversized:
        raise Invalid(f"The message is over {MAX_MESSAGE_BYTES // 1024} KB.", "message_too_large")
    try:
        message = load_message(item)
        when = _iso(corrected_time(message, received_at, sent_at))
        event_id = message_id(item, message.get("messageId"))
        event = to_event(message, event_id, when, mapping)
        if isinstance(event, Dropped):
            return message["type"], event
        problems = unsendable(event) if body.suspicious else None
        if problems:
            raise ValidationError(problems)
        return message["type"], load_event(event)
    except ValidationError as error:
        raise Invalid(one_line(error.messages)) from None


def _oversized(items: list[Any], body_size: int) -> frozenset[int]:
    """The indexes of the messages over 32 KB (none in a body within it).

    Measured a slice of messages at a time, each slice about half the limit, and one by
    one only inside a slice over it: a slice holds no message larger than itself, and
    writing out a slice in one call costs a fraction of writing each of its messages in
    a call of its own (every SDK batch of 100 is over 32 KB)."""
    if body_size <= MAX_MESSAGE_BYTES:
        return frozenset()
    step = max(1, len(items) * MAX_MESSAGE_BYTES // (2 * body_size))
    found: set[int] = set()
    for start in range(0, len(items), step):
        part = items[start : start + step]
        if len(part) == 1 or _size(part) > MAX_MESSAGE_BYTES:
            found.update(
                start + i for i, item in enumerate(part) if _size(item) > MAX_MESSAGE_BYTES
            )
    return frozenset(found)


_ENCODE = msgspec.json.Encoder().encode


def _size(value: Any) -> int:
    """The value's size as compact JSON in UTF-8, written by msgspec (under a tenth of
    the time :mod:`json` takes), or by :mod:`json` where UTF-8 cannot hold the value (a
    lone surrogate). Never more than the SDKs' own measure, which adds spaces and
    escapes."""
    try:
        return len(_ENCODE(value))
    except UnicodeEncodeError:
        return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def _iso(moment: datetime) -> str:
    try:
        return stored_time(moment)
    except OverflowError:
        raise ValidationError({"timestamp": ["Out of any range a date can have."]}) from None


def _kind(item: Any) -> str:
    kind = item.get("type") if isinstance(item, dict) else None
    return kind if kind in MESSAGE_TYPES else "unknown"


@bp.errorhandler(Invalid)
def _invalid(error: Invalid) -> ResponseReturnValue:
    return {"code": error.code, "message": error.message}, 400


@bp.errorhandler(RecursionError)
def _too_deep(error: RecursionError) -> ResponseReturnValue:
    return _refused(BadRequest("The body is nested too deeply to be read as JSON."))


@bp.errorhandler(HTTPException)
@bp.errorhandler(RequestEntityTooLarge)
def _refused(error: HTTPException) -> ResponseReturnValue:
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return {"code": error_code(error), "message": error.description}, error.code or 500, headers


@bp.errorhandler(redis.RedisError)
@bp.errorhandler(RedisFull)
def _unavailable(error: Exception) -> ResponseReturnValue:
    message = f"Nothing was accepted: {error}" if isinstance(error, RedisFull) else UNAVAILABLE
    return (
        {"code": "unavailable", "message": message},
        503,
        {"Retry-After": str(REDIS_RETRY_AFTER_S)},
    )
