"""Alembic environment: runs on the connection handed over by ``policywatch_shared.db.upgrade``."""

from __future__ import annotations

from alembic import context

from policywatch_notifier.models import Base

#: Own version table: several services may share one database.
VERSION_TABLE = "alembic_version_notifier"

connection = context.config.attributes.get("connection")
if connection is None:  # offline mode (alembic upgrade --sql): emit SQL for the configured URL
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
else:
    context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE)

with context.begin_transaction():
    context.run_migrations()
