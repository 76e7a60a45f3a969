"""Each platform's client, and the one way a process builds it: behind its shared rate
limit and circuit breaker, or a stand-in that refuses every call when it is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from workers.core.settings import Settings
from workers.health.circuit import CircuitBreaker
from workers.platforms.altcraft import AltcraftClient
from workers.platforms.base import PlatformClient
from workers.platforms.crm import CrmClient
from workers.platforms.pushwoosh import PushwooshClient
from workers.platforms.unconfigured import Unconfigured
from workers.ratelimit.limiter import SharedRateLimiter

Client = TypeVar("Client", bound=PlatformClient)
Builder = Callable[
    [Settings, SharedRateLimiter | None, CircuitBreaker | None], PlatformClient | Unconfigured
]


def crm_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> CrmClient | Unconfigured:
    return _built(CrmClient, settings, limiter, circuit)


def pushwoosh_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> PushwooshClient | Unconfigured:
    return _built(PushwooshClient, settings, limiter, circuit)


def altcraft_client(
    settings: Settings, limiter: SharedRateLimiter | None, circuit: CircuitBreaker | None = None
) -> AltcraftClient | Unconfigured:
    return _built(AltcraftClient, settings, limiter, circuit)


#: Each platform's builder, for callers that hold only its name.
CLIENTS: dict[str, Builder] = {
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


def _built(
    kind: type[Client],
    settings: Settings,
    limiter: SharedRateLimiter | None,
    circuit: CircuitBreaker | None,
) -> Client | Unconfigured:
    """A ``kind`` client on its platform's settings (each client class takes its own
    config), or the stand-in when the platform is off."""
    config = settings.platform(kind.platform)
    if config is None:
        return Unconfigured(kind.platform)
    build: Callable[..., Client] = kind
    return build(config, limiter=limiter, circuit=circuit, limits=settings.calls)
