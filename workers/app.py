"""The worker process's entry point: ``dramatiq workers.app`` (see the Procfile).

Importing this module is the one place with side effects on the worker side: it
reads the settings, builds the broker, sets it as Dramatiq's global broker and
declares the actors. A bad setting stops the process with one line naming it.
"""

from __future__ import annotations

import logging
import sys

import dramatiq

from . import logs
from .actors import register
from .broker import build_broker, redis_client
from .platforms.crm import CrmClient
from .ratelimit import SharedRateLimiter
from .settings import ConfigError, load_settings

try:
    settings = load_settings()
except ConfigError as error:
    print(f"hookrelay worker: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None

logs.install()
logging.getLogger("httpx").setLevel(logging.WARNING)
broker = build_broker(settings)
dramatiq.set_broker(broker)
shared_state = redis_client(settings.redis_url)
crm_limit = SharedRateLimiter(
    shared_state,
    "crm",
    rate=settings.crm.rate_limit,
    margin_ms=settings.worker.rate_limit_margin_ms,
)
actors = register(broker, crm=CrmClient(settings.crm, limiter=crm_limit))
