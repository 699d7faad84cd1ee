"""``policywatch status`` and ``policywatch dlq`` against the real broker (Tansu)."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from policywatch_shared import topics as T
from typer.testing import CliRunner

from policywatch import ops
from policywatch.cli import app


async def _create(bootstrap: str, *topics: tuple[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(name, parts, 1) for name, parts in topics if name not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def _produce(
    bootstrap: str, topic: str, items: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        # Sent as one batch on purpose: Tansu's ListOffsets undercounts batched records.
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, v, h in items]
        for f in futures:
            await f
    finally:
        await producer.stop()


async def test_dlq_list_and_replay_keep_key_and_headers_and_are_idempotent(kafka_bootstrap: str):
    topic = f"policywatch.opstest-{uuid.uuid4().hex[:8]}.v1"
    await _create(kafka_bootstrap, (topic, 3), (T.dlq(topic), 1))
    letters = [
        (
            f"doc/{i}".encode(),
            b"{not json" if i == 0 else json.dumps({"event_id": f"e{i}"}).encode(),
            [("event_id", f"e{i}".encode()), ("event_type", b"capture"), ("dlq-error", b"ValueError: boom")],
        )
        for i in range(3)
    ]
    await _produce(kafka_bootstrap, T.dlq(topic), letters)

    listed = await ops.list_dead_letters(kafka_bootstrap, topic)
    assert [d.key for d in listed] == [k for k, _, _ in letters]
    assert all(d.error_headers == {"dlq-error": "ValueError: boom"} for d in listed)

    first = await ops.replay_dead_letters(kafka_bootstrap, topic)
    again = await ops.replay_dead_letters(kafka_bootstrap, topic)
    assert (first.replayed, again.replayed, again.skipped) == (3, 0, 3)
    replayed = await ops.read_topic(kafka_bootstrap, topic)
    assert sorted((r.key, r.value) for r in replayed) == sorted((k, v) for k, v, _ in letters)
    for rec in replayed:
        names = [h for h, _ in rec.headers]
        assert "event_id" in names and "event_type" in names and "dlq-error" not in names
        assert dict(rec.headers)["dlq-replayed-from"].startswith(T.dlq(topic).encode())

    # A new dead letter: only it is replayed next time.
    await _produce(kafka_bootstrap, T.dlq(topic), [(b"doc/9", b"{}", [("event_id", b"e9")])])
    third = await ops.replay_dead_letters(kafka_bootstrap, topic)
    assert third.replayed == 1
    assert len(await ops.read_topic(kafka_bootstrap, topic)) == 4


async def test_consumer_lag_per_group(kafka_bootstrap: str):
    topic = f"policywatch.lagtest-{uuid.uuid4().hex[:8]}.v1"
    group = f"lag-{uuid.uuid4().hex[:8]}"
    await _create(kafka_bootstrap, (topic, 2))
    await _produce(kafka_bootstrap, topic, [(b"k1", b"v%d" % i, []) for i in range(7)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        got = 0
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200, max_records=3 - got)
            for tp, records in batch.items():
                got += len(records)
                if records:
                    await consumer.commit({tp: records[-1].offset + 1})
            if got >= 3:
                break
    finally:
        await consumer.stop()
    lags = await ops.consumer_lags(kafka_bootstrap, [group], topics=[topic])
    assert [(x.group, x.topic, x.lag, x.end) for x in lags] == [(group, topic, 4, 7)]
    # A group that has not committed on its input topic yet lags by the whole topic.
    idle = f"idle-{uuid.uuid4().hex[:8]}"
    lags = await ops.consumer_lags(kafka_bootstrap, [idle], topics=[topic], inputs={idle: topic})
    assert [(x.group, x.lag, x.committed) for x in lags] == [(idle, 7, 0)]


async def _seed_failing_document(kafka_bootstrap: str) -> str:
    await _create(kafka_bootstrap, *[(t.name, t.partitions) for t in T.TOPICS])
    doc = f"opstest/{uuid.uuid4().hex[:8]}"
    caps = [
        {"document_id": doc, "outcome": o, "attempted_at": f"2026-01-0{i + 1}T00:00:00+00:00"}
        for i, o in enumerate(["ok", "blocked", "blocked"])
    ]
    await _produce(kafka_bootstrap, T.CAPTURES, [(doc.encode(), json.dumps(c).encode(), []) for c in caps])
    change = {
        "document_id": doc,
        "kind": "first_version",
        "detected_at": "2026-01-01T00:00:01+00:00",
        "summary": "First",
    }
    await _produce(kafka_bootstrap, T.CHANGES, [(doc.encode(), json.dumps(change).encode(), [])])
    return doc


async def test_status_folds_documents_from_the_topics(kafka_bootstrap: str):
    doc = await _seed_failing_document(kafka_bootstrap)
    docs = await ops.document_statuses(kafka_bootstrap)
    assert docs[doc].state == "failing" and docs[doc].consecutive_failures == 2
    assert docs[doc].last_change_kind == "first_version"


def test_status_cli(kafka_bootstrap: str):
    # Sync test: the CLI runs its own event loop.
    doc = asyncio.run(_seed_failing_document(kafka_bootstrap))
    result = CliRunner().invoke(app, ["status", "--bootstrap", kafka_bootstrap, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["documents"][doc]["state"] == "failing"
    assert set(out["services"]) == {"fetcher", "differ", "classifier", "notifier"}


def test_dlq_cli(kafka_bootstrap: str):
    runner = CliRunner()
    result = runner.invoke(app, ["dlq", "list", "captures", "--bootstrap", kafka_bootstrap])
    assert result.exit_code == 0, result.output
    assert T.dlq(T.CAPTURES) in result.output
    bad = runner.invoke(app, ["dlq", "list", "nonsense", "--bootstrap", kafka_bootstrap])
    assert bad.exit_code != 0
