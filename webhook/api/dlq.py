"""``/v1/dlq``: list, show, replay and purge the dead-letter queue (API keys required)."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from schemas.api import ReplaySelectionSchema
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub
from workers.queue.deadletters import Selection

REPLAY_SELECTION = ReplaySelectionSchema()

bp = Blueprint("dlq", __name__, url_prefix="/v1/dlq")


bp.before_request(auth.require_api_key)


@bp.get("")
def list_letters() -> ResponseReturnValue:
    limit = request.args.get("limit", 50, type=int)
    dead_letters = current_hub().dead_letters
    letters = dead_letters.newest(limit=max(1, min(limit, 1000)))
    return {"count": dead_letters.count(), "letters": [letter.summary() for letter in letters]}


@bp.get("/<letter_id>")
def show_letter(letter_id: str) -> ResponseReturnValue:
    letter = current_hub().dead_letters.show(letter_id)
    if letter is None:
        raise NotFound(f"No dead letter {letter_id}.")
    return letter.__dict__


@bp.post("/<letter_id>/replay")
def replay_letter(letter_id: str) -> ResponseReturnValue:
    if not current_hub().dead_letters.replay(letter_id):
        raise NotFound(f"No dead letter {letter_id}.")
    return {"replayed": 1}


@bp.post("/replay")
def replay_selected() -> ResponseReturnValue:
    """Replay the dead letters the body's filters select, or every one with ``{"all":
    true}`` (``dry_run``: count them only); each moves in one atomic step."""
    try:
        given = REPLAY_SELECTION.load(json_object())
    except ValidationError as error:
        return {"errors": error.messages}, 422
    dry_run = given.pop("dry_run")
    given.pop("all")
    selection = Selection.of(**given)
    dead_letters = current_hub().dead_letters
    chosen = dead_letters.select(selection)
    replayed = 0 if dry_run else sum(dead_letters.replay(letter) for letter in chosen)
    return {"matched": len(chosen), "replayed": replayed}


@bp.delete("")
def purge() -> ResponseReturnValue:
    return {"purged": current_hub().dead_letters.purge()}
