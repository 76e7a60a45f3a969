"""Client of the S2S marketing platform (docs/platforms.md, "The S2S marketing platform").

The platform's documentation gives no paths; :data:`PATHS` holds the ones hookrelay
and the sandbox use, in one table so a deployment can change them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from schemas.events import CONTROL_ACTIONS
from workers.core.platform_settings import CrmConfig
from workers.platforms import errors
from workers.platforms.base import ANY_SUCCESS, PlatformClient

PATHS = {
    "upsert_profile": "/api/v1/users/",
    "upsert_profiles": "/api/v1/users/batch/",
    "post_event": "/api/v1/events/",
    "campaigns": "/api/v1/{collection}/",
    "campaign": "/api/v1/{collection}/{id}/",
    "campaign_action": "/api/v1/{collection}/{id}/{action}/",
    "report": "/api/v1/reports/",
    "segments": "/api/v1/segments/",
    "segment": "/api/v1/segments/{id}/",
    "segment_generate": "/api/v1/segments/{id}/generate/",
}

#: Where each campaign kind lives, and its letter in a report's ``post`` filter.
CAMPAIGN_COLLECTIONS = {"mailing": "mailings", "ab": "ab-mailings", "automated": "auto-mailings"}
POST_TYPES = {"mailing": "S", "ab": "B", "automated": "A"}
CAMPAIGN_ACTIONS = ("start", *CONTROL_ACTIONS)


class CrmClient(PlatformClient):
    """Basic auth ``login:secret`` on every call."""

    platform = "crm"
    #: The platform checks the caller's address as well as its credentials (the
    #: documentation: "login and secret, and the list of allowed IP addresses, can be
    #: changed in the project settings").
    refused_access = (
        "credentials refused, or this host's IP address is not on the project's allow-list "
        "(both are set in the platform's project settings)"
    )

    def __init__(self, config: CrmConfig, **kwargs: Any) -> None:
        super().__init__(
            config.base_url, auth=httpx.BasicAuth(config.login, config.secret), **kwargs
        )

    def upsert_profiles(self, profiles: list[dict[str, Any]]) -> Any:
        """Batch upsert: one hashmap per profile, never two for one identity."""
        return self.request("POST", PATHS["upsert_profiles"], json=profiles, expect=(202,))

    def post_event(self, body: dict[str, Any]) -> Any:
        return self.request("POST", PATHS["post_event"], json=body, expect=(201,))

    def campaign(self, kind: str, campaign_id: int) -> dict[str, Any]:
        path = PATHS["campaign"].format(collection=CAMPAIGN_COLLECTIONS[kind], id=campaign_id)
        return self.request("GET", path, expect=(200,)) or {}

    def campaigns(self, kind: str) -> Any:
        """The campaigns of ``kind``, as the platform lists them."""
        path = PATHS["campaigns"].format(collection=CAMPAIGN_COLLECTIONS[kind])
        return self.request("GET", path, expect=(200,))

    def create_campaign(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a campaign of ``kind``; the platform's answer holds its ``id``."""
        path = PATHS["campaigns"].format(collection=CAMPAIGN_COLLECTIONS[kind])
        return self.request("POST", path, json=body, expect=(200, 201)) or {}

    def rewrite_campaign(self, kind: str, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Replace a campaign's fields (``PUT``) with ``body``."""
        path = PATHS["campaign"].format(collection=CAMPAIGN_COLLECTIONS[kind], id=campaign_id)
        return self.request("PUT", path, json=body, expect=(200,)) or {}

    def campaign_action(self, kind: str, campaign_id: int, action: str) -> Any:
        """Start, pause, resume or archive a campaign of ``kind`` (mailing, ab, automated)."""
        if action not in CAMPAIGN_ACTIONS:
            raise ValueError(f"unknown campaign action {action!r}")
        path = PATHS["campaign_action"].format(
            collection=CAMPAIGN_COLLECTIONS[kind], id=campaign_id, action=action
        )
        return self.request("POST", path, expect=ANY_SUCCESS)

    def segments(self) -> Any:
        return self.request("GET", PATHS["segments"], expect=(200,))

    def segment(self, segment_id: int) -> dict[str, Any]:
        return self.request("GET", PATHS["segment"].format(id=segment_id), expect=(200,)) or {}

    def create_segment(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", PATHS["segments"], json=body, expect=(200, 201)) or {}

    def change_segment(self, segment_id: int, body: dict[str, Any], *, partial: bool) -> Any:
        """Rewrite a segment (``PUT``), or with ``partial`` edit some of its fields
        (``PATCH``)."""
        method = "PATCH" if partial else "PUT"
        path = PATHS["segment"].format(id=segment_id)
        return self.request(method, path, json=body, expect=(200,)) or {}

    def generate_segment(self, segment_id: int) -> Any:
        """Start a segment's generation (its answer says no more than it started)."""
        path = PATHS["segment_generate"].format(id=segment_id)
        return self.request("POST", path, expect=ANY_SUCCESS) or {}

    def report(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        """One report query (``fields``, filters with ``ge:``/``le:``/``in:`` modifiers);
        the answer's ``metadata.ready`` may be false, and ``result`` holds at most 100
        rows, the last being the totals."""
        return self.request("GET", PATHS["report"], params=params, expect=(200,)) or {}

    def _body_error(self, body: Any) -> tuple[type[errors.PlatformError], str] | None:
        """A report (or any answer) accepted with an ``error`` in its body failed:
        refused, so dead-lettered with the platform's words (docs/platforms.md)."""
        if isinstance(body, dict) and body.get("error") not in (None, "", 0, False):
            return errors.Rejected, f"error in an accepted answer: {str(body['error'])[:200]}"
        return None

    def probe(self) -> None:
        """A harmless authenticated read (a one-day report of campaign 0), for ``doctor``."""
        self.report([("fields", "date"), ("post", "S_0"), ("date", date.today().isoformat())])
