"""Durable in batches: what the hooks' hot paths count in Redis's memory only.

A platform calls the hooks once per recipient, millions of times per campaign. With
``appendfsync always`` every write a hook makes waits for a disk flush, which held
the hooks far below an empty endpoint's rate (bench/hooks.py; the figures are in
docs/development.md, "Why the hooks journal their counts"). So their scripts count
with ``redis.set_repl(redis.REPL_NONE)``: the count binds at once in
memory but stays out of the append-only file. A :class:`Journal` in each web process
then writes the same values again through the file every ``interval_s``, a batch per
script call, so one disk flush covers a batch.

The bound is the one ``appendfsync everysec`` gives: a Redis crash loses at most the
last interval's counts, never an event (events are still flushed before their
``202``). A web process killed before its flush leaves its last counts in Redis's
memory only, until Redis next rewrites its file (a campaign's send count also with
the next write-back of that campaign, from any process).

A journal's thread runs from :meth:`Journal.start` to :meth:`Journal.stop`, which
writes what is still pending: each gunicorn worker calls them after loading the app
and before it exits (webhook/gunicorn_conf.py), tests around their apps.

Redis passes on only the writes that change something, and writing back a value that
is already there changes nothing: the write-back scripts remove each value and set it
again, so the data ends as it was and the file gets both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from workers.core.background import BackgroundThread, FailureStreak

logger = logging.getLogger(__name__)


class Journal:
    """Pending entries of a hot path, written back by ``write`` on a thread of its own.

    Parameters:
    write: writes one batch through the append-only file; an error keeps the batch (and
      what follows it) for the next flush.
    width: values per entry; entries are kept as flat strings and ints, which the
      garbage collector does not track (tuples kept for a second were promoted and set
      off full collections in a web process).
    batch: entries per ``write``; larger batches hold Redis long enough to show in the
      hooks' p99 (docs/development.md).
    unique: with ``width`` 1, write each value once per flush however often it was
      added (a count kept under one key for a whole campaign).
    interval_s: how often pending entries are written.
    name: how logs and the thread name it.
    """

    def __init__(
        self,
        write: Callable[[list[str | int]], None],
        *,
        width: int = 1,
        batch: int = 200,
        unique: bool = False,
        interval_s: float = 1.0,
        name: str = "counts",
    ) -> None:
        self._write = write
        self._width = width
        self._batch = batch
        self._unique = unique
        self._interval_s = interval_s
        self._name = name
        self._pending: list[str | int] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread = BackgroundThread(f"hookrelay-journal-{name.replace(' ', '-')}", self._run)
        self._failures = FailureStreak(logger, f"Writing {name} back", expected=(redis.RedisError,))

    def start(self) -> None:
        """Write pending entries back every ``interval_s`` until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write back what is still pending."""
        self._thread.stop()
        self._flush_logged()

    def add(self, values: list[str | int]) -> None:
        """Journal whole entries: ``values`` holds ``width`` values per entry."""
        with self._lock:
            self._pending += values

    def flush(self) -> None:
        """Write every pending entry back now."""
        step = self._width * self._batch
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            if self._unique:
                pending = list(dict.fromkeys(pending))
            for first in range(0, len(pending), step):
                try:
                    self._write(pending[first : first + step])
                except Exception:
                    with self._lock:
                        self._pending[:0] = pending[first:]
                    raise

    def _run(self) -> None:
        while not self._thread.wait(self._interval_s):
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception as error:
            self._failures.failed(error)
        else:
            self._failures.succeeded()
