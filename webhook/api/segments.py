"""``/v1/segments/crm``: the S2S platform's segments listed, read, created, rewritten,
edited and generated, synchronously as its campaigns are (webhook/api/campaigns.py)."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from schemas.campaigns import SEGMENT
from webhook import auth
from webhook.api.bodies import json_object
from webhook.api.campaigns import invalid, known_id, platform_admin, refused
from workers.campaigns.admin import CampaignRefused

bp = Blueprint("segments", __name__, url_prefix="/v1/segments")
bp.before_request(auth.require_api_key)
bp.register_error_handler(ValidationError, invalid)
bp.register_error_handler(CampaignRefused, refused)

SEGMENT_ID = "<int:segment_id>"


@bp.get("/crm")
def segment_list() -> ResponseReturnValue:
    with platform_admin() as admin:
        return {"segments": admin.segments()}


@bp.post("/crm")
def segment_create() -> ResponseReturnValue:
    loaded = SEGMENT.load(json_object())
    with platform_admin() as admin:
        return admin.create_segment(loaded), 201


@bp.get(f"/crm/{SEGMENT_ID}")
def segment_show(segment_id: int) -> ResponseReturnValue:
    known_id(segment_id)
    with platform_admin() as admin:
        return admin.segment(segment_id)


@bp.put(f"/crm/{SEGMENT_ID}")
def segment_rewrite(segment_id: int) -> ResponseReturnValue:
    known_id(segment_id)
    loaded = SEGMENT.load(json_object())
    with platform_admin() as admin:
        return admin.change_segment(segment_id, loaded, partial=False)


@bp.patch(f"/crm/{SEGMENT_ID}")
def segment_edit(segment_id: int) -> ResponseReturnValue:
    known_id(segment_id)
    loaded = SEGMENT.load(json_object(), partial=True)
    with platform_admin() as admin:
        return admin.change_segment(segment_id, loaded, partial=True)


@bp.post(f"/crm/{SEGMENT_ID}/generate")
def segment_generate(segment_id: int) -> ResponseReturnValue:
    known_id(segment_id)
    with platform_admin() as admin:
        return {"generating": segment_id, "platform_said": admin.generate_segment(segment_id)}
