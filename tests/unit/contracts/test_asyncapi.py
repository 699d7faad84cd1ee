"""The committed AsyncAPI document (docs/events/asyncapi.json) against the FastStream apps.

It is generated from each service's ``app.build_app`` (a clearly marked stand-in for a service
whose app is not written yet): a new or changed subscriber/publisher must be regenerated and
committed, and every channel must carry the event model of its topic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policywatch_shared import schema_export, topics
from policywatch_shared.events import EVENT_MODELS

REGENERATE = "run: python -m policywatch_shared.schema_export"
TOPIC_EVENT = {topic: event_type for event_type, topic in schema_export.EVENT_TOPICS.items()}


@pytest.fixture(scope="module")
def built() -> tuple[list[Any], dict[str, str]]:
    """Every service's broker, built once (building the apps is the slow part)."""
    return schema_export.service_brokers()


@pytest.fixture(scope="module")
def generated(built: tuple[list[Any], dict[str, str]]) -> dict[str, Any]:
    return schema_export.build_asyncapi(built=built)


@pytest.fixture(scope="module")
def committed(repo: Path) -> dict[str, Any]:
    path = repo / "docs/events" / schema_export.ASYNCAPI_FILE
    if not path.exists():
        pytest.fail(f"{path} missing; {REGENERATE}")
    return json.loads(path.read_text(encoding="utf-8"))


def _ref(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def test_committed_asyncapi_up_to_date(repo: Path, generated: dict[str, Any]) -> None:
    text = (repo / "docs/events" / schema_export.ASYNCAPI_FILE).read_text(encoding="utf-8")
    if text != schema_export.dumps(generated):
        old = json.loads(text)
        changed = sorted(set(old.get("channels", {})) ^ set(generated["channels"])) or sorted(
            k for k in generated if old.get(k) != generated[k]
        )
        pytest.fail(f"docs/events/asyncapi.json is stale (differs in {changed[:8]}); {REGENERATE}")


def test_written_apps_are_used(generated: dict[str, Any]) -> None:
    """A service whose app exists is documented from it, never from the stand-in."""
    sources = generated["info"]["x-policywatch-sources"]
    assert set(sources) == set(schema_export.PIPELINE)
    from_apps = 0
    for service in schema_export.PIPELINE:
        if schema_export._app_unavailable(service) is None:
            assert sources[service] == f"policywatch_{service}.app.build_app", sources[service]
            from_apps += 1
        else:
            assert sources[service].startswith("stand-in"), sources[service]
    assert from_apps >= 1, "no service app could be built: the document would describe nothing real"


def test_channels_carry_their_topic_model(generated: dict[str, Any]) -> None:
    assert generated["asyncapi"].startswith("3.")
    seen: dict[str, set[str]] = {"receive": set(), "send": set()}
    for name, operation in generated["operations"].items():
        channel = _ref(generated, operation["channel"]["$ref"])
        topic = channel["address"]
        assert topic in topics.TOPIC_NAMES, f"{name}: unknown topic {topic}"
        assert channel["bindings"]["kafka"]["topic"] == topic
        event_type = TOPIC_EVENT.get(topic)
        assert event_type is not None, f"{name}: {topic} carries no public event"
        for message_ref in operation["messages"]:
            message = _ref(generated, message_ref["$ref"])
            message = _ref(generated, message["$ref"]) if "$ref" in message else message
            payload = message["payload"]
            schema_name = payload["$ref"].rsplit("/", 1)[-1] if "$ref" in payload else payload.get("title")
            assert schema_name == EVENT_MODELS[event_type].__name__, (
                f"{name}: {topic} must carry {EVENT_MODELS[event_type].__name__}, documented {schema_name}"
            )
        seen[operation["action"]].add(topic)
    # every public topic is produced by someone; every consumed topic of the pipeline is subscribed
    assert seen["send"] == set(schema_export.EVENT_TOPICS.values())
    consumed = {
        schema_export.EVENT_TOPICS[e] for flow in schema_export.PIPELINE.values() for e in flow.consumes
    }
    assert consumed <= seen["receive"]


@pytest.mark.parametrize("service", sorted(schema_export.PIPELINE))
def test_apps_subscribe_to_the_documented_topics(
    built: tuple[list[Any], dict[str, str]], service: str
) -> None:
    """docs/events.md's pipeline (schema_export.PIPELINE) is what the service's app really consumes."""
    brokers, sources = built
    if not sources[service].endswith("build_app"):
        pytest.skip(f"policywatch_{service}.app.build_app not written yet")
    broker = brokers[list(schema_export.PIPELINE).index(service)]
    subscribed = schema_export._declared_topics(broker, "subscribers")
    expected = {schema_export.EVENT_TOPICS[e] for e in schema_export.PIPELINE[service].consumes}
    assert subscribed == expected, (
        f"{service} subscribes to {sorted(subscribed)}; schema_export.PIPELINE and docs/events.md say "
        f"{sorted(expected)}"
    )


def test_stand_in_for_a_service_without_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service whose package is not written yet is described from PIPELINE, and marked so."""
    flow = schema_export.ServiceFlow(("change",), ("classified_change",))
    monkeypatch.setitem(schema_export.PIPELINE, "ghost", flow)
    assert schema_export._app_unavailable("ghost") == "app not available: No module named 'policywatch_ghost'"
    brokers, sources = schema_export.service_brokers(["ghost"])
    assert sources["ghost"].startswith("stand-in from schema_export.PIPELINE")
    assert schema_export._declared_topics(brokers[0], "subscribers") == {topics.CHANGES}
    assert schema_export._declared_topics(brokers[0], "publishers") == {topics.CLASSIFIED}
    doc = schema_export.build_asyncapi(built=(brokers, sources))
    assert doc["info"]["x-policywatch-sources"] == sources
    assert any(c["address"] == topics.CHANGES for c in doc["channels"].values())


def test_build_app_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug inside build_app fails the export instead of silently using a stand-in."""
    import importlib

    app_module = importlib.import_module("policywatch_classifier.app")

    def broken(settings: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "build_app", broken)
    with pytest.raises(RuntimeError, match="boom"):
        schema_export.service_brokers(["classifier"])
