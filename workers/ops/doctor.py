"""``hookrelay doctor``: check what a deployment needs, and say what is wrong in plain words.

Each check yields :class:`Finding` rows as it goes, so a slow platform does not hide
what was already found. Nothing is written anywhere: Redis is read (``PING``, ``INFO``),
the store is read (its schema revision), and each platform gets one harmless
authenticated read through the same shared rate limit the workers use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika.exceptions
import redis
import sqlalchemy as sa

from schemas.events import PLATFORMS
from workers.campaigns.schema import revisions
from workers.campaigns.store import Store
from workers.core.connections import REDIS_TIMEOUTS, embedded_redis_absent, redis_client
from workers.core.platform_settings import PLATFORM_VARIABLES
from workers.core.redis_settings import SentinelConfig
from workers.core.settings import ConfigError, Settings, load_settings
from workers.metrics.backlog import BrokerUnavailable
from workers.metrics.rabbitmq import RabbitmqDepths
from workers.ops.devstack import SANDBOX_VARIABLE, platform_mode
from workers.platforms import errors
from workers.platforms.registry import platform_client
from workers.queue.routes import QUEUES
from workers.ratelimit.limiter import platform_limiter

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    subject: str
    level: str
    text: str


def diagnose(environ: Mapping[str, str] | None = None) -> Iterator[Finding]:
    """Every finding, configuration first; stops after the configuration if it is bad."""
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(environ)
    except ConfigError as error:
        yield Finding("configuration", FAIL, str(error))
        return
    yield from check_configuration(settings)
    client = yield from check_redis(settings)
    if settings.rabbitmq:
        yield check_rabbitmq(settings)
    yield from check_store(settings)
    for platform in PLATFORMS:
        yield check_platform(settings, platform, client, environ.get(SANDBOX_VARIABLE))


def check_configuration(settings: Settings) -> Iterator[Finding]:
    keys = len(settings.api_keys)
    hooks = "on" if settings.hook_user and settings.hook_password else "off"
    signing = (
        f"on ({len(settings.signing_secrets)} secret(s))" if settings.signing_secrets else "off"
    )
    yield Finding(
        "configuration", OK, f"read: {keys} API key(s), hooks {hooks}, signatures {signing}"
    )
    if not keys:
        # ``make run`` (the embedded Redis) brings its own development key.
        level = WARN if settings.embedded_redis else FAIL
        yield Finding(
            "configuration",
            level,
            "HOOKRELAY_API_KEYS is not set: web refuses to start (make run sets a dev key)",
        )
    if hooks == "off":
        yield Finding(
            "configuration",
            WARN,
            "HOOKRELAY_HOOK_USER/HOOKRELAY_HOOK_PASSWORD not set: platform hooks get 401",
        )


def check_redis(settings: Settings) -> Generator[Finding, None, redis.Redis | None]:
    """Findings about Redis; returns a client that answered, or ``None``."""
    where = without_password(settings.redis_url)
    if embedded_redis_absent(settings):
        yield Finding(
            "redis", FAIL, "REDIS_URL is not set and the embedded Redis is not running (make run)"
        )
        return None
    client = redis_client(settings)
    try:
        info = client.info()
    except redis.RedisError as error:
        yield Finding("redis", FAIL, f"cannot reach {where}: {error}")
        return None
    yield Finding("redis", OK, f"Redis {info.get('redis_version', '?')} answers at {where}")
    if not info.get("aof_enabled"):
        yield Finding(
            "redis",
            WARN,
            "append-only file is off: accepted events are lost if Redis restarts "
            "(set appendonly yes)",
        )
    policy = info.get("maxmemory_policy", "noeviction")
    if policy != "noeviction":
        yield Finding(
            "redis",
            FAIL,
            f"maxmemory-policy is {policy}: Redis may evict queued events "
            "(set maxmemory-policy noeviction)",
        )
    yield from check_replicas(settings, client.info("replication"))
    if settings.sentinel is not None:
        yield from check_sentinels(settings.sentinel)
    return client


def check_replicas(settings: Settings, replication: dict) -> Iterator[Finding]:
    """How many replicas follow the primary, how far behind, against REDIS_MIN_REPLICAS."""
    offset = replication.get("master_repl_offset", 0)
    online = [
        value
        for key, value in replication.items()
        if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    ]
    lags = ", ".join(
        f"{r.get('ip')}:{r.get('port')} {offset - r.get('offset', 0)} bytes / {r.get('lag', '?')} s"
        for r in online
    )
    required = settings.redis_min_replicas
    if len(online) < required:
        yield Finding(
            "redis",
            FAIL,
            f"{len(online)} replicas online, REDIS_MIN_REPLICAS={required}: every event "
            "is refused (503) until enough are back",
        )
    elif online:
        yield Finding("redis", OK, f"{len(online)} replicas online, behind by {lags}")
    elif settings.sentinel is not None:
        yield Finding("redis", WARN, "no replica online: Sentinel has nothing to fail over to")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check_sentinels(config: SentinelConfig) -> Iterator[Finding]:
    """Whether every Sentinel answers and names the same primary."""
    named: dict[str, list[str]] = {}
    for host, port in config.addresses:
        sentinel = redis.Redis(host, port, password=config.password, **REDIS_TIMEOUTS)
        try:
            address = sentinel.sentinel_get_master_addr_by_name(config.master)
        except redis.RedisError as error:
            yield Finding("redis", WARN, f"Sentinel {host}:{port} does not answer: {error}")
            continue
        finally:
            sentinel.close()
        primary = f"{_text(address[0])}:{_text(address[1])}" if address else "none"
        named.setdefault(primary, []).append(f"{host}:{port}")
    if len(named) == 1 and "none" not in named:
        [(primary, agreeing)] = named.items()
        yield Finding(
            "redis",
            OK,
            f"{len(agreeing)} of {len(config.addresses)} Sentinels name {primary} "
            f"the primary of {config.master!r}",
        )
    elif named:
        views = "; ".join(f"{', '.join(who)}: {primary}" for primary, who in named.items())
        yield Finding("redis", FAIL, f"the Sentinels disagree on {config.master!r}: {views}")


def check_rabbitmq(settings: Settings) -> Finding:
    """Connect to the broker and read the depth of each queue the workers consume."""
    where = without_password(settings.broker_url)
    try:
        depths = RabbitmqDepths(settings.broker_url, timeout_s=5).read(QUEUES)
    except BrokerUnavailable as error:
        if isinstance(error.__cause__, pika.exceptions.ProbableAuthenticationError):
            return Finding("rabbitmq", FAIL, f"credentials refused at {where}: check BROKER_URL")
        return Finding("rabbitmq", FAIL, f"cannot reach {where}: {error}")
    waiting = ", ".join(f"{name} {depth}" for name, depth in depths.items())
    return Finding("rabbitmq", OK, f"RabbitMQ answers at {where}; waiting: {waiting}")


def check_store(settings: Settings) -> Iterator[Finding]:
    url = sa.make_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        yield Finding("store", FAIL, f"no database yet at {where}: run 'hookrelay migrate'")
        return
    store = Store(settings.database_url)
    try:
        current, newest = revisions(store)
    except (sa.exc.SQLAlchemyError, OSError) as error:
        problem = str(error).splitlines()[0]
        yield Finding("store", FAIL, f"cannot open {where}: {problem}")
        return
    finally:
        store.dispose()
    yield Finding("store", OK, f"{where} answers")
    if current != newest:
        yield Finding(
            "store",
            FAIL,
            f"schema revision {current or 'none'}, this release needs {newest}: "
            "run 'hookrelay migrate' (web and worker refuse to start until then)",
        )


def check_platform(
    settings: Settings, platform: str, client: redis.Redis | None, sandbox_url: str | None = None
) -> Finding:
    """How the platform is set up (configured, make run's sandbox, or off), and what
    one harmless authenticated read says about the credentials, naming the URL tried."""
    base_url, *credentials = PLATFORM_VARIABLES[platform]
    mode, where = platform_mode(settings, platform, sandbox_url)
    if mode == "off":
        return Finding(
            platform, WARN, f"off: not configured, its messages are dead-lettered ({where})"
        )
    said = f"{'sandbox (make run)' if mode == 'sandbox' else mode} at {where}"
    limiter = platform_limiter(client, settings, platform) if client is not None else None
    api = platform_client(settings, platform, limiter)
    started = time.monotonic()
    try:
        api.probe()
    except errors.Unauthorized as error:
        return Finding(
            platform,
            FAIL,
            f"{said}: {error.args[0]} ({error.status}): check {'/'.join(credentials)}",
        )
    except errors.NotFound:
        return Finding(platform, FAIL, f"{said}: no such path: check {base_url}")
    except (errors.Timeout, errors.ConnectionFailed) as error:
        hint = " (is make run still running?)" if mode == "sandbox" else ""
        return Finding(platform, FAIL, f"{said}: cannot reach it ({error.args[0]}){hint}")
    except errors.RetryableError as error:
        return Finding(
            platform, WARN, f"{said}: answered {error.status}: busy or failing, try later"
        )
    except errors.PermanentError as error:
        return Finding(
            platform,
            OK,
            f"{said}: credentials accepted; the probe itself was refused "
            f"({error.status}: {error.args[0]})",
        )
    finally:
        api.close()
    elapsed_ms = (time.monotonic() - started) * 1000
    return Finding(platform, OK, f"{said}: credentials accepted ({elapsed_ms:.0f} ms)")


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))
