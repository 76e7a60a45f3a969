"""Client of the S2S marketing platform (``api-docs/crm-server-to-server-api.txt``).

The documentation gives no paths; :data:`PATHS` holds the ones hookrelay and the
sandbox use (DESIGN.md, "Outbound: the S2S marketing platform"), in one table so a
deployment can change them.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..settings import CrmConfig
from .base import PlatformClient

PATHS = {
    "upsert_profile": "/api/v1/users/",
    "upsert_profiles": "/api/v1/users/batch/",
    "post_event": "/api/v1/events/",
}


class CrmClient(PlatformClient):
    """Basic auth ``login:secret`` on every call."""

    platform = "crm"

    def __init__(self, config: CrmConfig, **kwargs: Any) -> None:
        super().__init__(
            config.base_url, auth=httpx.BasicAuth(config.login, config.secret), **kwargs
        )

    def upsert_profiles(self, profiles: list[dict[str, Any]]) -> Any:
        """Batch upsert: one hashmap per profile, never two for one identity."""
        return self.request("POST", PATHS["upsert_profiles"], json=profiles, expect=(202,))

    def post_event(self, body: dict[str, Any]) -> Any:
        return self.request("POST", PATHS["post_event"], json=body, expect=(201,))
