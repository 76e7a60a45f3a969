"""Client of Altcraft (docs/platforms.md, "Altcraft").

The token and the database (``list_id``) travel in the JSON body. Every answer
carries ``error`` (0 = success) and ``error_text``; a non-zero ``error`` is a failure
even with HTTP 200, and it is permanent: the request itself was refused.
"""

from __future__ import annotations

from typing import Any

from workers.core.platform_settings import AltcraftConfig
from workers.platforms import errors
from workers.platforms.base import PlatformClient

PATHS = {"history": "/api/v1.1/subscribers/history_get"}
PROBE_EMAIL = "doctor@hookrelay.invalid"
#: ``error`` codes that mean the token was refused (the documentation lists none; these
#: are the HTTP codes for it, which the sandbox uses).
AUTH_ERRORS = (401, 403)


class AltcraftClient(PlatformClient):
    platform = "altcraft"

    def __init__(self, config: AltcraftConfig, **kwargs: Any) -> None:
        super().__init__(config.base_url, **kwargs)
        self._token = config.token
        self.list_id = config.list_id

    def history(
        self, *, date_from: str | None = None, date_to: str | None = None, **profile: str
    ) -> list[dict[str, Any]]:
        """One profile's actions, found by ``xxh=...`` or by ``matching=...`` and its fields."""
        period = {"date_from": date_from, "date_to": date_to}
        body = {
            "token": self._token,
            "list_id": self.list_id,
            **profile,
            **{key: value for key, value in period.items() if value},
        }
        return self.request("POST", PATHS["history"], json=body, expect=(200,))["data"]

    def probe(self) -> None:
        """A harmless authenticated read (the history of an address that cannot exist),
        for ``doctor``; an answer that the profile is unknown still proves the token."""
        self.history(matching="email", email=PROBE_EMAIL)

    def _body_error(self, body: Any) -> tuple[type[errors.PlatformError], str] | None:
        if not isinstance(body, dict) or "error" not in body:
            return errors.Rejected, "answer has no 'error' field"
        if body["error"] != 0:
            error_class = errors.Unauthorized if body["error"] in AUTH_ERRORS else errors.Rejected
            return error_class, f"error {body['error']}: {body.get('error_text', '')}"
        return None
