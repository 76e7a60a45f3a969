"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import redis
import sqlalchemy
from flask import Blueprint

from webhook.hub import current_hub

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    hub = current_hub()
    checks = {"redis": "ok", "store": "ok"}
    try:
        hub.redis.ping()
    except redis.RedisError as error:
        checks["redis"] = f"unreachable: {error}"
    try:
        hub.store.ping()
    except sqlalchemy.exc.SQLAlchemyError as error:
        checks["store"] = f"unreachable: {type(error).__name__}"
    if any(value != "ok" for value in checks.values()):
        return {"status": "unavailable", **checks}, 503
    return {"status": "ok", **checks}
