from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from policywatch_notifier.database import migrate
from policywatch_notifier.models import Base
from policywatch_shared.db import make_engine


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    await migrate(url)
    await migrate(url)  # idempotent
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                ctx = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "version_table": "alembic_version_notifier"}
                )
                return list(compare_metadata(ctx, Base.metadata))

            changes = await conn.run_sync(diff)
            tables = await conn.run_sync(lambda c: sorted(c.dialect.get_table_names(c)))
    finally:
        await engine.dispose()
    assert changes == [], changes
    assert "alembic_version_notifier" in tables and "deliveries" in tables
