"""The statistics sources, named once: the follow-up schedule, the fetcher, the actors'
platform labels and the tests all read :data:`SOURCES`. A Pushwoosh source is fetched
only for a campaign that names a Pushwoosh message (``needs_message_code``).

A source's name is ``<platform>.<what>``; :class:`~workers.campaigns.fetcher.StatsFetcher`
maps each to the method that fetches it (a test holds the map to :data:`SOURCES`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One place a campaign's numbers come from.

    ``needs_message_code``: only fetched for a campaign that names a Pushwoosh message.
    ``deprecated``: the platform marks the call deprecated; scheduled only when asked.
    """

    name: str
    needs_message_code: bool = False
    deprecated: bool = False

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
    Source("pushwoosh.msg_stats", needs_message_code=True, deprecated=True),
    Source("altcraft.history"),
)
BY_NAME = {source.name: source for source in SOURCES}


def scheduled_sources(
    platforms: Collection[str] | None = None, *, deprecated: bool = False
) -> tuple[str, ...]:
    """What a follow-up schedule fetches at each step: every source of the platforms
    that are on, the deprecated ones only if asked. Whether a campaign has a Pushwoosh
    message is decided when a source is fetched, not when the schedule is made: a post
    hook can make the schedule before the start event that names the message is
    processed."""
    return tuple(
        source.name
        for source in SOURCES
        if (platforms is None or source.platform in platforms)
        and (deprecated or not source.deprecated)
    )


def source_platform(name: str) -> str:
    """The platform a source calls: ``pushwoosh.totals`` → ``pushwoosh``."""
    return Source(name).platform
