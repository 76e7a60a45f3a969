"""The recipients sampled per campaign for the Altcraft history fetch.

Post-send hooks add to it (webhook/posthook/); the statistics fetcher reads it.
"""

from __future__ import annotations

import redis

from workers.campaigns.campaign import Campaign

SAMPLE_PREFIX = "hookrelay:recipients:"
#: Recipients kept per campaign.
SAMPLE_SIZE = 20
#: How long a campaign's sample is kept after its last addition.
SAMPLE_TTL_S = 30 * 24 * 3600


class RecipientSample:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def members(self, campaign: Campaign) -> list[str]:
        members = self._client.smembers(SAMPLE_PREFIX + campaign.key)
        return sorted(member.decode() for member in members)
