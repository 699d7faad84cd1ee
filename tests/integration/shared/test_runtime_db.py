"""Service runtime endpoints against a real broker, and the database helpers against PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from faststream import FastStream
from policywatch_shared import db
from policywatch_shared.broker import make_broker
from policywatch_shared.net import free_port
from policywatch_shared.runtime import serve
from policywatch_shared.settings import ServiceSettings

from tests.helpers import make_settings, wait_until

pytestmark = pytest.mark.timeout(120)


async def test_health_ready_metrics(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = make_settings(ServiceSettings, kafka_bootstrap=kafka_bootstrap, STORAGE_DIR=tmp_path / "s")
    app = FastStream(make_broker(settings, service="rtm"))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, settings, service="rtm", stop=stop))
    base = f"http://127.0.0.1:{settings.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(ready, timeout=30, interval=0.2)
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["alive"] is True
        body = (await client.get("/readyz")).json()
        assert body["checks"] == {"broker": "ok", "storage": "ok"}
        metrics = (await client.get("/metrics")).text
        assert 'policywatch_service_up{service="rtm"} 1.0' in metrics
    stop.set()
    await asyncio.wait_for(task, timeout=20)


async def test_not_ready_while_broker_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(
        ServiceSettings, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}", STORAGE_DIR=tmp_path / "s"
    )
    app = FastStream(make_broker(settings, service="down"))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, settings, service="down", stop=stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.http_port}", timeout=5) as client:

        async def answered() -> httpx.Response | None:
            try:
                return await client.get("/readyz")
            except httpx.TransportError:
                return None

        resp = await wait_until(answered, timeout=20, interval=0.2)
        assert resp.status_code == 503
        assert resp.json()["ready"] is False
        assert (await client.get("/healthz")).status_code == 200  # alive, waiting for the broker
    stop.set()
    await asyncio.wait_for(task, timeout=20)


async def test_database_engine_and_migrations(pg_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text(
        "from alembic import context\n"
        "connection = context.config.attributes['connection']\n"
        "context.configure(connection=connection, target_metadata=None)\n"
        "with context.begin_transaction():\n    context.run_migrations()\n"
    )
    (tmp_path / "migrations" / "script.py.mako").write_text("")
    (versions / "0001_probe.py").write_text(
        "from alembic import op\nimport sqlalchemy as sa\nrevision='0001'\ndown_revision=None\n"
        "branch_labels=None\ndepends_on=None\n"
        "def upgrade():\n    op.create_table('probe', sa.Column('id', sa.Integer, primary_key=True))\n"
        "def downgrade():\n    op.drop_table('probe')\n"
    )
    for url in (pg_url, f"sqlite+aiosqlite:///{tmp_path}/x.db"):
        await db.upgrade(url, tmp_path / "migrations")
        await db.upgrade(url, tmp_path / "migrations")  # idempotent
        engine = db.make_engine(url)
        try:
            await db.ping(engine)
            async with db.session_factory(engine)() as session:
                await session.execute(text("INSERT INTO probe (id) VALUES (1)"))
                await session.commit()
                assert (await session.execute(text("SELECT count(*) FROM probe"))).scalar() == 1
        finally:
            await engine.dispose()
