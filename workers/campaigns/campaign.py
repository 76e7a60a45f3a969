"""A campaign as messages, hooks and the store name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Campaign:
    """What a campaign run is known by, as messages carry it."""

    platform: str
    campaign_id: int
    kind: str = "mailing"
    message_code: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Campaign:
        return cls(
            platform=data["platform"],
            campaign_id=int(data["id"]),
            kind=data.get("kind", "mailing"),
            message_code=data.get("pushwoosh_message_code"),
        )

    @property
    def key(self) -> str:
        """How Redis keys name the campaign: ``<platform>:<id>``."""
        return f"{self.platform}:{self.campaign_id}"

    def as_dict(self) -> dict[str, Any]:
        data = {"platform": self.platform, "id": self.campaign_id, "kind": self.kind}
        if self.message_code:
            data["pushwoosh_message_code"] = self.message_code
        return data
