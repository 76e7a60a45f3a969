"""``GET /metrics``: Prometheus exposition of this web process group's counters and of
the deployment's backlog, read from Redis (see workers/metrics.py). Unauthenticated,
like ``/healthz``: it holds counts only, never an event's content."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from workers import metrics

from . import services

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    body = metrics.exposition(metrics.process_registry(), services.current().backlog.registry())
    return Response(body, content_type=CONTENT_TYPE_LATEST)
