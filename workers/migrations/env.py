"""Alembic's environment: migrations run on the connection :meth:`Store.migrate` gives."""

from alembic import context

from workers.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
