"""``/v1/suppressions``: who must not be sent to (API keys required)."""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from schemas.events import IDENTIFIERS
from schemas.hooks import SUPPRESSION
from webhook import auth
from webhook.hub import current_hub

bp = Blueprint("suppressions", __name__, url_prefix="/v1/suppressions")


bp.before_request(auth.require_api_key)


@bp.post("")
def add():
    try:
        entry = SUPPRESSION.load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return {"errors": error.messages}, 422
    kind = next(key for key in IDENTIFIERS if entry.get(key))
    [key] = current_hub().gate.suppress({kind: entry[kind]}, entry.get("reason", ""))
    return {"id": key}, 201


@bp.delete("/<path:suppression_id>")
def remove(suppression_id: str):
    if not current_hub().gate.unsuppress(suppression_id):
        raise NotFound(f"No suppression {suppression_id}.")
    return "", 204


@bp.get("")
def list_all():
    limit = max(1, min(request.args.get("limit", 100, type=int), 1000))
    count, entries = current_hub().gate.suppressions(limit)
    return {"count": count, "suppressions": entries}
