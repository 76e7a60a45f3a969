"""``POST /v1/events``: authenticate, validate the whole batch, enqueue, answer 202."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from schemas.events import EVENT_TYPES, MAX_BATCH, BatchValidationError, load_batch
from webhook import auth, tracecontext
from webhook.api.bodies import parse_json, read_body
from webhook.hub import current_hub
from workers.metrics.counters import EVENTS, count_each

bp = Blueprint("events", __name__)


@bp.post("/v1/events")
def post_events() -> ResponseReturnValue:
    hub = current_hub()
    auth.require_api_key()
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    raw = read_body()
    auth.check_signed(raw, hub.settings.signing_secrets, required=True)
    try:
        payload, suspicious = parse_json(raw)
    except BadRequest:
        EVENTS.labels("unknown", "rejected").inc()
        raise
    payload = with_webhook_ids(payload, request.headers.get("webhook-id"))
    try:
        events = load_batch(payload, check_values=suspicious)
    except BatchValidationError as error:
        count_each(EVENTS, ((event_type, "rejected") for event_type in _claimed_types(payload)))
        return {"errors": error.errors}, 422
    for event in events:
        if event.get("unsubscribe") and not hub.queue.stops(event):
            hub.gate.suppress(
                event["user"], reason=f"unsubscribed by event {event['id']}", source="event"
            )
    hub.headroom.check()
    result = hub.queue.submit(events, traceparent=tracecontext.current())
    outcomes = [
        (event["type"], "dropped" if i in result.stopped else _outcome(new))
        for i, (event, new) in enumerate(zip(events, result.new, strict=True))
    ]
    count_each(EVENTS, outcomes)
    answer: dict[str, Any] = {"accepted": result.accepted, "duplicates": result.duplicates}
    if result.stopped:
        answer["dropped"] = [
            {"index": i, "id": events[i]["id"], "reason": FORGOTTEN_REASON} for i in result.stopped
        ]
    return answer, 202


#: Why an event of a suppressed person is accepted and dropped.
FORGOTTEN_REASON = "its person was forgotten and suppressed (POST /v1/users/forget)"


def _outcome(new: bool) -> str:
    return "accepted" if new else "duplicate"


def with_webhook_ids(payload: Any, webhook_id: str | None) -> Any:
    """Events without an ``id`` get one from the Standard Webhooks ``webhook-id``: the
    id itself for a single event, ``<webhook-id>.<index>`` in a batch. A sender that
    retries with the same ``webhook-id`` then has its events answered as duplicates."""
    if not webhook_id:
        return payload
    if isinstance(payload, dict) and "events" not in payload:
        return payload if "id" in payload else {"id": webhook_id, **payload}
    items = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        return payload
    named = [
        {"id": f"{webhook_id}.{index}", **item}
        if isinstance(item, dict) and "id" not in item
        else item
        for index, item in enumerate(items)
    ]
    return {**payload, "events": named} if isinstance(payload, dict) else named


def _claimed_types(payload: Any) -> list[str]:
    """The type each event of a refused body claims (``unknown`` where it names none)."""
    items = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        items = [payload]
    return [
        item["type"] if isinstance(item, dict) and item.get("type") in EVENT_TYPES else "unknown"
        for item in items[:MAX_BATCH]
    ]
