"""Where Redis is: a URL, Sentinels, or the embedded server ``make run`` starts; and
the broker beside it (workers/core/settings.py reads these with the rest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import environs
from marshmallow.validate import Range

from workers.core import env_values

#: Where the embedded Redis, the SQLite store and the development key live.
VAR_DIR = Path("var")


@dataclass(frozen=True)
class SentinelConfig:
    """Where Sentinel is (``REDIS_SENTINELS``) and what it calls the primary."""

    addresses: tuple[tuple[str, int], ...]
    master: str = "mymaster"
    #: ``REDIS_SENTINEL_PASSWORD``: the Sentinels' own, if they ask for one.
    password: str | None = field(default=None, repr=False)
    #: ``REDIS_PASSWORD``: the primary's and replicas', found through Sentinel.
    redis_password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """A readable stand-in for ``REDIS_URL`` (logs, ``doctor``)."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.addresses)
        return f"redis+sentinel://{hosts}/{self.master}"


def embedded_redis_url(var_dir: Path = VAR_DIR) -> str:
    """The unix socket of the embedded Redis that ``make run`` starts."""
    return f"unix://{(var_dir / 'redis.sock').resolve()}"


def read_redis(env: environs.Env, problems: dict[str, str]) -> dict:
    """Where Redis is (a URL, Sentinels, or the embedded server) and how it is used."""
    redis_url = env.str("REDIS_URL", None, validate=env_values.redis_url)
    sentinel = _sentinel(env, problems)
    if sentinel and redis_url:
        problems["REDIS_URL"] = "set together with REDIS_SENTINELS: give one of the two"
    resolved = sentinel.url if sentinel else redis_url or embedded_redis_url()
    return {
        "redis_url": resolved,
        "broker_url": _broker_url(env, resolved, problems),
        "embedded_redis": redis_url is None and sentinel is None,
        "sentinel": sentinel,
        "redis_min_replicas": env.int("REDIS_MIN_REPLICAS", 0, validate=Range(min=0, max=16)),
        "redis_replica_timeout_ms": env.int(
            "REDIS_REPLICA_TIMEOUT_MS", 100, validate=Range(min=1, max=60_000)
        ),
        "redis_high_water_percent": env.int(
            "REDIS_HIGH_WATER_PERCENT", 90, validate=Range(min=1, max=100)
        ),
    }


def _sentinel(env: environs.Env, problems: dict[str, str]) -> SentinelConfig | None:
    """``REDIS_SENTINELS`` (``host:port``, comma-separated) and what goes with it."""
    listed = env_values.items(env, "REDIS_SENTINELS")
    master = env.str("REDIS_SENTINEL_MASTER", "mymaster")
    password = env.str("REDIS_SENTINEL_PASSWORD", None)
    redis_password = env.str("REDIS_PASSWORD", None)
    if not listed:
        return None
    addresses = []
    for item in listed:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems["REDIS_SENTINELS"] = f"expected host:port items, comma-separated, got {item!r}"
            return None
        addresses.append((host.strip("[]"), int(port)))
    return SentinelConfig(tuple(addresses), master, password or None, redis_password or None)


def _broker_url(env: environs.Env, redis_url: str, problems: dict[str, str]) -> str:
    """RabbitMQ (``amqp://``, ``amqps://``), or REDIS_URL's own server."""
    value = env.str("BROKER_URL", None)
    if not value or value == redis_url:
        return redis_url
    scheme = urlsplit(value).scheme
    if scheme in ("amqp", "amqps"):
        return value
    if scheme in ("redis", "rediss", "unix"):
        problems["BROKER_URL"] = (
            "a Redis broker must be REDIS_URL's server (events are enqueued in the same "
            "atomic step as their dedup keys); leave BROKER_URL unset, or give an amqp:// URL"
        )
    else:
        problems["BROKER_URL"] = f"expected an amqp://, amqps:// or redis:// URL, got {value!r}"
    return redis_url
