"""``POST /v1/events``: authenticate, validate the whole batch, enqueue, answer 202."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from schemas.events import BatchValidationError, load_batch

from . import auth, services

bp = Blueprint("events", __name__)


@bp.post("/v1/events")
def post_events():
    hub = services.current()
    auth.require_api_key()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = request.get_data(cache=False)
    if hub.settings.signing_secret:
        signature = request.headers.get(auth.SIGNATURE_HEADER)
        auth.check_signature(signature, raw, hub.settings.signing_secret)
    try:
        events = load_batch(_parse_json(raw))
    except BatchValidationError as error:
        return {"errors": error.errors}, 422
    for event in events:
        if event.get("unsubscribe"):
            hub.gate.suppress(event["user"], reason=f"unsubscribed by event {event['id']}")
    result = hub.queue.submit(events)
    return {"accepted": result.accepted, "duplicates": result.duplicates}, 202


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")
