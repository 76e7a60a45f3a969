"""``GET /v1/events/<id>``: where an event is, and what happened to it on the way;
``GET /v1/tail``: every outcome as it happens, as server-sent events (workers/trace)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from schemas.events import EVENT_TYPES, PLATFORMS
from webhook import auth
from webhook.hub import current_hub
from workers.trace.reader import unknown_event
from workers.trace.tail import OUTCOMES, Tail

#: The filters ``GET /v1/tail`` takes, and the values each may have.
TAIL_FILTERS = {"platform": PLATFORMS, "outcome": OUTCOMES, "type": EVENT_TYPES}
#: A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_S = 15
#: A stream ends after this, freeing its web thread (an EventSource reconnects).
MAX_STREAM_S = 3600

bp = Blueprint("traces", __name__)


@bp.get("/v1/events/<path:event_id>")
def show(event_id: str) -> ResponseReturnValue:
    auth.require_api_key()
    hub = current_hub()
    report = hub.traces.show(event_id)
    if report is None:
        raise NotFound(unknown_event(event_id, hub.settings.trace_retention_s))
    return report.asdict()


@bp.get("/v1/tail")
def tail() -> ResponseReturnValue:
    """Outcomes from now on, one ``data:`` line of JSON each; ``platform``, ``outcome``
    and ``type`` select, ``limit`` ends the stream after that many."""
    auth.require_api_key()
    chosen = {name: request.args.get(name) for name in TAIL_FILTERS}
    for name, value in chosen.items():
        if value is not None and value not in TAIL_FILTERS[name]:
            raise BadRequest(f"{name}: must be one of {', '.join(TAIL_FILTERS[name])}.")
    asked = request.args.get("limit")
    if asked is not None and not (asked.isdigit() and int(asked) >= 1):
        raise BadRequest("limit: must be a whole number, 1 or more.")
    limit = None if asked is None else int(asked)
    follow = Tail(current_hub().redis).follow(
        platform=chosen["platform"], outcome=chosen["outcome"], event_type=chosen["type"]
    )

    def stream() -> Iterator[str]:
        sent, quiet, ends = 0, 0, time.monotonic() + MAX_STREAM_S
        yield ": following hookrelay's outcomes\n\n"
        for item in follow:
            if time.monotonic() > ends:
                return
            if item is None:
                quiet += 1
                if quiet % HEARTBEAT_S == 0:
                    yield ": keep-alive\n\n"
                continue
            yield f"data: {json.dumps(item)}\n\n"
            sent += 1
            if limit is not None and sent >= limit:
                return

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
