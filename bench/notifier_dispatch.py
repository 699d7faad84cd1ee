"""Notifier cost: CPU per delivered alert, and decision / dispatch throughput, through real channels.

Everything runs on SQLite (the default database), against a loopback aiosmtpd server and a loopback
HTTP webhook receiver. The receivers run in a CHILD process, so ``time.process_time()`` of this
process counts the notifier alone (main thread + the aiosqlite worker thread), not the receivers.

Two parts, each with a baseline measured in the same run:

* **pipeline** (issue 7's load shape): one professional subscriber with e-mail + webhook (and
  ``--others`` non-matching subscribers); ``--changes`` classified changes are handed to
  ``NotifierService.handle`` at ``--rate`` per second while the service's dispatcher loop runs, as
  in production. Printed: CPU per classified change and per delivered alert. Baseline: the same
  alerts rendered and sent directly with the channel objects (no database, no ledger) — the ratio
  is what decision + outbox + leases + ledger cost on top of rendering and sending.
* **fan-out** (``--subscribers`` matching + as many non-matching watcher subscribers, ``--events``):
  decision time per event (baseline: the candidate query alone) and dispatch rate through the
  ledger (baseline: the same sends without bookkeeping).

Usage: python bench/notifier_dispatch.py [--changes 200] [--rate 20] [--subscribers 100] [--events 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from typing import Any

from policywatch_notifier.channels.email import EmailChannel
from policywatch_notifier.channels.webhook import WebhookChannel
from policywatch_notifier.database import open_db
from policywatch_notifier.delivery import Dispatcher
from policywatch_notifier.ledger import decide, load_candidates
from policywatch_notifier.models import Delivery
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.render import Recipient, Renderer
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.service import NotifierService
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers
from sqlalchemy import func, select


def _receivers(ports: Any, counts: Any, stop: Any) -> None:  # child process
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd API
            with counts.get_lock():
                counts[0] += 1
            return "250 OK"

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

        def log_message(self, *a: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with counts.get_lock():
                counts[1] += 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        smtp_port = so.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ports[0], ports[1] = smtp_port, srv.server_address[1]
    stop.wait()
    smtp.stop()
    srv.shutdown()


class Receivers:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.ports = ctx.Array("i", 2)
        self.counts = ctx.Array("i", 2)
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_receivers, args=(self.ports, self.counts, self._stop), daemon=True)

    def __enter__(self) -> Receivers:
        self._proc.start()
        deadline = time.monotonic() + 30
        while not self.ports[1]:
            if time.monotonic() > deadline:
                raise RuntimeError("receivers did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(timeout=10)

    @property
    def received(self) -> int:
        return int(self.counts[0] + self.counts[1])


async def pipeline(
    rcv: Receivers, n_changes: int, rate: float, n_others: int, *, smtp_pool: int = 4
) -> tuple[float, float]:
    """CPU seconds per delivered alert: (through the service, baseline direct sends).
    ``smtp_pool=0``: one SMTP connection per message (the behaviour before connection reuse)."""
    tiers = Tiers.load()
    smtp_port, http_port = int(rcv.ports[0]), int(rcv.ports[1])
    hook = f"http://127.0.0.1:{http_port}/h"
    events = [sample_classified(n=1000 + n) for n in range(n_changes)]
    with tempfile.TemporaryDirectory() as d:
        settings = NotifierSettings(
            database_url=f"sqlite+aiosqlite:///{d}/pipe.db",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            mail_from="pw@example.com",
            smtp_pool_size=smtp_pool,
        )
        svc = NotifierService(settings, tiers=tiers)
        await svc.open()
        assert svc.sessions is not None
        async with svc.sessions() as s, s.begin():
            await create_subscriber(
                s,
                tiers,
                tier="professional",
                email="legal@example.com",
                webhook_url=hook,
                subscriptions=[SubscriptionSpec(platform="openai")],
            )
            for i in range(n_others):
                await create_subscriber(
                    s,
                    tiers,
                    tier="watcher",
                    email=f"o{i}@example.com",
                    subscriptions=[SubscriptionSpec(platform=f"other{i % 10}")],
                )
        await svc.start_loops()
        before = rcv.received
        c0 = time.process_time()
        t0 = time.perf_counter()
        for i, e in enumerate(events):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            await svc.handle(e)
        expected = before + 2 * n_changes
        deadline = time.monotonic() + 120
        while rcv.received < expected or await _unsent(svc) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {rcv.received - before} of {2 * n_changes} alerts arrived")
            await asyncio.sleep(0.02)
        cpu = time.process_time() - c0
        await svc.stop()
    assert rcv.received == expected, f"receivers got {rcv.received - before}, expected {2 * n_changes}"

    # baseline: render + send the same alerts directly (no database, no ledger)
    renderer = Renderer(public_base_url=settings.public_base_url)
    email = EmailChannel(host="127.0.0.1", port=smtp_port, mail_from="pw@example.com", pool_size=smtp_pool)
    webhook = WebhookChannel()
    r = Recipient(
        id="x",
        tier="professional",
        email="legal@example.com",
        webhook_url=hook,
        signing_secret="whsec_" + "A" * 43 + "=",
        unsubscribe_token="t" * 43,
    )
    before = rcv.received
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i, e in enumerate(events):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        for ch in (email, webhook):
            msg = renderer.alert(r, tiers["professional"], e, delivery_id=f"{ch.name}{i}")
            await ch.send(r, msg, delivery_id=f"{ch.name}{i}")
    base_cpu = time.process_time() - c0
    await webhook.close()
    await email.close()
    assert rcv.received == before + 2 * n_changes
    return cpu / (2 * n_changes), base_cpu / (2 * n_changes)


async def _unsent(svc: NotifierService) -> int:
    assert svc.sessions is not None
    async with svc.sessions() as s:
        return int(await s.scalar(select(func.count()).where(Delivery.status != "sent")) or 0)


async def fan_out(rcv: Receivers, n_subs: int, n_events: int) -> None:
    tiers = Tiers.load()
    smtp_port, http_port = int(rcv.ports[0]), int(rcv.ports[1])
    hook = f"http://127.0.0.1:{http_port}/h"
    renderer = Renderer(public_base_url="http://127.0.0.1:8014")
    email = EmailChannel(host="127.0.0.1", port=smtp_port, mail_from="pw@example.com")
    webhook = WebhookChannel()
    with tempfile.TemporaryDirectory() as d:
        engine, db = await open_db(f"sqlite+aiosqlite:///{d}/bench.db")
        async with db() as s, s.begin():
            for i in range(n_subs):
                await create_subscriber(
                    s,
                    tiers,
                    tier="watcher",
                    email=f"s{i}@example.com",
                    webhook_url=hook,
                    subscriptions=[SubscriptionSpec(platform="openai")],
                )
            for i in range(n_subs):  # as many that do not match
                await create_subscriber(
                    s,
                    tiers,
                    tier="watcher",
                    email=f"o{i}@example.com",
                    subscriptions=[SubscriptionSpec(platform=f"other{i % 10}")],
                )
        events = [sample_classified(n=n) for n in range(n_events)]

        t0 = time.perf_counter()
        for _ in events:
            async with db() as s:
                await load_candidates(s, platform="openai", document_id="openai/privacy_policy")
        base_decide = (time.perf_counter() - t0) / n_events
        t0 = time.perf_counter()
        created = 0
        for e in events:
            async with db() as s, s.begin():
                created += len((await decide(s, e, tiers)).deliveries)
        decide_s = (time.perf_counter() - t0) / n_events

        # baseline: the same sends without any bookkeeping
        sample = events[0]
        r = Recipient(
            id="x",
            tier="watcher",
            email="x@example.com",
            webhook_url=hook,
            signing_secret="whsec_" + "A" * 43 + "=",
            unsubscribe_token="t",
        )
        msg = renderer.alert(r, tiers["watcher"], sample, delivery_id="d")
        sem = asyncio.Semaphore(8)

        async def raw(ch: Any, i: int) -> None:
            async with sem:
                await ch.send(r, msg, delivery_id=f"d{i}")

        before = rcv.received
        t0 = time.perf_counter()
        await asyncio.gather(*(raw(email if i % 2 else webhook, i) for i in range(created)))
        base_send = time.perf_counter() - t0

        disp = Dispatcher(
            db,
            tiers=tiers,
            channels={"email": email, "webhook": webhook},
            renderer=renderer,
            batch=50,
            concurrency=8,
        )
        t0 = time.perf_counter()
        sent = 0
        while (n := await disp.run_once()) > 0:
            sent += n
        dispatch_s = time.perf_counter() - t0
        await engine.dispose()
    await webhook.close()
    await email.close()
    await asyncio.sleep(0.2)  # the receiver process counts asynchronously
    received = rcv.received - before
    assert received == 2 * created, f"receivers got {received}, expected {2 * created}"  # nothing lost
    print(f"fan-out: {n_subs} matching + {n_subs} not, events: {n_events}, deliveries: {created}")
    print(
        f"  decision per event: {decide_s * 1000:.1f} ms "
        f"(candidate query alone {base_decide * 1000:.1f} ms; ratio {decide_s / base_decide:.1f}x)"
    )
    print(
        f"  dispatch: {sent} deliveries in {dispatch_s:.2f} s = {sent / dispatch_s:.0f}/s "
        f"(raw sends {created / base_send:.0f}/s; ratio {dispatch_s / base_send:.2f}x)"
    )


async def main(args: argparse.Namespace) -> None:
    with Receivers() as rcv:
        if args.changes:
            # warm-up (imports, template compilation, first connections): else the first run pays it
            await pipeline(rcv, 20, args.rate, args.others)
            per, base = await pipeline(rcv, args.changes, args.rate, args.others)
            print(
                f"pipeline: {args.changes} changes at {args.rate:g}/s, 1 professional subscriber "
                f"(e-mail + webhook) + {args.others} others, SQLite"
            )
            print(
                f"  CPU per delivered alert: {per * 1000:.1f} ms ({per * 2000:.1f} ms per change); "
                f"baseline render+send without bookkeeping {base * 1000:.1f} ms; ratio {per / base:.2f}x"
            )
            if args.compare_smtp:
                old, old_base = await pipeline(rcv, args.changes, args.rate, args.others, smtp_pool=0)
                print("  same run, one SMTP connection per message (before connection reuse):")
                print(
                    f"  CPU per delivered alert: {old * 1000:.1f} ms; baseline {old_base * 1000:.1f} ms; "
                    f"pooled / per-message: {per / old:.2f}x (baselines {base / old_base:.2f}x)"
                )
        if args.subscribers and args.events:
            await fan_out(rcv, args.subscribers, args.events)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=200, help="pipeline: classified changes (0: skip)")
    ap.add_argument("--rate", type=float, default=20.0, help="pipeline: changes per second")
    ap.add_argument("--others", type=int, default=20, help="pipeline: non-matching subscribers")
    ap.add_argument(
        "--compare-smtp",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pipeline: run it again with one SMTP connection per message (before/after pooling)",
    )
    ap.add_argument("--subscribers", type=int, default=100, help="fan-out: matching subscribers (0: skip)")
    ap.add_argument("--events", type=int, default=3, help="fan-out: events")
    asyncio.run(main(ap.parse_args()))
