"""The hook URL hookrelay gives a campaign (its ``hook_url_template``) and the token in it.

The token is an HMAC-SHA256 of the platform, the campaign's kind and its id, keyed with
the first of ``HOOKRELAY_HOOK_KEYS``: a hook whose URL carries the token of the campaign
it names is that campaign's, whether or not the platform sends Basic auth
(``hook_use_auth: false``), and a token copied into another campaign's hook is refused.
Every key verifies, so a key is rotated by putting a new one first, rewriting the
templates, then dropping the old one.

The platform fills the template's placeholders with the recipient and the stage; their
syntax is not documented: ``{email}`` by default, another with
``HOOKRELAY_HOOK_PLACEHOLDER`` (docs/platforms.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from workers.campaigns.campaign import Campaign
from workers.core.env_values import HOOK_PLACEHOLDER

#: What the platform fills in, each as a placeholder of the template.
FILLED_IN = ("stage", "uid", "email", "phone", "wp_token")
#: 128 bits of the HMAC, in the URL as 22 characters of base64url.
TOKEN_BYTES = 16


def hook_token(key: str, campaign: Campaign) -> str:
    """The token of a campaign's hooks under one key."""
    bound = f"{campaign.platform}:{campaign.kind}:{campaign.campaign_id}".encode()
    digest = hmac.new(key.encode(), bound, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def valid_token(keys: Iterable[str], given: object, campaign: Campaign) -> bool:
    """Whether ``given`` is the campaign's token under one of the keys."""
    if not isinstance(given, str):
        return False
    return any(hmac.compare_digest(given, hook_token(key, campaign)) for key in keys)


@dataclass(frozen=True)
class HookUrls:
    """Builds ``hook_url_template`` values pointing at this receiver."""

    #: ``HOOKRELAY_PUBLIC_URL``: where the platform reaches the receiver.
    public_url: str
    #: ``HOOKRELAY_HOOK_KEYS``; the first signs.
    keys: tuple[str, ...]
    #: ``HOOKRELAY_HOOK_PLACEHOLDER``.
    placeholder: str = HOOK_PLACEHOLDER

    def template(self, campaign: Campaign) -> str:
        """The campaign's hook URL: its kind, id and token fixed, the stage and the
        recipient's identifiers left as placeholders for the platform to fill."""
        fixed = urlencode(
            {
                "campaign_id": campaign.campaign_id,
                "kind": campaign.kind,
                "token": hook_token(self.keys[0], campaign),
            }
        )
        filled = "&".join(f"{name}={self.placeholder.replace('name', name)}" for name in FILLED_IN)
        return f"{self.public_url.rstrip('/')}/v1/hooks/{campaign.platform}?{fixed}&{filled}"
