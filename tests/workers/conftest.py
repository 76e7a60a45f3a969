"""The workers' tests' stats store: SQLite, migrated, in the test's own directory (a
module that runs against PostgreSQL too gives its own ``store``)."""

from __future__ import annotations

import pytest

from .stores import sqlite_store


@pytest.fixture
def store(tmp_path):
    stores = sqlite_store(tmp_path)
    yield next(stores)
    next(stores, None)
