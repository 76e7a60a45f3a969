"""The stats store's schema: upgraded by ``hookrelay migrate`` (the Procfile's
``release`` step), checked by ``web`` and ``worker`` when they start.

Migrations are a release step, not a side effect of starting a process: a deployment
runs ``hookrelay migrate`` once per release, before the new ``web`` and ``worker``
processes; ``make run`` and the tests run it themselves. A process that finds the
schema behind stops at once and says what to run.

Alembic is imported where it is used, not with this module: importing it logs a line
per plugin at INFO, and the worker imports this module before its logging is set up.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from workers.campaigns.store import Store
from workers.core.settings import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

#: The PostgreSQL advisory lock migrations take ("hookrelay" as a number).
LOCK_KEY = 0x686F6F6B72656C


def migrate(url: str) -> tuple[str | None, str | None]:
    """Upgrade the database at ``url`` to the newest revision; return (from, to).

    A database that cannot be reached, named or upgraded is a :class:`ConfigError`
    naming ``DATABASE_URL``.
    """
    store = _open(url)
    try:
        return upgrade(store)
    except (sa.exc.SQLAlchemyError, OSError) as error:
        raise _unusable(error) from None
    finally:
        store.dispose()


def upgrade(store: Store) -> tuple[str | None, str | None]:
    """Upgrade ``store``'s database to the newest revision; return (from, to).

    Concurrent runs take turns (an advisory lock on PostgreSQL, a lock file beside a
    SQLite database), so the first upgrades and the others find nothing to do.
    """
    from alembic import command

    before, head = revisions(store)
    config = _alembic_config()
    with _migration_lock(store), store.engine.begin() as connection:
        if store.engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head


def current_store(url: str) -> Store:
    """A store on ``url`` whose schema is the newest, as ``web`` and ``worker`` open it.

    Raises :class:`ConfigError` naming ``DATABASE_URL`` if the database cannot be
    reached or its schema is behind (saying to run ``hookrelay migrate``).
    """
    store = _open(url)
    try:
        current, head = revisions(store)
    except (sa.exc.SQLAlchemyError, OSError) as error:
        store.dispose()
        raise _unusable(error) from None
    if current != head:
        store.dispose()
        raise ConfigError(
            "DATABASE_URL",
            f"the store's schema is at revision {current or 'none'}, this release needs {head}: "
            "run 'hookrelay migrate' (the Procfile's release step) first",
        )
    return store


def revisions(store: Store) -> tuple[str | None, str | None]:
    """(the database's schema revision or ``None``, the newest one this code knows)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision(), head


def _open(url: str) -> Store:
    try:
        return Store(url)
    except (sa.exc.SQLAlchemyError, OSError) as error:
        raise _unusable(error) from None


def _unusable(error: Exception) -> ConfigError:
    problem = str(error).splitlines()[0]
    return ConfigError("DATABASE_URL", f"cannot prepare the store: {problem}")


@contextlib.contextmanager
def _migration_lock(store: Store) -> Iterator[None]:
    engine = store.engine
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files(__package__) / "migrations"))
    return config
