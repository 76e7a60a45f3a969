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
from schemas.events import load_checked
from schemas.segment import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    Batch,
    Dropped,
    Mapping,
    Message,
    Slices,
    in_segment_terms,
    sent_time,
    to_event,
)
from webhook import auth, tracecontext
from webhook.api.bodies import SURROGATE_ESCAPE, parse_json, read_body
from webhook.api.events import FORGOTTEN_REASON
from webhook.errors import RETRY_AFTER_S, UNAVAILABLE, error_code
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
class Received:
    """What every message of a request is sorted out with: when and how it came."""

    at: datetime
    sent_at: datetime | None
    mapping: Mapping
    #: The body may hold a value no platform takes (webhook/api/bodies.py).
    suspicious: bool


@bp.post("/v1/batch")
def batch() -> ResponseReturnValue:
    raw = _raw_body()
    body, suspicious = _read(raw, _BATCH, Batch, 'The body must be {"batch": [...]}.')
    auth.require_write_key(body.writeKey)
    received = _received(body.sentAt, suspicious)
    return _answer(_sorted_out(body.batch, message_sizes(raw, suspicious), received))


def single(kind: str) -> ResponseReturnValue:
    """``POST /v1/identify``, ``/v1/track``, …: one message, its type from the path."""
    raw = _raw_body()
    shape = "The body must be one message, a JSON object."
    message, suspicious = _read(raw, _MESSAGE, Message, shape)
    auth.require_write_key(message.writeKey)
    received = _received(message.sentAt, suspicious)
    typed = msgspec.structs.replace(message, type=kind)
    answer = _answer(_sorted_out([typed], [len(raw)], received))
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

_BATCH = msgspec.json.Decoder(Batch)
_MESSAGE = msgspec.json.Decoder(Message)
_SLICES = msgspec.json.Decoder(Slices)


def _read(raw: bytes, decoder: msgspec.json.Decoder, shape: type, wrong: str) -> tuple[Any, bool]:
    """The body read as ``shape`` and whether it may hold a value no platform takes.

    msgspec reads it straight from its bytes, building only the fields the mapping
    reads. A body it refuses (a lone surrogate, a number out of any float's range, not
    JSON, not the shape) is parsed as every body is (webhook/api/bodies.py, which says
    why one is not JSON) and then converted: the same :class:`Message` either way."""
    try:
        return decoder.decode(raw), False
    except (msgspec.MsgspecError, RecursionError):
        pass
    payload, suspicious = parse_json(raw)
    try:
        return msgspec.convert(payload, shape), suspicious
    except (msgspec.ValidationError, RecursionError):
        raise BadRequest(wrong) from None


def message_sizes(raw: bytes, suspicious: bool) -> list[int] | None:
    """Each message's size in bytes as sent, where one may be over the limit (the body
    is), for a body that parses as JSON. A lone surrogate escape, which msgspec refuses
    even where it only skips, is first masked by a valid escape of the same length."""
    if len(raw) <= MAX_MESSAGE_BYTES:
        return None
    if suspicious:
        raw = SURROGATE_ESCAPE.sub(rb"\\u00", raw)
    try:
        return [len(part) for part in _SLICES.decode(raw).batch]
    except (msgspec.MsgspecError, RecursionError):
        raise BadRequest("The body's messages could not be measured.") from None


def _received(sent_at: Any, suspicious: bool) -> Received:
    try:
        moment = sent_time(sent_at)
    except ValidationError as error:
        raise BadRequest(one_line(error.messages)) from None
    settings = current_hub().settings
    mapping = Mapping(settings.segment_forward, settings.segment_campaign_event)
    return Received(datetime.now(UTC), moment, mapping, suspicious)


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


def _answer(sorted_out: SortedOut) -> dict[str, Any]:
    """Enqueue the events sorted out, count every message's outcome, and say them."""
    hub = current_hub()
    accepted = duplicates = 0
    outcomes = sorted_out.outcomes
    if sorted_out.events:
        hub.headroom.check()
        result = hub.queue.submit(sorted_out.events, traceparent=tracecontext.current())
        accepted, duplicates = result.accepted, result.duplicates
        for i, (kind, new) in enumerate(zip(sorted_out.kinds, result.new, strict=True)):
            outcome = "accepted" if new else "duplicate"
            outcomes.append((kind, "dropped" if i in result.stopped else outcome))
        sorted_out.dropped += [
            {
                "index": sorted_out.indexes[i],
                "messageId": sorted_out.events[i]["id"],
                "reason": FORGOTTEN_REASON,
            }
            for i in result.stopped
        ]
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
    #: Each event's index in the batch.
    indexes: list[int] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)


def _sorted_out(messages: list[Any], sizes: list[int] | None, received: Received) -> SortedOut:
    """Each message mapped, then validated as ``/v1/events`` validates an event."""
    out = SortedOut()
    for index, message in enumerate(messages):
        try:
            event = _event(message, sizes[index] if sizes else 0, received)
        except Invalid as error:
            out.invalid.append({"index": index, "code": error.code, "message": error.message})
            out.outcomes.append((_kind(message), "invalid"))
            continue
        if type(event) is Dropped:
            reason, message_id = event.reason, message.messageId
            out.dropped.append({"index": index, "messageId": message_id, "reason": reason})
            out.outcomes.append((message.type, "dropped"))
            continue
        out.events.append(event)
        out.kinds.append(message.type)
        out.indexes.append(index)
    return out


def _event(message: Any, size: int, received: Received) -> Any:
    """The event a message becomes, validated, or :class:`Dropped`; raises
    :class:`Invalid` saying why it is neither."""
    if type(message) is not Message:
        raise Invalid("Each message must be a JSON object.")
    if size > MAX_MESSAGE_BYTES:
        raise Invalid(f"The message is over {MAX_MESSAGE_BYTES // 1024} KB.", "message_too_large")
    try:
        event = to_event(message, received.at, received.sent_at, received.mapping)
        if type(event) is Dropped:
            return event
        return load_checked(event, check_values=received.suspicious)
    except ValidationError as error:
        raise Invalid(one_line(in_segment_terms(error.messages))) from None


def _kind(message: Any) -> str:
    kind = message.type if isinstance(message, Message) else None
    return kind if type(kind) is str and kind in MESSAGE_TYPES else "unknown"


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
        {"Retry-After": str(RETRY_AFTER_S)},
    )
