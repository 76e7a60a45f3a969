"""Shared fixtures: a real Redis server, the sandbox, settings and the Flask app."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from webhook.app import create_app
from workers.campaigns.schema import migrate
from workers.core.settings import Settings, load_settings
from workers.ops import devstack
from workers.ops.devstack import sandbox_env
from workers.ops.embedded_redis import EmbeddedRedis
from workers.trace.archive import TraceArchive

from .support import API_KEY, Sandbox, temporary_redis
from .workers.stores import sqlite_store


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One real server for the session."""
    with temporary_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """The session server, emptied before each test."""
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session", autouse=True)
def no_dev_stack() -> Iterator[None]:
    """The commands tests run in-process ignore a ``make run`` a developer may have
    running in this checkout (var/dev.env): each test gives its own settings."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(devstack, "read_running_stack", lambda var_dir=None: None)
        yield


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    handle = Sandbox()
    yield handle
    handle.stop()


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Sandbox:
    sandbox.reset()
    return sandbox


#: The stats store tests use unless they ask for another (removed at exit).
TEST_DATABASE_DIR = Path(tempfile.mkdtemp(prefix="hookrelay-tests-"))
atexit.register(shutil.rmtree, TEST_DATABASE_DIR, ignore_errors=True)
TEST_DATABASE_URL = f"sqlite:///{TEST_DATABASE_DIR / 'stats.db'}"


@pytest.fixture(scope="session", autouse=True)
def migrated_test_database() -> None:
    """The shared test store, migrated as a release step would (dead letters past the
    Redis cap live there)."""
    migrate(TEST_DATABASE_URL)


#: Where the receiver's tests say the platforms are: every platform on, none called
#: (the receiver never calls a platform; tests that need one pass the sandbox's).
UNCALLED_PLATFORMS = sandbox_env("http://127.0.0.1:9")


def make_settings(redis_url: str, **env: str) -> Settings:
    return load_settings(
        {
            "REDIS_URL": redis_url,
            "HOOKRELAY_API_KEYS": API_KEY,
            "DATABASE_URL": TEST_DATABASE_URL,
            **UNCALLED_PLATFORMS,
            **env,
        }
    )


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return make_settings(redis_url)


@pytest.fixture
def client(settings: Settings):
    return create_app(settings).test_client()


@pytest.fixture
def trace_archive(tmp_path: Path) -> Iterator[TraceArchive]:
    """Where settled traces go, in a SQLite store of the test's own (3,600 s retention)."""
    stores = sqlite_store(tmp_path)
    yield TraceArchive(next(stores).engine, 3600)
    next(stores, None)
