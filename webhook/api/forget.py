"""``/v1/users/forget``: erase one person from every store, and optionally keep their
later events out (workers/erasure/; API keys required)."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from schemas.forget import FORGET_REQUEST
from schemas.identities import identity_key
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub

bp = Blueprint("forget", __name__, url_prefix="/v1/users/forget")

bp.before_request(auth.require_api_key)


@bp.post("")
def forget() -> ResponseReturnValue:
    try:
        body = FORGET_REQUEST.load(json_object())
    except ValidationError as error:
        return {"errors": error.messages}, 422
    keys = [identity_key(kind, str(value)) for kind, value in body["user"].items()]
    request_id = current_hub().forget_requests.submit(keys, suppress=body["suppress"])
    return {"id": request_id}, 202


@bp.get("/<request_id>")
def show(request_id: str) -> ResponseReturnValue:
    found = current_hub().forget_requests.read(request_id)
    if found is None:
        raise NotFound(f"No forget request {request_id!r} (a done one is kept 30 days).")
    return found


@bp.delete("/<request_id>/suppression")
def reopen(request_id: str) -> ResponseReturnValue:
    """Delete the suppression a done request left: the person's events go through again."""
    if not current_hub().forget_requests.reopen(request_id):
        raise NotFound(f"Forget request {request_id!r} left no suppression.")
    return "", 204
