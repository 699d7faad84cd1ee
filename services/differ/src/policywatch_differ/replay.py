"""Offline replay of a recorded history through the service's own decision code.

Input: an Open Terms Archive versions git repository (:mod:`.ota`), or JSON Lines (plain,
``.gz`` or ``.xz``) in the shared corpus format — ``service``, ``document``, ``recorded_at``,
``text``, ``commit`` (and optionally ``kind``: ``technical`` lines are re-extractions).
Output: exactly one JSON line per input line (per version for a repository), in input
order: ``commit``, ``service``, ``document``, ``recorded_at``, ``outcome``, ``alert`` and,
when there is a change, ``change`` (the change event) plus ``classification`` when the
classifier package is installed.
"""

from __future__ import annotations

import gzip
import json
import lzma
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from policywatch_shared.events import ChangeEvent

from policywatch_differ.engine import Differ, DocumentInfo, guess_document_type
from policywatch_differ.history import HistoryStore
from policywatch_differ.memstore import MemoryStore

Classifier = Callable[[ChangeEvent], dict[str, Any] | None]


def open_text(path: Path) -> IO[str]:
    name = path.name
    if name.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8")
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def iter_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(raw line, parsed record or None when the line is not valid JSON).

    ``path`` may also be an Open Terms Archive versions git repository (see :mod:`.ota`).
    """
    if path.is_dir():
        from policywatch_differ.ota import iter_ota_records

        for rec in iter_ota_records(path):
            yield "", rec
        return
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield line, json.loads(line)
            except json.JSONDecodeError:
                yield line, None


def load_classifier() -> Classifier | None:
    """The classifier's pure pipeline, when the package is installed (optional)."""
    try:
        from policywatch_classifier.pipeline import TAGGED_KINDS, classify_change
    except ImportError:
        return None

    def classify(event: ChangeEvent) -> dict[str, Any] | None:
        if event.kind not in TAGGED_KINDS:
            return None
        c = classify_change(event)
        return {
            "categories": c.categories,
            "severity": c.severity.value,
            "severity_reasons": c.severity_reasons,
            # The statutes engaged, as the classified event carries them (framework + provision).
            "regulations": [
                r.model_dump(mode="json", include={"framework", "provision", "title"}) for r in c.regulations
            ],
            "headline": c.headline,
            "jurisdictions": c.jurisdictions,
            "model_version": c.model_version,
        }

    return classify


def parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def document_info(service: str, document: str) -> DocumentInfo:
    return DocumentInfo(
        document_id=f"{service}/{document}",
        platform=service,
        document_type=guess_document_type(document),
    )


@dataclass
class ReplayStats:
    lines: int = 0
    chars: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    per_version_s: list[float] = field(default_factory=list)


class Replayer:
    """Feeds records to a :class:`Differ` over an in-memory store (no broker needed)."""

    def __init__(self, *, classifier: Classifier | None = None) -> None:
        self.differ = Differ(HistoryStore(MemoryStore()), cache_histories=True)
        self.differ.persist = False  # histories live in memory; nothing reads them back
        self.classifier = classifier

    async def process(self, rec: dict[str, Any] | None) -> dict[str, Any]:
        if rec is None or not isinstance(rec.get("text"), str):
            base = {k: (rec or {}).get(k) for k in ("commit", "service", "document", "recorded_at")}
            return {**base, "outcome": "invalid", "alert": False}
        service = str(rec.get("service", ""))
        document = str(rec.get("document", ""))
        commit = str(rec.get("commit") or rec.get("id") or "")
        obs = await self.differ.observe(
            document_info(service, document),
            rec["text"],
            capture_id=commit,
            at=parse_time(rec.get("recorded_at")),
            technical=rec.get("kind") == "technical",
        )
        out: dict[str, Any] = {
            "commit": commit,
            "service": service,
            "document": document,
            "recorded_at": rec.get("recorded_at"),
            "outcome": obs.outcome,
            "alert": obs.alert,
        }
        if obs.event is not None:
            out["change"] = obs.event.model_dump(mode="json")
            if self.classifier is not None:
                tags = self.classifier(obs.event)
                if tags is not None:
                    out["classification"] = tags
        return out


async def replay_file(
    path: Path,
    out: IO[str],
    *,
    classifier: Classifier | None = None,
    on_line: Callable[[int], None] | None = None,
) -> ReplayStats:
    stats = ReplayStats()
    rep = Replayer(classifier=classifier)
    t0 = time.perf_counter()
    for _, rec in iter_records(path):
        t = time.perf_counter()
        result = await rep.process(rec)
        stats.per_version_s.append(time.perf_counter() - t)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        stats.lines += 1
        stats.chars += len(rec.get("text") or "") if rec else 0
        stats.outcomes[result["outcome"]] = stats.outcomes.get(result["outcome"], 0) + 1
        stats.alerts += bool(result["alert"])
        if on_line is not None:
            on_line(stats.lines)
    stats.seconds = time.perf_counter() - t0
    return stats
