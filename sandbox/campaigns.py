"""The S2S platform's campaigns created through its API: listed, created, rewritten, and
played with their hooks once started (sandbox/hook_calls.py). A create or rewrite
missing a field the documentation marks required is refused, so a client that leaves
one out fails."""

from __future__ import annotations

from flask import Blueprint

from .hook_calls import play_in_background
from .simulation import missing_fields, simulated, state
from .stats import StatsWorld

crm_created = Blueprint("crm_created", __name__, url_prefix="/crm")
COLLECTIONS = ("mailings", "ab-mailings", "auto-mailings")
#: The fields the documentation marks required, per collection.
CAMPAIGN_REQUIRED = {
    "mailings": ("message_type", "message_id", "source_type"),
    "ab-mailings": ("messages_type", "message_id", "source_type"),
    "auto-mailings": ("message_type", "message_id", "source_type", "source_id"),
}


def _world() -> StatsWorld:
    return state().stats


@crm_created.get("/api/v1/<collection>/")
@simulated("crm.campaigns")
def crm_campaigns_list(body, collection: str):
    if collection not in COLLECTIONS:
        return {"detail": "Not found."}, 404
    return _world().created(collection), 200


@crm_created.post("/api/v1/<collection>/")
@simulated("crm.campaign_create")
def crm_campaign_create(body, collection: str):
    refusal = _campaign_refusal(collection, body)
    if refusal:
        return refusal
    campaign_id = _world().create(collection, body)
    return _world().created(collection, campaign_id)[0], 201


@crm_created.put("/api/v1/<collection>/<int:campaign_id>/")
@simulated("crm.campaign_rewrite")
def crm_campaign_rewrite(body, collection: str, campaign_id: int):
    refusal = _campaign_refusal(collection, body)
    if refusal:
        return refusal
    if not _world().rewrite(collection, campaign_id, body):
        return {"detail": "Not found."}, 404
    return _world().created(collection, campaign_id)[0], 200


def _campaign_refusal(collection: str, body) -> tuple[dict, int] | None:
    """What the platform answers a campaign missing a field its documentation requires,
    or of an unknown collection."""
    if collection not in COLLECTIONS:
        return {"detail": "Not found."}, 404
    return missing_fields(body, CAMPAIGN_REQUIRED[collection])


def play(collection: str, campaign_id: int) -> None:
    """Send a created campaign, calling its hooks (sandbox/hook_calls.py)."""
    [created] = _world().created(collection, campaign_id) or [None]
    if created is None:
        return
    sandbox, world = state(), _world()
    if "hook_url_template" not in (created.get("config") or {}):
        return
    world.played(collection, campaign_id)
    play_in_background(
        created,
        sandbox.profile_list(),
        (sandbox.login, sandbox.secret),
        lambda person: world.record_send(collection, campaign_id),
    )
