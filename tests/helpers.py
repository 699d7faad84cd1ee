"""Helpers shared by the test suites (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from policywatch_shared.net import free_port

S = TypeVar("S")

#: The shared data beside the repository (corpus, labelled sets): never copied into it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
#: Tests that read the shared data skip without it (a clean clone has none beside it).
needs_shared = pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason=f"shared data missing at {SHARED}")


def make_settings(cls: type[S], *, kafka_bootstrap: str | None = None, s3: Any = None, **overrides: Any) -> S:
    """Settings of ``cls`` wired to the test broker/S3 server, on a free HTTP port.

    ``overrides`` use field names or env aliases (``group_id=...``, ``DATABASE_URL=...``).
    """
    values: dict[str, Any] = {"http_port": free_port(), "http_host": "127.0.0.1"}
    if kafka_bootstrap:
        values["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
        values["KAFKA_FETCH_MAX_WAIT_MS"] = 20
    if s3 is not None:
        values.update(
            STORAGE_BACKEND="s3",
            S3_ENDPOINT=s3.endpoint,
            S3_ACCESS_KEY=s3.access_key,
            S3_SECRET_KEY=s3.secret_key,
            S3_BUCKET=s3.bucket,
        )
    values.update(overrides)
    return cls(**values)


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    min_count: int = 1,
    timeout: float = 20.0,
    key: bytes | None = None,
    match: Callable[[Any], bool] | None = None,
) -> list[Any]:
    """Read a topic from the beginning (fresh consumer, no group) until ``min_count`` records arrived.

    Only records with ``key`` and for which ``match(record)`` holds are counted and returned.
    Topics are shared by the whole session: a test waits for *its* records this way, since
    other tests' records (on other partitions) can otherwise fill ``min_count`` first.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    def wanted(m: Any) -> bool:
        return (key is None or m.key == key) and (match is None or match(m))

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(m for m in msgs if wanted(m))
            if len(records) >= min_count:
                # one more short poll so a test sees duplicates that arrive right after
                batch = await consumer.getmany(timeout_ms=200)
                for msgs in batch.values():
                    records.extend(m for m in msgs if wanted(m))
                break
        return records
    finally:
        await consumer.stop()


def run_async(coro: Awaitable[S]) -> S:
    """Run a coroutine from a sync (session) fixture."""
    return asyncio.run(coro)  # type: ignore[arg-type]


def replay_documents(documents: set[str], tmp_path: Path) -> Path:
    """The shared corpus's versions of ``documents`` ("service/document") through the differ, no
    classifier: the replay file (JSON Lines, as ``policywatch replay`` writes it)."""
    import io

    from policywatch_differ.replay import iter_records, replay_file

    subset = tmp_path / "subset.jsonl"
    lines = (
        raw
        for raw, r in iter_records(SHARED / "corpus" / "vlopses-us-versions.jsonl.xz")
        if r is not None and f"{r['service']}/{r['document']}" in documents
    )
    subset.write_text("".join(lines), encoding="utf-8")
    buf = io.StringIO()
    asyncio.run(replay_file(subset, buf, classifier=None))
    replay = tmp_path / "replay.jsonl"
    replay.write_text(buf.getvalue(), encoding="utf-8")
    return replay
