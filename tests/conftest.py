"""Session fixtures: real servers on free loopback ports (no mocks in integration tests).

* ``kafka_bootstrap`` — a real Kafka-protocol broker (Tansu), topics provisioned.
* ``s3_server`` — a real S3 API (moto's ThreadedMotoServer) with a bucket.
* ``pg_url`` — a throwaway PostgreSQL database on the machine's server, dropped afterwards.

Markers unit / integration / e2e are applied from the directory, so ``pytest -m unit`` works.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from policywatch_shared.net import free_port

from tests.helpers import run_async

TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = Path(str(item.fspath)).resolve().relative_to(TESTS)
        except ValueError:
            continue
        area = rel.parts[0] if rel.parts else ""
        if area in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, area))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Tansu broker for the whole session (``KAFKA_BOOTSTRAP_SERVERS`` overrides: e.g. a real Kafka)."""
    external = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    from policywatch_shared.broker import ensure_topics

    if external:
        run_async(ensure_topics(external))
        yield external
        return
    from policywatch_shared.tansu import TansuBroker

    with TansuBroker(free_port()) as broker:
        run_async(ensure_topics(broker.bootstrap))
        yield broker.bootstrap


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    server: Any
    port: int

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from minio import Minio
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    info = S3Server(f"127.0.0.1:{port}", "testing", "testing", "policywatch-test", server, port)
    Minio(info.endpoint, access_key="testing", secret_key="testing", secure=False).make_bucket(info.bucket)
    try:
        yield info
    finally:
        server.stop()


PG_ADMIN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy async URL), dropped at the end of the session."""
    import asyncpg

    name = f"pw_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_async(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        run_async(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
