"""Relational database plumbing (SQLAlchemy 2 async + Alembic).

SQLite file by default (embedded), PostgreSQL in production and in the tests.
Alembic runs on an async engine with the cookbook pattern: :func:`upgrade` opens a
connection and hands it to the migration environment through
``config.attributes["connection"]``; a service's ``env.py`` therefore does::

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # Under WAL, NORMAL syncs the log at checkpoints, not at every commit: a commit is durable
    # across a process crash (kill -9: the WAL is in the OS page cache and is replayed on open);
    # only a power loss / OS crash may roll back the last transactions. FULL's fsync per commit
    # cost more than the notifier's own work under load (issue 7).
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def apply_sqlite_pragmas(engine: Engine) -> None:
    """Run :data:`SQLITE_PRAGMAS` on every new DBAPI connection of ``engine`` (async or plain)."""

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets :data:`SQLITE_PRAGMAS` (WAL, synchronous=NORMAL, busy timeout),
    PostgreSQL pre-pinged pooled connections."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        apply_sqlite_pragmas(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def upgrade(url: str, script_location: str | Path, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` on the database at ``url``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Any) -> None:
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    from sqlalchemy import text

    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
