"""``policywatch up`` and ``policywatch topics``: the whole stack on one machine.

``up`` starts, in order:

1. the broker: the embedded Tansu broker (``policywatch_shared.tansu``) unless
   ``KAFKA_BOOTSTRAP_SERVERS`` is set;
2. the topics (``ensure_topics``: partitions, retention, compaction, dead-letter topics);
3. every service as its own process (``python -m policywatch_<service>``) under the
   :class:`~policywatch.supervisor.Supervisor`, with local-directory storage unless S3 is
   configured (``STORAGE_BACKEND=s3``) and SQLite unless ``DATABASE_URL`` is set, both
   under ``--data-dir``.

Readiness of each service is polled on its ``/readyz`` and reported; Ctrl-C or SIGTERM
stops the services (SIGTERM, then SIGKILL after a grace period) and then the broker.
:class:`Stack` is the same thing as an async context manager (demo, e2e tests, bench).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from policywatch_shared import topics as T
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    # The supervisor pulls in httpx: imported where used, so `policywatch --help` stays fast.
    from policywatch.supervisor import LogSink, ServiceSpec, Supervisor

#: The services in pipeline order, with their documented default HTTP port.
SERVICES: dict[str, int] = {"fetcher": 8001, "differ": 8002, "classifier": 8003, "notifier": 8004}

console = Console(stderr=True)


def service_installed(name: str) -> bool:
    """True when ``python -m policywatch_<name>`` can run (its package has a ``__main__``)."""
    try:
        return importlib.util.find_spec(f"policywatch_{name}.__main__") is not None
    except ModuleNotFoundError:
        return False


def service_port(name: str, env: dict[str, str] | None = None) -> int:
    """HTTP port of a service: ``<NAME>_HTTP_PORT`` in ``env``/the environment, else its settings default."""
    key = f"{name.upper()}_HTTP_PORT"
    value = (env or {}).get(key) or os.environ.get(key)
    if value:
        return int(value)
    module = importlib.util.find_spec(f"policywatch_{name}.settings")
    if module is not None:
        try:
            mod = importlib.import_module(f"policywatch_{name}.settings")
            cls = getattr(mod, f"{name.capitalize()}Settings")
            return int(cls.model_fields["http_port"].default)
        except Exception:  # unreadable settings: documented default
            pass
    return SERVICES[name]


def parse_services(value: str | None) -> list[str]:
    if not value:
        return list(SERVICES)
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    return [n for n in SERVICES if n in names]  # pipeline order


def infra_env(data_dir: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Embedded defaults for storage and database, unless the environment configures them."""
    environ = dict(os.environ if environ is None else environ)
    env: dict[str, str] = {}
    s3 = environ.get("STORAGE_BACKEND", "").lower() == "s3"
    if not s3:
        env["STORAGE_BACKEND"] = "local"
        env["STORAGE_DIR"] = environ.get("STORAGE_DIR") or str((data_dir / "storage").absolute())
    if not environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{(data_dir / 'policywatch.db').absolute()}"
    return env


async def create_topics(bootstrap: str, within_s: float = 60.0) -> list[str]:
    """Create every missing topic (idempotent; retries while a just-started broker warms up)."""
    from policywatch_shared.broker import ensure_topics

    return await ensure_topics(bootstrap, timeout_s=within_s)


@dataclass
class Stack:
    """Broker + topics + supervised services. ``async with Stack(...) as stack:``."""

    services: list[str] = field(default_factory=lambda: list(SERVICES))
    data_dir: Path = Path("var")
    bootstrap: str | None = None  # None: KAFKA_BOOTSTRAP_SERVERS, else an embedded Tansu broker
    env_broker: bool = True  # False: ignore KAFKA_BOOTSTRAP_SERVERS (tests want their own broker)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for every service
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per service
    ports: dict[str, int] = field(default_factory=dict)  # override HTTP ports (tests: free ports)
    sink: LogSink | None = None
    backoff_initial: float = 1.0
    stable_after: float = 30.0
    stop_timeout: float = 10.0
    broker_log: Path | None = None
    broker_port: int | None = None  # embedded broker port (None: any free port)
    broker: Any = None  # the TansuBroker when embedded
    supervisor: Supervisor | None = None
    skipped: list[str] = field(default_factory=list)  # requested but not installed
    broker_restarts: int = 0
    _watchdog: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Stack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def log(self) -> LogSink:
        if self.sink is None:
            from policywatch.supervisor import LogSink

            self.sink = LogSink()
        return self.sink

    def ready_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}/readyz"

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}/metrics"

    def port(self, name: str) -> int:
        return self.ports.get(name) or service_port(name, {**self.env, **self.service_env.get(name, {})})

    async def start_broker(self) -> str:
        if self.bootstrap is None and self.env_broker:
            self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        if self.bootstrap is None:
            from policywatch_shared.tansu import TansuBroker

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.broker = TansuBroker(
                self.broker_port, log_file=self.broker_log or self.data_dir / "tansu.log"
            )
            await asyncio.to_thread(self.broker.start)
            self.bootstrap = str(self.broker.bootstrap)
            self.log.note(f"broker: embedded Tansu on {self.bootstrap} (in memory)")
            if self.broker_port is None and "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
                self.log.note(f"other commands: export KAFKA_BOOTSTRAP_SERVERS={self.bootstrap}")
        else:
            self.log.note(f"broker: {self.bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
        await create_topics(self.bootstrap)
        self.log.note(f"topics: {len(T.TOPICS)} ensured")
        return self.bootstrap

    def specs(self) -> list[ServiceSpec]:
        from policywatch.supervisor import ServiceSpec

        assert self.bootstrap is not None
        # Two malloc arenas: the services' worker threads (asyncio.to_thread) otherwise each get an
        # arena and the resident size creeps up (classifier 303 → 248 MB at 300 documents).
        malloc = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
        base = {**infra_env(self.data_dir), **malloc, **self.env, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
        specs = []
        for name in self.services:
            env = {**base, **self.service_env.get(name, {})}
            prefix = name.upper()
            env[f"{prefix}_HTTP_PORT"] = str(self.port(name))
            env.setdefault(f"{prefix}_HTTP_HOST", "127.0.0.1")
            specs.append(
                ServiceSpec(name, [sys.executable, "-m", f"policywatch_{name}"], env, self.ready_url(name))
            )
        return specs

    async def start(self) -> None:
        self.skipped = [s for s in self.services if not service_installed(s)]
        if self.skipped:
            self.log.note(f"not installed, skipped: {', '.join(self.skipped)}")
        self.services = [s for s in self.services if s not in self.skipped]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self.start_broker()
            from policywatch.supervisor import Supervisor

            self.supervisor = Supervisor(
                self.specs(),
                sink=self.log,
                backoff_initial=self.backoff_initial,
                stable_after=self.stable_after,
                stop_timeout=self.stop_timeout,
            )
            await self.supervisor.start()
            if self.broker is not None:
                self._watchdog = asyncio.create_task(self._watch_broker(), name="broker-watchdog")
        except BaseException:
            await self.stop()
            raise

    async def _watch_broker(self) -> None:
        """Restart the embedded broker if it dies, then every service.

        The embedded broker keeps topics in memory: after a restart they are empty, and a
        consumer that kept its old position would wait past the new end forever (Tansu does
        not answer "offset out of range"). Restarting the services makes them start over
        from the new topics' beginning.
        """
        while True:
            await asyncio.sleep(0.5)
            broker = self.broker
            if broker is None or self.supervisor is None:
                return
            code = broker.process.poll() if broker.process is not None else -1
            if code is None:
                continue
            self.log.note(f"broker: exited (code {code}); restarting it and every service (its data is lost)")
            try:
                await asyncio.to_thread(broker.start)
                assert self.bootstrap is not None
                await create_topics(self.bootstrap)
            except Exception as exc:
                self.log.note(f"broker: restart failed ({type(exc).__name__}: {exc}); retrying")
                await asyncio.sleep(2)
                continue
            self.broker_restarts += 1  # counted once the broker and its topics are back
            # Graceful stop, SIGKILL after the grace period; the supervisor starts them again.
            await asyncio.gather(*(self.supervisor.restart(n) for n in self.supervisor.services))

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor = None
        if self.broker is not None:
            broker, self.broker = self.broker, None
            await asyncio.to_thread(broker.stop)

    async def wait_ready(self, within_s: float, names: list[str] | None = None) -> bool:
        assert self.supervisor is not None
        return await self.supervisor.wait_ready(within_s, names)

    def readiness(self) -> dict[str, tuple[bool, str]]:
        assert self.supervisor is not None
        return {n: (s.ready, s.ready_detail) for n, s in self.supervisor.services.items()}


# --------------------------------------------------------------------------- CLI


def up(
    services: str | None = typer.Option(
        None, "--services", "-s", help="Comma-separated subset, e.g. 'fetcher,differ' (default: all)."
    ),
    data_dir: Path = typer.Option(
        Path("var"), "--data-dir", help="Local storage, SQLite database and broker log live here."
    ),
    ready_timeout: float = typer.Option(
        120.0, "--ready-timeout", help="Seconds to wait for every service to be ready before warning."
    ),
    raw_logs: bool = typer.Option(
        False, "--raw-logs", help="Print the services' JSON log lines as they are."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors of the services."),
) -> None:
    """Run the whole stack on this machine: broker, topics, every service (supervised). Ctrl-C stops."""
    from policywatch.supervisor import LogSink

    names = parse_services(services)

    def level_ok(level: str) -> bool:
        return not quiet or level.upper() in ("WARNING", "ERROR", "CRITICAL")

    sink = LogSink(raw=raw_logs, level_filter=level_ok)
    # The embedded broker takes Kafka's usual port when it is free, so that the other
    # verbs (status, dlq, fetch …) find it without configuration.
    port = DEFAULT_BROKER_PORT if port_free(DEFAULT_BROKER_PORT) else None
    stack = Stack(services=names, data_dir=data_dir, sink=sink, broker_port=port)
    code = asyncio.run(_up(stack, ready_timeout))
    raise typer.Exit(code)


DEFAULT_BROKER_PORT = 9092


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def _up(stack: Stack, ready_timeout: float) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            stack.log.note(f"{signal.Signals(signum).name}: stopping every service (again to force)")
            stop.set()
        else:
            stack.stop_timeout = 0.5
            if stack.supervisor is not None:
                stack.supervisor.stop_timeout = 0.5

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        try:
            await stack.start()
        except Exception as exc:
            stack.log.note(f"cannot start the stack: {type(exc).__name__}: {exc}")
            return 1
        if not stack.services:
            stack.log.note("no service installed; the broker runs alone (Ctrl-C stops)")
        else:
            waiter = asyncio.create_task(stack.wait_ready(ready_timeout))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if waiter.done():
                if waiter.result():
                    stack.log.note(
                        f"all {len(stack.services)} services ready "
                        f"({', '.join(stack.services)}); broker {stack.bootstrap}; Ctrl-C stops"
                    )
                else:
                    late = [n for n, (ok, _) in stack.readiness().items() if not ok]
                    stack.log.note(f"not ready after {ready_timeout:.0f}s: {', '.join(late)} (still trying)")
            else:
                waiter.cancel()
        await stop.wait()
        return 0
    finally:
        await stack.stop()
        stack.log.note("stopped")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


topics_app = typer.Typer(help="Create or list the Kafka topics.", no_args_is_help=True)


@topics_app.command("create")
def topics_create(
    bootstrap: str | None = typer.Option(None, "--bootstrap", help="Default: KAFKA_BOOTSTRAP_SERVERS."),
) -> None:
    """Create every policywatch topic and dead-letter topic (idempotent)."""
    target = bootstrap or _default_bootstrap()
    try:
        asyncio.run(create_topics(target, within_s=15))
    except Exception as exc:
        console.print(f"[red]cannot create topics on {target}:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(f"{len(T.TOPICS)} topics ensured on {target}")


@topics_app.command("list")
def topics_list(
    bootstrap: str | None = typer.Option(None, "--bootstrap", help="Default: KAFKA_BOOTSTRAP_SERVERS."),
    spec_only: bool = typer.Option(False, "--spec", help="Only the declared topics, without the broker."),
) -> None:
    """Declared topics (partitions, retention, compaction) and, from the broker, messages per topic."""
    present: dict[str, tuple[int, int]] = {}
    if not spec_only:
        target = bootstrap or _default_bootstrap()
        try:
            present = asyncio.run(asyncio.wait_for(_topic_sizes(target), 30))
        except Exception as exc:
            console.print(f"[red]broker {target} unreachable:[/red] {exc}")
            raise typer.Exit(2) from exc
    t = Table(title="policywatch topics", title_justify="left")
    t.add_column("topic", overflow="fold", min_width=20)
    for col in ("partitions", "retention", "cleanup", "on broker", "messages"):
        t.add_column(col)
    for spec in T.TOPICS:
        retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms / T.DAY_MS:g} d"
        parts, msgs = present.get(spec.name, (0, 0))
        on_broker = "—" if spec_only else (f"{parts} partitions" if spec.name in present else "missing")
        t.add_row(
            spec.name,
            str(spec.partitions),
            retention,
            "compact" if spec.compacted else "delete",
            on_broker,
            "—" if spec_only or spec.name not in present else str(msgs),
        )
    Console().print(t)


def _default_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"


async def _topic_sizes(bootstrap: str) -> dict[str, tuple[int, int]]:
    """topic -> (partitions, messages currently retained) for the declared topics on the broker."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from policywatch.ops import true_end_offsets

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=10000
    )
    try:
        await consumer.start()
        existing = await consumer.topics()
        out: dict[str, tuple[int, int]] = {}
        tps: dict[str, list[TopicPartition]] = {}
        for spec in T.TOPICS:
            if spec.name in existing:
                parts = sorted(consumer.partitions_for_topic(spec.name) or ())
                tps[spec.name] = [TopicPartition(spec.name, p) for p in parts]
        all_tps = [tp for v in tps.values() for tp in v]
        ends = await true_end_offsets(consumer, all_tps) if all_tps else {}
        begins = await consumer.beginning_offsets(all_tps) if all_tps else {}
        for name, parts_ in tps.items():
            out[name] = (len(parts_), sum(ends[tp] - begins[tp] for tp in parts_))
        return out
    finally:
        await consumer.stop()


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.add_typer(topics_app, name="topics")
