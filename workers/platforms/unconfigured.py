"""The stand-in for the client of a platform that is off (its settings are not set)."""

from __future__ import annotations

from typing import Any, NoReturn

from workers.core.platform_settings import platform_off_reason
from workers.platforms import errors


class Unconfigured:
    """Refuses every call with :class:`~workers.platforms.errors.NotConfigured`, a
    permanent error: the message is dead-lettered with a reason naming the settings to
    give, and ``hookrelay dlq replay`` sends it once they are set."""

    def __init__(self, platform: str) -> None:
        self.platform = platform

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            raise errors.NotConfigured(
                platform_off_reason(self.platform), platform=self.platform, method=method, url=""
            )

        return refuse

    def close(self) -> None:
        """Nothing to close: no connection was ever made."""
