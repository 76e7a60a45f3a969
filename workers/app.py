"""The worker process's entry point: the module Dramatiq loads (``hookrelay worker``,
the Procfile's ``worker``, runs ``python -m workers.main workers.app``).

Importing this module is the one place with side effects on the worker side: it
reads the settings, checks the stats store's schema is current, builds the broker,
sets it as Dramatiq's global broker and declares the actors. Bad settings stop the
process with one line per problem.
"""

from __future__ import annotations

import logging
import sys

import dramatiq

from workers.actors import build_worker_hub, register
from workers.campaigns.retention import LogRetention
from workers.campaigns.schema import current_store
from workers.core import logs
from workers.core.connections import redis_client
from workers.core.platform_settings import PLATFORM_VARIABLES
from workers.core.settings import ConfigError, Settings, load_settings
from workers.erasure.aof import AofRewrite
from workers.profiles.buffer import ProfileBuffer
from workers.profiles.flusher import ProfileFlusher
from workers.queue.broker import build_broker
from workers.trace.archive import TraceArchive
from workers.trace.mover import TraceMover

logger = logging.getLogger(__name__)


def profile_flusher(settings: Settings) -> ProfileFlusher:
    buffer = ProfileBuffer.from_settings(redis_client(settings), settings)
    return ProfileFlusher(buffer, claim_timeout_s=settings.worker.heartbeat_timeout_s)


def announce_platforms(settings: Settings) -> None:
    for name, variables in PLATFORM_VARIABLES.items():
        config = settings.platform(name)
        if config is None:
            logger.warning(
                "%s is off (set %s to turn it on): its messages are dead-lettered.",
                name,
                ", ".join(variables),
            )
        else:
            logger.info("%s at %s.", name, config.base_url)


def fail(error: ConfigError) -> None:
    print(error.report("hookrelay worker"), file=sys.stderr)
    raise SystemExit(2) from None


try:
    settings = load_settings()
except ConfigError as error:
    fail(error)
logs.install(log_format=settings.log_format, level=settings.log_level, secrets=settings.secrets())
try:
    store = current_store(settings.database_url)
except ConfigError as error:
    fail(error)
announce_platforms(settings)
retention = LogRetention(store, days=settings.message_log_retention_days)
traces = TraceMover(redis_client(settings), TraceArchive(store.engine, settings.trace_retention_s))
#: One client for the broker and the actors, so that their calls share round trips.
client = redis_client(settings)
broker = build_broker(
    settings,
    [profile_flusher(settings), retention, traces, AofRewrite(redis_client(settings))],
    client,
)
dramatiq.set_broker(broker)
actors = register(broker, build_worker_hub(settings, store, client))
