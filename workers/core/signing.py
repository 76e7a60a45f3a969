"""The request signature of ``POST /v1/events`` (README, "Sending events")."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Hookrelay-Signature`` value for ``body`` at ``timestamp`` (unix seconds):
    ``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
