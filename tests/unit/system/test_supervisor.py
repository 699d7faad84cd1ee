"""The supervisor with stand-in services (tiny Python programs): readiness, restarts, clean stop."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from policywatch.stack import infra_env, parse_services
from policywatch.supervisor import LogSink, ServiceSpec, Supervisor

#: A stand-in service: serves /readyz on $PORT, logs JSON lines, exits 0 on SIGTERM.
#: $CRASH_FILE: exit 3 at start while that file does not exist (then create it: next start works).
#: $IGNORE_TERM: ignore SIGTERM.  $CHILD_PID_FILE: spawn a sleeping grandchild, write its pid there.
FAKE = textwrap.dedent(
    """
    import http.server, json, os, signal, subprocess, sys, threading
    name = os.environ["NAME"]
    crash = os.environ.get("CRASH_FILE")
    if crash and not os.path.exists(crash):
        open(crash, "w").close()
        print("crashing on purpose", flush=True)
        sys.exit(3)
    if os.environ.get("CHILD_PID_FILE"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open(os.environ["CHILD_PID_FILE"], "w").write(str(child.pid))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *a): pass
    srv = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    def term(*_):
        print(json.dumps({"level": "info", "msg": "stopping"}), flush=True)
        os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("IGNORE_TERM") else term)
    print(json.dumps({"level": "info", "msg": f"{name} up", "document_id": "a/b"}), flush=True)
    threading.Event().wait()
    """
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spec(tmp_path: Path, name: str, **env: str) -> ServiceSpec:
    script = tmp_path / "fake_service.py"
    script.write_text(FAKE)
    port = _port()
    return ServiceSpec(
        name,
        [sys.executable, str(script)],
        {"NAME": name, "PORT": str(port), **env},
        f"http://127.0.0.1:{port}/readyz",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def _until(predicate, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_starts_reports_ready_prefixes_logs_and_stops_cleanly(tmp_path: Path):
    out = io.StringIO()
    sup = Supervisor(
        [_spec(tmp_path, "alpha"), _spec(tmp_path, "beta")], sink=LogSink(out, colour=False), ready_poll_s=0.1
    )
    async with sup:
        assert await sup.wait_ready(15)
        pids = [p for p in sup.pids().values() if p]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        await _until(lambda: "beta up" in out.getvalue())
    assert not any(_alive(p) for p in pids)
    text = out.getvalue()
    assert "alpha     | INFO alpha up document_id=a/b" in text
    assert "alpha: ready" in text and "beta: ready" in text
    assert "alpha     | INFO stopping" in text  # it got SIGTERM and said so
    assert all(s.exits == [0] for s in sup.services.values())


async def test_crash_is_restarted_with_backoff_and_logged(tmp_path: Path):
    out = io.StringIO()
    spec = _spec(tmp_path, "crashy", CRASH_FILE=str(tmp_path / "crashed-once"))
    sup = Supervisor([spec], sink=LogSink(out, colour=False), backoff_initial=0.3, ready_poll_s=0.1)
    async with sup:
        assert await sup.wait_ready(15)
        state = sup.services["crashy"]
        assert state.starts == 2 and state.exits == [3]
    text = out.getvalue()
    assert "crashy    | crashing on purpose" in text
    assert "crashy: exited with code 3" in text and "restarting in 0.3s" in text
    assert "crashy: restarted" in text


async def test_kill_9_is_restarted_and_pause_keeps_it_down(tmp_path: Path):
    sup = Supervisor([_spec(tmp_path, "victim")], sink=LogSink(io.StringIO()), backoff_initial=0.1)
    async with sup:
        assert await sup.wait_ready(15)
        first = sup.kill("victim")
        assert first is not None
        assert await _until(lambda: sup.services["victim"].starts == 2)
        assert await sup.wait_ready(15)
        assert sup.services["victim"].exits == [-signal.SIGKILL]
        second = sup.services["victim"].pid
        assert second != first and not _alive(first)
        await sup.pause("victim")
        await asyncio.sleep(0.5)
        assert sup.services["victim"].starts == 2 and not _alive(second)
        sup.resume("victim")
        assert await _until(lambda: sup.services["victim"].starts == 3)


async def test_sigterm_ignored_then_sigkill_and_grandchildren_go_too(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    spec = _spec(tmp_path, "stubborn", IGNORE_TERM="1", CHILD_PID_FILE=str(pid_file))
    out = io.StringIO()
    sup = Supervisor([spec], sink=LogSink(out, colour=False), stop_timeout=0.5)
    await sup.start()
    assert await sup.wait_ready(15)
    child = int(pid_file.read_text())
    assert _alive(child)
    t0 = time.monotonic()
    await sup.stop()
    assert time.monotonic() - t0 < 5
    assert "stubborn: no exit 0.5s after SIGTERM; SIGKILL" in out.getvalue()
    assert await _until(lambda: not _alive(child), 5)


def test_log_sink_formats_json_and_filters():
    out = io.StringIO()
    sink = LogSink(out, colour=False, level_filter=lambda lvl: lvl != "DEBUG")
    sink.write("fetcher", json.dumps({"level": "warning", "msg": "slow", "exc": "Traceback\nBoom"}) + "\n")
    sink.write("fetcher", json.dumps({"level": "debug", "msg": "hidden"}) + "\n")
    sink.write("differ", "plain text line\n")
    assert out.getvalue().splitlines() == [
        "fetcher   | WARNING slow",
        "fetcher   | Traceback",
        "fetcher   | Boom",
        "differ    | plain text line",
    ]
    raw = io.StringIO()
    LogSink(raw, colour=False, raw=True).write("x", '{"level":"debug","msg":"m"}\n')
    assert raw.getvalue() == 'x         | {"level":"debug","msg":"m"}\n'


def test_parse_services_and_infra_env(tmp_path: Path):
    assert parse_services(None) == ["fetcher", "differ", "classifier", "notifier"]
    assert parse_services("notifier, fetcher") == ["fetcher", "notifier"]  # pipeline order
    import typer

    with pytest.raises(typer.BadParameter):
        parse_services("fetcher,nope")
    env = infra_env(tmp_path, {})
    assert env["STORAGE_BACKEND"] == "local" and env["STORAGE_DIR"] == str(tmp_path / "storage")
    assert env["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'policywatch.db'}"
    configured = infra_env(tmp_path, {"STORAGE_BACKEND": "s3", "DATABASE_URL": "postgresql+asyncpg://x/y"})
    assert configured == {}


async def test_restart_escalates_to_sigkill_and_the_service_comes_back(tmp_path: Path):
    out = io.StringIO()
    spec = _spec(tmp_path, "hangs", IGNORE_TERM="1")  # a graceful stop that never finishes
    sup = Supervisor([spec], sink=LogSink(out, colour=False), stop_timeout=0.5, backoff_initial=0.1)
    async with sup:
        assert await sup.wait_ready(15)
        first = sup.services["hangs"].pid
        await sup.restart("hangs")
        assert await _until(lambda: sup.services["hangs"].starts == 2)
        assert await sup.wait_ready(15)
        assert sup.services["hangs"].exits == [-signal.SIGKILL] and not _alive(first)
    assert "hangs: no exit 0.5s after SIGTERM; SIGKILL" in out.getvalue()
