"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import redis
import sqlalchemy
from flask import Blueprint
from flask.typing import ResponseReturnValue

from webhook.hub import current_hub

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


#: Why Redis is not ready, in words: an error's own text names hosts, ports or socket
#: paths, which an unauthenticated probe must not tell (most specific class first).
REDIS_TROUBLE = (
    (redis.exceptions.BusyLoadingError, "loading its data"),
    (redis.exceptions.ReadOnlyError, "read-only (a replica, not the primary)"),
    (redis.exceptions.AuthenticationError, "refused the credentials"),
    (redis.exceptions.TimeoutError, "did not answer in time"),
    (redis.exceptions.ConnectionError, "unreachable"),
)


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Whether this process can take events, and why not, in words: no host, port,
    socket or path (it needs no credentials)."""
    hub = current_hub()
    checks = {"redis": "ok", "store": "ok"}
    try:
        hub.redis.ping()
    except redis.RedisError as error:
        checks["redis"] = redis_trouble(error)
    try:
        hub.store.ping()
    except sqlalchemy.exc.SQLAlchemyError:
        checks["store"] = "unreachable"
    if any(value != "ok" for value in checks.values()):
        return {"status": "unavailable", **checks}, 503
    return {"status": "ok", **checks}


def redis_trouble(error: redis.RedisError) -> str:
    return next((words for kind, words in REDIS_TROUBLE if isinstance(error, kind)), "failing")
