"""``POST /v1/hooks/<platform>`` (or ``GET``: the documentation names only a URL
template): the platform asks before (``stage=pre``) and reports after (``stage=post``)
each send. Basic auth with the hook credentials."""

from __future__ import annotations

import hmac

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from schemas.events import IDENTIFIERS, PLATFORMS
from schemas.hooks import HOOK, STAGES
from webhook import auth
from webhook.api.bodies import json_object
from webhook.hub import current_hub
from workers.campaigns.campaign import Campaign
from workers.metrics.counters import HOOKS

bp = Blueprint("hooks", __name__)


@bp.route("/v1/hooks/<platform>", methods=["GET", "POST"])
def hook(platform: str) -> ResponseReturnValue:
    hub = current_hub()
    _check_basic_auth(hub.settings.hook_user, hub.settings.hook_password)
    if platform not in PLATFORMS:
        raise NotFound(f"No platform {platform!r}; expected one of {', '.join(PLATFORMS)}.")
    given = {**request.args.to_dict(), **json_object(optional=True)}
    try:
        params = HOOK.load(given)
    except ValidationError as error:
        stage = given.get("stage")
        HOOKS.labels(stage if stage in STAGES else "unknown", "rejected").inc()
        return {"errors": error.messages}, 422
    if params["stage"] == "post":
        campaign = Campaign(platform, params["campaign_id"], params["kind"])
        sends = hub.post_hooks.record(campaign, params.get("email"))
        HOOKS.labels("post", "recorded").inc()
        return {"recorded": True, "sends": sends}
    decision = hub.gate.decide({key: params[key] for key in IDENTIFIERS if params.get(key)})
    HOOKS.labels("pre", "allowed" if decision.allow else "refused").inc()
    return {"allow": True} if decision.allow else {"allow": False, "reason": decision.reason}


def _check_basic_auth(user: str | None, password: str | None) -> None:
    if not user or not password:
        raise _unauthorized("Hooks are refused: HOOKRELAY_HOOK_USER/PASSWORD are not set.")
    given = auth.authorization()
    ok = (
        given is not None
        and given.type == "basic"
        and hmac.compare_digest((given.username or "").encode(), user.encode())
        & hmac.compare_digest((given.password or "").encode(), password.encode())
    )
    if not ok:
        raise _unauthorized("Wrong or missing hook credentials (Basic auth).")


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, www_authenticate=WWWAuthenticate("basic", {"realm": "hooks"}))
