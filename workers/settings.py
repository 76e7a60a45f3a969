"""Configuration, read once from the environment into frozen dataclasses.

Every process calls :func:`load_settings` at start-up and passes the result (or the
part a component needs) down; nothing else reads the environment. A bad or missing
value raises :class:`ConfigError`, whose message is one line naming the variable.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import environs
import marshmallow

#: Where the embedded Redis, the SQLite store and the development key live.
VAR_DIR = Path("var")

#: The sandbox that ``make run`` starts; each platform is served under its own prefix.
SANDBOX_URL = "http://127.0.0.1:8100"
SANDBOX_LOGIN = "sandbox"
SANDBOX_SECRET = "sandbox-secret"

DEFAULT_FOLLOWUP_SCHEDULE = (300, 1800, 7200, 21600, 86400, 259200)


class ConfigError(Exception):
    """A setting is missing or malformed; ``str()`` is one line naming the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class CrmConfig:
    base_url: str
    login: str
    secret: str = field(repr=False)
    rate_limit: float


@dataclass(frozen=True)
class PushwooshConfig:
    base_url: str
    api_token: str = field(repr=False)
    application: str
    rate_limit: float


@dataclass(frozen=True)
class AltcraftConfig:
    base_url: str
    token: str = field(repr=False)
    list_id: int
    rate_limit: float


@dataclass(frozen=True)
class WorkerConfig:
    """How workers find dead peers and pace retries (not in the user-facing table)."""

    heartbeat_timeout_s: float = 30.0
    sweep_interval_s: float = 5.0
    retry_min_backoff_ms: int = 1000
    retry_max_backoff_ms: int = 300_000
    rate_limit_margin_ms: int = 100


@dataclass(frozen=True)
class Settings:
    redis_url: str
    broker_url: str
    embedded_redis: bool
    database_url: str
    port: int
    api_keys: tuple[str, ...] = field(repr=False)
    signing_secret: str | None = field(repr=False)
    hook_user: str | None
    hook_password: str | None = field(repr=False)
    crm: CrmConfig
    pushwoosh: PushwooshConfig
    altcraft: AltcraftConfig
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

    @property
    def rabbitmq(self) -> bool:
        """Whether the workers consume from RabbitMQ (fed from Redis by a relay)."""
        return urlsplit(self.broker_url).scheme in ("amqp", "amqps")

    def secrets(self) -> tuple[str, ...]:
        """Every configured credential, for logs to mask."""
        values = (
            *self.api_keys,
            self.signing_secret,
            self.hook_password,
            self.crm.secret,
            self.pushwoosh.api_token,
            self.altcraft.token,
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


def embedded_redis_url(var_dir: Path = VAR_DIR) -> str:
    """The unix socket of the embedded Redis that ``make run`` starts."""
    return f"unix://{(var_dir / 'redis.sock').resolve()}"


class _MappingEnv(environs.Env):
    """An :class:`environs.Env` that reads a given mapping instead of ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(eager=True)
        self._source = environ

    def _get_value(self, env_key, default):
        return self._source.get(env_key, default)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise :class:`ConfigError` on the first bad one."""
    env = _MappingEnv(os.environ if environ is None else environ)
    try:
        return _read(env)
    except environs.EnvError as error:
        raise _as_config_error(error) from None


def _read(env: _MappingEnv) -> Settings:
    positive = marshmallow.validate.Range(min=1)
    redis_url = env.str("REDIS_URL", None)
    resolved_redis_url = redis_url or embedded_redis_url()
    broker_url = _broker_url(env.str("BROKER_URL", None), resolved_redis_url)
    _check_redis_url("REDIS_URL", redis_url)
    return Settings(
        redis_url=resolved_redis_url,
        broker_url=broker_url,
        embedded_redis=redis_url is None,
        database_url=env.str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hookrelay.db'}"),
        port=env.int("PORT", 8000, validate=marshmallow.validate.Range(min=1, max=65535)),
        api_keys=tuple(k.strip() for k in env.list("HOOKRELAY_API_KEYS", []) if k.strip()),
        signing_secret=env.str("HOOKRELAY_SIGNING_SECRET", None) or None,
        hook_user=env.str("HOOKRELAY_HOOK_USER", None),
        hook_password=env.str("HOOKRELAY_HOOK_PASSWORD", None),
        crm=CrmConfig(
            base_url=_base_url(env, "CRM_BASE_URL", f"{SANDBOX_URL}/crm"),
            login=env.str("CRM_LOGIN", SANDBOX_LOGIN),
            secret=env.str("CRM_SECRET", SANDBOX_SECRET),
            rate_limit=env.float("CRM_RATE_LIMIT", 10, validate=positive),
        ),
        pushwoosh=PushwooshConfig(
            base_url=_base_url(env, "PUSHWOOSH_BASE_URL", f"{SANDBOX_URL}/pushwoosh"),
            api_token=env.str("PUSHWOOSH_API_TOKEN", SANDBOX_SECRET),
            application=env.str("PUSHWOOSH_APPLICATION", "SANDBOX-APP"),
            rate_limit=env.float("PUSHWOOSH_RATE_LIMIT", 5, validate=positive),
        ),
        altcraft=AltcraftConfig(
            base_url=_base_url(env, "ALTCRAFT_BASE_URL", f"{SANDBOX_URL}/altcraft"),
            token=env.str("ALTCRAFT_TOKEN", SANDBOX_SECRET),
            list_id=env.int("ALTCRAFT_LIST_ID", 1, validate=positive),
            rate_limit=env.float("ALTCRAFT_RATE_LIMIT", 5, validate=positive),
        ),
        profile_flush_ms=env.int("PROFILE_FLUSH_MS", 1000, validate=positive),
        profile_batch_max=env.int("PROFILE_BATCH_MAX", 500, validate=positive),
        retry_max_age_s=env.int("RETRY_MAX_AGE_S", 86400, validate=positive),
        followup_schedule=tuple(
            env.list(
                "FOLLOWUP_SCHEDULE",
                list(DEFAULT_FOLLOWUP_SCHEDULE),
                subcast=int,
                validate=_all_positive,
            )
        ),
        followup_time_scale=env.float(
            "FOLLOWUP_TIME_SCALE",
            1.0,
            validate=marshmallow.validate.Range(min=0, min_inclusive=False),
        ),
        frequency_cap=env.int("FREQUENCY_CAP", None, validate=positive),
        log_format=env.str(
            "LOG_FORMAT", "auto", validate=marshmallow.validate.OneOf(("auto", "json", "text"))
        ),
        log_level=env.log_level("LOG_LEVEL", logging.INFO),
        metrics_port=env.int(
            "METRICS_PORT", 9191, validate=marshmallow.validate.Range(min=0, max=65535)
        ),
        worker=WorkerConfig(
            heartbeat_timeout_s=env.float("HOOKRELAY_HEARTBEAT_TIMEOUT_S", 30, validate=positive),
            sweep_interval_s=env.float("HOOKRELAY_SWEEP_INTERVAL_S", 5, validate=positive),
            retry_min_backoff_ms=env.int("RETRY_MIN_BACKOFF_MS", 1000, validate=positive),
            retry_max_backoff_ms=env.int("RETRY_MAX_BACKOFF_MS", 300_000, validate=positive),
            rate_limit_margin_ms=env.int(
                "RATE_LIMIT_MARGIN_MS", 100, validate=marshmallow.validate.Range(min=0)
            ),
        ),
    )


def _all_positive(values: list[int]) -> None:
    if not values or any(value < 1 for value in values):
        raise marshmallow.ValidationError("expected comma-separated whole seconds, each ≥ 1")


def _base_url(env: _MappingEnv, name: str, default: str) -> str:
    value = env.str(name, default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"not an http(s) URL: {value!r}")
    return value


def _broker_url(value: str | None, redis_url: str) -> str:
    """RabbitMQ (``amqp://``, ``amqps://``), or REDIS_URL's own server."""
    if not value or value == redis_url:
        return redis_url
    if urlsplit(value).scheme in ("amqp", "amqps"):
        return value
    _check_redis_url("BROKER_URL", value)
    raise ConfigError(
        "BROKER_URL",
        "a Redis broker must be REDIS_URL's server (events are enqueued in the same atomic "
        "step as their dedup keys); leave BROKER_URL unset, or give an amqp:// URL",
    )


def _check_redis_url(name: str, value: str | None) -> None:
    if value is None:
        return
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(name, f"expected a redis://, rediss:// or unix:// URL, got {value!r}")


def _as_config_error(error: environs.EnvError) -> ConfigError:
    """Turn environs' 'Environment variable "X" invalid: {...}' into one clean line."""
    match = re.match(r'Environment variable "([^"]+)"', str(error))
    details = getattr(error, "error_messages", None) or [str(error)]
    if isinstance(details, dict):
        details = [message for messages in details.values() for message in messages]
    return ConfigError(match.group(1) if match else "environment", "; ".join(map(str, details)))
