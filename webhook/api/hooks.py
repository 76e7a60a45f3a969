"""``POST /v1/hooks/<platform>`` (or ``GET``: the documentation names only a URL
template): the platform asks before (``stage=pre``) and reports after (``stage=post``)
each send.

Who may call: a URL that carries the token of the campaign it names (the templates
hookrelay writes, workers/campaigns/hook_urls.py), or Basic auth with the hook
credentials, or, on the S2S platform's hooks, with its own ``CRM_LOGIN``/``CRM_SECRET``
(the only credentials its documentation names for ``hook_use_auth``)."""

from __future__ import annotations

import hmac
from typing import Any

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
from workers.campaigns.hook_urls import valid_token
from workers.core.settings import Settings
from workers.metrics.counters import HOOKS

bp = Blueprint("hooks", __name__)


@bp.route("/v1/hooks/<platform>", methods=["GET", "POST"])
def hook(platform: str) -> ResponseReturnValue:
    hub = current_hub()
    by_credentials = _basic_auth_ok(hub.settings, platform)
    if not by_credentials and "token" not in request.args:
        raise _unauthorized(_refusal(hub.settings, platform))
    if platform not in PLATFORMS:
        raise NotFound(f"No platform {platform!r}; expected one of {', '.join(PLATFORMS)}.")
    given = {**request.args.to_dict(), **json_object(optional=True)}
    try:
        params = HOOK.load(given)
    except ValidationError as error:
        if not by_credentials:
            raise _unauthorized("The hook's token is not this campaign's.") from None
        stage = given.get("stage")
        HOOKS.labels(stage if stage in STAGES else "unknown", "rejected").inc()
        return {"errors": error.messages}, 422
    campaign = Campaign(platform, params.get("campaign_id", 0), params["kind"])
    token = request.args.get("token")
    if not by_credentials and not valid_token(hub.settings.hook_keys, token, campaign):
        raise _unauthorized("The hook's token is not this campaign's.")
    if params["stage"] == "post":
        sends = hub.post_hooks.record(campaign, params.get("email"))
        HOOKS.labels("post", "recorded").inc()
        return {"recorded": True, "sends": sends}
    decision = hub.gate.decide({key: params[key] for key in IDENTIFIERS if params.get(key)})
    HOOKS.labels("pre", "allowed" if decision.allow else "refused").inc()
    return {"allow": True} if decision.allow else {"allow": False, "reason": decision.reason}


def _basic_auth_ok(settings: Settings, platform: str) -> bool:
    """Whether the request's Basic credentials are the hook credentials, or the S2S
    platform's own on its hooks."""
    given = auth.authorization()
    if given is None or given.type != "basic":
        return False
    pairs: list[tuple[Any, Any]] = [(settings.hook_user, settings.hook_password)]
    if platform == "crm" and settings.crm is not None:
        pairs.append((settings.crm.login, settings.crm.secret))
    name, password = (given.username or "").encode(), (given.password or "").encode()
    return any(
        hmac.compare_digest(name, user.encode()) & hmac.compare_digest(password, secret.encode())
        for user, secret in pairs
        if user and secret
    )


def _refusal(settings: Settings, platform: str) -> str:
    crm_credentials = platform == "crm" and settings.crm is not None
    hook_credentials = settings.hook_user and settings.hook_password
    if not (hook_credentials or crm_credentials or settings.hook_keys):
        return (
            "Hooks are refused: set HOOKRELAY_HOOK_USER/PASSWORD (Basic auth), or "
            "HOOKRELAY_HOOK_KEYS for the token in the hook URLs hookrelay writes."
        )
    return "Wrong or missing hook credentials (Basic auth) and no token in the URL."


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, www_authenticate=WWWAuthenticate("basic", {"realm": "hooks"}))
