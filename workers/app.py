"""The worker process's entry point: ``dramatiq workers.app`` (see the Procfile).

Importing this module is the one place with side effects on the worker side: it
reads the settings, upgrades the stats store's schema, builds the broker, sets it as
Dramatiq's global broker and declares the actors. A bad setting stops the process
with one line naming it.
"""

from __future__ import annotations

import sys

import dramatiq

from . import logs
from .actors import Services, register
from .broker import build_broker, redis_client
from .campaigns import CampaignStarter
from .followup import FollowupScheduler, SendLog
from .platforms.altcraft import AltcraftClient
from .platforms.crm import CrmClient
from .platforms.pushwoosh import PushwooshClient
from .ratelimit import SharedRateLimiter, platform_limiter
from .settings import ConfigError, Settings, load_settings
from .stats import StatsFetcher
from .store import Store, migrated_store


def build_services(settings: Settings, store: Store) -> Services:
    """The clients, each behind its platform's shared rate limit, and what uses them."""
    shared_state = redis_client(settings.redis_url)

    def limiter(platform: str) -> SharedRateLimiter:
        return platform_limiter(shared_state, settings, platform)

    crm = CrmClient(settings.crm, limiter=limiter("crm"))
    pushwoosh = PushwooshClient(settings.pushwoosh, limiter=limiter("pushwoosh"))
    altcraft = AltcraftClient(settings.altcraft, limiter=limiter("altcraft"))
    scheduler = FollowupScheduler(
        shared_state,
        schedule_s=settings.followup_schedule,
        time_scale=settings.followup_time_scale,
    )
    sends = SendLog(shared_state, scheduler)
    return Services(
        crm=crm,
        starter=CampaignStarter(store=store, crm=crm, scheduler=scheduler, client=shared_state),
        fetcher=StatsFetcher(
            store=store, crm=crm, pushwoosh=pushwoosh, altcraft=altcraft, sends=sends
        ),
        time_scale=settings.followup_time_scale,
    )


try:
    settings = load_settings()
    store = migrated_store(settings.database_url)
except ConfigError as error:
    print(f"hookrelay worker: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None

logs.install(log_format=settings.log_format, level=settings.log_level, secrets=settings.secrets())
broker = build_broker(settings)
dramatiq.set_broker(broker)
actors = register(broker, build_services(settings, store))
