"""``/v1/suppressions``: who must not be sent to (API keys required)."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from schemas.events import IDENTIFIERS
from schemas.hooks import SUPPRESSION
from schemas.identities import named_key
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub

bp = Blueprint("suppressions", __name__, url_prefix="/v1/suppressions")


bp.before_request(auth.require_api_key)


@bp.post("")
def add() -> ResponseReturnValue:
    try:
        entry = SUPPRESSION.load(json_object())
    except ValidationError as error:
        return {"errors": error.messages}, 422
    kind = next(key for key in IDENTIFIERS if entry.get(key))
    [key] = current_hub().gate.suppress({kind: entry[kind]}, entry.get("reason", ""))
    return {"id": key}, 201


#: How an id looks, for a 404 that names something else.
ID_FORMS = "email:a@example.com, phone:79160000001, uid:42 or wp_token:<token>"


@bp.delete("/<path:suppression_id>")
def remove(suppression_id: str) -> ResponseReturnValue:
    """Remove a suppression by its id, or by a bare email address."""
    key = named_key(suppression_id)
    if key is None:
        raise NotFound(f"No suppression {suppression_id!r}: ids look like {ID_FORMS}.")
    if not current_hub().gate.unsuppress(key):
        raise NotFound(f"No suppression {key} (ids look like {ID_FORMS}; GET lists them).")
    return "", 204


@bp.get("")
def list_all() -> ResponseReturnValue:
    limit = max(1, min(request.args.get("limit", 100, type=int), 1000))
    count, entries = current_hub().gate.suppressions(limit)
    return {"count": count, "suppressions": entries}
