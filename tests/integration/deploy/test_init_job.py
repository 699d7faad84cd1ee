"""deploy/init/init.py (the compose `init` service / Kubernetes Job) against a real broker, S3 API
and PostgreSQL: topics, bucket and migration are created, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from policywatch_shared.net import free_port
from policywatch_shared.topics import TOPICS

REPO = Path(__file__).resolve().parents[3]
INIT = REPO / "deploy/init/init.py"


def _run_init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INIT), "--attempts", "3", "--delay", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def _partitions(bootstrap: str) -> dict[str, int]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await consumer.start()
    try:
        await asyncio.wait_for(consumer._client.force_metadata_update(), 15)
        topics = await asyncio.wait_for(consumer.topics(), 15)
        return {t: len(consumer.partitions_for_topic(t) or ()) for t in topics}
    finally:
        await consumer.stop()


async def _alembic_version(url: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        # each service keeps its own version table (alembic_version_<service>)
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'alembic_version%'"
        )
        versions: list[str] = []
        for (table,) in sorted(tables):
            versions += [f"{table}:{r[0]}" for r in await conn.fetch(f'SELECT version_num FROM "{table}"')]
        return versions
    finally:
        await conn.close()


def test_init_creates_topics_bucket_and_schema(s3_server: Any, pg_url: str) -> None:
    from minio import Minio
    from policywatch_shared.tansu import TansuBroker

    bucket = "policywatch-init-test"
    client = Minio(
        s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key, secure=False
    )
    assert not client.bucket_exists(bucket)
    with TansuBroker(free_port()) as broker:  # a fresh broker: the init job must create every topic
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("KAFKA_", "S3_", "STORAGE_", "DATABASE_"))
            },
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT": s3_server.endpoint,
            "S3_ACCESS_KEY": s3_server.access_key,
            "S3_SECRET_KEY": s3_server.secret_key,
            "S3_BUCKET": bucket,
            "DATABASE_URL": pg_url,
        }
        first = _run_init(env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"bucket {bucket} on {s3_server.endpoint}: created" in first.stdout
        partitions = asyncio.run(_partitions(broker.bootstrap))
        for spec in TOPICS:
            assert partitions.get(spec.name) == spec.partitions, f"{spec.name}: {partitions.get(spec.name)}"
        assert client.bucket_exists(bucket)

        try:
            import policywatch_notifier.migrations  # noqa: F401
        except ModuleNotFoundError:
            pytest.skip("notifier migrations not written yet (topics and bucket checked)")
        assert "database: upgraded to head" in first.stdout, first.stdout
        versions = asyncio.run(_alembic_version(pg_url))
        assert len(versions) == 1

        second = _run_init(env)  # idempotent: re-run after an upgrade changes nothing
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"bucket {bucket} on {s3_server.endpoint}: exists" in second.stdout
        assert asyncio.run(_alembic_version(pg_url)) == versions
        assert asyncio.run(_partitions(broker.bootstrap)) == partitions


def test_init_fails_loudly_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KAFKA_", "S3_", "STORAGE_", "DATABASE_"))
        },
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "STORAGE_BACKEND": "local",
        "STORAGE_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, str(INIT), "--attempts", "2", "--delay", "0.2", "--topic-timeout", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode != 0
    assert "topics:" in result.stdout and "retrying" in result.stdout
