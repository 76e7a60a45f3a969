"""Gunicorn settings for the ``web`` process (``hookrelay web`` runs
``gunicorn -c python:webhook.gunicorn_conf``, after giving the group its metrics
directory: see workers/metricsdir.py).

Settings are validated here, in the master, so a bad variable stops the process with
one line instead of a traceback from every worker; the stats store's schema is
upgraded here too, once per ``web`` process, and the masking log format set. ``WEB_CONCURRENCY`` and
``WEB_THREADS`` size the process; the defaults suit a 2-core machine.
"""

import os
import sys

from workers import logs
from workers.settings import ConfigError, load_settings
from workers.store import migrated_store

try:
    _settings = load_settings()
    _settings.require_api_keys()
    migrated_store(_settings.database_url).dispose()
except ConfigError as error:
    print(f"hookrelay web: configuration error: {error}", file=sys.stderr)
    sys.exit(2)


def child_exit(server, worker) -> None:
    """Drop a finished worker's live gauges."""
    from workers.metrics import mark_process_dead

    mark_process_dead(worker.pid)


bind = f"0.0.0.0:{_settings.port}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
worker_class = "gthread"
keepalive = 30
graceful_timeout = 20
accesslog = None
logconfig_dict = logs.dict_config(
    log_format=_settings.log_format, level=_settings.log_level, secrets=_settings.secrets()
)
# The control socket defaults to one path per user; several instances would collide.
control_socket_disable = True
