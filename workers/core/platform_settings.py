"""Each platform's settings: on when all its variables are given, off when none is
(workers/core/settings.py reads them with the rest)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import environs
from marshmallow.validate import Range

from workers.core import env_values

#: Each platform's connection variables, all needed to turn it on.
PLATFORM_VARIABLES = {
    "crm": ("CRM_BASE_URL", "CRM_LOGIN", "CRM_SECRET"),
    "pushwoosh": ("PUSHWOOSH_BASE_URL", "PUSHWOOSH_API_TOKEN", "PUSHWOOSH_APPLICATION"),
    "altcraft": ("ALTCRAFT_BASE_URL", "ALTCRAFT_TOKEN", "ALTCRAFT_LIST_ID"),
}
#: Requests/second each platform gets by default, shared by every worker.
DEFAULT_RATE_LIMITS = {"crm": 10.0, "pushwoosh": 5.0, "altcraft": 5.0}


@dataclass(frozen=True)
class CallLimits:
    """What one platform call may take from a worker (workers/platforms/base.py).

    max_answer_bytes: the most of an answer read (decompressed); past it, the call
      fails (``PLATFORM_MAX_ANSWER_BYTES``).
    deadline_s: a call's whole time, from sending to the last byte of the answer
      (``PLATFORM_CALL_DEADLINE_S``).
    max_threads: how many of a worker process's threads one platform may hold at once,
      waiting for its rate limit or in a call (``PLATFORM_MAX_THREADS``).
    """

    max_answer_bytes: int = 10 * 1024 * 1024
    deadline_s: float = 30.0
    max_threads: int = 6


DEFAULT_CALL_LIMITS = CallLimits()


@dataclass(frozen=True)
class CircuitConfig:
    """When a failing platform stops being called, and how it is probed
    (``CIRCUIT_*``; workers/health/circuit.py)."""

    enabled: bool = True
    min_calls: int = 20
    failing_s: float = 60.0
    probe_s: float = 30.0


DEFAULT_CIRCUIT = CircuitConfig()


def share_of_threads(worker_threads: int) -> int:
    """A platform's share of a worker's threads by default: three quarters of them
    (6 of the default 8), at least one, so a platform that slows down leaves the rest
    to the others."""
    return max(1, worker_threads * 3 // 4)


@dataclass(frozen=True)
class CrmConfig:
    base_url: str
    login: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class PushwooshConfig:
    base_url: str
    api_token: str = field(repr=False)
    application: str
    #: Also fetch the deprecated ``getMsgStats`` (``totalsByIntervals`` gives the same
    #: numbers): ``PUSHWOOSH_MSG_STATS``.
    msg_stats: bool = False


@dataclass(frozen=True)
class AltcraftConfig:
    base_url: str
    token: str = field(repr=False)
    list_id: int


def platform_off_reason(platform: str) -> str:
    """What a message for a platform that is off is dead-lettered with."""
    variables = ", ".join(PLATFORM_VARIABLES[platform])
    return f"{platform} is not configured: set {variables}, then replay"


def read_platforms(env: environs.Env, source: Mapping[str, str], problems: dict[str, str]) -> dict:
    """Each platform's config, or ``None`` where none of its variables is set."""
    configs: dict[str, Any] = {}
    for name, variables in PLATFORM_VARIABLES.items():
        given = [variable for variable in variables if source.get(variable)]
        if not given:
            configs[name] = None
            continue
        for variable in variables:
            if variable not in given:
                problems[variable] = (
                    f"not set, and {name} needs it: {', '.join(given)} turned {name} on "
                    f"(set all of {', '.join(variables)}, or none to leave {name} off)"
                )
        configs[name] = _platform_config(env, name)
    return configs


def _platform_config(env: environs.Env, name: str) -> Any:
    if name == "crm":
        return CrmConfig(
            base_url=_base_url(env, "CRM_BASE_URL"),
            login=env.str("CRM_LOGIN", ""),
            secret=env.str("CRM_SECRET", ""),
        )
    if name == "pushwoosh":
        return PushwooshConfig(
            base_url=_base_url(env, "PUSHWOOSH_BASE_URL"),
            api_token=env.str("PUSHWOOSH_API_TOKEN", ""),
            application=env.str("PUSHWOOSH_APPLICATION", ""),
            msg_stats=env.bool("PUSHWOOSH_MSG_STATS", False),
        )
    return AltcraftConfig(
        base_url=_base_url(env, "ALTCRAFT_BASE_URL"),
        token=env.str("ALTCRAFT_TOKEN", ""),
        list_id=env.int("ALTCRAFT_LIST_ID", 0, validate=Range(min=1)),
    )


def _base_url(env: environs.Env, name: str) -> str:
    return (env.str(name, "", validate=env_values.http_url) or "").rstrip("/")


def read_calls(env: environs.Env) -> CallLimits:
    """``PLATFORM_*``: what one call may take from a worker."""
    positive = Range(min=0, min_inclusive=False)
    threads = env.int("WORKER_THREADS", 8, validate=Range(min=1))
    return CallLimits(
        max_answer_bytes=env.int(
            "PLATFORM_MAX_ANSWER_BYTES", CallLimits.max_answer_bytes, validate=Range(min=1024)
        ),
        deadline_s=env.float("PLATFORM_CALL_DEADLINE_S", CallLimits.deadline_s, validate=positive),
        max_threads=env.int(
            "PLATFORM_MAX_THREADS", share_of_threads(threads), validate=Range(min=1)
        ),
    )


def read_circuit(env: environs.Env) -> CircuitConfig:
    """``CIRCUIT_*``."""
    above_zero = Range(min=0, min_inclusive=False)
    return CircuitConfig(
        enabled=env.bool("CIRCUIT_BREAKER", True),
        min_calls=env.int("CIRCUIT_MIN_CALLS", 20, validate=Range(min=1)),
        failing_s=env.float("CIRCUIT_FAILING_S", 60, validate=above_zero),
        probe_s=env.float("CIRCUIT_PROBE_S", 30, validate=above_zero),
    )
