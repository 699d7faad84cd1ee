"""Load and latency of the whole running stack (issue 7): fetcher reading from the local site.

    .venv/bin/python bench/system_load.py                  # 1,000 documents, 20 changes/s (~5 min)
    .venv/bin/python bench/system_load.py --documents 100  # a quicker look

What it does:

1. starts the stack like ``policywatch up`` (embedded Tansu, local storage, SQLite, the four
   services as separate processes), the demo site, an SMTP mailbox and a webhook receiver;
2. publishes ``--documents`` documents on the site — real policy texts from the shared corpus
   (cycled), each under its own id, spread over 20 platforms — and one professional
   subscriber (webhook + e-mail) subscribed to all of them;
3. phase 1 (warm-up, not timed): every document is captured once (first versions);
4. phase 2 (measured): each document gets one new version with a substantive clause, at
   ``--rate`` changes per second; for each, a fetch request is published right away;
5. prints throughput at each stage, end-to-end latency capture → delivered alert
   (p50/p95/p99, from the events' ``produced_at``), consumer lag over time, peak resident
   memory per service (the browser counted apart), and the ratio of the latency to a
   baseline measured in the same run: one raw produce→consume hop on the same broker.

Goals on a 2-core machine: capture→alert p95 < 2 s at 20 changes/s; no service over
300 MB resident except the browser. The default is 1,000 documents (about 5 minutes, most
of it the warm-up); ``--documents 100`` takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from policywatch_shared import topics as T
from policywatch_shared.net import free_port

from policywatch.demo.corpus import BUNDLED, corpus_path, iter_corpus
from policywatch.demo.mailbox import Mailbox
from policywatch.demo.run import publish_requests
from policywatch.demo.setup import DemoSubscriber, create_subscribers, fetch_request, write_catalog
from policywatch.demo.site import DemoSite, SiteDocument, render_markdown
from policywatch.demo.watch import TopicWatcher
from policywatch.demo.webhook_receiver import WebhookReceiver
from policywatch.ops import consumer_lags
from policywatch.stack import SERVICES, Stack
from policywatch.supervisor import LogSink

PLATFORMS = 20
MAX_CHARS = 60_000
CLAUSE = (
    "\n\n## Sharing with partners (update {n})\n\nWe share your personal information, including your "
    "precise location and browsing history, with advertising partners and data brokers, who may sell it.\n"
)


def texts(limit: int) -> list[str]:
    """Real policy texts (first recorded version of each corpus document), capped in size."""
    path = corpus_path() if corpus_path().exists() else BUNDLED
    out = []
    for doc in iter_corpus(path):
        if doc.versions:
            out.append(doc.versions[0].text[:MAX_CHARS])
        if len(out) >= limit:
            break
    return out


def distinct(text: str, copy: int) -> str:
    """The text with every paragraph, list item and heading marked as copy ``copy`` (copy 0 is
    the real text): documents cycled from 200 texts would otherwise share blocks, which
    flatters every per-block cache in the services."""
    if copy == 0:
        return text
    mark = f" (copy {copy})"
    return "\n".join(
        line + mark if line.strip() and not line.lstrip().startswith("|") else line
        for line in text.split("\n")
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


async def broker_hop_ms(bootstrap: str, n: int = 200) -> float:
    """Baseline: p50 of one raw produce→consume hop on the same broker (ms)."""
    topic = "policywatch.bench-hop.v1"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=20
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    await producer.send_and_wait(topic, b"warm")  # creates the topic
    await consumer.start()
    await asyncio.sleep(1.0)
    lat: list[float] = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            await producer.send_and_wait(topic, b"x")
            await asyncio.wait_for(consumer.getone(), 10)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    return statistics.median(lat)


async def wait_drained(bootstrap: str, groups: list[str], within_s: float) -> bool:
    """Wait until no consumer group of the pipeline lags (bounded)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            lags = await asyncio.wait_for(consumer_lags(bootstrap, groups), 10)
            if lags and sum(lag.lag for lag in lags) == 0:
                await asyncio.sleep(2)  # let the notifier's outbox send what it queued
                return True
        except Exception:
            pass
        await asyncio.sleep(1)
    return False


def _cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


class Sampler:
    """Samples resident memory per service (browser apart) and consumer lag, in the background."""

    def __init__(self, stack: Stack, groups: dict[str, str]) -> None:
        self.stack = stack
        self.groups = groups
        self.peak_rss: Counter[str] = Counter()
        self.peak_browser = 0
        self.lag: list[tuple[float, dict[str, int]]] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu0: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}  # CPU seconds per process while measured

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service (browser apart), the broker and this process
        (which also serves the site and watches every topic)."""
        out: dict[str, float] = {}
        procs: dict[str, int | None] = {n: s.pid for n, s in self.stack.supervisor.services.items()}  # type: ignore[union-attr]
        broker = getattr(self.stack.broker, "process", None)
        procs["broker"] = broker.pid if broker is not None else None
        for name, pid in procs.items():
            if pid is None:
                continue
            try:
                proc = psutil.Process(pid)
                out[name] = _cpu_seconds(proc)
                if name == "fetcher":  # Chromium runs as the fetcher's children
                    out["browser"] = sum(_cpu_seconds(c) for c in proc.children(recursive=True))
            except psutil.Error:
                continue
        out["bench+site"] = _cpu_seconds(psutil.Process())
        return out

    def start(self) -> None:
        self._cpu0 = self._cpu()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        end = self._cpu()
        self.cpu_s = {n: round(end[n] - self._cpu0.get(n, 0.0), 1) for n in end}
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        t0 = time.monotonic()
        next_lag = 0.0
        rounds = -1
        while True:
            rounds += 1
            assert self.stack.supervisor is not None
            for name, state in self.stack.supervisor.services.items():
                if state.pid is None:
                    continue
                try:
                    proc = psutil.Process(state.pid)
                    own = proc.memory_info().rss
                    browser = 0
                    # Listing children scans all of /proc: every 2 s, not every sample.
                    children = proc.children(recursive=True) if rounds % 4 == 0 else []
                    for child in children:
                        try:
                            browser += child.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    continue
                self.peak_rss[name] = max(self.peak_rss[name], own)
                self.peak_browser = max(self.peak_browser, browser)
            now = time.monotonic() - t0
            if now >= next_lag and self.stack.bootstrap:
                next_lag = now + 2.0
                try:
                    lags = await asyncio.wait_for(
                        consumer_lags(self.stack.bootstrap, list(self.groups.values())), 5
                    )
                    by_group: dict[str, int] = defaultdict(int)
                    for lag in lags:
                        by_group[lag.group] += lag.lag
                    self.lag.append((now, {n: by_group.get(g, 0) for n, g in self.groups.items()}))
                except Exception:
                    pass
            await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="pw-bench-"))
    base = texts(min(args.documents, 200))
    docs = []
    for i in range(args.documents):
        text = base[i % len(base)]
        if args.distinct:
            text = distinct(text, i // len(base))
        doc_id = f"bench-p{i % PLATFORMS:02d}/doc-{i:05d}"
        docs.append(SiteDocument(doc_id, f"Bench document {i}", f"Bench {i % PLATFORMS}", [text]))
    site = DemoSite(docs).start()
    mailbox = Mailbox(tmp / "mail").start()
    receiver = WebhookReceiver(tmp / "hooks").start()
    write_catalog(site, tmp / "catalog")
    db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    sub = DemoSubscriber(
        "Bench", "professional", "bench@bench.policywatch.test", True,
        platforms=sorted({d.document_id.split('/')[0] for d in docs}),
    )  # fmt: skip
    (sub,) = await create_subscribers(db_url, [sub], lambda s: receiver.url(s.endpoint))
    receiver.register(sub.endpoint, sub.signing_secret)
    log = (tmp / "services.log").open("w")
    stack = Stack(
        data_dir=tmp / "var",
        env_broker=False,
        env={
            "DATABASE_URL": db_url,
            "LOG_LEVEL": "WARNING",
            "FETCHER_CATALOG_DIR": str(tmp / "catalog"),
            "FETCHER_ALLOW_PRIVATE": "true",
            "FETCHER_SCHEDULER_ENABLED": "false",
            "FETCHER_PER_HOST_DELAY_S": "0",
            "FETCHER_PER_HOST_CONCURRENCY": "16",
            "FETCHER_CONCURRENCY": "16",
            "NOTIFIER_SMTP_HOST": mailbox.host,
            "NOTIFIER_SMTP_PORT": str(mailbox.port),
            "NOTIFIER_DISPATCH_INTERVAL_S": "0.05",
        },
        ports={n: free_port() for n in SERVICES},
        sink=LogSink(log, colour=False),
    )
    result: dict[str, Any] = {"documents": args.documents, "rate": args.rate, "distinct": args.distinct}
    try:
        await stack.start()
        assert stack.bootstrap and stack.supervisor
        print(f"stack starting (logs: {tmp / 'services.log'}) …", file=sys.stderr)
        if not await stack.wait_ready(240):
            raise SystemExit(f"stack not ready: {stack.readiness()}")
        hop = await broker_hop_ms(stack.bootstrap)
        from policywatch.ops import service_endpoint

        groups = {n: service_endpoint(n)[1] for n in stack.services}
        async with TopicWatcher(stack.bootstrap) as watcher:
            # Phase 1: first versions (warm-up).
            t = time.monotonic()
            reqs = [fetch_request(site, d, step=0, run="bench") for d in site.documents_list()]
            await publish_requests(stack.bootstrap, reqs)
            ok = await watcher.wait_for(
                lambda w: (
                    len({c.document_id for c in w.changes if c.kind.value == "first_version"})
                    >= args.documents
                ),
                args.timeout,
            )
            warm = time.monotonic() - t
            print(
                f"warm-up: {args.documents} first versions in {warm:.1f} s (complete: {ok})", file=sys.stderr
            )
            if not ok:
                firsts = {c.document_id for c in watcher.changes if c.kind.value == "first_version"}
                lacking = sorted({d.document_id for d in docs} - firsts)
                kinds = Counter(c.kind.value for c in watcher.changes if c.document_id in set(lacking))
                print(f"  without a first version: {lacking[:10]} (their change kinds: {dict(kinds)}; "
                      f"dead letters: {len(watcher.dead_letters)})", file=sys.stderr)  # fmt: skip
            # … and drained through every stage (the classifier reads whole first versions).
            drained = await wait_drained(stack.bootstrap, list(groups.values()), args.timeout)
            warm = time.monotonic() - t
            print(f"warm-up drained in {warm:.1f} s (complete: {drained})", file=sys.stderr)
            # Phase 2: one substantive change per document at --rate per second. The site renders
            # each new version beforehand: a real site's rendering is not on this machine.
            new_texts = [d.versions[0] + CLAUSE.format(n=i) for i, d in enumerate(site.documents_list())]
            for text in new_texts:
                render_markdown(text)
            sampler = Sampler(stack, groups)
            sampler.start()
            mark = {topic: len(watcher.events.get(topic, {})) for topic in T.TOPIC_NAMES}
            # One producer for the whole phase: a fresh one per request cost the bench more CPU.
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=False
            )
            await producer.start()
            t0 = time.monotonic()
            interval = 1.0 / args.rate
            try:
                for i, d in enumerate(site.documents_list()):
                    due = t0 + i * interval
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    site.append_version(d.document_id, new_texts[i])
                    req = fetch_request(site, d, step=1, run="bench")
                    await publish_requests(stack.bootstrap, [req], producer=producer)
            finally:
                await producer.stop()
            sent_for = time.monotonic() - t0
            done = await watcher.wait_for(
                lambda w: len([x for x in w.delivered() if x.channel == "webhook"]) >= args.documents,
                args.timeout,
            )
            elapsed = time.monotonic() - t0
            await sampler.stop()
            result.update(_report(watcher, mark, t0, elapsed, sent_for, hop, sampler, done))
            result["warmup_s"] = round(warm, 1)
    finally:
        await stack.stop()
        site.stop()
        mailbox.stop()
        receiver.stop()
        log.close()
    return result


def _report(
    watcher: TopicWatcher,
    mark: dict[str, int],
    t0: float,
    elapsed: float,
    sent_for: float,
    hop_ms: float,
    sampler: Sampler,
    complete: bool,
) -> dict[str, Any]:
    stages: dict[str, dict[str, float]] = {}
    wall0 = time.time() - (time.monotonic() - t0)
    for topic in (T.FETCH_REQUESTS, T.CAPTURES, T.CHANGES, T.CLASSIFIED, T.DELIVERIES):
        seen = list(watcher.events.get(topic, {}).values())[mark.get(topic, 0) :]
        if not seen:
            continue
        last = max(s.seen_at for s in seen)
        stages[topic.split(".")[1]] = {
            "events": len(seen),
            "per_s": round(len(seen) / max(0.001, last - wall0), 1),
            "last_at_s": round(last - wall0, 1),
        }
    captures = {c.event_id: c for c in watcher.captures}
    changes = {c.event_id: c for c in watcher.changes}
    lat = []
    for d in watcher.delivered():
        if d.channel != "webhook":
            continue
        change = changes.get(d.change_event_id or "")
        cap = captures.get(change.capture_id) if change else None
        if cap is not None and change is not None and change.kind.value != "first_version":
            lat.append((d.produced_at - cap.produced_at).total_seconds())
    lat_ms = [x * 1000 for x in lat]
    # Where the time goes: produced_at of each stage's event, per change (p50, ms).
    classified_by_change = {c.change.event_id: c for c in watcher.classified}
    hops: dict[str, list[float]] = defaultdict(list)
    for d in watcher.delivered():
        change = changes.get(d.change_event_id or "")
        if d.channel != "webhook" or change is None or change.kind.value == "first_version":
            continue
        cap, cls = captures.get(change.capture_id), classified_by_change.get(change.event_id)
        if cap is None or cls is None:
            continue
        hops["capture→change"].append((change.produced_at - cap.produced_at).total_seconds() * 1000)
        hops["change→classified"].append((cls.produced_at - change.produced_at).total_seconds() * 1000)
        hops["classified→delivered"].append((d.produced_at - cls.produced_at).total_seconds() * 1000)
    p50, p95, p99 = (percentile(lat_ms, q) for q in (50, 95, 99))
    # Documents whose measured change never showed up (a loss, or the watcher missing one).
    measured = list(watcher.events.get(T.FETCH_REQUESTS, {}).values())[mark.get(T.FETCH_REQUESTS, 0) :]
    requested = {s.event.document_id for s in measured}
    changed = {c.document_id for c in watcher.changes if c.kind.value != "first_version"}
    return {
        "complete": complete,
        "without_change": sorted(requested - changed)[:10],
        "changes_published_in_s": round(sent_for, 1),
        "elapsed_s": round(elapsed, 1),
        "stages": stages,
        "latency_ms": {"n": len(lat_ms), "p50": round(p50), "p95": round(p95), "p99": round(p99)},
        "stage_latency_p50_ms": {k: round(percentile(v, 50)) for k, v in hops.items()},
        "baseline_hop_ms": round(hop_ms, 1),
        "latency_p50_over_4_hops": round(p50 / (4 * hop_ms), 1) if hop_ms else None,
        "peak_rss_mb": {n: round(v / 2**20) for n, v in sampler.peak_rss.items()},
        "peak_browser_rss_mb": round(sampler.peak_browser / 2**20),
        "cpu_s": sampler.cpu_s,
        "lag_samples": [(round(t, 1), lag) for t, lag in sampler.lag],
        "max_lag": {n: max((lag.get(n, 0) for _, lag in sampler.lag), default=0) for n in sampler.groups},
    }


def print_report(r: dict[str, Any]) -> None:
    texts = "every block distinct" if r.get("distinct") else "corpus texts cycled"
    print(f"\n# policywatch system load: {r['documents']} documents ({texts}), {r['rate']} changes/s")
    print(f"changes published in {r['changes_published_in_s']} s; all alerts by {r['elapsed_s']} s "
          f"(complete: {r['complete']}); warm-up {r.get('warmup_s')} s")  # fmt: skip
    if r["without_change"]:
        print(f"documents without a change event: {r['without_change']}")
    print("\nstage            events   per s   last at (s)")
    for name, s in r["stages"].items():
        print(f"{name:15} {s['events']:>7} {s['per_s']:>7} {s['last_at_s']:>12}")
    lat = r["latency_ms"]
    print(f"\ncapture → delivered alert (n={lat['n']}): p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
          f"p99 {lat['p99']} ms  (goal p95 < 2000 ms)")  # fmt: skip
    print("  per stage (p50 ms): " + ", ".join(f"{k} {v}" for k, v in r["stage_latency_p50_ms"].items()))
    print(f"baseline: one raw broker hop p50 {r['baseline_hop_ms']} ms; "
          f"latency p50 = {r['latency_p50_over_4_hops']}× four hops")  # fmt: skip
    print("\npeak resident memory (MB, goal < 300): "
          + ", ".join(f"{n} {v}" for n, v in r["peak_rss_mb"].items())
          + f"; browser {r['peak_browser_rss_mb']}")  # fmt: skip
    print(f"CPU seconds while measured ({r['elapsed_s']} s wall, 2 cores): "
          + ", ".join(f"{n} {v}" for n, v in r["cpu_s"].items()))  # fmt: skip
    print("max consumer lag: " + ", ".join(f"{n} {v}" for n, v in r["max_lag"].items()))
    print("lag over time (s: " + ", ".join(r["max_lag"]) + "):")
    for t, lag in r["lag_samples"]:
        print(f"  {t:6.1f}  " + "  ".join(f"{lag.get(n, 0):>5}" for n in r["max_lag"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second in phase 2")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound of each wait (s)")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="make every document's text differ in every block (else the corpus texts repeat)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ns = parser.parse_args()
    report = asyncio.run(main(ns))
    print_report(report)
    if ns.json:
        ns.json.write_text(json.dumps(report, indent=2))
