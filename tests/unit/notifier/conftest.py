"""Notifier unit fixtures: a migrated SQLite database per test, fake channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.database import open_db
from policywatch_notifier.render import Recipient, Rendered
from policywatch_notifier.tier import Tiers
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine, factory = await open_db(f"sqlite+aiosqlite:///{tmp_path}/notifier.db")
    try:
        yield factory
    finally:
        await engine.dispose()


@pytest.fixture
def tiers() -> Tiers:
    return Tiers.load()


class FakeChannel:
    """Records sends; ``fail`` holds errors to raise on the next attempts (unit tests only)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[Recipient, Rendered, str]] = []
        self.fail: list[DeliveryError] = []

    async def send(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((recipient, message, delivery_id))

    async def close(self) -> None:
        return None


@pytest.fixture
def fake_channels() -> dict[str, Any]:
    return {n: FakeChannel(n) for n in ("email", "webhook", "apprise")}
