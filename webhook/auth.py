"""Who may post events: a Bearer key (or a write key, on the Segment-spec routes), and a
signature when secrets are set (``HOOKRELAY_SIGNING_SECRET``, comma-separated).

Signatures are Standard Webhooks': ``webhook-id``, ``webhook-timestamp`` (within 5
minutes) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``,
several space-separated), verified by the ``standardwebhooks`` package itself against
every configured ``whsec_…`` secret, so a secret can be rotated by configuring the new
one beside the old. Comparisons run in constant time.
"""

from __future__ import annotations

import binascii
import hmac
from typing import Any

from flask import request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.datastructures import Authorization, WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from webhook.hub import current_hub


def require_api_key() -> None:
    """Raise 401 unless this request carries one of the configured API keys."""
    check_bearer(request.headers.get("Authorization"), current_hub().settings.api_keys)


def require_api_key_from_browser() -> None:
    """Like :func:`require_api_key`, but a browser may also give the key as the password
    of Basic auth (any user name), and is asked for it with a Basic challenge."""
    given = authorization()
    keys = current_hub().settings.api_keys
    if given is not None and given.type == "basic" and _known_key(given.password or "", keys):
        return
    if given is not None and given.type == "bearer":
        check_bearer(request.headers.get("Authorization"), keys)
        return
    challenge = WWWAuthenticate("basic", {"realm": "hookrelay status (password: an API key)"})
    raise Unauthorized(
        "An API key is needed (Basic auth password, or Bearer).", www_authenticate=challenge
    )


#: Where a Segment-style SDK may put its write key, besides the body's ``writeKey``.
WRITE_KEY_HEADER = "X-Write-Key"


def require_write_key(in_body: Any) -> None:
    """Raise 401 unless a write key (``HOOKRELAY_WRITE_KEYS``) or an API key is given
    the way Segment-style SDKs give it: as the Basic auth user name (empty password),
    in the ``X-Write-Key`` header, or as the body's ``writeKey``."""
    settings = current_hub().settings
    keys = (*settings.write_keys, *settings.api_keys)
    given = authorization()
    candidates = [
        request.headers.get(WRITE_KEY_HEADER),
        in_body if isinstance(in_body, str) else None,
    ]
    if given is not None and given.type == "basic":
        candidates.append(given.username)
    if given is not None and given.type == "bearer":
        candidates.append(given.token)
    if not any(_known_key(candidate or "", keys) for candidate in candidates):
        raise Unauthorized(
            "Missing or unknown write key: give it as the Basic auth user name, "
            f"the {WRITE_KEY_HEADER} header or the body's writeKey."
        )


def authorization() -> Authorization | None:
    """The request's parsed ``Authorization``, or ``None`` when absent or unreadable
    (werkzeug raises on Basic credentials that are not ASCII base64 of UTF-8)."""
    try:
        return request.authorization
    except (ValueError, UnicodeError):
        return None


def check_bearer(authorization: str | None, keys: tuple[str, ...]) -> None:
    """Raise 401 unless the header is ``Bearer <one of keys>``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not _known_key(token.strip(), keys):
        raise _unauthorized("Missing or unknown API key (Authorization: Bearer <key>).")


def _known_key(token: str, keys: tuple[str, ...]) -> bool:
    # Compare against every key so timing does not tell which one nearly matched.
    matches = [hmac.compare_digest(token.encode(), key.encode()) for key in keys]
    return bool(token) and any(matches)


#: The Standard Webhooks headers; ``webhook-id`` also names the request's events.
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def check_signed(body: bytes, secrets: tuple[str, ...], *, required: bool) -> None:
    """Raise 401 unless the request is signed with one of ``secrets``. An unsigned
    request passes where a signature is not ``required`` (the Segment-spec routes: SDKs
    cannot sign), and so does any request when there is no secret."""
    if not secrets:
        return
    if request.headers.get("webhook-signature") is not None:
        _check_standard(body, secrets)
    elif required:
        raise _unauthorized(
            "A signature is needed: the Standard Webhooks headers (webhook-id, "
            "webhook-timestamp, webhook-signature)."
        )


def _check_standard(body: bytes, secrets: tuple[str, ...]) -> None:
    headers = {name: request.headers.get(name, "") for name in STANDARD_HEADERS}
    if not any(_is_v1_signature(given) for given in headers["webhook-signature"].split(" ")):
        raise _unauthorized(
            "Standard Webhooks signature refused: Malformed webhook-signature, "
            "no space-separated v1,<base64 HMAC-SHA256> in it."
        )
    problem = "No matching signature found"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
            return
        except WebhookVerificationError as error:
            problem = str(error)
    raise _unauthorized(f"Standard Webhooks signature refused: {problem}.")


def _is_v1_signature(given: str) -> bool:
    """Whether ``given`` has the shape of a ``v1`` signature: ``v1,`` and the base64 of a
    32-byte HMAC. Checked here, not left to the library, so that a sender learns its header
    is malformed rather than only that nothing matched (the library's own wording of that
    changed between releases)."""
    version, _, encoded = given.partition(",")
    try:
        return version == "v1" and len(binascii.a2b_base64(encoded, strict_mode=True)) == 32
    except ValueError:  # binascii.Error, or characters outside ASCII
        return False


def _unauthorized(message: str) -> Unauthorized:
    challenge = WWWAuthenticate("bearer", {"realm": "hookrelay"})
    return Unauthorized(message, www_authenticate=challenge)
