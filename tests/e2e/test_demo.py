"""``policywatch demo`` as a newcomer runs it (shortened to two recorded versions per document)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policywatch.stack import SERVICES, service_installed

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(
        not all(service_installed(s) for s in SERVICES),
        reason="the four services must be installed (python -m policywatch_<service>)",
    ),
]


def test_demo_runs_the_product_and_exits_0(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env["COLUMNS"] = "120"
    data = tmp_path / "demo"
    cmd = [
        str(Path(sys.executable).with_name("policywatch")),
        "demo",
        "--versions",
        "2",
        "--data-dir",
        str(data),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=360)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads((data / "summary.json").read_text())
    assert summary["documents"] >= 4 and summary["problems"] == [], _errors_logged(data / "services.log")
    assert summary["captures"].get("ok", 0) >= summary["documents"]
    assert summary["changes"]["first_version"] == summary["documents"]
    assert summary["emails_received"] == sum(v for k, v in summary["alerts"].items() if k.endswith("/email"))
    assert summary["webhooks_received"] == sum(
        v for k, v in summary["alerts"].items() if k.endswith("/webhook")
    )
    if summary["source"].endswith(".xz"):  # the shared corpus: real rewrites in the first step
        assert summary["changes_alerted"] >= 1 and summary["substantive_changes"] >= 1
        assert summary["noise_suppressed"] >= 1
    assert not any(k.startswith("free/") for k in summary["alerts"]), "free tier: weekly digest only"
    assert "policywatch demo — summary" in proc.stdout and "where to look" in proc.stdout
    emails = list((data / "mail" / "new").glob("*"))
    assert len(emails) == summary["emails_received"]


def _errors_logged(log: Path) -> str:
    """What a failure report needs from the services' log: exits and errors (CI keeps no files)."""
    if not log.exists():
        return "no services.log"
    lines = log.read_text(errors="replace").splitlines()
    exits = [ln for ln in lines if "exited with code" in ln or "error" in ln.lower()]
    return "\n".join(exits[:40] + lines[-20:])
