"""``POST /v1/events``: authenticate, validate the whole batch, enqueue, answer 202."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from schemas.events import EVENT_TYPES, MAX_BATCH, BatchValidationError, load_batch
from webhook import auth
from webhook.hub import current_hub
from workers.metrics.counters import EVENTS

bp = Blueprint("events", __name__)

#: A JSON escape of a UTF-16 surrogate, the only way a lone one gets into a body.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@bp.post("/v1/events")
def post_events():
    hub = current_hub()
    auth.require_api_key()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = _read_body()
    if hub.settings.signing_secret:
        signature = request.headers.get(auth.SIGNATURE_HEADER)
        auth.check_signature(signature, raw, hub.settings.signing_secret)
    payload, suspicious = _parse_json(raw)
    try:
        events = load_batch(payload, check_values=suspicious)
    except BatchValidationError as error:
        for event_type in _claimed_types(payload):
            EVENTS.labels(event_type, "rejected").inc()
        return {"errors": error.errors}, 422
    for event in events:
        if event.get("unsubscribe"):
            hub.gate.suppress(
                event["user"], reason=f"unsubscribed by event {event['id']}", source="event"
            )
    hub.headroom.check()
    result = hub.queue.submit(events)
    for event, new in zip(events, result.new, strict=True):
        EVENTS.labels(event["type"], "accepted" if new else "duplicate").inc()
    return {"accepted": result.accepted, "duplicates": result.duplicates}, 202


def _read_body() -> bytes:
    """The body, refusing one over the limit with a 413 even when it came without a
    ``Content-Length`` (chunked): Werkzeug then stops reading at the limit, silently."""
    raw = request.get_data(cache=False)
    if request.content_length is None and len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    return raw


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The body, and whether it may hold a value no platform can take (a float out of
    range, a lone surrogate escape), which only then is looked for (schemas/values.py)."""
    out_of_range: list[str] = []

    def parse_float(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            out_of_range.append(text)
        return value

    try:
        payload = json.loads(raw, parse_float=parse_float, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        EVENTS.labels("unknown", "rejected").inc()
        raise BadRequest(f"The body is not valid JSON: {error}") from None
    return payload, bool(out_of_range) or SURROGATE_ESCAPE.search(raw) is not None


def _claimed_types(payload: Any) -> list[str]:
    """The type each event of a refused body claims (``unknown`` where it names none)."""
    items = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        items = [payload]
    return [
        item["type"] if isinstance(item, dict) and item.get("type") in EVENT_TYPES else "unknown"
        for item in items[:MAX_BATCH]
    ]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")
