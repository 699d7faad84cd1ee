"""Scheduler: due documents are published once per slot; due times survive restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from policywatch_fetcher.catalog import load_catalog
from policywatch_fetcher.schedule import Scheduler
from policywatch_shared.events import FetchRequest
from policywatch_shared.storage import LocalStore

CATALOG = """
platform: {id: acme, name: Acme}
defaults:
  schedule: {interval: 1h, jitter: 5m}
documents:
""" + "".join(f"  - {{type: other, id: acme/doc{i}, urls: [https://acme.example/{i}]}}\n" for i in range(40))


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def make(tmp_path: Path, clock: Clock, sent: list[FetchRequest], window: float = 300.0) -> Scheduler:
    (tmp_path / "cat").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cat" / "acme.yaml").write_text(CATALOG)
    catalog = load_catalog(tmp_path / "cat")

    async def publish(req: FetchRequest) -> None:
        sent.append(req)

    return Scheduler(catalog, LocalStore(tmp_path / "store"), publish, catchup_window_s=window, clock=clock)


async def test_first_run_spreads_documents_over_the_window(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    sent: list[FetchRequest] = []
    s = make(tmp_path, clock, sent)
    await s.load()
    await s.tick()
    assert len(sent) < 10  # not everything at once
    clock.t += timedelta(seconds=301)
    await s.tick()
    assert len(sent) == 40 and len({r.document_id for r in sent}) == 40
    assert all(r.urls and r.reason.value == "scheduled" for r in sent)
    await s.tick()
    assert len(sent) == 40  # nothing twice in the same slot


async def test_due_times_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    sent: list[FetchRequest] = []
    s = make(tmp_path, clock, sent)
    await s.load()
    clock.t += timedelta(seconds=301)
    await s.tick()
    assert len(sent) == 40
    before = s.next_due()
    # Restart ten minutes later: nothing is due again (no thundering herd), slots are kept.
    clock.t += timedelta(minutes=10)
    sent2: list[FetchRequest] = []
    s2 = make(tmp_path, clock, sent2)
    await s2.load()
    assert s2.next_due() == before
    await s2.tick()
    assert sent2 == []
    # An hour and a bit later every document is due once again.
    clock.t += timedelta(hours=1, minutes=6)
    await s2.tick()
    assert sorted(r.document_id for r in sent2) == sorted(r.document_id for r in sent)


async def test_overdue_documents_after_a_long_stop_are_spread(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    sent: list[FetchRequest] = []
    s = make(tmp_path, clock, sent, window=600)
    await s.load()
    clock.t += timedelta(seconds=601)
    await s.tick()
    clock.t += timedelta(days=2)  # down for two days: all overdue
    sent2: list[FetchRequest] = []
    s2 = make(tmp_path, clock, sent2, window=600)
    await s2.load()
    first = await s2.tick()
    assert len(first) < 10  # spread, not a herd
    clock.t += timedelta(seconds=601)
    await s2.tick()
    assert len(sent2) == 40  # and none skipped for longer than the window


async def test_request_ids_are_deterministic_per_slot(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    a: list[FetchRequest] = []
    b: list[FetchRequest] = []
    s1 = make(tmp_path / "1", clock, a)
    s2 = make(tmp_path / "2", clock, b)
    await s1.load()
    await s2.load()
    clock.t += timedelta(seconds=301)
    await s1.tick()
    await s2.tick()
    assert sorted(r.event_id for r in a) == sorted(r.event_id for r in b)


async def test_reloaded_catalog_places_new_documents(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    sent: list[FetchRequest] = []
    s = make(tmp_path, clock, sent)
    await s.load()
    clock.t += timedelta(seconds=301)
    await s.tick()
    assert len(sent) == 40
    (tmp_path / "cat" / "acme.yaml").write_text(
        CATALOG + "  - {type: other, id: acme/new, urls: [https://acme.example/new]}\n"
    )
    s.set_catalog(load_catalog(tmp_path / "cat"))
    clock.t += timedelta(seconds=301)
    await s.tick()
    assert [r.document_id for r in sent[40:]] == ["acme/new"]  # the new one only, within the window
