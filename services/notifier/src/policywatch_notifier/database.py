"""Open the notifier's database: migrate to head, then hand out sessions and a transactor."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from policywatch_shared.db import apply_sqlite_pragmas, make_engine, session_factory, upgrade
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from policywatch_notifier.migrations import SCRIPT_LOCATION

T = TypeVar("T")


async def migrate(url: str) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a dozen INFO lines per start otherwise
    await upgrade(url, SCRIPT_LOCATION)


async def open_db(
    url: str, *, migrate_first: bool = True
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    if migrate_first:
        await migrate(url)
    engine = make_engine(url)
    return engine, session_factory(engine)


class Transactor:
    """Runs one whole transaction — a plain function of a sync ``Connection`` — per call.

    Why: with aiosqlite every DBAPI call (cursor, execute, fetch, close, commit) is a hop to the
    driver's thread, ~0.1 ms of CPU each on this machine, so a transaction of a few statements
    cost 1–3 ms of CPU: the bulk of the notifier's database cost (issue 7). On a SQLite file the
    function runs instead on a plain pysqlite connection in ONE dedicated thread: one hop per
    transaction, the same SQL, the same pragmas (``SQLITE_PRAGMAS``), committed before ``run``
    returns. Anywhere else (PostgreSQL, in-memory SQLite) it runs on the async engine through
    ``run_sync``: same statements, same transaction boundaries as before.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            sync = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": 30})
            apply_sqlite_pragmas(sync)  # the same pragmas as the async engine's connections
            self._sync = sync
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifier-db")

    async def run(self, fn: Callable[[Connection], T]) -> T:
        if self._sync is None or self._thread is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, fn)

    def _in_thread(self, fn: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.begin() as conn:
            return fn(conn)

    async def close(self) -> None:
        if self._sync is not None and self._thread is not None:
            # Connections were made in that thread: close them there.
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=False)
        self._sync = self._thread = None
