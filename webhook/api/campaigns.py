"""``/v1/campaigns``: the S2S platform's campaigns listed, read, created and rewritten
(synchronously, workers/campaigns/admin.py), a campaign's statistics, and
pause/resume/archive (API keys)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound, ServiceUnavailable

from schemas.campaigns import load_campaign
from schemas.events import (
    CAMPAIGN_KINDS,
    CONTROL_ACTIONS,
    MAX_CAMPAIGN_ID,
    STARTABLE_PLATFORMS,
)
from schemas.fast import stored_time
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub
from workers.campaigns.admin import CampaignAdmin, CampaignRefused
from workers.campaigns.hook_urls import HookUrls
from workers.queue.routes import CAMPAIGN_ACTION
from workers.ratelimit.limiter import platform_limiter

bp = Blueprint("campaigns", __name__, url_prefix="/v1/campaigns")
bp.before_request(auth.require_api_key)


#: A campaign id in a path: beyond what the store holds is no such campaign (404).
CAMPAIGN_ID = f"<int(max={MAX_CAMPAIGN_ID}):campaign_id>"


@bp.get(f"/<platform>/{CAMPAIGN_ID}/stats")
def stats(platform: str, campaign_id: int) -> ResponseReturnValue:
    summary = current_hub().store.summary(platform, campaign_id)
    if summary is None:
        raise NotFound(f"No statistics for {platform} campaign {campaign_id} yet.")
    return summary


@bp.post(f"/<platform>/{CAMPAIGN_ID}/<action>")
def act(platform: str, campaign_id: int, action: str) -> ResponseReturnValue:
    if platform not in STARTABLE_PLATFORMS:
        raise NotFound(f"Campaign actions exist for: {', '.join(STARTABLE_PLATFORMS)}.")
    if action not in CONTROL_ACTIONS:
        raise NotFound(f"No action {action!r}; expected one of {', '.join(CONTROL_ACTIONS)}.")
    hub = current_hub()
    run = hub.store.run(platform, campaign_id)
    kind = json_object(optional=True).get("kind") or (run.kind if run else "mailing")
    if kind not in CAMPAIGN_KINDS:
        return {"errors": {"kind": [f"Must be one of: {', '.join(CAMPAIGN_KINDS)}."]}}, 422
    campaign = {"platform": platform, "id": campaign_id, "kind": kind}
    message_id = hub.messages.send(CAMPAIGN_ACTION, (campaign, action))
    return {"queued": action, "campaign": campaign, "message_id": message_id}, 202


@bp.get("/crm")
def crm_list() -> ResponseReturnValue:
    kind = _kind(request.args.get("kind"))
    with platform_admin() as admin:
        return {"kind": kind, "campaigns": admin.list(kind)}


@bp.get("/crm/<int:campaign_id>")
def crm_show(campaign_id: int) -> ResponseReturnValue:
    kind = _kind(request.args.get("kind"))
    known_id(campaign_id)
    with platform_admin() as admin:
        return admin.show(kind, campaign_id)


@bp.post("/crm")
def crm_create() -> ResponseReturnValue:
    loaded = load_campaign(json_object())
    with platform_admin() as admin:
        created = admin.create(loaded)
    answer: dict[str, Any] = {"id": created.campaign_id, **created.campaign}
    if created.start:
        campaign = {"platform": "crm", "kind": loaded["kind"], "id": created.campaign_id}
        start = {"id": f"created:{campaign['id']}:start", "type": "campaign_start"}
        hub = current_hub()
        hub.headroom.check()
        now = stored_time(datetime.now(UTC))
        hub.queue.submit([{**start, "timestamp": now, "campaign": campaign}])
        answer["start"] = "queued"
    return answer, 201


@bp.put("/crm/<int:campaign_id>")
def crm_rewrite(campaign_id: int) -> ResponseReturnValue:
    known_id(campaign_id)
    loaded = load_campaign(json_object())
    with platform_admin() as admin:
        return admin.rewrite(campaign_id, loaded)


@contextmanager
def platform_admin() -> Iterator[CampaignAdmin]:
    """A :class:`CampaignAdmin` on the S2S platform, its client closed afterwards. The
    platform client (and httpx) is imported here, so that a web process loads it only
    once an admin call comes, never for events."""
    from workers.platforms.crm import CrmClient
    from workers.platforms.registry import crm_client

    hub = current_hub()
    settings = hub.settings
    client = crm_client(settings, platform_limiter(hub.redis, settings, "crm"))
    if not isinstance(client, CrmClient):
        raise ServiceUnavailable(
            "The S2S platform is off: set CRM_BASE_URL, CRM_LOGIN, CRM_SECRET."
        )
    urls = None
    if settings.public_url and settings.hook_keys:
        urls = HookUrls(settings.public_url, settings.hook_keys, settings.hook_placeholder)
    try:
        yield CampaignAdmin(client, urls)
    finally:
        client.close()


def known_id(given: int) -> None:
    """An id past what the platform gives is none of its: 404. (Checked here, not by
    the route's converter, which would answer 405 where a route of another method has
    the same path.)"""
    if given > MAX_CAMPAIGN_ID:
        raise NotFound(f"No such id: {given} is past {MAX_CAMPAIGN_ID}.")


def _kind(given: str | None) -> str:
    if given not in CAMPAIGN_KINDS:
        raise ValidationError({"kind": [f"Must be one of: {', '.join(CAMPAIGN_KINDS)}."]})
    return given


def invalid(error: ValidationError) -> ResponseReturnValue:
    return {"errors": error.messages}, 422


def refused(error: CampaignRefused) -> ResponseReturnValue:
    return {"message": error.message, "platform_said": error.platform_said}, error.status


bp.register_error_handler(ValidationError, invalid)
bp.register_error_handler(CampaignRefused, refused)
