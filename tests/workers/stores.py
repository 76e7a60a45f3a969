"""Stats stores for tests: SQLite in a temporary directory, and PostgreSQL when one
answers at ``HOOKRELAY_TEST_POSTGRES`` (default: the local server's ``test``
database), each test in a schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from workers.campaigns.schema import upgrade
from workers.campaigns.store import Store

POSTGRES_URL = os.environ.get(
    "HOOKRELAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def sqlite_store(directory: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{directory / 'stats.db'}")
    upgrade(store)
    yield store
    store.dispose()


def postgres_store() -> Iterator[Store]:
    schema = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
    admin = Store(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(error).__name__})")
    store = Store(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(store)
    try:
        yield store
    finally:
        store.dispose()
        with admin.engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
