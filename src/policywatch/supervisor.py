"""Run services as child processes: supervised, logs prefixed, readiness polled, clean stop.

Used by ``policywatch up``, ``policywatch demo``, the end-to-end tests and the load
benchmark. Generic on purpose (a service is an argv, an environment and a readiness
URL), so it is unit-tested with tiny stand-in programs.

* Each child runs in its own session (process group): Ctrl-C in the terminal reaches
  only the supervisor, which stops the services first and the broker last; and a
  service's own children (Chromium) are stopped with it (``killpg``).
* A child that exits while the stack is running is restarted after a backoff that
  doubles (``backoff_initial`` … ``backoff_max``) and resets once a run lasted
  ``stable_after`` seconds; every exit and restart is logged.
* Stop: SIGTERM to every group, then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import httpx

#: Colours for service prefixes (ANSI), cycled.
_COLOURS = ["36", "35", "33", "32", "34", "31"]


@dataclass
class ServiceSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


@dataclass
class ServiceState:
    spec: ServiceSpec
    process: asyncio.subprocess.Process | None = None
    pid: int | None = None
    starts: int = 0
    exits: list[int] = field(default_factory=list)
    started_at: float = 0.0
    ready: bool = False
    ready_at: float | None = None
    first_ready_after_s: float | None = None
    ready_detail: str = ""
    paused: bool = False  # stopped on purpose (tests): not restarted until resume()
    _running: asyncio.Event = field(default_factory=asyncio.Event)


class LogSink:
    """Writes prefixed lines (``name | text``) to a stream; JSON log lines are made readable."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        colour: bool | None = None,
        raw: bool = False,
        width: int = 10,
        level_filter: Callable[[str], bool] | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        self.colour = self.stream.isatty() if colour is None else colour
        self.raw = raw
        self.width = width
        self._colours: dict[str, str] = {}
        self.level_filter = level_filter
        self.lines = 0

    def prefix(self, name: str) -> str:
        text = f"{name:<{self.width}}|"
        if not self.colour:
            return text
        code = self._colours.setdefault(name, _COLOURS[len(self._colours) % len(_COLOURS)])
        return f"\x1b[{code}m{text}\x1b[0m"

    def format_line(self, line: str) -> str | None:
        """Readable form of one child output line (None: filtered out)."""
        line = line.rstrip("\r\n")
        if self.raw or not line.startswith("{"):
            return line
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return line
        if not isinstance(data, dict):
            return line
        level = str(data.get("level") or data.get("levelname") or "").upper()
        if self.level_filter is not None and not self.level_filter(level):
            return None
        message = str(data.get("message") or data.get("msg") or data.get("event") or "")
        extras = [
            f"{k}={data[k]}"
            for k in ("document_id", "trace_id")
            if data.get(k) and k != "trace_id"  # trace ids are long; keep them in --raw-logs
        ]
        exc = data.get("exc") or data.get("exc_info") or data.get("exception")
        text = " ".join(p for p in (level, message, *extras) if p)
        if exc:
            text += "\n" + str(exc)
        return text

    def write(self, name: str, line: str) -> None:
        text = self.format_line(line)
        if text is None:
            return
        prefix = self.prefix(name)
        self.stream.write("".join(f"{prefix} {part}\n" for part in text.split("\n")))
        self.stream.flush()
        self.lines += 1

    def note(self, text: str) -> None:
        """A line of the supervisor itself."""
        self.stream.write(f"{self.prefix('up')} {text}\n")
        self.stream.flush()


class Supervisor:
    """Start, watch, restart and stop a set of services. Use ``async with``."""

    def __init__(
        self,
        specs: list[ServiceSpec],
        *,
        sink: LogSink | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
        ready_poll_s: float = 0.5,
    ) -> None:
        self.services = {s.name: ServiceState(s) for s in specs}
        self.sink = sink or LogSink()
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.ready_poll_s = ready_poll_s
        self.stopping = False
        self.started_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.started_at = time.monotonic()
        for state in self.services.values():
            self._tasks.append(
                asyncio.create_task(self._supervise(state), name=f"supervise-{state.spec.name}")
            )
        self._tasks.append(asyncio.create_task(self._poll_readiness(), name="readiness"))

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(self._terminate(s) for s in self.services.values()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # ------------------------------------------------------------------ queries
    def pids(self) -> dict[str, int | None]:
        return {n: s.pid for n, s in self.services.items()}

    def all_ready(self) -> bool:
        return all(s.ready for s in self.services.values() if s.spec.ready_url)

    async def wait_ready(self, within_s: float, names: list[str] | None = None) -> bool:
        """Wait until every (or each named) service with a readiness URL answered 200; bounded."""
        wanted = [self.services[n] for n in (names or list(self.services)) if self.services[n].spec.ready_url]
        deadline = time.monotonic() + within_s
        while not all(s.ready for s in wanted):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    # ------------------------------------------------------------------ test/ops controls
    def kill(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` to a service's process group; the supervisor restarts it (unless paused)."""
        state = self.services[name]
        if state.pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, sig)
        return state.pid

    async def restart(self, name: str) -> None:
        """Stop a service (SIGTERM, SIGKILL after ``stop_timeout``); the supervisor starts it again."""
        await self._terminate(self.services[name])

    async def pause(self, name: str) -> None:
        """Stop a service and keep it stopped until :meth:`resume`."""
        state = self.services[name]
        state.paused = True
        await self._terminate(state)

    def resume(self, name: str) -> None:
        state = self.services[name]
        state.paused = False
        state._running.set()

    # ------------------------------------------------------------------ internals
    async def _supervise(self, state: ServiceState) -> None:
        spec = state.spec
        backoff = self.backoff_initial
        while not self.stopping:
            if state.paused:
                state._running.clear()
                await state._running.wait()
                continue
            env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
            try:
                proc = await asyncio.create_subprocess_exec(
                    *spec.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # own process group: see module docstring
                    limit=1024 * 1024,
                )
            except OSError as exc:
                self.sink.note(f"{spec.name}: cannot start ({exc}); retry in {backoff:.0f}s")
                await asyncio.sleep(backoff)
                backoff = min(self.backoff_max, backoff * 2)
                continue
            state.process, state.pid = proc, proc.pid
            state.starts += 1
            state.started_at = time.monotonic()
            state.ready = False
            if state.starts > 1:
                self.sink.note(f"{spec.name}: restarted (pid {proc.pid}, start #{state.starts})")
            else:
                self.sink.note(f"{spec.name}: started (pid {proc.pid})")
            pump = asyncio.create_task(self._pump(spec.name, proc))
            code = await proc.wait()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(pump, 2)
            self._reap_group(proc.pid)
            state.exits.append(code)
            state.ready = False
            if self.stopping or state.paused:
                continue
            ran = time.monotonic() - state.started_at
            if ran >= self.stable_after:
                backoff = self.backoff_initial
            self.sink.note(
                f"{spec.name}: exited with code {code} after {ran:.1f}s; restarting in {backoff:.1f}s"
            )
            await asyncio.sleep(backoff)
            backoff = min(self.backoff_max, backoff * 2)

    async def _pump(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except ValueError:  # a line longer than the limit: skip it
                continue
            if not line:
                return
            self.sink.write(name, line.decode("utf-8", errors="replace"))

    async def _terminate(self, state: ServiceState) -> None:
        proc = state.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.stop_timeout)
        except TimeoutError:
            self.sink.note(f"{state.spec.name}: no exit {self.stop_timeout:g}s after SIGTERM; SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        self._reap_group(proc.pid)

    @staticmethod
    def _reap_group(pgid: int) -> None:
        # Whatever the service left behind in its group (a browser) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    async def _poll_readiness(self) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while not self.stopping:
                for state in self.services.values():
                    url = state.spec.ready_url
                    if not url or state.process is None or state.process.returncode is not None:
                        continue
                    try:
                        r = await client.get(url)
                        ok, detail = r.status_code == 200, f"{r.status_code} {r.text.strip()[:200]}"
                    except httpx.HTTPError as exc:
                        ok, detail = False, type(exc).__name__
                    if ok and not state.ready:
                        now = time.monotonic()
                        state.ready_at = now
                        after = now - state.started_at
                        if state.first_ready_after_s is None:
                            state.first_ready_after_s = after
                        self.sink.note(f"{state.spec.name}: ready ({after:.1f}s after start)")
                    elif not ok and state.ready:
                        self.sink.note(f"{state.spec.name}: NOT ready: {detail}")
                    state.ready, state.ready_detail = ok, detail
                await asyncio.sleep(self.ready_poll_s)
