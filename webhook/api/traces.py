"""``GET /v1/events/<id>``: where an event is, and what happened to it on the way
(workers/trace)."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import NotFound

from webhook import auth
from webhook.hub import current_hub

bp = Blueprint("traces", __name__)


@bp.get("/v1/events/<path:event_id>")
def show(event_id: str):
    auth.require_api_key()
    hub = current_hub()
    report = hub.traces.show(event_id)
    if report is None:
        raise NotFound(
            f"No event {event_id}: not accepted in the last 24 h, and no trace of it is "
            f"kept (traces last {hub.settings.trace_retention_s} s after their last "
            "entry: TRACE_RETENTION_S)."
        )
    return report.asdict()
