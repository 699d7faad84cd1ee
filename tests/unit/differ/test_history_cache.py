"""In-memory state of the differ service: kept histories and parsed versions.

The store stays the source of truth: a restarted service (empty memory) decides exactly
as one that kept everything; a history another instance wrote is read again; a failed
write leaves nothing behind; the memory is bounded.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from policywatch_differ.history import HistoryStore, history_key
from policywatch_differ.memstore import MemoryStore
from policywatch_differ.normalise import LineNormaliser
from policywatch_differ.service import DifferService
from policywatch_shared.events import CapturedPage, CaptureEvent, CaptureOutcome, ExtractionHints, Fetcher
from policywatch_shared.storage import StorageUnavailable, StoredObject

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARAS = [f"<p>Clause {i}: we process your personal data for purpose number {i} under these terms.</p>"
         for i in range(30)]  # fmt: skip


def _html(paras: list[str]) -> bytes:
    return f"<html><body><main><h1>Terms</h1>{''.join(paras)}</main></body></html>".encode()


class CountingStore(MemoryStore):
    """Counts reads by key prefix; can fail the next named write (an outage)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()
        self.fail_named = False

    async def get_bytes(self, key: str) -> bytes:
        self.reads[key.split("/")[0]] += 1
        return await super().get_bytes(key)

    async def put_named(self, key: str, data: bytes, **kw: Any) -> StoredObject:
        if self.fail_named:
            self.fail_named = False
            raise StorageUnavailable("simulated outage")
        return await super().put_named(key, data, **kw)


async def _capture(
    store: MemoryStore, n: int, body: bytes | None, *, doc: str = "acme/terms",
    outcome: CaptureOutcome = CaptureOutcome.OK, status: int = 200, hints: ExtractionHints | None = None,
) -> CaptureEvent:  # fmt: skip
    key = (await store.put_bytes(body, namespace="raw", content_type="text/html")).key if body else None
    return CaptureEvent(
        event_id=f"cap-{doc}-{n}", platform="acme", document_type="terms_of_service", document_id=doc,
        fetch_request_id=f"req-{n}", outcome=outcome, attempted_at=T0 + timedelta(days=n),
        pages=[CapturedPage(url=f"https://acme.example/{doc}", status=status, outcome=outcome,
                            fetcher=Fetcher.HTTP, content_type="text/html", storage_key=key)],
        hints=hints or ExtractionHints(),
    )  # fmt: skip


#: A history exercising every outcome: first, modified, unchanged, gone, restored, reverted,
#: a redelivery, re-extraction with new hints.
CHANGED = [*PARAS[:10], "<p>New: we sell your data to brokers.</p>", *PARAS[10:]]
SCRIPT: list[tuple[bytes | None, dict[str, Any]]] = [
    (_html(PARAS), {}),
    (_html(CHANGED), {}),
    (_html(CHANGED), {}),
    (None, {"outcome": CaptureOutcome.HTTP_ERROR, "status": 404}),
    (_html(CHANGED), {}),
    (_html(PARAS), {}),
    (_html(PARAS[5:]), {"hints": ExtractionHints(remove=["h1"])}),
]


def _summary(events: list[Any]) -> list[tuple[Any, ...]]:
    return [(e.event_id, e.kind, e.substantive, e.summary, e.stats, e.reason) for e in events]


async def _run(restart_each_time: bool) -> tuple[list[Any], Any]:
    store = MemoryStore()
    svc = DifferService(store)
    out = []
    for n, (body, kw) in enumerate(SCRIPT):
        if restart_each_time:
            svc = DifferService(store)  # nothing in memory: everything from the store
        cap = await _capture(store, n, body, **kw)
        out.append(_summary(await svc.handle(cap)))
        if n == 2:  # a redelivery of the same capture: same answer
            out.append(_summary(await svc.handle(cap)))
    h = await DifferService(store).histories.load("acme/terms")
    assert h is not None
    return out, (h.model_dump(exclude={"events"}), sorted(h.events))


async def test_a_restart_with_empty_memory_decides_the_same() -> None:
    kept, kept_history = await _run(restart_each_time=False)
    fresh, fresh_history = await _run(restart_each_time=True)
    assert [[k for _, k, *_ in step] for step in kept] == [
        ["first_version"], ["modified"], [], [], ["unavailable"], ["restored"], ["reverted"],
        ["technical", "modified"],
    ]  # fmt: skip
    assert kept == fresh
    assert kept_history == fresh_history


async def test_steady_state_reads_only_the_new_capture() -> None:
    store = CountingStore()
    svc = DifferService(store)
    await svc.handle(await _capture(store, 1, _html(PARAS)))
    store.reads.clear()
    [ev] = await svc.handle(await _capture(store, 2, _html(PARAS[:-1])))
    assert ev.kind == "modified"
    # The raw body only: the history and the live version's text come from memory.
    assert store.reads == Counter({"raw": 1})
    assert svc.histories.kept == 1


async def test_a_history_written_elsewhere_is_read_again() -> None:
    store = CountingStore()
    a, b = DifferService(store), DifferService(store)
    await a.handle(await _capture(store, 1, _html(PARAS)))
    # The partition moves: instance b records a change, then a gets the document back.
    [ev] = await b.handle(await _capture(store, 2, _html(PARAS[:-1])))
    assert ev.kind == "modified"
    store.reads.clear()
    assert await a.handle(await _capture(store, 3, _html(PARAS[:-1]))) == []  # b's version: unchanged
    assert store.reads["differ"] == 1  # the history was read again (its sha256 changed)
    [back] = await a.handle(await _capture(store, 4, _html(PARAS)))
    assert back.kind == "reverted" and back.to_version is not None and back.to_version.number == 1


async def test_a_failed_write_leaves_nothing_in_memory() -> None:
    store = CountingStore()
    svc = DifferService(store)
    await svc.handle(await _capture(store, 1, _html(PARAS)))
    cap = await _capture(store, 2, _html(PARAS[:-1]))
    store.fail_named = True
    with pytest.raises(StorageUnavailable):
        await svc.handle(cap)
    # The change was decided in memory but never saved: the redelivery decides it again.
    [ev] = await svc.handle(cap)
    assert ev.kind == "modified"
    h = await DifferService(store).histories.load("acme/terms")
    assert h is not None and len(h.versions) == 2 and cap.event_id in h.events


async def test_kept_histories_are_bounded() -> None:
    store = MemoryStore()
    svc = DifferService(store, history_cache_bytes=5_000)
    histories = svc.histories
    for i in range(12):
        await svc.handle(await _capture(store, 1, _html(PARAS[i:]), doc=f"acme/doc-{i}"))
    sizes = [len(await store.get_bytes(history_key(f"acme/doc-{i}"))) for i in range(12)]
    assert 0 < histories.kept < 12
    assert sum(sizes[-histories.kept :]) <= 5_000
    off = HistoryStore(store)  # the default keeps nothing
    h = await off.load("acme/doc-0")
    assert h is not None
    await off.save(h)
    assert off.kept == 0


def test_line_normaliser_keeps_dropped_lines_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    import policywatch_differ.normalise as normalise

    calls: list[str] = []
    real = normalise.normalise_line

    def counted(line: str) -> str:
        calls.append(line)
        return real(line)

    monkeypatch.setattr(normalise, "normalise_line", counted)
    a = [f"Line {i} of version A." for i in range(100)]
    b = a[:50] + [f"Line {i} of version B." for i in range(50)]
    norm = LineNormaliser()
    first = norm.keys(a)
    assert len(calls) == 100
    norm.keys(b)
    assert len(calls) == 150
    assert norm.keys(a) == first and len(calls) == 150  # flapping back: nothing normalised again
    # Bounded: many versions later, only the most recent dropped lines are kept.
    for v in range(200):
        norm.keys([f"Version {v} line {i}." for i in range(30)])
    assert len(norm._older) <= max(LineNormaliser.OLDER_MIN, 30)


async def test_the_block_cache_is_bounded_by_the_setting_and_counted() -> None:
    from policywatch_differ.extract import BLOCKS
    from policywatch_differ.htmlmd import CACHE_BLOCKS
    from policywatch_differ.settings import DifferSettings
    from prometheus_client import REGISTRY

    def counted(result: str) -> float:
        return REGISTRY.get_sample_value("policywatch_differ_markdown_blocks_total", {"result": result}) or 0

    def remembered() -> float | None:
        return REGISTRY.get_sample_value("policywatch_differ_markdown_cache_blocks")

    # The setting's default and the extractor's own (CLI, replay) are written in two places.
    assert DifferSettings().markdown_cache_blocks == CACHE_BLOCKS == 60_000

    class YieldingStore(MemoryStore):  # reads suspend, so concurrent captures interleave
        async def get_bytes(self, key: str) -> bytes:
            await asyncio.sleep(0)
            return await super().get_bytes(key)

    store = YieldingStore()
    size = BLOCKS.size  # process-wide: restored for the tests that follow
    try:
        DifferService(store, markdown_cache_blocks=0)
        assert len(BLOCKS) == 0  # a shrink evicts at once (here: what earlier tests left)
        svc = DifferService(store, markdown_cache_blocks=40)
        assert BLOCKS.size == 40
        miss0 = counted("miss")
        await svc.handle(await _capture(store, 0, _html(PARAS)))
        assert len(BLOCKS) == 31  # the heading and 30 paragraphs
        assert counted("miss") - miss0 == 31
        # A new version of the page: only the new paragraph is converted again.
        miss1, hit1 = counted("miss"), counted("hit")
        await svc.handle(await _capture(store, 1, _html([*PARAS, "<p>A new clause on arbitration.</p>"])))
        assert counted("miss") - miss1 == 1 and counted("hit") - hit1 == 31
        assert remembered() == len(BLOCKS) == 32
        # Beyond the bound the least recently used blocks go.
        await svc.handle(await _capture(store, 2, _html([f"<p>Other clause {i}.</p>" for i in range(30)])))
        assert len(BLOCKS) == 40 and remembered() == 40
        # Captures handled concurrently (DIFFER_CONCURRENCY) are each counted once.
        counted0, blocks0 = counted("hit") + counted("miss"), BLOCKS.hits + BLOCKS.misses
        caps = [await _capture(store, 3 + i, _html(PARAS[i:]), doc=f"acme/doc-{i}") for i in range(3)]
        await asyncio.gather(*(svc.handle(c) for c in caps))
        assert counted("hit") + counted("miss") - counted0 == BLOCKS.hits + BLOCKS.misses - blocks0 > 0
    finally:
        BLOCKS.resize(size)
