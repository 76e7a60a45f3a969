"""Client of Pushwoosh (docs/platforms.md, "Pushwoosh").

Two styles of call:

- v2 (``/api/v2/...``): ``Authorization: <scheme> <token>`` and a plain JSON body. The
  scheme is what each method's own example shows: ``Api`` for the two link-interaction
  methods, ``Key`` for the rest (:data:`V2_SCHEMES`).
- v1 (``/json/1.3/<method>``): ``{"request": {"auth": <token>, ...}}``; the answer is
  ``{"status_code", "status_message", "response"}`` and a ``status_code`` other than
  200 is a failure even with HTTP 200 (210 means bad arguments: permanent).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from workers.core.platform_settings import PushwooshConfig
from workers.platforms import errors
from workers.platforms.base import PlatformClient

PATHS = {
    "v1": "/json/1.3/{method}",
    "messages": "/api/v2/messages:list",
    "totals": "/api/v2/statistics/messages/totalsByIntervals",
    "message_log": "/api/v2/statistics/getMessageLog",
    "links": "/api/v2/statistics/emails/linksInteractions",
    "link_devices": "/api/v2/statistics/emails/linksInteractionsDevices",
    "bounces": "/api/v2/statistics/emails/bouncedEmails",
}

#: The ``Authorization`` scheme of the v2 methods whose example shows ``Api``; every
#: other one shows ``Key`` or none (docs/platforms.md).
V2_SCHEMES = {PATHS["links"]: "Api", PATHS["link_devices"]: "Api"}

#: Largest pages the documentation allows.
MESSAGES_PER_PAGE = 1000
LINK_DEVICES_PER_PAGE = 1000
BOUNCES_PER_PAGE = 5000
MESSAGE_LOG_LIMIT = 1000
#: Scheduled v1 methods: they answer a ``request_id`` to poll with ``getResults``.
SCHEDULED_METHODS = (
    "getMsgStats",
    "getCampaignStats",
    "getAppStats",
    "getEventStatistics",
    "getTagStats",
)

#: Pushwoosh's code for a request whose arguments are wrong.
ARGUMENT_ERROR = 210


class PushwooshClient(PlatformClient):
    platform = "pushwoosh"

    def __init__(self, config: PushwooshConfig, **kwargs: Any) -> None:
        super().__init__(config.base_url, **kwargs)
        self._token = config.api_token
        self.application = config.application

    def v1(self, method: str, **params: Any) -> Any:
        """Call ``/json/1.3/<method>``; return the answer's ``response`` part."""
        body = {"request": {"auth": self._token, **params}}
        answer = self.request("POST", PATHS["v1"].format(method=method), json=body, expect=(200,))
        return answer.get("response") if isinstance(answer, dict) else None

    def v2(self, path: str, body: dict[str, Any]) -> Any:
        """Call a v2 path (e.g. ``/api/v2/statistics/messages/totalsByIntervals``)."""
        authorization = f"{V2_SCHEMES.get(path, 'Key')} {self._token}"
        headers = {"Authorization": authorization}
        return self.request("POST", path, json=body, headers=headers, expect=(200,)) or {}

    def schedule(self, method: str, **params: Any) -> str:
        """Start a scheduled v1 request; return the ``request_id`` to poll."""
        if method not in SCHEDULED_METHODS:
            raise ValueError(f"{method} is not a scheduled method")
        response = self.v1(method, **params) or {}
        if not response.get("request_id"):
            raise errors.Rejected(
                f"{method} answered no request_id",
                platform=self.platform,
                method="POST",
                url=PATHS["v1"].format(method=method),
                body=str(response),
            )
        return response["request_id"]

    def results(self, request_id: str) -> Any | None:
        """The result of a scheduled request, or ``None`` while it is not ready.

        The documentation does not describe a pending answer; we take an absent or
        empty ``response``, or one whose ``status`` is ``pending``, for not ready.
        """
        response = self.v1("getResults", request_id=request_id)
        if not response or (isinstance(response, dict) and response.get("status") == "pending"):
            return None
        return response

    def messages(self, message_code: str) -> Iterator[dict[str, Any]]:
        """``messages:list`` for one message code, with metrics, every page."""
        body = {
            "filters": {"messages_codes": [message_code], "application": self.application},
            "params": {"with_details": False, "with_metrics": True},
        }
        for items in self.paged(PATHS["messages"], body, items="items", per_page=MESSAGES_PER_PAGE):
            yield from items

    def message_log(self, message_code: str) -> Iterator[list[dict[str, Any]]]:
        """``getMessageLog`` pages for one message, following ``pagination_token`` to
        the end. A token answered twice, or an empty page with a token, would loop
        forever: it ends the fetch as a :class:`~.errors.Rejected`."""
        token, seen = None, set()
        while True:
            body = {
                "application_code": self.application,
                "message_code": message_code,
                "limit": MESSAGE_LOG_LIMIT,
            }
            if token:
                body["pagination_token"] = token
            answer = self.v2(PATHS["message_log"], body)
            rows = answer.get("data") or []
            yield rows
            token = answer.get("pagination_token")
            if not token:
                return
            if token in seen or not rows:
                problem = "the same pagination_token again" if token in seen else "an empty page"
                raise errors.Rejected(
                    f"getMessageLog answered {problem} with token {str(token)[:40]!r}",
                    platform=self.platform,
                    method="POST",
                    url=PATHS["message_log"],
                    status=200,
                )
            seen.add(token)

    def probe(self) -> None:
        """A harmless authenticated read (one page of one message), for ``doctor``."""
        body = {"filters": {"application": self.application}, "page": 0, "per_page": 1}
        self.v2(PATHS["messages"], body)

    def paged(
        self, path: str, body: dict[str, Any], *, items: str, per_page: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a ``page``/``per_page`` listing (pages count from 0), until
        ``total`` rows were seen, or an empty page (a short one when there is no total).
        """
        seen = 0
        for page in itertools.count():
            answer = self.v2(path, {**body, "page": page, "per_page": per_page})
            rows = answer.get(items) or []
            yield rows
            seen += len(rows)
            total = answer.get("total")
            done = seen >= int(total) if total is not None else len(rows) < per_page
            if not rows or done:
                return

    def _body_error(self, body: Any) -> tuple[type[errors.PlatformError], str] | None:
        code = body.get("status_code") if isinstance(body, dict) else None
        if code is None or code == 200:
            return None
        error_class = errors.error_class_for_status(code) if code != ARGUMENT_ERROR else None
        return (
            error_class or errors.Rejected,
            f"status_code {code}: {body.get('status_message', '')}",
        )
