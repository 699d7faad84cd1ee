"""``python -m policywatch_fetcher`` as a process: ready, schedules and captures, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from policywatch_shared.events import CaptureEvent
from policywatch_shared.net import free_port
from policywatch_shared.topics import CAPTURES

from tests.helpers import read_topic, run_async
from tests.integration.fetcher.site import FixtureSite

pytestmark = pytest.mark.timeout(120)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def test_service_process(kafka_bootstrap: str, site: FixtureSite, tmp_path: Path) -> None:
    cat = tmp_path / "catalog"
    cat.mkdir()
    (cat / "proc.yaml").write_text(
        f"platform: {{id: procfx, name: Proc}}\ndocuments:\n"
        f"  - {{type: privacy_policy, urls: ['{site.url('/static/privacy')}'], schedule: {{interval: 1h}}}}\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STORAGE_BACKEND": "local",
        "STORAGE_DIR": str(tmp_path / "store"),
        "FETCHER_CATALOG_DIR": str(cat),
        "FETCHER_ALLOW_PRIVATE": "true",
        "FETCHER_HTTP_PORT": str(port),
        "FETCHER_HTTP_HOST": "127.0.0.1",
        "FETCHER_GROUP_ID": f"proc-{port}",
        "FETCHER_CATCHUP_WINDOW_S": "0",
        "FETCHER_SCHEDULER_TICK_S": "0.2",
        "FETCHER_PER_HOST_DELAY_S": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "policywatch_fetcher"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.2)
        events: list[CaptureEvent] = []
        deadline = time.monotonic() + 30
        while not events and time.monotonic() < deadline:
            records = run_async(
                read_topic(kafka_bootstrap, CAPTURES, timeout=2, match=lambda r: b"procfx/" in r.value)
            )
            events = [
                e
                for e in (CaptureEvent.model_validate_json(r.value) for r in records)
                if e.platform == "procfx"
            ]
        assert events and events[0].outcome.value == "ok"
        assert (tmp_path / "store" / (events[0].pages[0].storage_key or "missing")).exists()
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and 'policywatch_fetcher_captures_total{fetcher="http",outcome="ok"}' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
