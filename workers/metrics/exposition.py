"""Serving what a process group counted (workers/metrics/counters.py) to Prometheus."""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import prometheus_client
from prometheus_client import CollectorRegistry, multiprocess

from workers.core.settings import load_settings
from workers.core.stopping import single_stop
from workers.metrics.multiprocess import MULTIPROC_ENV

logger = logging.getLogger(__name__)


def process_registry() -> CollectorRegistry:
    """What this group's processes counted: all of them in multiprocess mode, else this
    process alone (an app built in-process, as tests do)."""
    if not os.environ.get(MULTIPROC_ENV):
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(*registries: CollectorRegistry) -> bytes:
    return b"".join(prometheus_client.generate_latest(registry) for registry in registries)


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (gunicorn's ``child_exit`` hook)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def serve() -> None:
    """A Dramatiq fork (``hookrelay worker`` adds it): serve the worker group's metrics
    on ``METRICS_PORT`` until stopped. A port that cannot be had is logged, and the
    workers go on without metrics rather than stop delivering."""
    single_stop()
    settings = load_settings()
    port = settings.metrics_port
    app = prometheus_client.make_wsgi_app(process_registry())
    try:
        server = make_server(settings.bind_address, port, app, handler_class=_QuietHandler)
    except OSError as error:
        logger.error("Cannot serve worker metrics on port %d: %s", port, error)
        while True:
            time.sleep(3600)
    server.serve_forever()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""
