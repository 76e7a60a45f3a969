"""The sandbox's memory: what it received, the profiles it holds, the faults switched on.

One :class:`SandboxState` lives in the sandbox process and is shared by its request
threads, so every method takes the lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .stats import StatsWorld

IDENTIFIERS = ("uid", "email", "phone", "wp_token")


@dataclass
class Fault:
    """A misbehaviour of one route, switched on through ``PUT /_sandbox/faults/<route>``.

    Parameters:
      status: answer this status instead of handling the request.
      ratio: the share of requests affected (1.0 = every one).
      count: affect only this many more requests; ``None`` = until cleared.
      delay_s: wait this long before answering (with or without a status).
      retry_after: send this ``Retry-After`` (seconds) with the status.
      drop: close the connection without answering, before handling the request.
      applied: with ``drop``, handle the request first: the platform applied it but
        the client never hears (the ambiguous failure a timeout also is).
    """

    status: int | None = None
    ratio: float = 1.0
    count: int | None = None
    delay_s: float = 0.0
    retry_after: int | None = None
    drop: bool = False
    applied: bool = False


class RateLimit:
    """The platform's own limit: more than ``per_second`` arrivals in any one-second
    window is a violation, answered 429 and counted."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.arrivals: deque[float] = deque()
        self.requests = 0
        self.violations = 0

    def admit(self, now: float) -> bool:
        self.requests += 1
        self.arrivals.append(now)
        while self.arrivals and now - self.arrivals[0] >= 1.0:
            self.arrivals.popleft()
        if len(self.arrivals) > self.per_second:
            self.violations += 1
            return False
        return True

    def summary(self) -> dict[str, int]:
        return {
            "per_second": self.per_second,
            "requests": self.requests,
            "violations": self.violations,
        }


@dataclass
class Received:
    """One request as the sandbox saw it, and what it answered."""

    route: str
    method: str
    path: str
    query: str
    authorized: bool
    body: Any
    status: int
    answer: Any = None
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """Its fields, the body as it came (``dataclasses.asdict`` would copy it level
        by level, and fail on a body nested some hundreds deep)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


#: How the platform orders profile updates: by their ``update_profile_last_updated_at``
#: (an update older than the profile's last one is ignored), or in arrival order,
#: ignoring the stamp (the weakest reading of the documentation).
PROFILE_ORDERS = ("stamp", "arrival")


class ProfileStore:
    """Profiles as the platform keeps them: found by any identifier, fields merged, in
    one of the :data:`PROFILE_ORDERS`; and the events that came before their user."""

    def __init__(self, declared_fields: frozenset[str] | None, order: str = "stamp") -> None:
        self.declared_fields = declared_fields
        self.order = order
        self.profiles: list[dict[str, Any]] = []
        self._index: dict[tuple[str, str], dict[str, Any]] = {}
        #: Events whose payload named a user no profile had yet.
        self.early_events: list[dict[str, Any]] = []

    def upsert(self, hashmap: dict[str, Any]) -> dict[str, Any]:
        """Apply one hashmap; return what the platform echoes (declared fields only)."""
        kept = {
            key: value
            for key, value in (hashmap.get("fields") or {}).items()
            if self.declared_fields is None or key in self.declared_fields
        }
        profile = self._find_or_create(hashmap)
        stamp = hashmap.get("update_profile_last_updated_at")
        last = profile.get("update_profile_last_updated_at")
        newer = stamp is None or last is None or _instant(stamp) >= _instant(last)
        if self.order == "arrival" or newer:
            profile["fields"].update(kept)
            if stamp is not None:
                profile["update_profile_last_updated_at"] = stamp
        echo = {key: hashmap[key] for key in IDENTIFIERS if key in hashmap}
        return {**echo, "fields": kept}

    def note_event(self, body: dict[str, Any]) -> None:
        """Remember an event whose payload names a user no profile has yet."""
        payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
        keys = [(key, str(payload[key])) for key in IDENTIFIERS if payload.get(key)]
        if keys and not any(key in self._index for key in keys):
            self.early_events.append(body)

    def _find_or_create(self, hashmap: dict[str, Any]) -> dict[str, Any]:
        keys = [(key, str(hashmap[key])) for key in IDENTIFIERS if hashmap.get(key)]
        profile = next((self._index[k] for k in keys if k in self._index), None)
        if profile is None:
            profile = {"fields": {}}
            self.profiles.append(profile)
        for key, value in keys:
            profile[key] = value
            self._index[(key, value)] = profile
        return profile


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


class SandboxState:
    def __init__(
        self, *, login: str, secret: str, declared_fields: frozenset[str] | None = None
    ) -> None:
        self.login = login
        self.secret = secret
        self._lock = threading.Lock()
        self._declared_fields = declared_fields
        self._received: list[Received] = []
        self._faults: dict[str, list[Fault]] = {}
        self._limits: dict[str, RateLimit] = {}
        self.profiles = ProfileStore(declared_fields)
        self.stats = StatsWorld()

    def set_profile_order(self, order: str) -> None:
        with self._lock:
            self.profiles.order = order

    def note_event(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.profiles.note_event(body)

    def early_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.profiles.early_events)

    def record(self, entry: Received) -> None:
        with self._lock:
            self._received.append(entry)

    def received(self, route: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._received if route is None or r.route == route]

    def upsert_profiles(self, hashmaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            return [self.profiles.upsert(hashmap) for hashmap in hashmaps]

    def profile_count(self) -> int:
        with self._lock:
            return len(self.profiles.profiles)

    def profile_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(profile, fields=dict(profile["fields"])) for profile in self.profiles.profiles
            ]

    def reset(self) -> None:
        """Forget everything received and stored; faults, knobs and the profile order
        stay as they are."""
        with self._lock:
            self._received.clear()
            self.profiles = ProfileStore(self._declared_fields, self.profiles.order)
            with self.stats.lock:
                self.stats.reset()

    def set_faults(self, route: str, faults: list[Fault]) -> None:
        with self._lock:
            self._faults[route] = faults

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_limit(self, platform: str, per_second: int) -> None:
        with self._lock:
            self._limits[platform] = RateLimit(per_second)

    def clear_limits(self) -> None:
        with self._lock:
            self._limits.clear()

    def limits(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {platform: limit.summary() for platform, limit in self._limits.items()}

    def admit(self, platform: str, now: float) -> bool:
        """Count an arrival against the platform's limit; False if it breaks it."""
        with self._lock:
            limit = self._limits.get(platform)
            return limit is None or limit.admit(now)

    def take_fault(self, route: str) -> Fault | None:
        """The first of the route's faults whose ratio hits this request (uses up a count)."""
        with self._lock:
            faults = self._faults.get(route, [])
            fault = next((f for f in faults if random.random() < f.ratio), None)
            if fault is not None and fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    faults.remove(fault)
            return fault
