"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import redis
from flask import Blueprint

from . import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    try:
        services.current().redis.ping()
    except redis.RedisError as error:
        return {"status": "unavailable", "redis": f"unreachable: {error}"}, 503
    return {"status": "ok", "redis": "ok"}
