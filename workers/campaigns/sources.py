"""The statistics sources, named once: the follow-up schedule, the fetcher, the actors'
platform labels and the tests all read :data:`SOURCES`. A Pushwoosh source is fetched
only for a campaign that names a Pushwoosh message (``needs_message_code``).

A source's name is ``<platform>.<what>``; :class:`~workers.campaigns.fetcher.StatsFetcher`
fetches it with its method ``_fetch_<platform>_<what>`` and refuses to start if one is
missing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


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


def scheduled_sources(platforms: Collection[str] | None = None) -> tuple[str, ...]:
    """What a follow-up schedule fetches at each step: every source of the platforms
    that are on. Whether a campaign has a Pushwoosh message is decided when a source is
    fetched, not when the schedule is made: a post hook can make the schedule before the
    start event that names the message is processed."""
    return tuple(
        source.name for source in SOURCES if platforms is None or source.platform in platforms
    )


def source_platform(name: str) -> str:
    """The platform a source calls: ``pushwoosh.totals`` → ``pushwoosh``."""
    return Source(name).platform
