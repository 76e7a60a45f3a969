"""``/v1/campaigns``: a campaign's statistics, and pause/resume/archive (API keys)."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from schemas.events import (
    CAMPAIGN_KINDS,
    CONTROL_ACTIONS,
    MAX_CAMPAIGN_ID,
    STARTABLE_PLATFORMS,
)
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub
from workers.queue.routes import CAMPAIGN_ACTION

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
