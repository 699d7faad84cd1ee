"""Capture handling (in-memory store): extraction from stored raw bodies, failed captures, re-extraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from policywatch_differ.engine import DocumentInfo
from policywatch_differ.memstore import MemoryStore
from policywatch_differ.service import DifferService
from policywatch_shared.events import (
    CapturedPage,
    CaptureEvent,
    CaptureOutcome,
    ChangeKind,
    ExtractionHints,
    Fetcher,
)

HTML = b"""<html><body><main><h1>Terms</h1>
<p>These terms govern your use of the service and explain your rights and obligations.</p>
<h2>Accounts</h2><p>You must be 13 or older to create an account.</p>
<div class="promo"><h2>Download the app</h2><p>Get our app for the best experience today.</p></div>
</main></body></html>"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _capture(
    store: MemoryStore, n: int, body: bytes | None, *, outcome: CaptureOutcome = CaptureOutcome.OK,
    hints: ExtractionHints | None = None, status: int = 200,
) -> CaptureEvent:  # fmt: skip
    key = (await store.put_bytes(body, namespace="raw", content_type="text/html")).key if body else None
    return CaptureEvent(
        event_id=f"cap-{n}",
        platform="acme",
        document_type="terms_of_service",
        document_id="acme/terms",
        fetch_request_id=f"req-{n}",
        outcome=outcome,
        attempted_at=T0 + timedelta(days=n),
        pages=[
            CapturedPage(
                url="https://acme.example/terms", status=status, outcome=outcome, fetcher=Fetcher.HTTP,
                content_type="text/html", storage_key=key,
            )
        ],
        hints=hints or ExtractionHints(),
    )  # fmt: skip


async def test_captures_failures_and_hint_changes() -> None:
    store = MemoryStore()
    svc = DifferService(store)
    [first] = await svc.handle(await _capture(store, 1, HTML))
    assert first.kind == ChangeKind.FIRST_VERSION
    assert await svc.handle(await _capture(store, 2, None, outcome=CaptureOutcome.TIMEOUT)) == []
    [gone] = await svc.handle(await _capture(store, 3, None, outcome=CaptureOutcome.HTTP_ERROR, status=404))
    assert gone.kind == ChangeKind.UNAVAILABLE and "404" in (gone.reason or "")
    [back] = await svc.handle(await _capture(store, 4, HTML))
    assert back.kind == ChangeKind.RESTORED

    # New hints drop the promo block: the stored raw capture is re-extracted first (technical),
    # then the capture itself is unchanged.
    hints = ExtractionHints(remove=[".promo"])
    events = await svc.handle(await _capture(store, 5, HTML, hints=hints))
    assert [e.kind for e in events] == [ChangeKind.TECHNICAL]
    assert not events[0].substantive and events[0].sections[0].kind == "removed"
    h = await svc.histories.load("acme/terms")
    assert h is not None and h.hints_fingerprint == hints.fingerprint() and len(h.versions) == 2
    text = await svc.histories.get_text(h.versions[-1].storage_key)
    assert "Download the app" not in text and "13 or older" in text


async def test_reextract_command_path() -> None:
    store = MemoryStore()
    svc = DifferService(store)
    await svc.handle(await _capture(store, 1, HTML))
    h = await svc.histories.load("acme/terms")
    assert h is not None
    info = DocumentInfo(h.document_id, h.platform, h.document_type)
    obs = await svc.reextract(h, info, ExtractionHints(select=["main"], remove=[".promo", "h1"]))
    assert obs is not None and obs.outcome == "technical" and obs.event is not None
    again = await svc.reextract(h, info, ExtractionHints(select=["main"], remove=[".promo", "h1"]))
    assert again is not None and again.outcome == "unchanged"


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_changes_and_unavailable_documents() -> None:
    store = MemoryStore()
    svc = DifferService(store)
    before_first = _sample("policywatch_differ_changes_total", kind="first_version")
    before_gone = _sample("policywatch_differ_changes_total", kind="unavailable")
    await svc.handle(await _capture(store, 1, HTML))
    assert _sample("policywatch_differ_changes_total", kind="first_version") == before_first + 1
    assert _sample("policywatch_differ_documents_unavailable") == 0

    await svc.handle(await _capture(store, 2, None, outcome=CaptureOutcome.HTTP_ERROR, status=410))
    assert _sample("policywatch_differ_changes_total", kind="unavailable") == before_gone + 1
    assert _sample("policywatch_differ_documents_unavailable") == 1

    # A restarted service counts the unavailable documents from the stored histories.
    from policywatch_differ.metrics import DOCUMENTS_UNAVAILABLE

    DOCUMENTS_UNAVAILABLE.set(0)  # a fresh process starts at 0 (the gauge is process-wide)
    restarted = DifferService(store)
    await restarted.load_state()
    assert restarted.unavailable.ids == {"acme/terms"}
    assert _sample("policywatch_differ_documents_unavailable") == 1

    await restarted.handle(await _capture(store, 3, HTML))
    assert _sample("policywatch_differ_documents_unavailable") == 0
