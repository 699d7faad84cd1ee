"""Running a service process: HTTP endpoints, readiness, graceful shutdown.

Every service's ``__main__`` calls :func:`run_service`. It serves on
``settings.http_host:settings.http_port``:

* ``/healthz`` — the process is alive (200 while the event loop turns);
* ``/readyz``  — the broker and object store (and any extra check) answer: 200, else 503
  with the failing check named;
* ``/metrics`` — Prometheus text format (FastStream's middleware + our own metrics).

The broker may not be up yet when a service starts (compose, ``policywatch up``):
connecting is retried with backoff instead of crashing. SIGTERM/SIGINT stop the
consumers first (in-flight handlers finish, offsets are committed), then the
background tasks and the HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from policywatch_shared.logs import configure_logging
from policywatch_shared.metrics import SERVICE_UP

if TYPE_CHECKING:
    from faststream import FastStream

    from policywatch_shared.settings import ServiceSettings

log = logging.getLogger("policywatch.runtime")

S = TypeVar("S", bound="ServiceSettings")
ReadyCheck = tuple[str, Callable[[], Awaitable[Any]]]

#: Grace period for consumers to stop (in-flight handlers finish and commit) on SIGTERM.
STOP_TIMEOUT_S = 15.0


def default_ready_checks(app: FastStream, settings: ServiceSettings) -> list[ReadyCheck]:
    from policywatch_shared.storage import make_store

    checks: list[ReadyCheck] = []
    broker = app.broker
    if broker is not None:

        async def broker_ok() -> None:
            if not await broker.ping(timeout=2.0):
                raise ConnectionError("broker did not answer")

        checks.append(("broker", broker_ok))
    store = make_store(settings)
    checks.append(("storage", store.ping))
    return checks


class HealthApp:
    """Minimal ASGI app for the three operational endpoints (no web framework needed)."""

    def __init__(self, service: str, checks: Sequence[ReadyCheck], started: asyncio.Event) -> None:
        self.service = service
        self.checks = list(checks)
        self.started = started

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        ok = self.started.is_set()
        if not ok:
            results["consumers"] = "starting"
        for name, check in self.checks:
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:  # report, never raise: the probe wants an answer
                ok = False
                results[name] = f"{type(exc).__name__}: {exc}"[:300]
        return ok, results

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        if path == "/healthz":
            status, body, ctype = (
                200,
                json.dumps({"service": self.service, "alive": True}).encode(),
                "application/json",
            )
        elif path == "/readyz":
            ok, results = await self.readiness()
            status = 200 if ok else 503
            body = json.dumps({"service": self.service, "ready": ok, "checks": results}).encode()
            ctype = "application/json"
        elif path == "/metrics":
            status, body, ctype = 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        else:
            status, body, ctype = 404, b'{"error": "not found"}', "application/json"
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", ctype.encode())]}
        )
        await send({"type": "http.response.body", "body": body})


async def start_with_retry(app: FastStream, *, service: str, stop: asyncio.Event) -> bool:
    """Start the app, retrying while the broker is unreachable. False if asked to stop first."""
    delay = 0.5
    while not stop.is_set():
        try:
            await app.start()
            return True
        except Exception as exc:
            log.warning(
                "%s could not start (%s: %s); retrying in %.1fs", service, type(exc).__name__, exc, delay
            )
            try:
                await app.stop()
            except Exception:
                pass
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 10.0)
    return False


async def serve(
    app: FastStream,
    settings: ServiceSettings,
    *,
    service: str,
    ready_checks: Sequence[ReadyCheck] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``app`` and the HTTP endpoints until SIGTERM/SIGINT (or ``stop`` is set)."""
    import uvicorn

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    started = asyncio.Event()
    checks = list(ready_checks) if ready_checks is not None else default_ready_checks(app, settings)
    health = HealthApp(service, checks, started)
    config = uvicorn.Config(
        health,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # we own the signals
    http_task = asyncio.create_task(server.serve())
    SERVICE_UP.labels(service).set(1)
    try:
        if await start_with_retry(app, service=service, stop=stop):
            started.set()
            log.info("%s started", service)
            await stop.wait()
            log.info("%s stopping", service)
            try:
                # aiokafka's consumer stop can hang when the broker vanished; offsets of finished
                # messages are already committed, so a bounded wait loses nothing.
                await asyncio.wait_for(app.stop(), timeout=STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s: consumers did not stop within the grace period; exiting anyway", service)
    finally:
        SERVICE_UP.labels(service).set(0)
        server.should_exit = True
        await asyncio.wait_for(http_task, timeout=10)
    log.info("%s stopped", service)


def run_service(
    app_factory: Callable[[S], FastStream],
    settings: S,
    *,
    service: str,
    ready_checks: Callable[[FastStream, S], Sequence[ReadyCheck]] | None = None,
) -> None:
    """Entry point of ``python -m policywatch_<service>``."""
    configure_logging(service, settings.log_level)

    async def main() -> None:
        app = app_factory(settings)
        checks = ready_checks(app, settings) if ready_checks is not None else None
        await serve(app, settings, service=service, ready_checks=checks)

    asyncio.run(main())
