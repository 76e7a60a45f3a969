"""Each platform's client class, and the one way a process builds the client of a
platform: behind its shared rate limit and circuit breaker, or a stand-in that refuses
when it is off."""

from __future__ import annotations

from collections.abc import Callable

from workers.core.settings import Settings
from workers.health.circuit import CircuitBreaker
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.base import PlatformClient
from workers.platforms.crm import CrmClient
from workers.platforms.pushwoosh import PushwooshClient
from workers.platforms.unconfigured import Unconfigured
from workers.ratelimit.limiter import SharedRateLimiter


def crm_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> CrmClient | Unconfigured:
    if settings.crm is None:
        return Unconfigured("crm")
    return CrmClient(settings.crm, limiter=limiter, circuit=circuit, limits=settings.calls)


def pushwoosh_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> PushwooshClient | Unconfigured:
    if settings.pushwoosh is None:
        return Unconfigured("pushwoosh")
    return PushwooshClient(
        settings.pushwoosh, limiter=limiter, circuit=circuit, limits=settings.calls
    )


def altcraft_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> AltcraftClient | Unconfigured:
    if settings.altcraft is None:
        return Unconfigured("altcraft")
    return AltcraftClient(
        settings.altcraft, limiter=limiter, circuit=circuit, limits=settings.calls
    )


#: Each platform's builder: the client as the settings configure it, or a stand-in
#: that refuses every call when the platform is off.
CLIENTS: dict[str, Callable[..., PlatformClient | Unconfigured]] = {
    "crm": crm_client,
    "pushwoosh": pushwoosh_client,
    "altcraft": altcraft_client,
}


def platform_client(
    settings: Settings,
    name: str,
    limiter: SharedRateLimiter | None,
    circuit: CircuitBreaker | None = None,
) -> PlatformClient | Unconfigured:
    """The client of platform ``name`` as the settings configure it; without
    ``circuit`` (``doctor``'s checks) it calls whatever the platform's health."""
    return CLIENTS[name](settings, limiter, circuit)
