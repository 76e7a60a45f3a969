"""How the platform plays a campaign created with a ``hook_url_template``: once it is
started, for each recipient of its source, the pre-send hook (a recipient answered
``"allow": false`` is skipped), the send, then the post-send hook when
``hook_pre_post`` is on, with Basic ``login:secret`` when ``hook_use_auth`` is on.

The documentation names those config keys only; this is the reading hookrelay's
docs/platforms.md assumes, played here so that a client and a receiver built on it
meet a platform that behaves so. Placeholders are written ``{name}``. A hook that cannot
be reached, or answers anything but a decision, counts as a refusal: the recipient is
not sent to.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

IDENTIFIERS = ("uid", "email", "phone", "wp_token")
HOOK_TIMEOUT_S = 10.0


def play_in_background(
    body: dict[str, Any],
    profiles: list[dict[str, Any]],
    credentials: tuple[str, str],
    on_sent: Callable[[dict[str, str]], None],
) -> threading.Thread | None:
    """Start playing a started campaign's sends, calling ``on_sent`` for each recipient
    sent to; ``None`` when it has no hooks."""
    config = body.get("config") or {}
    template = config.get("hook_url_template")
    if not isinstance(template, str) or not template:
        return None
    auth = credentials if config.get("hook_use_auth") else None
    post = bool(config.get("hook_pre_post"))
    thread = threading.Thread(
        target=_play,
        args=(template, recipients(body, profiles), auth, post, on_sent),
        name="sandbox-campaign",
        daemon=True,
    )
    thread.start()
    return thread


def recipients(body: dict[str, Any], profiles: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Whom a campaign sends to: its uploaded CSV's rows, else every profile."""
    uploaded = _csv_rows(body.get("source_uploaded_csv"))
    if uploaded is not None:
        return uploaded
    return [
        {key: str(profile[key]) for key in IDENTIFIERS if profile.get(key)} for profile in profiles
    ]


def _csv_rows(data_url: Any) -> list[dict[str, str]] | None:
    if not isinstance(data_url, str) or ";base64," not in data_url:
        return None
    try:
        text = base64.b64decode(data_url.split(";base64,", 1)[1]).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    rows = csv.DictReader(io.StringIO(text))
    return [{k: v for k, v in row.items() if k in IDENTIFIERS and v} for row in rows]


def _play(
    template: str,
    people: list[dict[str, str]],
    auth: tuple[str, str] | None,
    post: bool,
    on_sent: Callable[[dict[str, str]], None],
) -> None:
    with httpx.Client(timeout=HOOK_TIMEOUT_S, auth=auth) as client:
        for person in people:
            if not _allowed(client, _filled(template, "pre", person)):
                continue
            on_sent(person)
            if post:
                _call(client, _filled(template, "post", person))


def _filled(template: str, stage: str, person: dict[str, str]) -> str:
    url = template.replace("{stage}", stage)
    for key in IDENTIFIERS:
        url = url.replace(f"{{{key}}}", quote(person.get(key, ""), safe=""))
    return url


def _allowed(client: httpx.Client, url: str) -> bool:
    answer = _call(client, url)
    return isinstance(answer, dict) and answer.get("allow") is True


def _call(client: httpx.Client, url: str) -> Any:
    try:
        response = client.post(url)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
