"""Open the notifier's database: migrate to head, then hand out sessions."""

from __future__ import annotations

import logging

from policywatch_shared.db import make_engine, session_factory, upgrade
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from policywatch_notifier.migrations import SCRIPT_LOCATION


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
