"""``policywatch up`` for real: embedded Tansu, topics, the installed services; SIGTERM stops it all.

Runs the real command in a subprocess, on free ports, in a temporary data directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from policywatch_shared.net import free_port

from policywatch.stack import SERVICES, service_installed

READY_WITHIN_S = 90  # the classifier loads its model at start (~20 s on 2 busy cores)


def _pump(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))


def _wait_line(lines: list[str], pattern: str, within_s: float) -> str:
    deadline = time.monotonic() + within_s
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        for line in list(lines):
            if rx.search(line):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no line matching {pattern!r} within {within_s}s; output:\n" + "\n".join(lines))


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env.pop("STORAGE_BACKEND", None)
    for name in SERVICES:
        env[f"{name.upper()}_HTTP_PORT"] = str(free_port())
    env["COLUMNS"] = "200"
    return env


def test_up_starts_reports_readiness_and_stops_cleanly_on_sigterm(tmp_path: Path, up_env: dict[str, str]):
    installed = [n for n in SERVICES if service_installed(n)]
    # The console entry point, as an operator runs it.
    cmd = [str(Path(sys.executable).with_name("policywatch")), "up", "--data-dir", str(tmp_path / "var")]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=up_env, cwd=tmp_path
    )
    lines: list[str] = []
    threading.Thread(target=_pump, args=(proc, lines), daemon=True).start()
    try:
        _wait_line(lines, r"broker: embedded Tansu on 127\.0\.0\.1:\d+", 30)
        _wait_line(lines, r"topics: \d+ ensured", 30)
        if installed:
            _wait_line(lines, rf"all {len(installed)} services ready", READY_WITHIN_S)
            for name in installed:
                _wait_line(lines, rf"{name}: ready", 1)
        else:
            _wait_line(lines, r"no service installed", 5)
        children = psutil.Process(proc.pid).children(recursive=True)
        # The broker and one process per installed service (plus whatever those run).
        assert len(children) >= 1 + len(installed)
        pids = {int(m) for line in lines for m in re.findall(r"started \(pid (\d+)\)", line)}
        assert len(pids) == len(installed)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0, "\n".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    _wait_line(lines, r"\| stopped$", 2)
    _gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"orphans left behind: {alive}"
    assert (tmp_path / "var" / "tansu.log").exists()
    if installed:
        assert not any("restarted" in line for line in lines), "\n".join(lines)


async def test_stack_restarts_a_crashed_embedded_broker_with_its_topics(tmp_path: Path):
    import io

    from aiokafka.admin import AIOKafkaAdminClient
    from policywatch_shared import topics as T

    from policywatch.stack import Stack
    from policywatch.supervisor import LogSink

    out = io.StringIO()
    stack = Stack(services=[], data_dir=tmp_path / "var", env_broker=False, sink=LogSink(out, colour=False))
    await stack.start()
    try:
        first = stack.broker.process.pid
        stack.broker.kill()  # a crash
        deadline = time.monotonic() + 30
        while stack.broker_restarts < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert stack.broker_restarts == 1, out.getvalue()
        assert stack.broker.process.pid != first
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
        await admin.start()
        try:
            assert set(T.TOPIC_NAMES) <= set(await admin.list_topics())
        finally:
            await admin.close()
        assert "broker: exited" in out.getvalue()
    finally:
        await stack.stop()
