"""Campaigns and segments listed, read, created and rewritten on the S2S platform,
synchronously: the API's ``/v1/campaigns/crm`` and ``/v1/segments/crm``
(webhook/api/campaigns.py, segments.py) answer with the platform's own answer,
retrying a busy platform within a few seconds (:data:`DEADLINE_S`).

Hooks. A campaign created with hooks (the default) is created without a
``hook_url_template``, then rewritten with one: the template's token binds the
campaign's id (workers/campaigns/hook_urls.py), which only the platform's answer gives.
Asked to start at once, it is created with ``start_immediately: false`` and its start is
left to the caller (the API queues a ``campaign_start`` event), so that no recipient is
sent to before its hooks are wired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.campaigns.campaign import Campaign
from workers.campaigns.hook_urls import HookUrls
from workers.platforms import errors

if TYPE_CHECKING:  # the client (and httpx) only where a call is made: web processes
    from workers.platforms.crm import CrmClient

#: How long a call may keep retrying a busy platform before the caller is answered.
DEADLINE_S = 5.0
FIRST_BACKOFF_S = 0.25


class CampaignRefused(Exception):
    """The platform refused, or could not be reached in time: ``status`` is the HTTP
    status to answer, ``platform_said`` the platform's own words."""

    def __init__(self, status: int, message: str, platform_said: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.platform_said = platform_said


@dataclass(frozen=True)
class Created:
    """A created campaign: the platform's last answer about it, its id (from the
    create's answer: the rewrite's may not repeat it), and whether its start is the
    caller's to do (asked to start at once, with hooks to wire first)."""

    campaign: dict[str, Any]
    campaign_id: Any
    start: bool = False


@dataclass
class CampaignAdmin:
    crm: CrmClient
    #: ``None`` where ``HOOKRELAY_PUBLIC_URL`` or ``HOOKRELAY_HOOK_KEYS`` is unset.
    urls: HookUrls | None
    deadline_s: float = DEADLINE_S

    def list(self, kind: str) -> Any:
        return self._call(self.crm.campaigns, kind)

    def show(self, kind: str, campaign_id: int) -> dict[str, Any]:
        return self._call(self.crm.campaign, kind, campaign_id)

    def create(self, loaded: dict[str, Any]) -> Created:
        """Create a campaign from a request loaded by schemas/campaigns.py."""
        kind, hooks, body = _split(loaded)
        if not hooks:
            created = self._call(self.crm.create_campaign, kind, body)
            return Created(created, created.get("id"))
        self._hook_urls()
        start = body.get("start_immediately", False)
        first = {**body, "start_immediately": False} if start else body
        created = self._call(self.crm.create_campaign, kind, first)
        campaign_id = created.get("id")
        if not isinstance(campaign_id, int):
            raise CampaignRefused(502, "The platform's answer names no campaign id.", str(created))
        wired = self._with_hooks({**body, "start_immediately": False}, kind, campaign_id)
        rewritten = self._call(self.crm.rewrite_campaign, kind, campaign_id, wired)
        return Created(rewritten, campaign_id, start)

    def rewrite(self, campaign_id: int, loaded: dict[str, Any]) -> dict[str, Any]:
        kind, hooks, body = _split(loaded)
        if hooks:
            body = self._with_hooks(body, kind, campaign_id)
        return self._call(self.crm.rewrite_campaign, kind, campaign_id, body)

    def segments(self) -> Any:
        return self._call(self.crm.segments)

    def segment(self, segment_id: int) -> dict[str, Any]:
        return self._call(self.crm.segment, segment_id)

    def create_segment(self, loaded: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.crm.create_segment, loaded)

    def change_segment(self, segment_id: int, loaded: dict[str, Any], *, partial: bool) -> Any:
        return self._call(self.crm.change_segment, segment_id, loaded, partial=partial)

    def generate_segment(self, segment_id: int) -> Any:
        return self._call(self.crm.generate_segment, segment_id)

    def _with_hooks(self, body: dict[str, Any], kind: str, campaign_id: int) -> dict[str, Any]:
        """``body`` with the hook part of its config written: this receiver's URL with the
        campaign's token, Basic auth and both stages unless the request says otherwise."""
        template = self._hook_urls().template(Campaign("crm", campaign_id, kind))
        config = {"hook_use_auth": True, "hook_pre_post": True, **body.get("config", {})}
        return {**body, "config": {**config, "hook_url_template": template}}

    def _hook_urls(self) -> HookUrls:
        if self.urls is None:
            raise CampaignRefused(
                422,
                'Hooks need HOOKRELAY_PUBLIC_URL and HOOKRELAY_HOOK_KEYS set (or "hooks": false).',
            )
        return self.urls

    def _call(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call``, retried while the platform is busy and the deadline allows."""
        deadline, backoff = time.monotonic() + self.deadline_s, FIRST_BACKOFF_S
        while True:
            try:
                return call(*args, **kwargs)
            except errors.RetryableError as error:
                wait = error.retry_after if error.retry_after is not None else backoff
                if time.monotonic() + wait > deadline:
                    raise _refused(error) from None
                time.sleep(wait)
                backoff *= 2
            except errors.PlatformError as error:
                raise _refused(error) from None


def _split(loaded: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
    """(kind, hooks, the body the platform is sent)."""
    body = {k: v for k, v in loaded.items() if k not in ("kind", "hooks")}
    return loaded["kind"], loaded.get("hooks", True), body


def _refused(error: errors.PlatformError) -> CampaignRefused:
    """What the caller is answered for a platform error."""
    if isinstance(error, errors.NotFound):
        return CampaignRefused(404, "The platform has nothing at that id.", error.body)
    if isinstance(error, errors.Unauthorized):
        return CampaignRefused(502, f"The platform refused hookrelay: {error.args[0]}.")
    if isinstance(error, errors.PermanentError):
        return CampaignRefused(422, "The platform refused it.", error.body)
    status = 503 if isinstance(error, errors.RateLimited | errors.CircuitOpen) else 502
    return CampaignRefused(status, f"The platform did not answer in time: {error}", error.body)
