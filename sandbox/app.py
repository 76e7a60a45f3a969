"""The sandbox's HTTP surface: the simulated platforms and the ``/_sandbox`` admin API.

Each platform is served under its own prefix (``/crm`` ...), with the platform's own
paths, auth and status codes below it. Every simulated route goes through
:func:`simulated`, which checks auth, applies the route's fault if one is switched
on, and records the request with the status it got.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .state import Fault, Received, SandboxState

RETRY_IN_1S = {"Retry-After": "1"}
#: The status recorded for a request whose connection a fault dropped.
DROPPED = 0
ARRIVED = "sandbox.arrived"

crm = Blueprint("crm", __name__, url_prefix="/crm")
admin = Blueprint("admin", __name__, url_prefix="/_sandbox")


def create_app(state: SandboxState) -> Flask:
    app = Flask(__name__)
    app.extensions["sandbox"] = state
    app.register_blueprint(crm)
    app.register_blueprint(admin)
    app.register_error_handler(HTTPException, _json_error)
    app.wsgi_app = _stamp_arrival(app.wsgi_app)
    return app


def _stamp_arrival(wsgi_app):
    """Note when a request arrived before Flask does any work, as a platform's edge would."""

    def stamped(environ, start_response):
        environ[ARRIVED] = time.monotonic()
        return wsgi_app(environ, start_response)

    return stamped


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _json_error(error: HTTPException):
    return jsonify({"error": error.description}), error.code


def _authorized(state: SandboxState) -> bool:
    auth = request.authorization
    return bool(
        auth
        and auth.type == "basic"
        and auth.username == state.login
        and auth.password == state.secret
    )


def simulated(route: str) -> Callable:
    """Wrap a platform handler: auth, faults, then record what was answered."""

    def decorate(handler: Callable[[Any], tuple[Any, int]]) -> Callable:
        @functools.wraps(handler)
        def view():
            state = _state()
            arrived = request.environ[ARRIVED]
            body = request.get_json(silent=True)
            authorized = _authorized(state)
            if state.admit(route.split(".")[0], arrived):
                answer, status, headers = _answer(state, route, handler, body, authorized)
            else:
                answer, status, headers = {"detail": "Rate limit exceeded."}, 429, RETRY_IN_1S
            state.record(
                Received(
                    route=route,
                    method=request.method,
                    path=request.path,
                    query=request.query_string.decode(),
                    authorized=authorized,
                    body=body,
                    status=status,
                )
            )
            if status == DROPPED:
                _drop_connection()
            return jsonify(answer), status, headers

        return view

    return decorate


def _answer(state, route, handler, body, authorized) -> tuple[Any, int, dict[str, str]]:
    if not authorized:
        detail = {"detail": "Authentication credentials were not provided."}
        return detail, 401, {"WWW-Authenticate": 'Basic realm="sandbox"'}
    fault = state.take_fault(route)
    if fault is not None and fault.drop:
        return None, DROPPED, {}
    if fault is not None:
        time.sleep(fault.delay_s)
        if fault.status is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return {"detail": f"simulated {fault.status}"}, fault.status, headers
    if body is None:
        return {"detail": "JSON parse error."}, 400, {}
    return (*handler(body), {})


def _drop_connection() -> None:
    """Cut the client's connection with no answer, as a crashed proxy would; the
    server's own write then fails, which it treats as a client gone away."""
    request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)


# --- the S2S marketing platform (api-docs/crm-server-to-server-api.txt) ---------------


@crm.post("/api/v1/users/")
@simulated("crm.users")
def crm_user(body):
    if not isinstance(body, dict) or not _identified(body):
        return {"detail": "One of uid, phone, email, wp_token is required."}, 400
    return _state().upsert_profiles([body])[0], 201


@crm.post("/api/v1/users/batch/")
@simulated("crm.users_batch")
def crm_users_batch(body):
    if not isinstance(body, list) or not all(isinstance(h, dict) for h in body):
        return {"detail": "An array of hashmaps is expected."}, 400
    problem = _batch_problem(body)
    if problem:
        return {"detail": problem}, 400
    return _state().upsert_profiles(body), 202


@crm.post("/api/v1/events/")
@simulated("crm.events")
def crm_event(body):
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        return {"detail": "name is required."}, 400
    return body, 201


def _identified(hashmap: dict) -> bool:
    return any(hashmap.get(key) for key in ("uid", "phone", "email", "wp_token"))


def _batch_problem(hashmaps: list[dict]) -> str | None:
    """The documentation forbids two hashmaps with the same uid, phone, email or wp_token."""
    seen: set[tuple[str, str]] = set()
    for index, hashmap in enumerate(hashmaps):
        if not _identified(hashmap):
            return f"Item {index}: one of uid, phone, email, wp_token is required."
        for key in ("uid", "phone", "email", "wp_token"):
            if hashmap.get(key):
                identity = (key, str(hashmap[key]))
                if identity in seen:
                    return f"Item {index}: {key} {hashmap[key]!r} appears in two hashmaps."
                seen.add(identity)
    return None


# --- admin ---------------------------------------------------------------------------


@admin.get("/health")
def health():
    return {"status": "ok"}


@admin.get("/received")
def received():
    return jsonify(_state().received(request.args.get("route")))


@admin.delete("/received")
def reset():
    _state().reset()
    return "", 204


@admin.get("/profiles")
def profiles():
    return jsonify(_state().profile_list())


@admin.put("/faults/<route>")
def set_faults(route: str):
    """One fault object, or a list of them tried in order for each request."""
    spec = request.get_json(force=True, silent=True)
    specs = spec if isinstance(spec, list) else [spec]
    allowed = {f.name for f in dataclass_fields(Fault)}
    if not all(isinstance(item, dict) and not set(item) - allowed for item in specs):
        return {"error": f"expected JSON objects with keys among {sorted(allowed)}"}, 400
    _state().set_faults(route, [Fault(**item) for item in specs])
    return "", 204


@admin.delete("/faults")
def clear_faults():
    _state().clear_faults()
    return "", 204


@admin.put("/limits/<platform>")
def set_limit(platform: str):
    spec = request.get_json(force=True, silent=True)
    if not isinstance(spec, dict) or not isinstance(spec.get("per_second"), int):
        return {"error": 'expected {"per_second": <int>}'}, 400
    _state().set_limit(platform, spec["per_second"])
    return "", 204


@admin.get("/limits")
def limits():
    return jsonify(_state().limits())


@admin.delete("/limits")
def clear_limits():
    _state().clear_limits()
    return "", 204
