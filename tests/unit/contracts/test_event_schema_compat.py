"""Event contracts v1 against the committed JSON Schemas in docs/events/.

A model change that breaks consumers (field removed, renamed or retyped, optional field made
required, enum value removed, bound tightened) fails here; adding an optional field does not.
The checker itself is tested with synthetic before/after schemas and models.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from policywatch_shared import schema_export
from policywatch_shared.events import EVENT_MODELS, ChangeEvent, EventBase, OperatorAlert, VersionRef
from policywatch_shared.schema_export import breaking_changes, event_schema, event_schemas
from pydantic import Field

EVENTS_DIR = Path("docs/events")
REGENERATE = "run: python -m policywatch_shared.schema_export"


def _committed(repo: Path, name: str) -> dict[str, Any]:
    path = repo / EVENTS_DIR / name
    if not path.exists():
        pytest.fail(f"{path} missing; {REGENERATE}")
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the real contracts


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_current_models_compatible_with_committed_schemas(repo: Path, event_type: str) -> None:
    committed = _committed(repo, schema_export.schema_filename(event_type))
    current = event_schema(EVENT_MODELS[event_type])
    problems = breaking_changes(committed, current)
    assert not problems, (
        f"{event_type}: breaking change to a v1 contract (needs new .v2 topics, see docs/events.md):\n"
        + "\n".join(problems)
    )


def test_committed_schemas_up_to_date(repo: Path) -> None:
    """Compatible changes (a new optional field) must still be exported and committed."""
    stale = [
        name
        for name, schema in event_schemas().items()
        if (repo / EVENTS_DIR / name).exists()
        and (repo / EVENTS_DIR / name).read_text(encoding="utf-8") != schema_export.dumps(schema)
    ]
    assert not stale, f"stale schemas {stale}; {REGENERATE}"


def test_no_committed_schema_without_model(repo: Path) -> None:
    expected = set(event_schemas())
    committed = {p.name for p in (repo / EVENTS_DIR).glob("*.schema.json")}
    assert committed - expected == set(), "an event model was removed: that breaks consumers"
    assert expected - committed == set(), f"schemas missing; {REGENERATE}"


def test_schemas_name_topic_and_key() -> None:
    for name, model in EVENT_MODELS.items():
        schema = event_schema(model)
        assert schema["x-topic"] == schema_export.EVENT_TOPICS[name]
        assert schema["x-key"] == "document_id"
        assert {"event_id", "schema_version", "produced_at", "trace_id", "document_id"} <= set(
            schema["properties"]
        )


def test_check_mode_reports_stale_and_breaking(tmp_path: Path) -> None:
    files = {name: schema_export.dumps(s) for name, s in event_schemas().items()}
    assert schema_export.check(tmp_path, files) == [f"{tmp_path / n}: missing" for n in files]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert schema_export.check(tmp_path, files) == []

    # committed file has a field the model no longer has -> breaking
    name = schema_export.schema_filename("change")
    old = json.loads(files[name])
    old["properties"]["legacy"] = {"type": "string"}
    (tmp_path / name).write_text(schema_export.dumps(old), encoding="utf-8")
    problems = schema_export.check(tmp_path, files)
    assert len(problems) == 1 and "BREAKING" in problems[0] and "legacy" in problems[0]

    # committed file lacks an optional field the model has -> stale, not breaking
    old = json.loads(files[name])
    del old["properties"]["reason"]
    (tmp_path / name).write_text(schema_export.dumps(old), encoding="utf-8")
    problems = schema_export.check(tmp_path, files)
    assert len(problems) == 1 and "stale" in problems[0] and "BREAKING" not in problems[0]


def test_main_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema_export.main(["--out", str(tmp_path), "--no-asyncapi", "--check"]) == 1
    assert schema_export.main(["--out", str(tmp_path), "--no-asyncapi"]) == 0
    assert schema_export.main(["--out", str(tmp_path), "--no-asyncapi", "--check"]) == 0
    assert "missing" in capsys.readouterr().err


# --------------------------------------------------------------------------- the checker


BASE: dict[str, Any] = {
    "type": "object",
    "title": "Thing",
    "properties": {
        "id": {"type": "string", "description": "id"},
        "count": {"type": "integer", "default": 0, "minimum": 0},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "kind": {"enum": ["a", "b"], "type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "ref": {"$ref": "#/$defs/Ref"},
        "maybe_ref": {"anyOf": [{"$ref": "#/$defs/Ref"}, {"type": "null"}], "default": None},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "kind", "ref", "at"],
    "$defs": {
        "Ref": {
            "type": "object",
            "properties": {"key": {"type": "string"}, "size": {"type": "integer"}},
            "required": ["key"],
        }
    },
}


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def _set(path: str, value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = doc
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()


def _rename(doc: dict[str, Any]) -> None:
    doc["properties"]["identifier"] = doc["properties"].pop("id")
    doc["required"] = ["identifier" if r == "id" else r for r in doc["required"]]


BREAKING = {
    "remove field": _set("properties/count", _DELETE),
    "rename field": _rename,
    "retype field": _set("properties/count", {"type": "string"}),
    "optional becomes required": _set("required", [*BASE["required"], "count"]),
    "new required field": lambda d: (
        d["properties"].__setitem__("extra", {"type": "string"}),
        d["required"].append("extra"),
    ),
    "nullable becomes non-null": _set("properties/note", {"type": "string", "default": None}),
    "non-null becomes nullable": _set("properties/id", {"anyOf": [{"type": "string"}, {"type": "null"}]}),
    "enum value removed": _set("properties/kind", {"enum": ["a"], "type": "string"}),
    "array items retyped": _set("properties/tags/items", {"type": "integer"}),
    "nested field removed": _set("$defs/Ref/properties/size", _DELETE),
    "nested field retyped": _set("$defs/Ref/properties/key", {"type": "integer"}),
    "nested optional becomes required": _set("$defs/Ref/required", ["key", "size"]),
    "object becomes string": _set("properties/ref", {"type": "string"}),
    "map values retyped": _set("properties/labels/additionalProperties", {"type": "integer"}),
    "format changed": _set("properties/at", {"type": "string", "format": "date"}),
    "bound tightened": _set("properties/count/minimum", 1),
    "new upper bound": _set("properties/count/maximum", 10),
}

COMPATIBLE = {
    "unchanged": lambda d: None,
    "add optional field": _set("properties/extra", {"anyOf": [{"type": "string"}, {"type": "null"}]}),
    "add optional nested field": _set("$defs/Ref/properties/extra", {"type": "boolean", "default": False}),
    "add enum value": _set("properties/kind", {"enum": ["a", "b", "c"], "type": "string"}),
    "required becomes optional": _set("required", ["id", "ref", "at"]),
    "description and default changed": lambda d: d["properties"]["count"].update(
        description="how many", default=5
    ),
    "bound relaxed": _set("properties/count/minimum", -1),
    "x- annotations changed": _set("x-topic", "policywatch.things.v1"),
}


@pytest.mark.parametrize("case", sorted(BREAKING))
def test_checker_flags_breaking(case: str) -> None:
    problems = breaking_changes(BASE, _changed(BREAKING[case]))
    assert problems, f"{case} must be breaking"


@pytest.mark.parametrize("case", sorted(COMPATIBLE))
def test_checker_accepts_compatible(case: str) -> None:
    assert breaking_changes(BASE, _changed(COMPATIBLE[case])) == []


def test_checker_names_the_field() -> None:
    problems = breaking_changes(BASE, _changed(_set("$defs/Ref/properties/size", _DELETE)))
    assert problems == ["ref.size: field removed or renamed", "maybe_ref.size: field removed or renamed"]


# synthetic evolutions of real models, as a developer would write them


class _ChangeWithOptional(ChangeEvent):
    reviewer: str | None = Field(default=None, description="A new optional field.")


class _ChangeWithRequired(ChangeEvent):
    reviewer: str


class _ChangeRetyped(ChangeEvent):
    significance: str  # type: ignore[assignment]


class _ChangeRequiredSummary(ChangeEvent):
    reason: str  # type: ignore[assignment]


class _VersionRefRenamed(VersionRef):
    pass


class _AlertNarrowed(OperatorAlert):
    alert: Literal["document_failing", "document_unavailable"] = "document_failing"  # type: ignore[assignment]


class _AlertWidened(OperatorAlert):
    alert: Literal["document_failing", "document_unavailable", "dead_letter", "quota"] = (  # type: ignore[assignment]
        "document_failing"
    )


class _AlertSinceText(OperatorAlert):
    since: datetime | str | None = None  # type: ignore[assignment]


def _schema(model: type[EventBase]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


@pytest.mark.parametrize(
    ("model", "base", "breaking"),
    [
        (_ChangeWithOptional, ChangeEvent, False),
        (_ChangeWithRequired, ChangeEvent, True),
        (_ChangeRetyped, ChangeEvent, True),
        (_ChangeRequiredSummary, ChangeEvent, True),
        (_AlertNarrowed, OperatorAlert, True),
        (_AlertWidened, OperatorAlert, False),
        (_AlertSinceText, OperatorAlert, True),
    ],
)
def test_checker_on_model_evolutions(model: type[EventBase], base: type[EventBase], breaking: bool) -> None:
    problems = breaking_changes(_schema(base), _schema(model))
    assert bool(problems) is breaking, problems


def test_checker_ignores_definition_names() -> None:
    """Renaming a nested model class (its $defs key) changes nothing on the wire."""
    old = _schema(ChangeEvent)
    new = json.loads(json.dumps(old).replace("VersionRef", "VersionReference"))
    assert breaking_changes(old, new) == []


def test_checker_terminates_on_recursive_models() -> None:
    tree: dict[str, Any] = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name"],
            }
        },
    }
    assert breaking_changes(tree, copy.deepcopy(tree)) == []
    pruned = copy.deepcopy(tree)
    del pruned["$defs"]["Node"]["properties"]["name"]
    assert breaking_changes(tree, pruned) == ["name: field removed or renamed"]
