"""The sandbox's campaigns and the statistics it reports about them.

Numbers are made up but deterministic, and they grow with every answer: the n-th
report of a campaign says ``n`` times what the first said, so a test can tell which
answer a stored number came from. The knobs (:class:`Knobs`, ``PUT /_sandbox/stats``)
make reports not ready for a while, scheduled Pushwoosh requests take some polls,
and listings long enough to need several pages.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

#: The first id the sandbox gives a campaign created through it.
FIRST_CREATED_ID = 10_001


@dataclass
class Knobs:
    """Parameters:
    report_not_ready: the first N answers of each report say ``ready: false``.
    v1_polls: ``getResults`` answers "pending" this many times before the result.
    message_log_rows, link_device_rows, bounce_rows: rows per Pushwoosh message.
    page_size: the most rows one page holds, whatever the client asks for.
    campaign_status_hidden: 1 = reading a campaign answers no ``status``.
    action_status: the success status of campaign actions (the documentation names
      none).
    report_errors: the first N reports answer 200 with an ``error`` in the body.
    message_log_stuck: 1 = ``getMessageLog`` answers the same ``pagination_token``
      on every page.
    segment_generating_reads: a generated segment reads ``generating`` this many times
      first.
    segment_generation_fails: 1 = a generation ends ``failed``.
    """

    report_not_ready: int = 0
    v1_polls: int = 2
    message_log_rows: int = 250
    link_device_rows: int = 25
    bounce_rows: int = 12
    page_size: int = 100
    campaign_status_hidden: int = 0
    action_status: int = 200
    report_errors: int = 0
    message_log_stuck: int = 0
    segment_generating_reads: int = 2
    segment_generation_fails: int = 0

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


class StatsWorld:
    """Campaign states, answer counters and pending scheduled requests, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.knobs = Knobs()
        self.reset()

    def reset(self) -> None:
        self.statuses: dict[tuple[str, int], str] = {}
        self.bodies: dict[tuple[str, int], dict[str, Any]] = {}
        #: Recipients sent to, per campaign played with hooks (sandbox/hook_calls.py).
        self.sends: Counter[tuple[str, int]] = Counter()
        self.answers: Counter[str] = Counter()
        self.not_ready_given: Counter[str] = Counter()
        self.pending: dict[str, dict[str, Any]] = {}
        #: How many profiles the platform held when each campaign was started.
        self.audiences: dict[tuple[str, int], int] = {}
        #: Reads left before a segment being generated reads ``generated``.
        self.generating: Counter[int] = Counter()

    def next_answer(self, key: str) -> int:
        """Count one more answer about ``key``; return its number (1, 2, ...)."""
        with self.lock:
            self.answers[key] += 1
            return self.answers[key]

    def report_ready(self, post: str) -> bool:
        with self.lock:
            if self.not_ready_given[post] < self.knobs.report_not_ready:
                self.not_ready_given[post] += 1
                return False
            return True

    def campaign_action(self, collection: str, campaign_id: int, action: str) -> str | None:
        """Apply an action; return the error a platform would give, or ``None``."""
        with self.lock:
            status = self.statuses.get((collection, campaign_id), "draft")
            allowed = {
                "start": ("draft",),
                "pause": ("started",),
                "resume": ("paused",),
                "archive": ("draft", "started", "paused", "finished"),
            }[action]
            if status not in allowed:
                return f"Cannot {action} a campaign that is {status}."
            after = {"start": "started", "pause": "paused", "resume": "started"}
            self.statuses[(collection, campaign_id)] = after.get(action, "archived")
            return None

    def create(self, collection: str, body: dict[str, Any]) -> int:
        """Store a new campaign; return the id the platform gives it."""
        with self.lock:
            campaign_id = FIRST_CREATED_ID + len(self.bodies)
            self.bodies[(collection, campaign_id)] = body
            self.statuses[(collection, campaign_id)] = "draft"
            return campaign_id

    def rewrite(self, collection: str, campaign_id: int, body: dict[str, Any]) -> bool:
        """Replace a created campaign's fields; ``False`` if there is no such campaign."""
        with self.lock:
            if (collection, campaign_id) not in self.bodies:
                return False
            self.bodies[(collection, campaign_id)] = body
            return True

    def created(self, collection: str, campaign_id: int | None = None) -> list[dict[str, Any]]:
        """The campaigns created in a collection (or the one of that id), as answered."""
        with self.lock:
            return [
                {**body, "id": key[1], "status": self.statuses.get(key, "draft")}
                for key, body in self.bodies.items()
                if key[0] == collection and campaign_id in (None, key[1])
            ]

    def played(self, collection: str, campaign_id: int) -> None:
        """Mark a campaign as played with its hooks: its reports count its sends."""
        with self.lock:
            self.sends.setdefault((collection, campaign_id), 0)

    def record_send(self, collection: str, campaign_id: int) -> None:
        with self.lock:
            self.sends[(collection, campaign_id)] += 1

    def sent(self, collection: str, campaign_id: int) -> int | None:
        """How many a campaign played with hooks sent to (``None``: not played)."""
        with self.lock:
            return self.sends.get((collection, campaign_id))

    def set_status(self, collection: str, campaign_id: int, status: str) -> None:
        with self.lock:
            self.statuses[(collection, campaign_id)] = status

    def status(self, collection: str, campaign_id: int) -> str:
        with self.lock:
            return self.statuses.get((collection, campaign_id), "draft")

    def note_audience(self, collection: str, campaign_id: int, profiles: int) -> None:
        with self.lock:
            self.audiences[(collection, campaign_id)] = profiles

    def campaigns(self) -> list[dict[str, Any]]:
        """Each campaign's status and, once started, how many profiles it started with."""
        with self.lock:
            return [
                {"collection": key[0], "id": key[1], "status": status}
                | ({"audience": self.audiences[key]} if key in self.audiences else {})
                for key, status in self.statuses.items()
            ]

    def generate(self, segment_id: int) -> None:
        with self.lock:
            self.generating[segment_id] = self.knobs.segment_generating_reads
            self.statuses[("segments", segment_id)] = "generating"

    def segment_read(self, segment_id: int) -> None:
        """One read of a segment: a generation ends after its reads."""
        with self.lock:
            if self.generating[segment_id] > 0:
                self.generating[segment_id] -= 1
            elif self.statuses.get(("segments", segment_id)) == "generating":
                ended = "failed" if self.knobs.segment_generation_fails else "generated"
                self.statuses[("segments", segment_id)] = ended

    def schedule(self, method: str, params: dict[str, Any]) -> str:
        request_id = uuid.uuid4().hex
        with self.lock:
            self.pending[request_id] = {
                "method": method,
                "params": params,
                "polls_left": self.knobs.v1_polls,
            }
        return request_id

    def poll(self, request_id: str) -> dict[str, Any] | bool | None:
        """The scheduled request if ready, ``None`` while pending, ``False`` if unknown."""
        with self.lock:
            request = self.pending.get(request_id)
            if request is None:
                return False
            if request["polls_left"] > 0:
                request["polls_left"] -= 1
                return None
            return request


def metric(name: str, n: int, index: int = 0) -> int:
    """A made-up count that grows with the answer number ``n``."""
    return (sum(map(ord, name)) % 40 + 10) * n + index


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
