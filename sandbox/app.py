"""The sandbox's HTTP surface: the simulated platforms and the ``/_sandbox`` admin API.

Each platform is served under its own prefix (``/crm``, ``/pushwoosh``, ``/altcraft``),
with the platform's own paths, auth and status codes below it. Every simulated route
goes through :func:`~sandbox.simulation.simulated`, which checks auth, applies the
route's fault if one is switched on, and records the request with its answer.
The profile routes are here; campaigns and statistics are in ``platforms.py``.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from . import campaigns, platforms, segments
from .simulation import simulated, stamp_arrival, state
from .state import PROFILE_ORDERS, Fault, SandboxState
from .stats import Knobs

crm = Blueprint("crm", __name__, url_prefix="/crm")
admin = Blueprint("admin", __name__, url_prefix="/_sandbox")


def create_app(state: SandboxState) -> Flask:
    app = Flask(__name__)
    app.extensions["sandbox"] = state
    app.register_blueprint(crm)
    for blueprint in (*platforms.BLUEPRINTS, campaigns.crm_created, segments.crm_segments):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin)
    app.register_error_handler(HTTPException, _json_error)
    app.wsgi_app = stamp_arrival(app.wsgi_app)
    return app


def _json_error(error: HTTPException):
    return jsonify({"error": error.description}), error.code


# --- the S2S marketing platform (docs/platforms.md) -----------------------------------


@crm.post("/api/v1/users/")
@simulated("crm.users")
def crm_user(body):
    if not isinstance(body, dict) or not _identified(body):
        return {"detail": "One of uid, phone, email, wp_token is required."}, 400
    return state().upsert_profiles([body])[0], 201


@crm.post("/api/v1/users/batch/")
@simulated("crm.users_batch")
def crm_users_batch(body):
    if not isinstance(body, list) or not all(isinstance(h, dict) for h in body):
        return {"detail": "An array of hashmaps is expected."}, 400
    problem = _batch_problem(body)
    if problem:
        return {"detail": problem}, 400
    return state().upsert_profiles(body), 202


@crm.post("/api/v1/events/")
@simulated("crm.events")
def crm_event(body):
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        return {"detail": "name is required."}, 400
    state().note_event(body)
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
    return jsonify(state().received(request.args.get("route")))


@admin.delete("/received")
def reset():
    state().reset()
    return "", 204


@admin.get("/profiles")
def profiles():
    return jsonify(state().profile_list())


@admin.put("/profiles/order")
def set_profile_order():
    """``{"order": "stamp"}`` (the default) or ``{"order": "arrival"}``."""
    spec = request.get_json(force=True, silent=True)
    if not isinstance(spec, dict) or spec.get("order") not in PROFILE_ORDERS:
        return {"error": f'expected {{"order": <one of {list(PROFILE_ORDERS)}>}}'}, 400
    state().set_profile_order(spec["order"])
    return "", 204


@admin.get("/events/early")
def early_events():
    """The events that reached the platform before any profile of their user."""
    return jsonify(state().early_events())


@admin.put("/faults/<route>")
def set_faults(route: str):
    """One fault object, or a list of them tried in order for each request."""
    spec = request.get_json(force=True, silent=True)
    specs = spec if isinstance(spec, list) else [spec]
    allowed = {f.name for f in dataclass_fields(Fault)}
    if not all(isinstance(item, dict) and not set(item) - allowed for item in specs):
        return {"error": f"expected JSON objects with keys among {sorted(allowed)}"}, 400
    state().set_faults(route, [Fault(**item) for item in specs])
    return "", 204


@admin.delete("/faults")
def clear_faults():
    state().clear_faults()
    return "", 204


@admin.put("/limits/<platform>")
def set_limit(platform: str):
    spec = request.get_json(force=True, silent=True)
    if not isinstance(spec, dict) or not isinstance(spec.get("per_second"), int):
        return {"error": 'expected {"per_second": <int>}'}, 400
    state().set_limit(platform, spec["per_second"])
    return "", 204


@admin.get("/limits")
def limits():
    return jsonify(state().limits())


@admin.put("/stats")
def set_stats_knobs():
    """Change some of the statistics knobs (sandbox/stats.py ``Knobs``)."""
    spec = request.get_json(force=True, silent=True)
    names = Knobs.names()
    if not isinstance(spec, dict) or set(spec) - names:
        return {"error": f"expected an object with keys among {sorted(names)}"}, 400
    knobs = state().stats.knobs
    for name, value in spec.items():
        setattr(knobs, name, int(value))
    return "", 204


@admin.delete("/stats")
def reset_stats_knobs():
    state().stats.knobs = Knobs()
    return "", 204


@admin.get("/campaigns")
def campaign_statuses():
    return jsonify(state().stats.campaigns())


@admin.delete("/limits")
def clear_limits():
    state().clear_limits()
    return "", 204
