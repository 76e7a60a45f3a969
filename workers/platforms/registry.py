"""Each platform's client class, and the one way a process builds the client of a
platform: behind its shared rate limit and circuit breaker, or a stand-in that refuses
when it is off."""

from __future__ import annotations

from workers.core.settings import Settings
from workers.health.circuit import CircuitBreaker
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.base import PlatformClient
from workers.platforms.crm import CrmClient
from workers.platforms.pushwoosh import PushwooshClient
from workers.platforms.unconfigured import Unconfigured
from workers.ratelimit.limiter import SharedRateLimiter

CLIENTS: dict[str, type[PlatformClient]] = {
    "crm": CrmClient,
    "pushwoosh": PushwooshClient,
    "altcraft": AltcraftClient,
}


def platform_client(
    settings: Settings,
    name: str,
    limiter: SharedRateLimiter | None,
    circuit: CircuitBreaker | None = None,
) -> PlatformClient | Unconfigured:
    """The client of platform ``name`` as the settings configure it; without
    ``circuit`` (``doctor``'s checks) it calls whatever the platform's health."""
    config = settings.platform(name)
    if config is None:
        return Unconfigured(name)
    return CLIENTS[name](config, limiter=limiter, circuit=circuit, limits=settings.calls)
