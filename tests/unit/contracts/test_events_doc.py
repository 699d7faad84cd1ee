"""docs/events.md (the consumers' page) against the code: topics table, examples, references."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from policywatch_shared import schema_export, topics
from policywatch_shared.events import EVENT_MODELS

DOC = Path("docs/events.md")
#: Pages other areas write, linked before they exist: path -> owner.
PENDING_PAGES = {"docs/operations.md": "the operations runbook (issue 7)"}


@pytest.fixture(scope="module")
def doc(repo: Path) -> str:
    return (repo / DOC).read_text(encoding="utf-8")


def _retention_text(ms: int) -> str:
    if ms < 0:
        return "forever"
    days = ms // topics.DAY_MS
    assert days * topics.DAY_MS == ms, f"retention {ms} ms is not whole days"
    return f"{days} days"


def _table_rows(doc: str) -> dict[str, list[str]]:
    section = doc[doc.index("## Topics") :]
    section = section[: section.index("\n## ", 3)]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([^`]+)`", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in line.strip().strip("|").split("|")]
    return rows


def test_topics_table_matches_topics_py(doc: str) -> None:
    rows = _table_rows(doc)
    main = [t for t in topics.TOPICS if not t.name.endswith(topics.DLQ_SUFFIX)]
    for spec in main:
        assert spec.name in rows, f"{spec.name} missing from the topics table of {DOC}"
        cells = rows[spec.name]
        partitions, retention = cells[-2], cells[-1]
        assert partitions == str(spec.partitions), (
            f"{spec.name}: partitions {partitions} != {spec.partitions}"
        )
        assert retention.startswith(_retention_text(spec.retention_ms)), f"{spec.name}: retention {retention}"
    dlq_row = rows.get("<topic>.dlq")
    dlqs = [t for t in topics.TOPICS if t.name.endswith(topics.DLQ_SUFFIX)]
    assert dlq_row and dlqs
    assert {t.partitions for t in dlqs} == {int(dlq_row[-2])}
    assert {_retention_text(t.retention_ms) for t in dlqs} == {dlq_row[-1]}
    assert set(rows) - {"<topic>.dlq"} == {t.name for t in main}, "no topic the code does not have"


def test_event_of_each_topic(doc: str) -> None:
    rows = _table_rows(doc)
    for event_type, topic in schema_export.EVENT_TOPICS.items():
        assert f"`{event_type}`" in rows[topic][1], f"{topic} carries {event_type}"
        assert EVENT_MODELS[event_type].__name__ in rows[topic][1]


def test_pipeline_in_table_matches_schema_export(doc: str) -> None:
    """Who consumes what (the same PIPELINE the AsyncAPI test checks against the real apps)."""
    rows = _table_rows(doc)
    for service, flow in schema_export.PIPELINE.items():
        for event_type in flow.consumes:
            assert service in rows[schema_export.EVENT_TOPICS[event_type]][3], (
                f"{service} consumes {event_type}"
            )
        for event_type in flow.produces:
            assert service in rows[schema_export.EVENT_TOPICS[event_type]][2], (
                f"{service} produces {event_type}"
            )
    for topic, cells in rows.items():
        event_type = next((e for e, t in schema_export.EVENT_TOPICS.items() if t == topic), None)
        if event_type is None:
            continue
        consumers = {s for s, f in schema_export.PIPELINE.items() if event_type in f.consumes}
        named = {s for s in schema_export.PIPELINE if s in cells[3]}
        assert named == consumers, f"{topic}: table says consumed by {named}, pipeline says {consumers}"


def _examples(doc: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in re.finditer(r"^### \w+ \(`(\w+)`\)[^\n]*\n+```json\n(.*?)\n```", doc, flags=re.M | re.S):
        found[match.group(1)] = match.group(2)
    return found


def test_one_valid_example_per_event(doc: str) -> None:
    examples = _examples(doc)
    assert set(examples) == set(EVENT_MODELS), f"examples for {sorted(examples)}"
    for event_type, text in examples.items():
        model = EVENT_MODELS[event_type]
        raw = json.loads(text)
        event = model.model_validate_json(text)
        # As on the wire: every field present, nothing the model does not know.
        assert set(raw) == set(model.model_fields), (
            f"{event_type}: fields {set(raw) ^ set(model.model_fields)}"
        )
        assert json.loads(event.model_dump_json()).keys() == raw.keys()
        assert raw["schema_version"] == event.schema_version


def test_examples_link_up(doc: str) -> None:
    """The examples follow one document: ids chain from fetch request to delivery."""
    ex = {k: json.loads(v) for k, v in _examples(doc).items()}
    assert ex["capture"]["fetch_request_id"] == ex["fetch_request"]["event_id"]
    assert ex["change"]["capture_id"] == ex["capture"]["event_id"]
    assert ex["classified_change"]["change"] == ex["change"]
    assert ex["delivery_outcome"]["classified_event_id"] == ex["classified_change"]["event_id"]
    assert ex["delivery_outcome"]["change_event_id"] == ex["change"]["event_id"]
    assert len({e["document_id"] for e in ex.values()}) == 1
    assert len({e["event_id"] for e in ex.values()}) == len(ex)


@pytest.mark.parametrize("page", ["docs/events.md", "docs/deploy.md"])
def test_referenced_files_exist(repo: Path, page: str) -> None:
    text = (repo / page).read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:tests|shared|services|deploy|docs|src)/[\w./-]+\.\w+)`", text))
    paths |= {
        str((repo / page).parent.joinpath(link).resolve().relative_to(repo))
        for link in re.findall(r"\]\(((?!https?:|#)[^)#\s]+)", text)
    }
    assert paths, f"{page} references no file"
    missing = sorted(p for p in paths if not (repo / p).exists())
    pending = [p for p in missing if p in PENDING_PAGES]
    missing = [p for p in missing if p not in PENDING_PAGES]
    assert not missing, f"{page} references missing files {missing}"
    if pending:
        pytest.skip(f"{page} links pages not written yet: {[f'{p} ({PENDING_PAGES[p]})' for p in pending]}")


def test_headers_documented(doc: str) -> None:
    from policywatch_shared.events import FetchRequest, event_headers

    sample = FetchRequest.model_validate_json(_examples(doc)["fetch_request"])
    for header in event_headers(sample):
        assert f"`{header}`" in doc, f"header {header} not documented"


def test_dead_letter_headers_documented(doc: str) -> None:
    """The x-dlq-* headers the retry/DLQ middleware adds (policywatch_shared.broker) are listed."""
    import inspect

    from policywatch_shared import broker

    headers = set(re.findall(r'"(x-dlq-[a-z-]+)"', inspect.getsource(broker)))
    assert headers, "the DLQ middleware adds no x-dlq-* header any more: update this test and the doc"
    missing = sorted(h for h in headers if f"`{h}`" not in doc)
    assert not missing, f"{DOC} does not document DLQ headers {missing}"
