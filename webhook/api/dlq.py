"""``/v1/dlq``: list, show, replay and purge the dead-letter queue (API keys required)."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.exceptions import NotFound

from webhook import auth
from webhook.hub import current_hub

bp = Blueprint("dlq", __name__, url_prefix="/v1/dlq")


bp.before_request(auth.require_api_key)


@bp.get("")
def list_letters():
    limit = request.args.get("limit", 50, type=int)
    dead_letters = current_hub().dead_letters
    letters = dead_letters.list(limit=max(1, min(limit, 1000)))
    return {"count": dead_letters.count(), "letters": [letter.summary() for letter in letters]}


@bp.get("/<letter_id>")
def show_letter(letter_id: str):
    letter = current_hub().dead_letters.show(letter_id)
    if letter is None:
        raise NotFound(f"No dead letter {letter_id}.")
    return letter.__dict__


@bp.post("/<letter_id>/replay")
def replay_letter(letter_id: str):
    if not current_hub().dead_letters.replay(letter_id):
        raise NotFound(f"No dead letter {letter_id}.")
    return {"replayed": 1}


@bp.post("/replay")
def replay_all():
    return {"replayed": current_hub().dead_letters.replay_all()}


@bp.delete("")
def purge():
    return {"purged": current_hub().dead_letters.purge()}
