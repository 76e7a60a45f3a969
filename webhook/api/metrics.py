"""``GET /metrics``: Prometheus exposition of this web process group's counters and of
the deployment's backlog, read from Redis (workers/metrics/backlog.py). Unauthenticated,
like ``/healthz``: it holds counts only, never an event's content."""

from __future__ import annotations

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST

from webhook.hub import current_hub
from workers.metrics.exposition import exposition, process_registry

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> ResponseReturnValue:
    hub = current_hub()
    body = exposition(process_registry(), hub.backlog.registry(), hub.deployment.registry())
    return Response(body, content_type=CONTENT_TYPE_LATEST)
