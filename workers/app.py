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
from .broker import build_broker
from .platforms.crm import CrmClient
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
actors = register(broker, crm=CrmClient(settings.crm))
