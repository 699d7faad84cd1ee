"""The whole pipeline for end-to-end tests: real services as separate processes.

Real broker (embedded Tansu started by the stack), real S3 API (moto server, own bucket),
real PostgreSQL (own database), Chromium, a real SMTP server and webhook receiver, the
local demo site. The test drives the site and publishes fetch requests; it observes only
what users and operators see: topics, the mailbox, the webhook receiver.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywatch_shared import topics as T
from policywatch_shared.net import free_port

from policywatch.demo.mailbox import Mailbox
from policywatch.demo.run import publish_requests
from policywatch.demo.setup import DemoSubscriber, create_subscribers, fetch_request, write_catalog
from policywatch.demo.site import DemoSite, SiteDocument
from policywatch.demo.watch import TopicWatcher
from policywatch.demo.webhook_receiver import WebhookReceiver
from policywatch.stack import SERVICES, Stack, service_installed
from policywatch.supervisor import LogSink

#: Client-library lines that repeat while the broker is away; they bury what explains a stall.
_NOISE = re.compile(
    r"Unable connect to node|Unable to update metadata|Failed fetch messages|NodeNotReadyError"
    r"|Marking the coordinator dead|Connect call failed|Unable to request metadata"
)

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")

BASE = """# {title}

Last updated: {date}

## Introduction

This policy explains how {company} collects, uses and shares information about you when you use our
websites, apps and services. Please read it carefully.

## Information we collect

We collect information you give us, such as your name, e-mail address and payment details, and
information about how you use the services, such as the pages you visit and the features you use.

## How we use information

We use information to provide and improve the services, to keep them safe, and to communicate with you.

## Your choices

You can access, correct or delete your personal information from your account settings at any time.
"""

#: Clearly substantive additions, one per later version (a real monitor must alert on each).
CLAUSES = [
    (
        "Sharing with advertisers",
        "We share your personal information, including your browsing history and precise location, "
        "with advertising partners and data brokers, who may sell it to third parties.",
    ),
    (
        "Training artificial intelligence",
        "We use the content you post, your messages and your uploaded files to train our artificial "
        "intelligence and machine learning models. You cannot opt out of this use.",
    ),
    (
        "Arbitration",
        "Any dispute with us will be resolved by binding individual arbitration. You waive your right "
        "to a jury trial and to participate in a class action lawsuit.",
    ),
    (
        "Data retention",
        "We retain your personal information indefinitely, even after you delete your account, "
        "and we may keep backups of deleted content for as long as we choose.",
    ),
    (
        "International transfers",
        "We transfer your personal information to countries outside your own, including countries "
        "whose data protection laws are weaker than those of your country.",
    ),
    (
        "Account termination",
        "We may suspend or terminate your account at any time, for any reason or no reason, "
        "without notice and without refund.",
    ),
]


def history(title: str, company: str, changes: int) -> list[str]:
    """Versions: the base text, then one substantive clause more per version."""
    out = [BASE.format(title=title, company=company, date="1 January 2026")]
    text = out[0]
    for i in range(changes):
        heading, clause = CLAUSES[i % len(CLAUSES)]
        text = text + f"\n## {heading}\n\n{clause}\n"
        out.append(text.replace("1 January 2026", f"{i + 2} February 2026"))
    return out


@dataclass
class Pipeline:
    tmp: Path
    s3: Any
    pg_url: str
    documents: list[SiteDocument]
    subscribers: list[DemoSubscriber]
    env: dict[str, str] = field(default_factory=dict)
    # Set by start():
    site: DemoSite = field(init=False)
    mailbox: Mailbox = field(init=False)
    receiver: WebhookReceiver = field(init=False)
    stack: Stack = field(init=False)
    watcher: TopicWatcher = field(init=False)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    proxies: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    #: A bucket (see make_bucket) for a Tansu broker that keeps its log in S3 and so survives
    #: its own restarts; the pipeline then owns the broker (``self.tansu``) instead of the stack.
    broker_bucket: Any = None
    tansu: Any = None

    async def start(self, ready_within_s: float = 180) -> None:
        missing = [s for s in SERVICES if not service_installed(s)]
        if missing:
            raise RuntimeError(f"services not installed: {missing}")
        self.site = DemoSite(self.documents).start()
        self.mailbox = Mailbox(self.tmp / "mail").start()
        self.receiver = WebhookReceiver(self.tmp / "hooks").start()
        write_catalog(self.site, self.tmp / "catalog")
        await create_subscribers(self.pg_url, self.subscribers, lambda s: self.receiver.url(s.endpoint))
        for sub in self.subscribers:
            if sub.webhook:
                self.receiver.register(sub.endpoint, sub.signing_secret)
        env = {
            "MESSAGE_RETRY_BACKOFF_S": "0.1",
            "MESSAGE_MAX_RETRIES": "2",
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT": self.s3.endpoint,
            "S3_ACCESS_KEY": self.s3.access_key,
            "S3_SECRET_KEY": self.s3.secret_key,
            "S3_BUCKET": self.s3.bucket,
            "DATABASE_URL": self.pg_url,
            "FETCHER_CATALOG_DIR": str(self.tmp / "catalog"),
            "FETCHER_ALLOW_PRIVATE": "true",
            "FETCHER_SCHEDULER_ENABLED": "false",
            "FETCHER_PER_HOST_DELAY_S": "0",
            "FETCHER_PER_HOST_CONCURRENCY": "8",
            "FETCHER_RETRY_BASE_S": "0.2",
            "FETCHER_BROWSER_PAGES": "1",
            "FETCHER_RETRIES": "0",
            "FETCHER_READ_TIMEOUT_S": "3",
            "FETCHER_TOTAL_TIMEOUT_S": "6",
            "FETCHER_MAX_REDIRECTS": "5",
            "FETCHER_ALERT_AFTER_S": "2",
            "NOTIFIER_SMTP_HOST": self.mailbox.host,
            "NOTIFIER_SMTP_PORT": str(self.mailbox.port),
            "NOTIFIER_DISPATCH_INTERVAL_S": "0.2",
            "NOTIFIER_RETRY_BASE_S": "0.5",
            "NOTIFIER_RETRY_MAX_S": "2",
            "NOTIFIER_DISPATCH_LEASE_S": "5",
            **self.env,
        }
        self.log_path = self.tmp / "services.log"
        self._log = self.log_path.open("w")
        bootstrap = None
        if self.broker_bucket is not None:
            from policywatch_shared.tansu import TansuBroker

            b = self.broker_bucket
            self.tansu = TansuBroker.on_s3(
                b.endpoint, b.access_key, b.secret_key, b.bucket, log_file=self.tmp / "tansu.log"
            )
            await asyncio.to_thread(self.tansu.start)
            bootstrap = self.tansu.bootstrap
        self.stack = Stack(
            data_dir=self.tmp / "var",
            bootstrap=bootstrap,
            env_broker=False,
            env=env,
            ports={n: free_port() for n in SERVICES},
            sink=LogSink(self._log, colour=False),
            backoff_initial=0.2,
            stop_timeout=10,
        )
        await self.stack.start()
        assert self.stack.bootstrap
        self.watcher = TopicWatcher(self.stack.bootstrap)
        await self.watcher.start()
        if not await self.stack.wait_ready(ready_within_s):
            raise RuntimeError(f"stack not ready: {self.stack.readiness()}\n{self.report()}")

    async def stop(self) -> None:
        if hasattr(self, "watcher"):
            await self.watcher.stop()
        if hasattr(self, "stack"):
            await self.stack.stop()
        if self.tansu is not None:
            await asyncio.to_thread(self.tansu.stop)
        for name in ("site", "mailbox", "receiver"):
            if hasattr(self, name):
                getattr(self, name).stop()
        if hasattr(self, "_log"):
            self._log.close()

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def report(self, lines: int = 40) -> str:
        """What a failed wait prints. CI shows only the tail of its output, so the tail is made of
        what explains a stall: the supervisor's notes (starts, readiness), the services' last lines
        without the client libraries' connection noise, and what the watcher saw per topic."""
        all_lines = self.logs().splitlines()
        notes = [ln for ln in all_lines if ln.startswith("up ")]
        told = [ln for ln in all_lines if not ln.startswith("up ") and not _NOISE.search(ln)]
        watcher = getattr(self, "watcher", None)
        seen = {t: len(events) for t, events in watcher.events.items()} if watcher else {}
        dead = len(watcher.dead_letters) if watcher else 0
        return "\n".join(
            ["--- supervisor", *notes[-15:], f"--- services (last {lines}, connection noise left out)"]
            + [ln[:240] for ln in told[-lines:]]
            + [f"--- watcher saw: {seen}; dead letters: {dead}"]
        )

    # ------------------------------------------------------------------ driving
    async def restart_broker(self, down_s: float, *, kill: bool = True) -> None:
        """Kill (or stop) the S3-backed broker, wait ``down_s``, start it again on the same port."""
        assert self.tansu is not None, "only a pipeline with broker_bucket owns its broker"
        await asyncio.to_thread(self.tansu.kill if kill else self.tansu.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.tansu.start)  # same TansuBroker object: same port, same bucket

    async def fetch(self, document_ids: list[str] | None = None) -> set[str]:
        """Publish a fetch request for each document (all by default); returns the request ids."""
        assert self.stack.bootstrap
        self.step += 1
        docs = [
            d for d in self.site.documents_list() if document_ids is None or d.document_id in document_ids
        ]
        requests = [fetch_request(self.site, d, step=self.step, run=self.run) for d in docs]
        await publish_requests(self.stack.bootstrap, requests)
        return {r.event_id for r in requests}

    async def wait_captured(self, request_ids: set[str], within_s: float = 60) -> None:
        ok = await self.watcher.wait_for(
            lambda w: request_ids <= {c.fetch_request_id for c in w.captures}, within_s
        )
        if not ok:
            got = {c.fetch_request_id for c in self.watcher.captures}
            missing = f"{len(request_ids - got)} of {len(request_ids)}"
            raise AssertionError(f"captures missing for {missing} requests\n{self.report()}")

    async def wait_first_versions(self, document_ids: set[str], within_s: float = 60) -> None:
        def seen() -> bool:
            firsts = {c.document_id for c in self.watcher.changes if c.kind.value == "first_version"}
            return firsts >= document_ids

        await self.wait_for(seen, within_s, "first versions")

    async def wait_for(self, predicate: Any, within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.report()}")
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------------ observing
    def substantive_changes(self, platform: str | None = None) -> list[Any]:
        return [
            c
            for c in self.watcher.changes
            if c.substantive
            and c.kind.value not in ("first_version", "unavailable", "restored")
            and (platform is None or c.platform == platform)
        ]

    def emails_to(self, address: str) -> list[Any]:
        return self.mailbox.for_recipient(address)

    def distinct_emails_to(self, address: str) -> set[str]:
        """Message-IDs of the e-mails to ``address`` (a duplicate delivery repeats one)."""
        return {m.header("Message-ID") for m in self.emails_to(address)}

    def webhooks_to(self, endpoint: str) -> list[Any]:
        return self.receiver.received(endpoint)

    def dead_letters(self) -> Counter[str]:
        return Counter(d.topic for d in self.watcher.dead_letters)


async def make_database(name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def make_bucket(s3: Any, name: str) -> Any:
    from minio import Minio

    Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False).make_bucket(name)

    @dataclass
    class Bucket:
        endpoint: str
        access_key: str
        secret_key: str
        bucket: str

    return Bucket(s3.endpoint, s3.access_key, s3.secret_key, name)


def topic_short(topic: str) -> str:
    return topic.split(".")[1]


PIPELINE_INPUTS = [T.FETCH_REQUESTS, T.CAPTURES, T.CHANGES, T.CLASSIFIED]


class TcpProxy:
    """A loopback TCP proxy to a dependency (S3, PostgreSQL) that a test can cut and restore.

    ``cut()`` closes every open connection and stops listening (connections are refused,
    as when the server is down); ``restore()`` listens again on the same port. The real
    server keeps running: other suites sharing it are not disturbed.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        await self.cut()
