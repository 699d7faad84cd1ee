"""``policywatch demo``: the whole product on real policy histories, offline, in a few minutes.

1. a local website on 127.0.0.1 publishes real recorded histories (:mod:`.site`), a
   local SMTP mailbox and a webhook receiver listen (:mod:`.mailbox`,
   :mod:`.webhook_receiver`);
2. a demo catalog points at the site and demo subscribers of every tier are written
   into the notifier's database (:mod:`.setup`);
3. the stack starts on embedded defaults (:class:`policywatch.stack.Stack`: Tansu,
   local storage, SQLite) with the four real services as separate processes;
4. step by step the site moves every document to its next recorded version and the demo
   asks the fetcher to capture every document; the real fetcher (Chromium for the
   JavaScript-rendered one), differ, classifier and notifier do the rest;
5. everything is counted from the topics, the mailbox and the receiver
   (:mod:`.watch`, :mod:`.summary`) and a summary table closes the run.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from policywatch_shared import topics as T
from policywatch_shared.events import FetchRequest, dump_event, event_headers
from rich.console import Console

from policywatch.demo.corpus import CorpusDocument, demo_documents
from policywatch.demo.mailbox import Mailbox
from policywatch.demo.setup import (
    DemoSubscriber,
    create_subscribers,
    demo_subscribers,
    fetch_request,
    write_catalog,
)
from policywatch.demo.site import DemoSite
from policywatch.demo.summary import DemoSummary, render, summarise
from policywatch.demo.watch import TopicWatcher
from policywatch.demo.webhook_receiver import WebhookReceiver
from policywatch.stack import SERVICES, Stack
from policywatch.supervisor import LogSink

MARKER = ".policywatch-demo"


@dataclass
class DemoOptions:
    data_dir: Path = Path("var/demo")
    max_versions: int = 5
    services: list[str] = field(default_factory=lambda: list(SERVICES))
    ready_timeout_s: float = 180.0
    step_timeout_s: float = 90.0
    settle_s: float = 2.5  # a step is done when nothing new flowed for this long
    final_timeout_s: float = 60.0
    show_logs: bool = False


@dataclass
class DemoResult:
    summary: DemoSummary | None
    ok: bool
    problems: list[str] = field(default_factory=list)


def prepare_dir(path: Path) -> None:
    """A fresh demo directory (only ever deletes a directory an earlier demo created)."""
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise SystemExit(f"{path} exists and was not created by the demo; choose another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("created by policywatch demo; deleted by the next run\n")


def demo_env(opts: DemoOptions, catalog_dir: Path, mailbox: Mailbox) -> dict[str, str]:
    """Service settings for a fast, local demo (loopback site, no schedule: the demo sets the pace)."""
    return {
        "LOG_LEVEL": "INFO",
        "MESSAGE_RETRY_BACKOFF_S": "0.2",
        "FETCHER_CATALOG_DIR": str(catalog_dir.absolute()),
        "FETCHER_ALLOW_PRIVATE": "true",
        "FETCHER_SCHEDULER_ENABLED": "false",
        "FETCHER_PER_HOST_DELAY_S": "0",
        "FETCHER_PER_HOST_CONCURRENCY": "8",
        "FETCHER_CONCURRENCY": "8",
        "FETCHER_RETRY_BASE_S": "0.2",
        "FETCHER_BROWSER_SETTLE_MS": "200",
        "FETCHER_BROWSER_PAGES": "2",
        "NOTIFIER_SMTP_HOST": mailbox.host,
        "NOTIFIER_SMTP_PORT": str(mailbox.port),
        "NOTIFIER_DISPATCH_INTERVAL_S": "0.2",
        "NOTIFIER_RETRY_BASE_S": "1",
        "NOTIFIER_RETRY_MAX_S": "5",
    }


def free_ports(names: list[str]) -> dict[str, int]:
    from policywatch_shared.net import free_port

    return {n: free_port() for n in names}


async def publish_requests(
    bootstrap: str, requests: list[FetchRequest], *, producer: AIOKafkaProducer | None = None
) -> None:
    """Publish fetch requests (acknowledged); on ``producer`` if given, else on a fresh one."""
    own = producer is None
    if producer is None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
        await producer.start()
    try:
        futures = [
            await producer.send(
                T.FETCH_REQUESTS,
                value=dump_event(r),
                key=r.key,
                headers=[(k, str(v).encode()) for k, v in event_headers(r).items()],
            )
            for r in requests
        ]
        await asyncio.gather(*futures)
    finally:
        if own:
            await producer.stop()


class Demo:
    def __init__(self, opts: DemoOptions, console: Console) -> None:
        self.opts = opts
        self.console = console
        self.problems: list[str] = []
        self.run_id = secrets.token_hex(4)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    async def run(self) -> DemoResult:
        opts = self.opts
        t0 = time.monotonic()
        docs, source = demo_documents(opts.max_versions)
        if not docs:
            return DemoResult(None, False, [f"no documents found in {source}"])
        prepare_dir(opts.data_dir)
        data = opts.data_dir
        platforms = {d.platform for d in docs}
        self.say(
            f"[bold]policywatch demo[/bold]: {len(docs)} documents of {len(platforms)} platforms, "
            f"{sum(len(d.versions) for d in docs)} recorded versions, from {source}"
        )
        types = {d.document_id: d.document_type for d in docs}
        site = DemoSite(docs).start()
        mailbox = Mailbox(data / "mail").start()
        receiver = WebhookReceiver(data / "webhooks").start()
        log_file = (data / "services.log").open("w", encoding="utf-8")
        stack: Stack | None = None
        try:
            write_catalog(site, data / "catalog", types=types)
            self.say(f"site        {site.base_url} (one JavaScript-rendered document: Chromium needed)")
            self.say(f"mailbox     smtp://{mailbox.host}:{mailbox.port} → {data / 'mail' / 'new'}")
            self.say(f"webhooks    {receiver.base_url}/hooks/<name> → {data / 'webhooks'}")
            db_url = f"sqlite+aiosqlite:///{(data / 'policywatch.db').absolute()}"
            subs = await create_subscribers(
                db_url, demo_subscribers([d.document_id for d in docs]), lambda s: receiver.url(s.endpoint)
            )
            for sub in subs:
                if sub.webhook:
                    receiver.register(sub.endpoint, sub.signing_secret)
            self.say("subscribers " + ", ".join(f"{s.name} ({s.tier})" for s in subs))
            stack = Stack(
                services=list(opts.services),
                data_dir=data,
                env={**demo_env(opts, data / "catalog", mailbox), "DATABASE_URL": db_url},
                ports=free_ports(list(opts.services)),
                sink=LogSink(log_file, colour=False) if not opts.show_logs else LogSink(),
                backoff_initial=0.5,
            )
            self.say(f"starting the stack (service logs: {data / 'services.log'}) …")
            await stack.start()
            if stack.skipped:
                self.problems.append(f"services not installed: {', '.join(stack.skipped)}")
            assert stack.bootstrap is not None
            async with TopicWatcher(stack.bootstrap) as watcher:
                if not await self._wait_ready(stack):
                    return DemoResult(None, False, self.problems)
                await self._steps(site, docs, types, stack.bootstrap, watcher)
                await self._drain(watcher, mailbox, receiver)
                summary = summarise(
                    watcher,
                    documents=len(docs),
                    platforms=len(platforms),
                    source=source,
                    versions_published=sum(d.published for d in site.documents_list()),
                    emails=mailbox.count(),
                    webhooks=receiver.count(),
                    duration_s=time.monotonic() - t0,
                    mail_dir=data / "mail",
                    webhook_dir=data / "webhooks",
                    document_ids={d.document_id for d in docs},
                )
                services = stack.supervisor.services if stack.supervisor else {}
                restarted = {n: s for n, s in services.items() if s.starts > 1}
                if restarted:
                    # Where to look in services.log: exit 3 = a port uvicorn could not bind, 1 = an error.
                    self.problems.append(
                        "restarted: "
                        + ", ".join(
                            f"{n} ×{s.starts - 1} (exit codes {', '.join(map(str, s.exits))})"
                            for n, s in restarted.items()
                        )
                    )
            self._check(summary, subs)
            (data / "summary.json").write_text(
                json.dumps({**summary.as_dict(), "problems": self.problems}, indent=2)
            )
            render(summary, self.console)
            return DemoResult(summary, not self._fatal(summary), self.problems)
        finally:
            if stack is not None:
                await stack.stop()
            site.stop()
            mailbox.stop()
            receiver.stop()
            log_file.close()

    async def _wait_ready(self, stack: Stack) -> bool:
        assert stack.supervisor is not None
        deadline = time.monotonic() + self.opts.ready_timeout_s
        announced: set[str] = set()
        while time.monotonic() < deadline:
            for name, state in stack.supervisor.services.items():
                if state.ready and name not in announced:
                    announced.add(name)
                    self.say(f"  [green]✓[/green] {name} ready ({state.first_ready_after_s or 0:.1f} s)")
            if len(announced) == len(stack.supervisor.services):
                return True
            await asyncio.sleep(0.2)
        late = sorted(set(stack.supervisor.services) - announced)
        self.problems.append(f"not ready within {self.opts.ready_timeout_s:.0f}s: {', '.join(late)}")
        self.say(f"[red]not ready: {', '.join(late)}[/red] (see {self.opts.data_dir / 'services.log'})")
        return False

    async def _steps(
        self,
        site: DemoSite,
        docs: list[CorpusDocument],
        types: dict[str, str],
        bootstrap: str,
        watcher: TopicWatcher,
    ) -> None:
        steps = max(len(d.versions) for d in docs)
        for step in range(steps):
            t = time.monotonic()
            if step == 0:
                published = len(docs)
            else:
                moved = site.advance()
                published = sum(1 for m in moved.values() if m["changed"])
            requests = [
                fetch_request(site, d, step=step, document_type=types[d.document_id], run=self.run_id)
                for d in site.documents_list()
            ]
            ids = {r.event_id for r in requests}
            before = {k: len(watcher.events.get(k, {})) for k in (T.CAPTURES, T.CHANGES, T.CLASSIFIED)}
            await publish_requests(bootstrap, requests)
            got = await watcher.wait_for(
                lambda w, ids=ids: ids <= {c.fetch_request_id for c in w.captures}, self.opts.step_timeout_s
            )
            if not got:
                missing = len(ids - {c.fetch_request_id for c in watcher.captures})
                self.problems.append(f"step {step + 1}: {missing} captures missing after timeout")
            await watcher.quiet(self.opts.settle_s, self.opts.step_timeout_s)
            step_caps = [c for c in watcher.captures if c.fetch_request_id in ids]
            new_changes = watcher.changes[before[T.CHANGES] :]
            kinds = Counter(c.kind.value for c in new_changes)
            alerts = len(watcher.delivered())
            self.say(
                f"step {step + 1}/{steps}: {published:>2} versions published · captures "
                + ", ".join(f"{k} {v}" for k, v in Counter(c.outcome.value for c in step_caps).most_common())
                + " · changes "
                + (", ".join(f"{k} {v}" for k, v in kinds.most_common()) or "none")
                + f" · alerts so far {alerts} · {time.monotonic() - t:.1f} s"
            )

    async def _drain(self, watcher: TopicWatcher, mailbox: Mailbox, receiver: WebhookReceiver) -> None:
        """Wait for the notifier's outbox: deliveries keep coming until it is drained."""
        deadline = time.monotonic() + self.opts.final_timeout_s
        last = (-1, -1, -1)
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            now = (mailbox.count(), receiver.count(), len(watcher.deliveries))
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= max(3.0, self.opts.settle_s):
                return
            await asyncio.sleep(0.2)

    def _check(self, summary: DemoSummary, subs: list[DemoSubscriber]) -> None:
        sent_alerts = sum(summary.alerts.values())
        if summary.substantive and not sent_alerts:
            self.problems.append("substantive changes were detected but no alert was delivered")
        if summary.failed_deliveries:
            self.problems.append(f"{summary.failed_deliveries} deliveries failed")

    def _fatal(self, summary: DemoSummary) -> bool:
        return (
            sum(summary.captures.values()) == 0
            or any("captures missing" in p or "not ready" in p for p in self.problems)
            or any("not installed" in p for p in self.problems)
        )


async def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    return await Demo(opts, console or Console()).run()
