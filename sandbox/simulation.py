"""What every simulated platform route shares: auth, the rate limit, faults, recording.

A platform handler is wrapped with :func:`simulated`, naming its route (``crm.users``,
``pushwoosh.message_log`` ...; the part before the dot is the platform, whose rate
limit applies) and how the platform authenticates.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, jsonify, request

from .state import Received, SandboxState

RETRY_IN_1S = {"Retry-After": "1"}
#: The status recorded for a request whose connection a fault dropped.
DROPPED = 0
ARRIVED = "sandbox.arrived"

#: An auth check: ``None`` if the request may pass, else the refusal to answer.
Refusal = tuple[Any, int, dict[str, str]]
AuthCheck = Callable[[SandboxState, Any], Refusal | None]


def stamp_arrival(wsgi_app):
    """Note when a request arrived before Flask does any work, as a platform's edge would."""

    def stamped(environ, start_response):
        environ[ARRIVED] = time.monotonic()
        return wsgi_app(environ, start_response)

    return stamped


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


def basic_auth(sandbox: SandboxState, body: Any) -> Refusal | None:
    """The S2S platform: Basic ``login:secret``."""
    auth = request.authorization
    if (
        auth
        and auth.type == "basic"
        and auth.username == sandbox.login
        and auth.password == sandbox.secret
    ):
        return None
    detail = {"detail": "Authentication credentials were not provided."}
    return detail, 401, {"WWW-Authenticate": 'Basic realm="sandbox"'}


def key_header_auth(sandbox: SandboxState, body: Any) -> Refusal | None:
    """Pushwoosh v2: ``Authorization: Key <token>``."""
    return _header_auth(sandbox, "Key")


def api_header_auth(sandbox: SandboxState, body: Any) -> Refusal | None:
    """Pushwoosh v2's link interactions, as their examples show: ``Authorization: Api
    <token>``."""
    return _header_auth(sandbox, "Api")


def _header_auth(sandbox: SandboxState, scheme: str) -> Refusal | None:
    if request.headers.get("Authorization") == f"{scheme} {sandbox.secret}":
        return None
    return {"detail": "Access denied."}, 401, {}


def v1_body_auth(sandbox: SandboxState, body: Any) -> Refusal | None:
    """Pushwoosh v1: ``{"request": {"auth": <token>}}``."""
    given = (body or {}).get("request", {}).get("auth") if isinstance(body, dict) else None
    if given == sandbox.secret:
        return None
    return {"status_code": 210, "status_message": "Access denied or application not found"}, 200, {}


def token_body_auth(sandbox: SandboxState, body: Any) -> Refusal | None:
    """Altcraft: ``token`` in the body; a bad one is ``error`` ≠ 0 with HTTP 200."""
    if isinstance(body, dict) and body.get("token") == sandbox.secret:
        return None
    return {"error": 401, "error_text": "Invalid API token"}, 200, {}


def simulated(route: str, auth: AuthCheck = basic_auth) -> Callable:
    """Wrap a platform handler: auth, rate limit, faults, then record what was answered."""

    def decorate(handler: Callable[[Any], tuple[Any, int]]) -> Callable:
        @functools.wraps(handler)
        def view(**path_args):
            sandbox = state()
            arrived = request.environ[ARRIVED]
            body = request.get_json(silent=True)
            refusal = auth(sandbox, body)
            if not sandbox.admit(route.split(".")[0], arrived):
                answer, status, headers = {"detail": "Rate limit exceeded."}, 429, RETRY_IN_1S
            elif refusal is not None:
                answer, status, headers = refusal
            else:
                answer, status, headers = _answer(sandbox, route, handler, body, path_args)
            sandbox.record(
                Received(
                    route=route,
                    method=request.method,
                    path=request.path,
                    query=request.query_string.decode(),
                    authorized=refusal is None,
                    body=body,
                    status=status,
                    answer=answer,
                )
            )
            if status == DROPPED:
                _drop_connection()
            return jsonify(answer), status, headers

        return view

    return decorate


def _answer(sandbox, route, handler, body, path_args) -> tuple[Any, int, dict[str, str]]:
    fault = sandbox.take_fault(route)
    if fault is not None and fault.drop:
        answer = handler(body, **path_args)[0] if fault.applied and body is not None else None
        return answer, DROPPED, {}
    if fault is not None:
        time.sleep(fault.delay_s)
        if fault.status is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return {"detail": f"simulated {fault.status}"}, fault.status, headers
    if body is None and request.get_data():
        return {"detail": "JSON parse error."}, 400, {}
    return (*handler(body, **path_args), {})


def _drop_connection() -> None:
    """Cut the client's connection with no answer, as a crashed proxy would; the
    server's own write then fails, which it treats as a client gone away."""
    request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)


def missing_fields(body: Any, required: tuple[str, ...]) -> tuple[dict, int] | None:
    """What the platform answers a body that is not an object, or lacks a field its
    documentation marks required (Django REST framework's words)."""
    if not isinstance(body, dict):
        return {"non_field_errors": ["Invalid data. Expected a dictionary."]}, 400
    missing = [name for name in required if name not in body]
    if missing:
        return {name: ["This field is required."] for name in missing}, 400
    return None
