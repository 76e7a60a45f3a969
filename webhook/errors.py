"""Every error answer is JSON; nothing a client sends may produce a 500."""

from __future__ import annotations

import json
import logging

import redis
import sqlalchemy as sa
from flask import Flask, current_app
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from schemas.events import MAX_BATCH
from webhook.intake.headroom import RedisFull

logger = logging.getLogger(__name__)

#: What a client is told to wait before retrying while Redis or the SQL store is
#: unreachable, or Redis full.
RETRY_AFTER_S = 5
#: Redis may run a script whose answer timed out once it wakes: say so.
UNAVAILABLE = (
    "The queue did not answer in time: this request may or may not have been accepted. "
    "Retry it with the same ids; whatever was accepted is answered as a duplicate."
)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(redis.RedisError, _redis_unavailable)
    app.register_error_handler(RecursionError, _too_deep)
    app.register_error_handler(RedisFull, _redis_full)
    app.register_error_handler(sa.exc.OperationalError, _sql_unavailable)


def error_code(error: HTTPException) -> str:
    """The name an error answer gives its status: ``request_entity_too_large``."""
    return error.name.lower().replace(" ", "_")


def _http_error(error: HTTPException) -> ResponseReturnValue:
    response = error.get_response()
    response.set_data(json.dumps({"error": error_code(error), "message": error.description}))
    response.content_type = "application/json"
    return response


def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """Werkzeug's own text says only that the data exceeds the capacity limit."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return _http_error(
        RequestEntityTooLarge(
            f"The body is over the limit of {limit // (1024 * 1024)} MiB ({limit:,} bytes): "
            f"split it into several requests (a batch holds at most {MAX_BATCH:,} events)."
        )
    )


def _too_deep(error: RecursionError) -> ResponseReturnValue:
    """A body nested deeper than the parser can follow (``[[[[…]]]]``), on any path."""
    return _http_error(BadRequest("The body is nested too deeply to be read as JSON."))


def _unavailable(message: str) -> ResponseReturnValue:
    """A ``503`` saying ``message``, with when to retry."""
    body = {"error": "unavailable", "message": message}
    return body, 503, {"Retry-After": str(RETRY_AFTER_S)}


def _redis_full(error: RedisFull) -> ResponseReturnValue:
    return _unavailable(f"Nothing was accepted: {error}")


def _redis_unavailable(error: redis.RedisError) -> ResponseReturnValue:
    logger.warning("Redis unavailable, answering 503: %s", error)
    return _unavailable(UNAVAILABLE)


def _sql_unavailable(error: sa.exc.OperationalError) -> ResponseReturnValue:
    """The SQL store (``DATABASE_URL``) did not answer: its reads are retried later."""
    logger.warning("SQL store unavailable, answering 503: %s", error)
    return _unavailable("The SQL store did not answer; retry later.")
