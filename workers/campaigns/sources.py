"""The statistics sources, named once: the follow-up schedule, the fetcher, the actors'
platform labels and the tests all read :data:`SOURCES`.

A source's name is ``<platform>.<what>``; :class:`~workers.campaigns.fetcher.StatsFetcher`
fetches it with its method ``_fetch_<platform>_<what>`` and refuses to start if one is
missing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from workers.campaigns.campaign import Campaign


@dataclass(frozen=True)
class Source:
    """One place a campaign's numbers come from.

    ``needs_message_code``: only fetched for a campaign that names a Pushwoosh message.
    """

    name: str
    needs_message_code: bool = False

    @property
    def platform(self) -> str:
        return self.name.partition(".")[0]


SOURCES = (
    Source("crm.report"),
    Source("pushwoosh.messages", needs_message_code=True),
    Source("pushwoosh.totals", needs_message_code=True),
    Source("pushwoosh.message_log", needs_message_code=True),
    Source("pushwoosh.links", needs_message_code=True),
    Source("pushwoosh.link_devices", needs_message_code=True),
    Source("pushwoosh.bounces", needs_message_code=True),
    Source("pushwoosh.msg_stats", needs_message_code=True),
    Source("altcraft.history"),
)
BY_NAME = {source.name: source for source in SOURCES}


def sources_for(campaign: Campaign, platforms: Collection[str] | None = None) -> tuple[str, ...]:
    """Where a campaign's numbers come from: the platform's report, Pushwoosh when the
    campaign names a Pushwoosh message, and the Altcraft history of its recipients;
    with ``platforms``, only the sources of those platforms."""
    return tuple(
        source.name
        for source in SOURCES
        if (campaign.message_code or not source.needs_message_code)
        and (platforms is None or source.platform in platforms)
    )


def source_platform(name: str) -> str:
    """The platform a source calls: ``pushwoosh.totals`` → ``pushwoosh``."""
    return BY_NAME[name].platform if name in BY_NAME else name.partition(".")[0]
