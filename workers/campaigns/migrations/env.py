"""Alembic's environment: migrations run on the connection ``schema.migrate`` gives."""

from alembic import context

from workers.campaigns.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
