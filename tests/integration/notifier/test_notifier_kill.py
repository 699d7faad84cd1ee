"""kill -9 of the notifier process at several points, then restart: every expected alert arrives,
and none is delivered twice in effect.

The notifier runs as a real process (``python -m policywatch_notifier``) against PostgreSQL, the
broker, aiosmtpd and a loopback webhook receiver. It is killed (SIGKILL) first right after its first
delivery (events still being decided), then halfway through dispatch, then restarted once more.

"In effect": a send that completed just before the kill, whose ledger update had not yet been
committed, is sent again after restart with the SAME ``webhook-id`` / ``Message-ID`` (the
delivery id) — the idempotency key Standard Webhooks receivers de-duplicate on. The test counts
distinct ids (must equal the expected set exactly) and bounds the raw re-sends by the number of
sends that can be in flight at a kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from policywatch_notifier.database import open_db
from policywatch_notifier.ledger import delivery_id
from policywatch_notifier.models import Delivery, OutboxItem
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.net import free_port
from policywatch_shared.topics import CLASSIFIED
from sqlalchemy import func, select

from tests.helpers import make_settings, wait_until

pytestmark = pytest.mark.timeout(400)  # three process starts: imports alone take 10-30 s on a busy machine

SUBSCRIBERS = 3
EVENTS = 8
CONCURRENCY = 4


def start_notifier(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "policywatch_notifier"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "notifier exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("notifier not ready in time")


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_kill_9_mid_dispatch_loses_nothing_and_sends_nothing_twice(
    kafka_bootstrap: str, pg_url: str, smtp_sink: Any, webhook_receiver: Any, tmp_path: Path, database: str
) -> None:
    # SQLite too: the embedded default, where decisions, claims and outcomes are written from
    # the notifier's own database thread (Transactor) with synchronous=NORMAL.
    db_url = pg_url if database == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/notifier.db"
    tiers = Tiers.load()
    platform = f"k-{uuid.uuid4().hex[:6]}"
    engine, db = await open_db(db_url)
    subs: list[tuple[str, str, str]] = []  # (id, email, path)
    try:
        for i in range(SUBSCRIBERS):
            path, email = f"/k{i}", f"k{i}-{platform}@example.com"
            async with db() as s, s.begin():
                c = await create_subscriber(
                    s,
                    tiers,
                    tier="watcher",
                    email=email,
                    webhook_url=webhook_receiver.url(path),
                    subscriptions=[SubscriptionSpec(platform=platform)],
                )
            webhook_receiver.secrets[path] = c.signing_secret
            subs.append((c.subscriber.id, email, path))

        events = [sample_classified(platform=platform, n=n, model_version="kill-test") for n in range(EVENTS)]
        expected_hooks = {
            delivery_id(sid, e.change.event_id, "webhook") for sid, _, _ in subs for e in events
        }
        expected_mails = {
            f"<{delivery_id(sid, e.change.event_id, 'email')}@policywatch>"
            for sid, _, _ in subs
            for e in events
        }

        producer = make_broker(
            make_settings(NotifierSettings, kafka_bootstrap=kafka_bootstrap), service="kill-prod"
        )
        await producer.start()
        try:
            for e in events:
                await publish(producer, CLASSIFIED, e)
        finally:
            await producer.stop()

        # slow receivers: deliveries are in flight when the process dies
        webhook_receiver.delay_s = 0.05
        smtp_sink.delay_s = 0.05
        http_port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_FETCH_MAX_WAIT_MS": "20",
            "DATABASE_URL": db_url,
            "LOG_LEVEL": "INFO",
            "NOTIFIER_GROUP_ID": f"notifier-kill-{uuid.uuid4().hex[:8]}",
            "NOTIFIER_HTTP_PORT": str(http_port),
            "NOTIFIER_HTTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(smtp_sink.port),
            "NOTIFIER_DISPATCH_LEASE_S": "2",
            "NOTIFIER_DISPATCH_CONCURRENCY": str(CONCURRENCY),
            "NOTIFIER_DISPATCH_BATCH": str(CONCURRENCY),
            "NOTIFIER_DISPATCH_INTERVAL_S": "0.2",
            "NOTIFIER_RETRY_BASE_S": "0.5",
            "NOTIFIER_DIGEST_CHECK_INTERVAL_S": "3600",
        }
        log = tmp_path / "notifier.log"
        total = len(expected_hooks) + len(expected_mails)

        def delivered() -> int:
            ids = {h.webhook_id for h in webhook_receiver.received} | {m.message_id for m in smtp_sink.mails}
            return len(ids)

        kills = 0
        proc = start_notifier(env, log)
        try:
            await wait_ready(http_port, proc)
            await wait_until(lambda: delivered() >= 1, timeout=120, interval=0.01)
            kill9(proc)  # point 1: first deliveries out, events still being decided
            kills += 1
            proc = start_notifier(env, log)
            await wait_ready(http_port, proc)
            await wait_until(lambda: delivered() >= total // 2, timeout=120, interval=0.01)
            kill9(proc)  # point 2: halfway through dispatch, sends in flight
            kills += 1
            proc = start_notifier(env, log)
            await wait_until(lambda: delivered() >= total, timeout=180, interval=0.1)

            async def all_recorded() -> bool:
                async with db() as s:
                    sids = [sid for sid, _, _ in subs]
                    statuses = (
                        await s.scalars(select(Delivery.status).where(Delivery.subscriber_id.in_(sids)))
                    ).all()
                    return len(statuses) == total and set(statuses) == {"sent"}

            await wait_until(all_recorded, timeout=20, interval=0.2)
            await asyncio.sleep(1.0)  # anything sent twice would show up now
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    kill9(proc)

        hooks = Counter(h.webhook_id for h in webhook_receiver.received)
        mails = Counter(m.message_id for m in smtp_sink.mails)
        assert set(hooks) == expected_hooks and set(mails) == expected_mails  # nothing lost, nothing extra
        assert all(h.verified for h in webhook_receiver.received)
        resent = sum(n - 1 for n in hooks.values()) + sum(n - 1 for n in mails.values())
        assert resent <= kills * CONCURRENCY, f"{resent} re-sends for {kills} kills"
        print(f"\nkill -9 ×{kills}: {total} deliveries, {resent} re-sent with the same id (receiver dedupes)")
        async with db() as s:
            sids = [sid for sid, _, _ in subs]
            rows = (await s.scalars(select(Delivery).where(Delivery.subscriber_id.in_(sids)))).all()
            assert len(rows) == total and all(r.status == "sent" for r in rows)
            left = await s.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.delivery_id.in_([r.id for r in rows]))
            )
            assert left == 0
        text = log.read_text(errors="replace")
        assert (
            "@example.com" not in text and f"127.0.0.1:{webhook_receiver.port}" not in text
        )  # no personal data
    finally:
        await engine.dispose()
