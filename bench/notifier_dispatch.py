"""Notifier throughput: decisions (matching + ledger + outbox) and dispatch through real channels.

Measured in one run, on SQLite (the default database), against a loopback aiosmtpd server and a
loopback HTTP webhook receiver. Baselines, measured in the same run:

* dispatch: the same number of e-mails and signed webhooks sent directly with the channel objects
  (no database, no ledger) — the ratio is the cost of the exactly-once bookkeeping;
* decision: one SELECT of the candidate subscriptions alone — the ratio is the cost of matching
  and writing the ledger + outbox rows.

Usage: python bench/notifier_dispatch.py [--subscribers 200] [--events 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from policywatch_notifier.channels.email import EmailChannel
from policywatch_notifier.channels.webhook import WebhookChannel
from policywatch_notifier.database import open_db
from policywatch_notifier.delivery import Dispatcher
from policywatch_notifier.ledger import decide, load_candidates
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.render import Recipient, Renderer
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import Tiers


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd API
        self.count += 1
        return "250 OK"


def webhook_server() -> tuple[ThreadingHTTPServer, list[int]]:
    hits = [0]

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hits[0] += 1
            self.send_response(204)
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, hits


async def main(n_subs: int, n_events: int) -> None:
    tiers = Tiers.load()
    sink = Sink()
    import socket

    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        smtp_port = so.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    srv, hits = webhook_server()
    hook = f"http://127.0.0.1:{srv.server_address[1]}/h"
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
    received = hits[0] + sink.count
    assert received == 2 * created, f"receivers got {received}, expected {2 * created}"  # nothing lost
    smtp.stop()
    srv.shutdown()
    print(f"subscribers: {n_subs} matching + {n_subs} not, events: {n_events}, deliveries: {created}")
    print(
        f"decision per event: {decide_s * 1000:.1f} ms "
        f"(candidate query alone {base_decide * 1000:.1f} ms; ratio {decide_s / base_decide:.1f}x)"
    )
    print(
        f"dispatch: {sent} deliveries in {dispatch_s:.2f} s = {sent / dispatch_s:.0f}/s "
        f"(raw sends {created / base_send:.0f}/s; ratio {dispatch_s / base_send:.2f}x)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=200)
    ap.add_argument("--events", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(main(args.subscribers, args.events))
