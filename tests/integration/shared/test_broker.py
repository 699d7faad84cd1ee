"""Broker plumbing against a real Kafka-protocol broker (Tansu): round trips, kill -9, dead letters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from faststream import FastStream
from policywatch_shared import topics as T
from policywatch_shared.broker import durable_subscriber, make_broker, publish
from policywatch_shared.events import OperatorAlert, make_event_id
from policywatch_shared.settings import ServiceSettings

from tests.helpers import read_topic, wait_until

pytestmark = pytest.mark.timeout(120)


def _alert(i: int, doc: str = "acme/privacy_policy") -> OperatorAlert:
    return OperatorAlert(
        event_id=make_event_id("test-alert", doc, i, uuid.uuid4().hex),
        platform="acme",
        document_type="privacy_policy",
        document_id=doc,
        alert="document_failing",
        message=f"message {i}",
    )


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_FETCH_MAX_WAIT_MS=20, MESSAGE_RETRY_BACKOFF_S=0.05
    )


ROUND_TRIP_TOPICS = [t.name for t in T.TOPICS if not t.compacted and not t.name.endswith(".dlq")]


async def test_round_trip_every_topic(kafka_bootstrap: str) -> None:
    broker = make_broker(_settings(kafka_bootstrap), service="rt")
    got: dict[str, list[OperatorAlert]] = {t: [] for t in ROUND_TRIP_TOPICS}
    wanted: set[str] = set()
    group = f"rt-{uuid.uuid4().hex[:6]}"

    def subscribe(topic: str) -> None:
        @durable_subscriber(broker, topic, group_id=f"{group}-{topic}")
        async def handle(body: dict) -> None:  # type: ignore[type-arg]
            # The session broker is shared: other tests' events on the topic are skipped, not dead-lettered.
            if body.get("event_id") in wanted:
                got[topic].append(OperatorAlert.model_validate(body))

    for topic in ROUND_TRIP_TOPICS:
        subscribe(topic)
    sent = {t: [_alert(i, doc=f"acme/doc{i % 3}") for i in range(4)] for t in ROUND_TRIP_TOPICS}
    wanted.update(e.event_id for events in sent.values() for e in events)
    async with FastStream(broker):
        for topic, events in sent.items():
            for event in events:
                await publish(broker, topic, event)
        await wait_until(lambda: all(len(got[t]) >= len(sent[t]) for t in sent), timeout=30)
    for topic, events in sent.items():
        assert sorted(e.event_id for e in got[topic]) == sorted(e.event_id for e in events), topic
    # the key is the document id, and headers carry the event identity
    topic = ROUND_TRIP_TOPICS[0]
    records = await read_topic(kafka_bootstrap, topic, min_count=len(sent[topic]))
    ids = {e.event_id for e in sent[topic]}
    mine = [r for r in records if dict(r.headers).get("event_id", b"").decode() in ids]
    assert {r.key for r in mine} == {e.document_id.encode() for e in sent[topic]}


async def test_poison_message_goes_to_dlq_and_partition_moves_on(kafka_bootstrap: str) -> None:
    topic = T.CHANGES
    broker = make_broker(_settings(kafka_bootstrap), service="poison")
    got: list[str] = []
    attempts: dict[str, int] = {}
    marker = uuid.uuid4().hex

    bad_json = _alert(0)
    failing = _alert(1).model_copy(update={"message": "explode"})
    good = _alert(2)
    mine = {bad_json.event_id, failing.event_id, good.event_id}

    def ours(r: Any) -> bool:
        return marker.encode() in r.value or dict(r.headers).get("event_id", b"").decode() == failing.event_id

    @durable_subscriber(broker, topic, group_id=f"poison-{marker[:6]}")
    async def handle(body: dict) -> None:  # type: ignore[type-arg]
        if body.get("m") != marker and body.get("event_id") not in mine:
            return  # another test's event on the shared broker
        event = OperatorAlert.model_validate(body)  # invalid → ValidationError → dead letter at once
        attempts[event.event_id] = attempts.get(event.event_id, 0) + 1
        if event.message == "explode":
            raise RuntimeError("handler bug")
        got.append(event.event_id)

    async with FastStream(broker):
        key = b"poison/" + marker.encode()
        await broker.publish(b'{"not": "an event", "m": "' + marker.encode() + b'"}', topic=topic, key=key)
        await publish(broker, topic, failing)
        await publish(broker, topic, good)
        await wait_until(lambda: good.event_id in got, timeout=30)
        # The poison message is keyed apart from the events, so it may sit on another partition
        # behind other tests' backlog (a new group reads from the earliest offset): wait, with the
        # subscriber still running, for both dead letters, not only for the good event.
        dead = await read_topic(kafka_bootstrap, T.dlq(topic), min_count=2, match=ours, timeout=30)
    assert bad_json.event_id not in got
    assert attempts[failing.event_id] == 3  # MESSAGE_MAX_RETRIES attempts, then dead-lettered
    by_error = {dict(r.headers)["x-dlq-error-type"].decode(): r for r in dead}
    assert set(by_error) == {"ValidationError", "RuntimeError"}
    rt = by_error["RuntimeError"]
    assert json.loads(rt.value)["event_id"] == failing.event_id  # the message is kept unchanged
    assert dict(rt.headers)["x-dlq-original-topic"].decode() == topic
    assert dict(rt.headers)["x-dlq-attempts"] == b"3"
    assert dict(by_error["ValidationError"].headers)["x-dlq-attempts"] == b"1"  # poison: no pointless retries


async def test_transient_errors_are_retried_not_dead_lettered(kafka_bootstrap: str) -> None:
    from policywatch_shared.storage import StorageUnavailable

    broker = make_broker(_settings(kafka_bootstrap), service="transient")
    calls: list[str] = []
    event = _alert(7)

    @durable_subscriber(broker, T.OPERATOR_ALERTS, group_id=f"tr-{uuid.uuid4().hex[:6]}")
    async def handle(body: dict) -> None:  # type: ignore[type-arg]
        if body.get("event_id") != event.event_id:
            return
        calls.append(event.event_id)
        if len(calls) < 6:  # more failures than MESSAGE_MAX_RETRIES: an outage, not a bug
            raise StorageUnavailable("S3 down")

    async with FastStream(broker):
        await publish(broker, T.OPERATOR_ALERTS, event)
        await wait_until(lambda: len(calls) >= 6, timeout=40)
    dead = await read_topic(kafka_bootstrap, T.dlq(T.OPERATOR_ALERTS), min_count=1, timeout=1)
    assert all(dict(r.headers).get("event_id", b"").decode() != event.event_id for r in dead)


async def test_kill_9_mid_stream_loses_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A consumer killed with SIGKILL mid-stream: after restart every event was processed;
    the only duplicates are the few in flight at the kill, removed by event_id."""
    topic = T.DELIVERIES
    group = f"kill-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "processed.txt"
    broker = make_broker(_settings(kafka_bootstrap), service="killer")
    sent = [_alert(i, doc=f"kill/{i % 4}") for i in range(120)]
    await broker.connect()
    try:
        for event in sent:
            await publish(broker, topic, event)
    finally:
        await broker.stop()

    def spawn() -> subprocess.Popen[bytes]:
        Path(str(out) + ".ready").unlink(missing_ok=True)
        return subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("consumer_proc.py")),
                kafka_bootstrap,
                topic,
                group,
                str(out),
            ],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        )

    proc = spawn()
    try:
        await wait_until(lambda: out.exists() and len(out.read_text().split()) >= 30, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        before = len(out.read_text().split())
        assert before < len(sent), "the kill must land mid-stream"
        proc = spawn()
        await wait_until(lambda: {e.event_id for e in sent} <= set(out.read_text().split()), timeout=90)
    finally:
        proc.kill()
        proc.wait(10)
    ids = {e.event_id for e in sent}
    processed = [i for i in out.read_text().split() if i in ids]  # other tests publish on the topic too
    assert set(processed) == ids
    duplicates = len(processed) - len(set(processed))
    assert duplicates <= 10  # at most one poll's worth (max_poll_records=5) was in flight


async def test_broker_restart_keeps_messages_when_backed_by_s3(s3_server) -> None:  # type: ignore[no-untyped-def]
    """Tansu on S3 storage (what the fault e2e tests use) keeps the log and offsets across restarts."""
    from minio import Minio
    from policywatch_shared.broker import ensure_topics
    from policywatch_shared.tansu import TansuBroker

    bucket = f"tansu-{uuid.uuid4().hex[:8]}"
    Minio(s3_server.endpoint, access_key="testing", secret_key="testing", secure=False).make_bucket(bucket)
    tansu = TansuBroker.on_s3(s3_server.endpoint, "testing", "testing", bucket)
    with tansu:
        await ensure_topics(tansu.bootstrap, [t for t in T.TOPICS if t.name == T.CAPTURES])
        broker = make_broker(_settings(tansu.bootstrap), service="restart")
        await broker.connect()
        sent = [_alert(i) for i in range(5)]
        for event in sent:
            await publish(broker, T.CAPTURES, event)
        await broker.stop()
    with TansuBroker.on_s3(s3_server.endpoint, "testing", "testing", bucket, port=tansu.port) as again:
        records = await read_topic(again.bootstrap, T.CAPTURES, min_count=5)
    assert {dict(r.headers)["event_id"].decode() for r in records} >= {e.event_id for e in sent}
