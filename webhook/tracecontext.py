"""The W3C Trace Context ``traceparent`` a caller sends with its events: kept with each
event so that its trace and the log lines of its delivery attempts name the caller's
trace (docs/operations.md, "Trace context").

A header that is not a valid ``traceparent`` is ignored, as the recommendation asks of
a receiver: the request goes on, untraced.

With spans exported (workers/core/spans.py), each request is a ``hookrelay.receive``
span, the caller's child; what the events keep is then its descendant's traceparent."""

from __future__ import annotations

import re

from flask import Flask, Response, g, request

from workers.core.spans import Spans

HEADER = "traceparent"
#: version-trace_id-parent_id-flags; a later version may append fields after a dash.
_FORMAT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def parse(value: str | None) -> str | None:
    """``value`` as a version-00 ``traceparent``, or ``None`` if it is not a valid one."""
    found = _FORMAT.fullmatch((value or "").strip())
    if found is None:
        return None
    version, trace_id, parent_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return f"00-{trace_id}-{parent_id}-{flags}"


def from_request() -> str | None:
    """The current request's ``traceparent``, if it sent a valid one."""
    return parse(request.headers.get(HEADER))


def current() -> str | None:
    """What the request's events are handed: its receive span, or the caller's."""
    span = g.get("receive_span")
    return span.traceparent if span is not None else from_request()


def trace_requests(app: Flask, spans: Spans) -> None:
    """Make each request a ``hookrelay.receive`` span of ``spans``."""

    def start() -> None:
        g.receive_span = spans.start(
            "hookrelay.receive",
            from_request(),
            **{"http.request.method": request.method, "url.path": request.path},
        )

    def end(response: Response) -> Response:
        span = g.pop("receive_span", None)
        if span is not None:
            span.end(**{"http.response.status_code": response.status_code})
        return response

    app.before_request(start)
    app.after_request(end)
