"""Client of Pushwoosh (``api-docs/pushwoosh-statistics-api-v1.txt``, ``-v2.ru.txt``).

Two styles of call:

- v2 (``/api/v2/...``): ``Authorization: Key <token>`` and a plain JSON body.
- v1 (``/json/1.3/<method>``): ``{"request": {"auth": <token>, ...}}``; the answer is
  ``{"status_code", "status_message", "response"}`` and a ``status_code`` other than
  200 is a failure even with HTTP 200 (210 means bad arguments: permanent).
"""

from __future__ import annotations

from typing import Any

from ..settings import PushwooshConfig
from . import errors
from .base import PlatformClient

PATHS = {"v1": "/json/1.3/{method}"}

#: Pushwoosh's code for a request whose arguments are wrong.
ARGUMENT_ERROR = 210


class PushwooshClient(PlatformClient):
    platform = "pushwoosh"

    def __init__(self, config: PushwooshConfig, **kwargs: Any) -> None:
        headers = {"Authorization": f"Key {config.api_token}"}
        super().__init__(config.base_url, headers=headers, **kwargs)
        self._token = config.api_token
        self.application = config.application

    def v1(self, method: str, **params: Any) -> Any:
        """Call ``/json/1.3/<method>``; return the answer's ``response`` part."""
        body = {"request": {"auth": self._token, **params}}
        answer = self.request("POST", PATHS["v1"].format(method=method), json=body, expect=(200,))
        return answer.get("response") if isinstance(answer, dict) else None

    def v2(self, path: str, body: dict[str, Any]) -> Any:
        """Call a v2 path (e.g. ``/api/v2/statistics/messages/totalsByIntervals``)."""
        return self.request("POST", path, json=body, expect=(200,))

    def _body_error(self, body: Any) -> tuple[type[errors.PlatformError], str] | None:
        code = body.get("status_code") if isinstance(body, dict) else None
        if code is None or code == 200:
            return None
        error_class = errors.error_class_for_status(code) if code != ARGUMENT_ERROR else None
        return (
            error_class or errors.Rejected,
            f"status_code {code}: {body.get('status_message', '')}",
        )
