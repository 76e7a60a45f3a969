"""Configuration, read once from the environment into frozen dataclasses.

Every process calls :func:`load_settings` at start-up and passes the result (or the
part a component needs) down; nothing else reads the environment. Every bad or missing
value is collected before anything is reported: :class:`ConfigError` names each
variable with its problem, one line each.

A platform is *on* when any of its connection variables is set, and then needs all of
them; otherwise it is *off* (its config is ``None``): the workers dead-letter what
would go to it, with a reason naming the variables to set, and ``hookrelay doctor``
says it is not configured. Nothing outside ``hookrelay dev`` points at the sandbox.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import environs
from marshmallow.validate import OneOf, Range

from workers.core import env_values
from workers.core.platform_settings import (
    DEFAULT_CALL_LIMITS,
    DEFAULT_CIRCUIT,
    DEFAULT_RATE_LIMITS,
    PLATFORM_VARIABLES,
    AltcraftConfig,
    CallLimits,
    CircuitConfig,
    CrmConfig,
    PushwooshConfig,
    read_calls,
    read_circuit,
    read_platforms,
)
from workers.core.redis_settings import VAR_DIR, SentinelConfig, read_redis

DEFAULT_FOLLOWUP_SCHEDULE = (300, 1800, 7200, 21600, 86400, 259200)


class ConfigError(Exception):
    """Settings are missing or malformed; ``problems`` maps each variable to what is
    wrong with it, and ``str()`` is one line per variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.problems = {variable: problem}
        super().__init__(variable, problem)

    @classmethod
    def of(cls, problems: Mapping[str, str]) -> ConfigError:
        error = cls(*next(iter(problems.items())))
        error.problems = dict(problems)
        return error

    @property
    def variable(self) -> str:
        """The first variable named (the only one, when one is wrong)."""
        return next(iter(self.problems))

    def lines(self) -> list[str]:
        return [f"{variable}: {problem}" for variable, problem in self.problems.items()]

    def report(self, who: str = "") -> str:
        """What a process prints before it stops: ``<who>: configuration error: …``, one
        line per variable."""
        prefix = f"{who}: " if who else ""
        return "\n".join(f"{prefix}configuration error: {line}" for line in self.lines())

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class WorkerConfig:
    """How workers find dead peers and pace retries (not in the user-facing table)."""

    heartbeat_timeout_s: float = 30.0
    sweep_interval_s: float = 5.0
    retry_min_backoff_ms: int = 1000
    retry_max_backoff_ms: int = 300_000
    rate_limit_margin_ms: int = 100
    #: Delays longer than this wait in Redis's due set, not in a broker consumer.
    delay_horizon_s: float = 60.0


@dataclass(frozen=True)
class Settings:
    #: ``REDIS_URL``; with Sentinel, :attr:`SentinelConfig.url`.
    redis_url: str
    broker_url: str
    embedded_redis: bool
    database_url: str
    port: int
    api_keys: tuple[str, ...] = field(repr=False)
    #: The Standard Webhooks secrets (``whsec_…``) a request to the receiver may be
    #: signed with (several while one is rotated); empty: unsigned.
    signing_secrets: tuple[str, ...] = field(repr=False)
    hook_user: str | None
    hook_password: str | None = field(repr=False)
    #: What the hook tokens of the templates hookrelay writes are keyed with (the first
    #: signs, every one verifies: workers/campaigns/hook_urls.py).
    hook_keys: tuple[str, ...] = field(repr=False)
    #: How the platform's hook placeholders are written, ``name`` standing for each.
    hook_placeholder: str
    #: What the door keys a forgotten person's identifiers with (workers/core/door.py).
    suppression_key: str | None = field(repr=False)
    #: Where the platforms reach this receiver, for the hook URLs hookrelay writes.
    public_url: str | None
    #: A platform's config, or ``None`` when it is off (see the module docstring).
    crm: CrmConfig | None
    pushwoosh: PushwooshConfig | None
    altcraft: AltcraftConfig | None
    #: platform → requests/second (``*_RATE_LIMIT``).
    rate_limits: Mapping[str, float]
    #: The receiver refuses new events above this share of Redis's maxmemory.
    redis_high_water_percent: int
    profile_flush_ms: int
    profile_batch_max: int
    retry_max_age_s: int
    followup_schedule: tuple[int, ...]
    followup_time_scale: float
    frequency_cap: int | None
    worker: WorkerConfig
    log_format: str = "auto"
    #: A :mod:`logging` level (``LOG_LEVEL=debug`` → 10).
    log_level: int = logging.INFO
    metrics_port: int = 9191
    #: The address ``web`` and the worker's ``/metrics`` listen on.
    bind_address: str = "0.0.0.0"
    #: Raw message-log rows older than this are deleted.
    message_log_retention_days: int = 90
    #: Dead letters Redis holds before new ones go to the SQL store.
    dlq_redis_max: int = 100_000
    #: A ``web`` client must send its whole request within this (else it is closed).
    web_read_timeout_s: float = 10.0
    #: An event waits for the profile updates of its user accepted before it.
    events_after_profiles: bool = True
    #: Find the primary through Sentinel (``REDIS_SENTINELS``) instead of ``REDIS_URL``.
    sentinel: SentinelConfig | None = None
    #: Replicas that must confirm a write before it counts (``WAIT``), and how long
    #: they may take (workers/core/replication.py).
    redis_min_replicas: int = 0
    redis_replica_timeout_ms: int = 100
    #: What the platforms report that puts an address on the suppression list.
    suppress_from_feedback: frozenset[str] = frozenset({"hardbounce", "complaint", "unsubscribe"})
    #: Keys the Segment-spec routes accept besides the API keys (and only they).
    write_keys: tuple[str, ...] = field(default=(), repr=False)
    #: A path the Segment-spec routes are also served under (``/segment``), or "".
    segment_prefix: str = ""
    #: Which of page, screen, group are delivered as events (the others are dropped).
    segment_forward: frozenset[str] = frozenset()
    #: A track of this name starts a campaign; ``None``: none does.
    segment_campaign_event: str | None = "Campaign Started"
    #: The circuit breaker's thresholds.
    circuit: CircuitConfig = DEFAULT_CIRCUIT
    #: What one platform call may take from a worker.
    calls: CallLimits = DEFAULT_CALL_LIMITS
    #: How long an event's trace is kept after its last entry; 0: none is kept.
    trace_retention_s: int = 7 * 86400
    #: How long a start waits after a segment generation that reports no status.
    segment_pause_s: int = 60
    #: The most days an automated campaign is followed daily after its start.
    automated_follow_days: int = 90
    #: Export spans over OTLP (``OTEL_EXPORTER_OTLP_ENDPOINT`` set; workers/core/spans.py).
    otel: bool = False

    @property
    def rabbitmq(self) -> bool:
        """Whether the workers consume from RabbitMQ (fed from Redis by a relay)."""
        return urlsplit(self.broker_url).scheme in ("amqp", "amqps")

    def platform(self, name: str) -> CrmConfig | PushwooshConfig | AltcraftConfig | None:
        """The config of platform ``name``, or ``None`` when it is off."""
        return getattr(self, name)

    @property
    def platforms_on(self) -> tuple[str, ...]:
        return tuple(name for name in PLATFORM_VARIABLES if self.platform(name) is not None)

    def secrets(self) -> tuple[str, ...]:
        """Every configured credential, for logs to mask."""
        values = (
            *self.api_keys,
            *self.write_keys,
            *self.signing_secrets,
            self.hook_password,
            *self.hook_keys,
            self.suppression_key,
            self.crm and self.crm.secret,
            self.pushwoosh and self.pushwoosh.api_token,
            self.altcraft and self.altcraft.token,
            self.sentinel and self.sentinel.password,
            self.sentinel and self.sentinel.redis_password,
            *(
                urlsplit(url).password
                for url in (self.redis_url, self.broker_url, self.database_url)
            ),
        )
        return tuple(value for value in values if value)

    def require_api_keys(self) -> None:
        """The receiver refuses to start without at least one key."""
        if not self.api_keys:
            raise ConfigError(
                "HOOKRELAY_API_KEYS",
                "not set; give at least one key (comma-separated) for 'Authorization: Bearer'",
            )


class _MappingEnv(environs.Env):
    """An :class:`environs.Env` that reads a given mapping instead of ``os.environ``
    and collects every problem until :meth:`seal`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(eager=False)
        self._source = environ

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._source.get(env_key, default)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise :class:`ConfigError` naming every bad one."""
    source = os.environ if environ is None else environ
    env = _MappingEnv(source)
    problems: dict[str, str] = {}
    values = _read(env, source, problems)
    try:
        env.seal()
    except environs.EnvValidationError as error:
        # seal() names the variables; a list of messages comes only from one parse.
        assert isinstance(error.error_messages, Mapping)
        for variable, messages in error.error_messages.items():
            problems.setdefault(variable, " ".join(map(str, _flatten(messages))))
    if problems:
        raise ConfigError.of({name: problems[name] for name in sorted(problems)})
    return Settings(**values)


def _read(env: _MappingEnv, source: Mapping[str, str], problems: dict[str, str]) -> dict:
    """The settings' values; problems environs cannot see go into ``problems``."""
    return {
        **read_redis(env, problems),
        **_receiver(env),
        **read_platforms(env, source, problems),
        **_delivery(env),
        **_campaigns(env),
        **_segment(env),
        **_operations(env),
        "circuit": read_circuit(env),
        "calls": read_calls(env),
        "worker": _worker(env),
    }


def _receiver(env: _MappingEnv) -> dict:
    """The web process: where it listens and whom it lets in."""
    return {
        "port": env.int("PORT", 8000, validate=Range(min=1, max=65535)),
        "api_keys": tuple(env_values.items(env, "HOOKRELAY_API_KEYS")),
        "signing_secrets": tuple(
            env_values.items(env, "HOOKRELAY_SIGNING_SECRET", validate=env_values.signing_secrets)
        ),
        "hook_user": env.str("HOOKRELAY_HOOK_USER", None),
        "hook_password": env.str("HOOKRELAY_HOOK_PASSWORD", None),
        "hook_keys": tuple(
            env_values.items(env, "HOOKRELAY_HOOK_KEYS", validate=env_values.hook_keys)
        ),
        "hook_placeholder": env.str(
            "HOOKRELAY_HOOK_PLACEHOLDER",
            env_values.HOOK_PLACEHOLDER,
            validate=env_values.placeholder,
        ),
        "suppression_key": env.str("HOOKRELAY_SUPPRESSION_KEY", None),
        "public_url": (
            (env.str("HOOKRELAY_PUBLIC_URL", "", validate=env_values.http_url) or "").rstrip("/")
            or None
        ),
        "web_read_timeout_s": env.float(
            "WEB_READ_TIMEOUT_S", 10, validate=Range(min=0, min_inclusive=False)
        ),
    }


def _delivery(env: _MappingEnv) -> dict:
    """How events and profile updates go out."""
    positive = Range(min=1)
    return {
        "rate_limits": {
            name: env.float(f"{name.upper()}_RATE_LIMIT", default, validate=positive)
            for name, default in DEFAULT_RATE_LIMITS.items()
        },
        "profile_flush_ms": env.int("PROFILE_FLUSH_MS", 1000, validate=positive),
        "profile_batch_max": env.int("PROFILE_BATCH_MAX", 500, validate=positive),
        "events_after_profiles": env.bool("EVENTS_AFTER_PROFILES", True),
        "retry_max_age_s": env.int("RETRY_MAX_AGE_S", 86400, validate=positive),
        "frequency_cap": env.int("FREQUENCY_CAP", None, validate=positive),
    }


def _campaigns(env: _MappingEnv) -> dict:
    """Following campaigns: when their statistics are fetched, what feedback suppresses."""
    default_kinds = ("hardbounce", "complaint", "unsubscribe")
    kinds = env_values.items(
        env, "SUPPRESS_FROM_FEEDBACK", default_kinds, validate=env_values.feedback_kinds
    )
    schedule = map(str, DEFAULT_FOLLOWUP_SCHEDULE)
    return {
        "suppress_from_feedback": frozenset(kind.lower() for kind in kinds),
        "followup_schedule": tuple(
            int(step)
            for step in env_values.items(
                env, "FOLLOWUP_SCHEDULE", schedule, validate=env_values.seconds
            )
        ),
        "followup_time_scale": env.float(
            "FOLLOWUP_TIME_SCALE", 1.0, validate=Range(min=0, min_inclusive=False)
        ),
        "segment_pause_s": env.int("CAMPAIGN_SEGMENT_PAUSE_S", 60, validate=Range(min=0)),
        "automated_follow_days": env.int("AUTOMATED_FOLLOW_DAYS", 90, validate=Range(min=1)),
    }


def _operations(env: _MappingEnv) -> dict:
    """The store, logs, metrics and how long what hookrelay keeps is kept."""
    positive = Range(min=1)
    return {
        "database_url": env.str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hookrelay.db'}"),
        "log_format": env.str("LOG_FORMAT", "auto", validate=OneOf(("auto", "json", "text"))),
        "log_level": env.log_level("LOG_LEVEL", logging.INFO),
        "metrics_port": env.int("METRICS_PORT", 9191, validate=Range(min=0, max=65535)),
        "bind_address": env.str("BIND_ADDRESS", "0.0.0.0", validate=env_values.address),
        "dlq_redis_max": env.int("DLQ_REDIS_MAX", 100_000, validate=positive),
        "message_log_retention_days": env.int("MESSAGE_LOG_RETENTION_DAYS", 90, validate=positive),
        "trace_retention_s": env.int("TRACE_RETENTION_S", 7 * 86400, validate=Range(min=0)),
        "otel": bool(env.str("OTEL_EXPORTER_OTLP_ENDPOINT", "")),
    }


def _worker(env: _MappingEnv) -> WorkerConfig:
    positive = Range(min=1)
    return WorkerConfig(
        heartbeat_timeout_s=env.float("HOOKRELAY_HEARTBEAT_TIMEOUT_S", 30, validate=positive),
        sweep_interval_s=env.float("HOOKRELAY_SWEEP_INTERVAL_S", 5, validate=positive),
        retry_min_backoff_ms=env.int("RETRY_MIN_BACKOFF_MS", 1000, validate=positive),
        retry_max_backoff_ms=env.int("RETRY_MAX_BACKOFF_MS", 300_000, validate=positive),
        rate_limit_margin_ms=env.int("RATE_LIMIT_MARGIN_MS", 100, validate=Range(min=0)),
        delay_horizon_s=env.float("HOOKRELAY_DELAY_HORIZON_S", 60, validate=positive),
    )


def _segment(env: _MappingEnv) -> dict:
    """The Segment-spec API's settings."""
    forward = env_values.items(env, "SEGMENT_FORWARD", validate=env_values.forwardable)
    prefix = env.str("SEGMENT_PATH_PREFIX", "", validate=env_values.path_prefix) or ""
    return {
        "write_keys": tuple(env_values.items(env, "HOOKRELAY_WRITE_KEYS")),
        "segment_prefix": prefix.rstrip("/"),
        "segment_forward": frozenset(kind.lower() for kind in forward),
        "segment_campaign_event": env.str("SEGMENT_CAMPAIGN_EVENT", "Campaign Started") or None,
    }


def _flatten(messages: Any) -> list[Any]:
    """environs' messages for one variable: a list, or a dict of lists (list subcasts)."""
    if isinstance(messages, dict):
        return [message for nested in messages.values() for message in _flatten(nested)]
    if isinstance(messages, list):
        return [message for nested in messages for message in _flatten(nested)]
    return [messages]
