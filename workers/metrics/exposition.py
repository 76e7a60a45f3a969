"""Serving what a process group counted (workers/metrics/counters.py) to Prometheus."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import prometheus_client
from prometheus_client import CollectorRegistry, Metric, multiprocess

from workers.core.settings import load_settings
from workers.core.stopping import single_stop
from workers.metrics.multiprocess import MULTIPROC_ENV

logger = logging.getLogger(__name__)

#: The size of a value file's header, which says how much of it is used.
HEADER_BYTES = 8


def process_registry() -> CollectorRegistry:
    """What this group's processes counted: all of them in multiprocess mode, else this
    process alone (an app built in-process, as tests do)."""
    if not os.environ.get(MULTIPROC_ENV):
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    _WrittenFiles(registry, os.environ[MULTIPROC_ENV])
    return registry


class _WrittenFiles(multiprocess.MultiProcessCollector):
    """prometheus_client's collector of every process's files, less those another
    process is creating.

    A process creates its file empty, then sizes it (``MmapedDict``): a scrape that
    reads it in between fails whole on its missing header (``struct.error``), and
    ``/metrics`` answers 500. A file shorter than that 8-byte header holds no value yet,
    so leaving it out of this scrape loses nothing.
    """

    def __init__(self, registry: CollectorRegistry, directory: str) -> None:
        super().__init__(registry, directory)
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        files = [path for path in Path(self._directory).glob("*.db") if _has_header(path)]
        return self.merge([str(path) for path in files], accumulate=True)


def _has_header(path: Path) -> bool:
    try:
        return path.stat().st_size >= HEADER_BYTES
    except FileNotFoundError:  # a dead process's live gauges, just removed
        return False


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
