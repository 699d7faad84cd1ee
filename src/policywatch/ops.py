"""Operator verbs: ``policywatch status`` and ``policywatch dlq list|replay TOPIC``.

Everything here reads the broker itself (the source of truth), not logs:

* service readiness from each service's ``/readyz``; consumer lag per group = end
  offset − committed offset, summed over the partitions of each topic the group
  has committed on;
* per document: folded from the ``captures`` and ``changes`` topics (last successful
  capture, ok / unavailable / failing since …, last change);
* dead letters: the ``<topic>.dlq`` topics, with the error headers the retry-then-DLQ
  middleware adds. ``replay`` re-publishes each dead letter unchanged (same key, same
  value, original headers) to its original topic; consumers de-duplicate by
  ``event_id``, and the replay position is committed under the group
  ``policywatch-dlq-replay`` so running it twice does not re-send.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from policywatch_shared import topics as T
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import httpx
    from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

# aiokafka and httpx are imported where they are used, so `policywatch --help` stays fast.

#: Consumer group that records how far ``dlq replay`` went (per DLQ partition).
REPLAY_GROUP = "policywatch-dlq-replay"
#: Headers describing the failure, added by the DLQ middleware; not re-published on replay.
ERROR_HEADER_PREFIXES = ("dlq", "x-dlq", "error", "x-error", "exception", "x-exception", "original-")
OK_OUTCOMES = {"ok", "not_modified"}

#: service -> (settings class, default port, group, input topic); ports/groups are read
#: from the settings class when the service is installed (environment overrides apply).
SERVICES: dict[str, tuple[str, int, str, str]] = {
    "fetcher": (
        "policywatch_fetcher.settings:FetcherSettings",
        8001,
        "policywatch-fetcher",
        T.FETCH_REQUESTS,
    ),
    "differ": ("policywatch_differ.settings:DifferSettings", 8002, "policywatch-differ", T.CAPTURES),
    "classifier": (
        "policywatch_classifier.settings:ClassifierSettings",
        8003,
        "policywatch-classifier",
        T.CHANGES,
    ),
    "notifier": (
        "policywatch_notifier.settings:NotifierSettings",
        8004,
        "policywatch-notifier",
        T.CLASSIFIED,
    ),
}


def default_bootstrap() -> str:
    from policywatch_shared.settings import ServiceSettings

    return ServiceSettings().kafka_bootstrap_servers


def service_endpoint(name: str) -> tuple[int, str]:
    """(http port, consumer group) of a service, from its settings when it is installed."""
    path, port, group, _ = SERVICES[name]
    module, _, cls = path.partition(":")
    try:
        settings = getattr(importlib.import_module(module), cls)()
        return int(settings.http_port), str(settings.group_id)
    except Exception:  # not installed or unreadable settings: documented defaults
        return port, group


def resolve_topic(name: str) -> str:
    """Accept ``captures``, ``policywatch.captures.v1`` or its ``.dlq``; return the main topic."""
    name = name.removesuffix(T.DLQ_SUFFIX)
    if name in T.TOPIC_NAMES:
        return name
    for candidate in T.TOPIC_NAMES:
        if candidate.split(".")[1] == name and not candidate.endswith(T.DLQ_SUFFIX):
            return candidate
    raise typer.BadParameter(
        f"unknown topic {name!r}; one of: "
        + ", ".join(t.split(".")[1] for t in T.TOPIC_NAMES if not t.endswith(T.DLQ_SUFFIX))
    )


# --------------------------------------------------------------------------- broker reads


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    from aiokafka import TopicPartition

    parts = consumer.partitions_for_topic(topic)
    if parts is None:
        await consumer.topics()  # refresh metadata
        parts = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


async def true_end_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], *, within_s: float = 10.0
) -> dict[TopicPartition, int]:
    """End offsets from a fetch's high watermark (``consumer`` gets assigned ``tps``).

    Tansu's ListOffsets(latest) answers the base offset of the last record batch + 1,
    which undercounts after a multi-record batch; the high watermark of a fetch
    response is right. Seeking just before the reported end keeps that fetch small.
    """
    reported = await consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(0, reported[tp] - 1))
    deadline = time.monotonic() + within_s
    while any(consumer.highwater(tp) is None for tp in tps):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no fetch answer for {len(tps)} partitions within {within_s:.0f}s")
        await consumer.getmany(timeout_ms=100, max_records=1)
    return {tp: max(reported[tp], consumer.highwater(tp) or 0) for tp in tps}


async def read_topic(
    bootstrap: str, topic: str, *, within_s: float = 20.0, start: dict[TopicPartition, int] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning (or ``start``) to its current end, bounded in time."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        tps = await _partitions(consumer, topic)
        if not tps:
            return out
        ends = await true_end_offsets(consumer, tps)
        begins = await consumer.beginning_offsets(tps)
        first = {tp: max(begins[tp], (start or {}).get(tp, 0)) for tp in tps}
        pending = {tp: ends[tp] for tp in tps if ends[tp] > first[tp]}
        if not pending:
            return out  # and never assign(): aiokafka's stop() hangs after an empty assignment
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, first[tp])
        deadline = time.monotonic() + within_s
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=200, max_records=5000)
            for tp, records in batch.items():
                out.extend(rec for rec in records if rec.offset < pending.get(tp, -1))
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
        if pending:
            raise TimeoutError(f"reading {topic}: {len(pending)} partitions not read within {within_s:.0f}s")
    finally:
        await consumer.stop()
    return out


@dataclass
class GroupLag:
    group: str
    topic: str
    lag: int
    committed: int
    end: int


async def consumer_lags(
    bootstrap: str,
    groups: Iterable[str] | None = None,
    topics: Iterable[str] = T.TOPIC_NAMES,
    inputs: dict[str, str] | None = None,
) -> list[GroupLag]:
    """Lag of every consumer group (or ``groups``) on every topic it has committed offsets for.

    ``inputs`` (group -> its input topic): a group that has committed nothing there yet
    lags by the whole topic (it starts from the beginning).
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        names = (
            list(groups) if groups is not None else sorted(g for g, _ in await admin.list_consumer_groups())
        )
        existing = await consumer.topics()
        by_topic = {t: await _partitions(consumer, t) for t in topics if t in existing}
        all_tps = [tp for tps in by_topic.values() for tp in tps]
        ends = await true_end_offsets(consumer, all_tps) if all_tps else {}
        out = []
        for group in names:
            # Explicit partitions: Tansu answers the "all partitions" form of OffsetFetch badly.
            committed = await admin.list_consumer_group_offsets(group, partitions=all_tps) if all_tps else {}
            for topic, tps in by_topic.items():
                offs = {
                    tp: committed[tp].offset for tp in tps if tp in committed and committed[tp].offset >= 0
                }
                if not offs:
                    continue
                end = sum(ends[tp] for tp in tps)
                done = sum(offs.get(tp, 0) for tp in tps)
                out.append(GroupLag(group, topic, max(0, end - done), done, end))
        for group, topic in (inputs or {}).items():
            if topic in by_topic and not any(x.group == group and x.topic == topic for x in out):
                end = sum(ends[tp] for tp in by_topic[topic])
                out.append(GroupLag(group, topic, end, 0, end))
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def readiness(urls: dict[str, str], within_s: float = 2.0) -> dict[str, tuple[bool, str]]:
    """GET each ``/readyz``: (ready, detail)."""
    import httpx

    async def one(client: httpx.AsyncClient, url: str) -> tuple[bool, str]:
        try:
            r = await client.get(url)
        except httpx.HTTPError as exc:
            return False, f"unreachable ({type(exc).__name__})"
        detail = r.text.strip().replace("\n", " ")[:120]
        return r.status_code == 200, f"{r.status_code} {detail}"

    async with httpx.AsyncClient(timeout=within_s) as client:
        results = await asyncio.gather(*(one(client, u) for u in urls.values()))
    return dict(zip(urls, results, strict=True))


# --------------------------------------------------------------------------- documents


@dataclass
class DocumentStatus:
    document_id: str
    last_attempt: datetime | None = None
    last_outcome: str | None = None
    last_ok: datetime | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0
    unavailable_since: datetime | None = None
    unavailable_reason: str | None = None
    last_change_at: datetime | None = None
    last_change_kind: str | None = None
    last_change_summary: str | None = None
    changes: int = 0

    @property
    def state(self) -> str:
        if self.failing_since is not None:
            return "failing"
        if self.unavailable_since is not None:
            return "unavailable"
        return "ok" if self.last_ok is not None else "unknown"

    def state_text(self) -> str:
        if self.failing_since is not None:
            return (
                f"failing since {_fmt(self.failing_since)} ({self.consecutive_failures}× {self.last_outcome})"
            )
        if self.unavailable_since is not None:
            return f"unavailable since {_fmt(self.unavailable_since)}"
        return self.state


def _fmt(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


#: Change kinds that are a (new or back) version of the document text.
_VERSION_KINDS = {"first_version", "modified", "reverted", "restored", "date_only", "technical"}


def fold_documents(
    captures: Iterable[dict[str, Any]], changes: Iterable[dict[str, Any]]
) -> dict[str, DocumentStatus]:
    """Per-document state from capture and change events (already parsed JSON), any order."""
    docs: dict[str, DocumentStatus] = {}
    for cap in sorted(captures, key=lambda c: _dt(c.get("attempted_at")) or datetime.min.replace(tzinfo=UTC)):
        d = docs.setdefault(cap["document_id"], DocumentStatus(cap["document_id"]))
        at = _dt(cap.get("attempted_at"))
        d.last_attempt, d.last_outcome = at, cap.get("outcome")
        if d.last_outcome in OK_OUTCOMES:
            d.last_ok, d.failing_since, d.consecutive_failures = at, None, 0
        else:
            d.consecutive_failures += 1
            d.failing_since = d.failing_since or at
    for ch in sorted(changes, key=lambda c: _dt(c.get("detected_at")) or datetime.min.replace(tzinfo=UTC)):
        d = docs.setdefault(ch["document_id"], DocumentStatus(ch["document_id"]))
        kind, at = ch.get("kind"), _dt(ch.get("detected_at"))
        if kind == "unavailable":
            d.unavailable_since = d.unavailable_since or at
            d.unavailable_reason = ch.get("reason")
            continue
        if kind in _VERSION_KINDS:
            d.unavailable_since, d.unavailable_reason = None, None
        if kind == "restored":
            continue  # back to the same text: not a change
        d.changes += 1
        d.last_change_at, d.last_change_kind, d.last_change_summary = at, kind, ch.get("summary")
    return docs


def _parse(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        try:
            value = json.loads(rec.value or b"")
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # poison messages are the DLQ's business, not status's
        if isinstance(value, dict) and value.get("document_id"):
            out.append(value)
    return out


async def document_statuses(bootstrap: str, within_s: float = 30.0) -> dict[str, DocumentStatus]:
    captures, changes = await asyncio.gather(
        read_topic(bootstrap, T.CAPTURES, within_s=within_s),
        read_topic(bootstrap, T.CHANGES, within_s=within_s),
    )
    return fold_documents(_parse(captures), _parse(changes))


# --------------------------------------------------------------------------- dead letters


@dataclass
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def error_headers(self) -> dict[str, str]:
        return {k: _h(v) for k, v in self.headers if k.lower().startswith(ERROR_HEADER_PREFIXES)}

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.lower().startswith(ERROR_HEADER_PREFIXES)]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return _h(v)
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp.isoformat(),
            "key": _h(self.key),
            "headers": {k: _h(v) for k, v in self.headers},
            "error": self.error_headers,
            "value": _h(self.value),
        }


def _h(value: bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace")


def _dead_letter(rec: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        timestamp=datetime.fromtimestamp(rec.timestamp / 1000, UTC),
        key=rec.key,
        value=rec.value,
        headers=[(k, bytes(v)) for k, v in (rec.headers or ())],
    )


async def list_dead_letters(bootstrap: str, topic: str, within_s: float = 20.0) -> list[DeadLetter]:
    return [_dead_letter(r) for r in await read_topic(bootstrap, T.dlq(topic), within_s=within_s)]


@dataclass
class ReplayResult:
    topic: str
    replayed: int
    skipped: int


async def replay_dead_letters(
    bootstrap: str, topic: str, *, from_start: bool = False, within_s: float = 30.0
) -> ReplayResult:
    """Re-publish the dead letters of ``topic`` not replayed yet, then record the position."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import OffsetAndMetadata

    dlq_topic = T.dlq(topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        tps = await _partitions(probe, dlq_topic)
        committed = await admin.list_consumer_group_offsets(REPLAY_GROUP, partitions=tps) if tps else {}
    finally:
        await probe.stop()
        await admin.close()
    start = {tp: (0 if from_start else max(0, committed[tp].offset)) for tp in tps if tp in committed}
    records = await read_topic(bootstrap, dlq_topic, within_s=within_s, start=start)
    if not records:
        return ReplayResult(topic, 0, sum(start.values()))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        futures = []
        for rec in records:
            letter = _dead_letter(rec)
            headers = [
                *letter.original_headers,
                ("dlq-replayed-from", f"{dlq_topic}:{rec.partition}:{rec.offset}".encode()),
            ]
            futures.append(await producer.send(topic, value=rec.value, key=rec.key, headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    # Record how far we went with a plain commit (no group membership needed).
    next_offsets: dict[TopicPartition, int] = {}
    for rec in records:
        tp = TopicPartition(rec.topic, rec.partition)
        next_offsets[tp] = max(next_offsets.get(tp, 0), rec.offset + 1)
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(list(next_offsets))  # manual assignment: a "simple" group commit
        await committer.commit({tp: OffsetAndMetadata(off, "") for tp, off in next_offsets.items()})
    finally:
        await committer.stop()
    return ReplayResult(topic, len(records), sum(start.values()))


# --------------------------------------------------------------------------- CLI

console = Console()
dlq_app = typer.Typer(help="Inspect and re-drive dead-lettered messages.", no_args_is_help=True)

BootstrapOpt = typer.Option(
    None, "--bootstrap", help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)."
)


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (TimeoutError, OSError) as exc:
        console.print(f"[red]broker unreachable or too slow:[/red] {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:
        if type(exc).__module__.startswith("aiokafka"):
            console.print(f"[red]broker error:[/red] {exc}")
            raise typer.Exit(2) from exc
        raise


def status(
    bootstrap: str | None = BootstrapOpt,
    json_out: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
    url: list[str] = typer.Option(
        [], "--url", help="Readiness URL of a service as NAME=URL (default http://127.0.0.1:PORT/readyz)."
    ),
) -> None:
    """Readiness and consumer lag of each service; state of each monitored document."""
    bootstrap = bootstrap or default_bootstrap()
    urls = {}
    groups = {}
    for name in SERVICES:
        port, group = service_endpoint(name)
        urls[name] = f"http://127.0.0.1:{port}/readyz"
        groups[name] = group
    for item in url:
        name, _, value = item.partition("=")
        urls[name] = value

    async def gather() -> tuple[dict[str, tuple[bool, str]], list[GroupLag], dict[str, DocumentStatus]]:
        ready = await readiness(urls)
        inputs = {groups[n]: SERVICES[n][3] for n in SERVICES}
        lags = await asyncio.wait_for(consumer_lags(bootstrap, inputs=inputs), 30)
        docs = await document_statuses(bootstrap)
        return ready, lags, docs

    ready, lags, docs = _run(gather())
    if json_out:
        out = {
            "services": {
                n: {
                    "ready": ready[n][0],
                    "detail": ready[n][1],
                    "group": groups.get(n),
                    "lag": {lag.topic: lag.lag for lag in lags if lag.group == groups.get(n)},
                }
                for n in urls
            },
            "groups": [lag.__dict__ for lag in lags],
            "documents": {
                d.document_id: {
                    "state": d.state,
                    "state_text": d.state_text(),
                    "last_ok": d.last_ok.isoformat() if d.last_ok else None,
                    "last_attempt": d.last_attempt.isoformat() if d.last_attempt else None,
                    "last_outcome": d.last_outcome,
                    "consecutive_failures": d.consecutive_failures,
                    "last_change": d.last_change_kind,
                    "last_change_at": d.last_change_at.isoformat() if d.last_change_at else None,
                    "last_change_summary": d.last_change_summary,
                }
                for d in docs.values()
            },
        }
        typer.echo(json.dumps(out, indent=2))
        return
    t = Table(title="Services", title_justify="left")
    for col in ("service", "ready", "consumer group", "lag", "detail"):
        t.add_column(col)
    for name in urls:
        ok, detail = ready[name]
        group = groups.get(name, "")
        lag = ", ".join(f"{lag.topic.split('.')[1]}={lag.lag}" for lag in lags if lag.group == group) or "—"
        t.add_row(name, "[green]ready[/green]" if ok else "[red]not ready[/red]", group, lag, detail)
    console.print(t)
    other = [lag for lag in lags if lag.group not in groups.values()]
    if other:
        g = Table(title="Other consumer groups", title_justify="left")
        for col in ("group", "topic", "lag"):
            g.add_column(col)
        for lag in other:
            g.add_row(lag.group, lag.topic, str(lag.lag))
        console.print(g)
    d = Table(title=f"Documents ({len(docs)})", title_justify="left")
    for col in ("document", "state", "last successful capture", "last change"):
        d.add_column(col, overflow="fold")
    colour = {"ok": "green", "unavailable": "yellow", "failing": "red", "unknown": "dim"}
    for doc in sorted(docs.values(), key=lambda x: x.document_id):
        change = (
            f"{doc.last_change_kind} {_fmt(doc.last_change_at)}: {doc.last_change_summary or ''}"
            if doc.last_change_kind
            else "—"
        )
        d.add_row(
            doc.document_id, f"[{colour[doc.state]}]{doc.state_text()}[/]", _fmt(doc.last_ok), change[:160]
        )
    console.print(d)


@dlq_app.command("list")
def dlq_list(
    topic: str = typer.Argument(..., help="Topic (e.g. captures or policywatch.captures.v1) or its .dlq."),
    bootstrap: str | None = BootstrapOpt,
    json_out: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Show the dead-lettered messages of TOPIC with their error headers."""
    main = resolve_topic(topic)
    letters = _run(list_dead_letters(bootstrap or default_bootstrap(), main))
    if json_out:
        for letter in letters:
            typer.echo(json.dumps(letter.as_json()))
        return
    t = Table(title=f"{T.dlq(main)}: {len(letters)} dead letters", title_justify="left")
    for col in ("partition:offset", "time", "key", "event", "error"):
        t.add_column(col, overflow="fold")
    for letter in letters:
        event = f"{letter.header('event_type') or '?'} {letter.header('event_id') or ''}".strip()
        error = "; ".join(f"{k}={v}" for k, v in letter.error_headers.items()) or "(no error headers)"
        t.add_row(f"{letter.partition}:{letter.offset}", _fmt(letter.timestamp), _h(letter.key), event, error)
    console.print(t)


@dlq_app.command("replay")
def dlq_replay(
    topic: str = typer.Argument(..., help="Topic whose dead letters to re-publish (to the topic itself)."),
    bootstrap: str | None = BootstrapOpt,
    from_start: bool = typer.Option(
        False, "--all", help="Replay every dead letter, even ones replayed before."
    ),
) -> None:
    """Re-publish the dead letters of TOPIC to TOPIC (same key and headers); consumers dedupe by event_id."""
    main = resolve_topic(topic)
    result = _run(replay_dead_letters(bootstrap or default_bootstrap(), main, from_start=from_start))
    console.print(
        f"replayed {result.replayed} message(s) from {T.dlq(main)} to {main}"
        + (f" ({result.skipped} replayed earlier, skipped)" if result.skipped else "")
    )


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.add_typer(dlq_app, name="dlq")
