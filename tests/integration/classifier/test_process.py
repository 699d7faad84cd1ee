"""``python -m policywatch_classifier`` as a process: ready, classifies, serves metrics, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from policywatch_classifier.settings import ClassifierSettings
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.events import ChangeEvent, ChangeKind, ClassifiedChange, SectionChange, VersionRef
from policywatch_shared.net import free_port
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CHANGES, CLASSIFIED

from tests.helpers import make_settings, read_topic

pytestmark = pytest.mark.timeout(180)

AI_TEXT = "We may use your prompts and generated images to train and improve our AI models."


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:  # a file, not a pipe: a full pipe would block the service
        return subprocess.Popen(
            [sys.executable, "-m", "policywatch_classifier"], env=env, stdout=log_file, stderr=log_file
        )


async def test_service_process_classifies_and_stops_cleanly(
    kafka_bootstrap: str, s3_server: object, tmp_path: Path
) -> None:
    settings = make_settings(ClassifierSettings, kafka_bootstrap=kafka_bootstrap, s3=s3_server)
    store = make_store(settings)
    key = (await store.put_bytes(f"# Data\n\n{AI_TEXT}\n".encode(), namespace="versions")).key
    port = free_port()
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_FETCH_MAX_WAIT_MS": "20",
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT": s3_server.endpoint,  # type: ignore[attr-defined]
        "S3_ACCESS_KEY": s3_server.access_key,  # type: ignore[attr-defined]
        "S3_SECRET_KEY": s3_server.secret_key,  # type: ignore[attr-defined]
        "S3_BUCKET": s3_server.bucket,  # type: ignore[attr-defined]
        "CLASSIFIER_HTTP_PORT": str(port),
        "CLASSIFIER_HTTP_HOST": "127.0.0.1",
        "CLASSIFIER_GROUP_ID": f"classifier-proc-{run}",
        "CLASSIFIER_PROVISION_INDEX_KEY": f"classifier/proc-{run}/index.json",
    }
    now = datetime.now(UTC)
    change = ChangeEvent(
        event_id=f"proc-{run}",
        platform=f"procmj{run}",
        document_type="privacy_policy",
        document_id=f"procmj{run}/privacy_policy",
        capture_id="cap",
        kind=ChangeKind.MODIFIED,
        substantive=True,
        significance=0.2,
        summary="1 section added",
        detected_at=now,
        to_version=VersionRef(version_id="v2", number=2, sha256="0" * 64, storage_key=key, first_seen=now),
        sections=[SectionChange(kind="added", heading_path=["Data"], anchor="data", after=AI_TEXT)],
    )
    log_path = tmp_path / "classifier.log"
    proc = _spawn(env, log_path)
    try:
        deadline = time.monotonic() + 90
        while (await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/readyz"))[0] != 200:
            assert proc.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "not ready within 90 s: " + log_path.read_text()[-2000:]
            await asyncio.sleep(0.3)
        producer = make_broker(settings, service="it-producer")
        await producer.start()
        try:
            await publish(producer, CHANGES, change)
        finally:
            await producer.stop()
        records = await read_topic(kafka_bootstrap, CLASSIFIED, key=change.key, timeout=60)
        events = [ClassifiedChange.model_validate_json(r.value) for r in records]
        assert [e.change.event_id for e in events] == [change.event_id], log_path.read_text()[-2000:]
        assert events[0].severity.value == "high" and events[0].categories[0] == "ai_training"
        status, metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "policywatch" in metrics
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0, log_path.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
