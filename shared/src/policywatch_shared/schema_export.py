"""Export the event contracts: one JSON Schema per event model and an AsyncAPI document.

``python -m policywatch_shared.schema_export`` writes ``docs/events/<event_type>.schema.json``
for every model in :data:`policywatch_shared.events.EVENT_MODELS` and ``docs/events/asyncapi.json``
combined from the four services' FastStream apps (``policywatch_<svc>.app.build_app``).

``--check`` writes nothing: it exits 1 when a committed file is missing or stale, and says
whether the difference breaks consumers (:func:`breaking_changes`). The compatibility rules:

* removing (or renaming) a field, changing its type, narrowing an enum, tightening a bound or
  making an optional field required is **breaking** (needs new ``.v2`` topics);
* adding an optional field, adding an enum value, changing descriptions or defaults is not.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policywatch_shared import topics
from policywatch_shared.events import EVENT_MODELS, SCHEMA_VERSION, EventBase

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_OUT = Path("docs/events")
ASYNCAPI_FILE = "asyncapi.json"
#: Bootstrap address written into the AsyncAPI servers (the docker-compose service name).
ASYNCAPI_KAFKA = "kafka:9092"

#: Topic of each event type (the message key is always ``document_id``).
EVENT_TOPICS: dict[str, str] = {
    "fetch_request": topics.FETCH_REQUESTS,
    "capture": topics.CAPTURES,
    "change": topics.CHANGES,
    "classified_change": topics.CLASSIFIED,
    "delivery_outcome": topics.DELIVERIES,
    "operator_alert": topics.OPERATOR_ALERTS,
}


@dataclass(frozen=True)
class ServiceFlow:
    """What a service consumes and produces (event types): the documented pipeline."""

    consumes: tuple[str, ...]
    produces: tuple[str, ...]


#: The pipeline as documented in docs/events.md. Used to declare publishers (services publish
#: through ``broker.publish``, which FastStream cannot see) and, when a service's app cannot be
#: built, as a clearly marked stand-in for its subscribers.
PIPELINE: dict[str, ServiceFlow] = {
    "fetcher": ServiceFlow(("fetch_request",), ("fetch_request", "capture", "operator_alert")),
    "differ": ServiceFlow(("capture",), ("change", "operator_alert")),
    "classifier": ServiceFlow(("change",), ("classified_change",)),
    "notifier": ServiceFlow(("classified_change",), ("delivery_outcome",)),
}


def schema_filename(event_type: str) -> str:
    return f"{event_type}.schema.json"


# --------------------------------------------------------------------------- JSON Schema


def event_schema(model: type[EventBase]) -> dict[str, Any]:
    """JSON Schema of one event model (validation mode: what a consumer may rely on)."""
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "x-event-type": model.event_type,
        "x-topic": EVENT_TOPICS[model.event_type],
        "x-key": "document_id",
        "x-schema-version": SCHEMA_VERSION,
        **schema,
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema for every event model."""
    missing = sorted(set(EVENT_MODELS) - set(EVENT_TOPICS))
    if missing:
        raise RuntimeError(f"no topic declared in schema_export.EVENT_TOPICS for event types {missing}")
    return {schema_filename(name): event_schema(model) for name, model in EVENT_MODELS.items()}


def dumps(doc: Mapping[str, Any]) -> str:
    """Stable text form (committed files are compared byte for byte)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- compatibility


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow local ``#/$defs/...`` references (pydantic only emits those)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
        seen += 1
        if seen > 50:
            raise ValueError(f"reference loop at {node.get('$ref')}")
    return node


def _variants(node: Mapping[str, Any]) -> list[Any]:
    for key in ("anyOf", "oneOf"):
        if key in node:
            return list(node[key])
    return [node]


def _kind(node: Mapping[str, Any]) -> str:
    """Coarse type of a schema node, used to pair union members before and after."""
    if "const" in node or "enum" in node:
        return "enum:" + str(node.get("type", "any"))
    typ = node.get("type")
    if isinstance(typ, list):
        return "|".join(sorted(str(t) for t in typ))
    if typ is None and "properties" in node:
        return "object"
    fmt = node.get("format")
    return f"{typ or 'any'}" + (f":{fmt}" if fmt else "")


def _enum_values(node: Mapping[str, Any]) -> set[str]:
    if "const" in node:
        return {json.dumps(node["const"])}
    return {json.dumps(v) for v in node.get("enum", [])}


#: Bounds whose tightening rejects values that used to be valid.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _compare(
    old: Any,
    new: Any,
    old_root: Mapping[str, Any],
    new_root: Mapping[str, Any],
    path: str,
    out: list[str],
    stack: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and "$ref" in old and "$ref" in new:
        pair = (str(old["$ref"]), str(new["$ref"]))
        if pair in stack:  # recursive model: this pair is already being compared further up
            return
        stack = stack | {pair}
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            out.append(f"{path}: schema changed from {old!r} to {new!r}")
        return

    old_vars = [_resolve(v, old_root) for v in _variants(old)]
    new_vars = [_resolve(v, new_root) for v in _variants(new)]
    if len(old_vars) > 1 or len(new_vars) > 1:
        old_by = {_kind(v): v for v in old_vars}
        new_by = {_kind(v): v for v in new_vars}
        if set(old_by) != set(new_by):
            out.append(
                f"{path}: type changed from {' | '.join(sorted(old_by))} to {' | '.join(sorted(new_by))}"
            )
            return
        for kind, old_v in old_by.items():
            _compare(old_v, new_by[kind], old_root, new_root, path, out, stack)
        return

    if _kind(old) != _kind(new):
        out.append(f"{path}: type changed from {_kind(old)} to {_kind(new)}")
        return

    if "enum" in old or "const" in old:
        removed = _enum_values(old) - _enum_values(new)
        if removed:
            out.append(f"{path}: enum values removed: {', '.join(sorted(removed))}")

    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(f"{path}: bound {key} tightened from {old.get(key)} to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(f"{path}: bound {key} tightened from {old.get(key)} to {new[key]}")

    if "properties" in old or "properties" in new:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_req = set(old.get("required", []))
        new_req = set(new.get("required", []))
        for name, old_p in old_props.items():
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                out.append(f"{where}: field removed or renamed")
                continue
            if name in new_req and name not in old_req:
                out.append(f"{where}: optional field became required")
            _compare(old_p, new_props[name], old_root, new_root, where, out, stack)
        for name in new_props.keys() - old_props.keys():
            if name in new_req:
                where = f"{path}.{name}" if path else name
                out.append(f"{where}: new field is required (add it as optional)")

    if "items" in old or "items" in new:
        _compare(old.get("items", {}), new.get("items", {}), old_root, new_root, f"{path}[]", out, stack)
    old_ap, new_ap = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_ap, dict) or isinstance(new_ap, dict):
        if not (isinstance(old_ap, dict) and isinstance(new_ap, dict)):
            out.append(f"{path}: additionalProperties changed from {old_ap!r} to {new_ap!r}")
        else:
            _compare(old_ap, new_ap, old_root, new_root, f"{path}{{}}", out, stack)


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Changes from ``old`` to ``new`` (two JSON Schemas) that break existing consumers or producers.

    Empty list: ``new`` is a compatible evolution of ``old`` (e.g. added optional fields).
    """
    out: list[str] = []
    _compare(old, new, old, new, "", out)
    return out


# --------------------------------------------------------------------------- AsyncAPI

#: Settings factories: build without reading the environment so the document is reproducible.
ServiceApp = tuple[str, Any, str]  # (service, broker, source description)


def _service_settings(service: str, workdir: Path) -> Any:
    module = importlib.import_module(f"policywatch_{service}.settings")
    cls = getattr(module, f"{service.capitalize()}Settings")
    # model_construct: defaults only (no env), so CI and laptops produce the same document.
    return cls.model_construct(
        kafka_bootstrap_servers=ASYNCAPI_KAFKA,
        storage_backend="local",
        storage_dir=workdir / service / "storage",
        database_url=f"sqlite+aiosqlite:///{workdir / service / 'db.sqlite'}",
    )


def _app_brokers(app: Any) -> list[Any]:
    brokers = list(getattr(app, "brokers", []) or [])
    if not brokers and getattr(app, "broker", None) is not None:
        brokers = [app.broker]
    return brokers


def _stand_in_handler(model: type[EventBase]) -> Callable[..., Any]:
    async def handle(event: Any) -> None:  # pragma: no cover - never called, only inspected
        return None

    param = inspect.Parameter("event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model)
    handle.__signature__ = inspect.Signature([param], return_annotation=None)  # type: ignore[attr-defined]
    handle.__name__ = f"stand_in_{model.event_type}"
    return handle


def _declared_topics(broker: Any, attr: str) -> set[str]:
    names: set[str] = set()
    for item in getattr(broker, attr, []):
        for channel in item.schema().values():
            address = getattr(channel, "address", None) or ""
            names.add(str(address))
        for topic in getattr(item, "topics", ()) or ():
            names.add(str(getattr(topic, "name", topic)))  # FastStream 0.7: Topic objects
    return names


def _app_unavailable(service: str) -> str | None:
    """Why ``policywatch_<svc>.app.build_app`` cannot be used yet (not written), or None."""
    name = f"policywatch_{service}.app"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # The app module, or a module it imports, is not written yet (packages land in parallel).
        return f"app not available: No module named {exc.name!r}"
    if not callable(getattr(module, "build_app", None)):
        return f"app not available: {name} has no build_app"
    return None


def service_brokers(services: Iterable[str] = PIPELINE) -> tuple[list[Any], dict[str, str]]:
    """One broker per service: from its app, or a stand-in declaring its documented flow.

    Returns the brokers and, per service, where its part of the document came from.
    """
    from faststream.kafka import KafkaBroker

    brokers: list[Any] = []
    sources: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="policywatch-asyncapi-") as tmp:
        for service in services:
            flow = PIPELINE[service]
            broker: Any = None
            unavailable = _app_unavailable(service)
            if unavailable is None:
                # A failure inside build_app is a bug, not a missing app: let it propagate.
                app_module = importlib.import_module(f"policywatch_{service}.app")
                app = app_module.build_app(_service_settings(service, Path(tmp)))
                app_brokers = _app_brokers(app)
                if not app_brokers:
                    raise RuntimeError(
                        f"policywatch_{service}.app.build_app returned an app without a broker"
                    )
                broker = app_brokers[0]
                sources[service] = f"policywatch_{service}.app.build_app"
            else:
                print(f"schema_export: {service}: {unavailable}; using stand-in", file=sys.stderr)
                sources[service] = f"stand-in from schema_export.PIPELINE ({unavailable})"
                broker = KafkaBroker(ASYNCAPI_KAFKA)
                for event_type in flow.consumes:
                    broker.subscriber(
                        EVENT_TOPICS[event_type],
                        group_id=f"policywatch-{service}",
                        title=f"{EVENT_TOPICS[event_type]}:{service}:subscribe",
                        description=f"Consumed by the {service} (stand-in: app not available).",
                    )(_stand_in_handler(EVENT_MODELS[event_type]))
            published = _declared_topics(broker, "publishers")
            for event_type in flow.produces:
                topic = EVENT_TOPICS[event_type]
                if topic in published:
                    continue
                # Services publish with broker.publish(); declare the publisher for the document only.
                broker.publisher(
                    topic,
                    title=f"{topic}:{service}:publish",
                    description=f"Published by the {service}; key = document_id.",
                    schema=EVENT_MODELS[event_type],
                )
            brokers.append(broker)
    return brokers, sources


def build_asyncapi(
    services: Iterable[str] = PIPELINE, *, built: tuple[list[Any], dict[str, str]] | None = None
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the whole pipeline (every service's broker combined).

    ``built``: the result of :func:`service_brokers`, when the caller already has it (building
    the apps is the slow part).
    """
    from faststream.specification import AsyncAPI

    brokers, sources = built if built is not None else service_brokers(services)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = AsyncAPI(
            *brokers,
            title="policywatch events",
            version=SCHEMA_VERSION,
            description=(
                "Kafka topics of policywatch (fetcher -> differ -> classifier -> notifier). "
                "Message key = document_id; delivery at-least-once, de-duplicate by event_id. "
                "See docs/events.md."
            ),
            schema_version="3.0.0",
        ).to_specification()
    overwrites = [str(w.message) for w in caught if "Overwrit" in str(w.message)]
    if overwrites:
        # Two services declared the same channel/operation name: one would silently vanish.
        raise RuntimeError("AsyncAPI name clash: " + "; ".join(overwrites))
    doc: dict[str, Any] = json.loads(spec.to_json())
    # Sorted: the order in which apps register handlers/publishers is not stable across runs.
    for key in ("channels", "operations"):
        doc[key] = dict(sorted(doc.get(key, {}).items()))
    for key in ("messages", "schemas"):
        if key in doc.get("components", {}):
            doc["components"][key] = dict(sorted(doc["components"][key].items()))
    doc["info"]["x-policywatch-sources"] = dict(sorted(sources.items()))
    doc["info"]["x-policywatch-topics"] = [
        {
            "name": t.name,
            "partitions": t.partitions,
            "retention_ms": t.retention_ms,
            "compacted": t.compacted,
            "description": t.description,
        }
        for t in topics.TOPICS
    ]
    return doc


# --------------------------------------------------------------------------- CLI


def render(*, asyncapi: bool = True) -> dict[str, str]:
    """File name -> text of every generated file."""
    files = {name: dumps(schema) for name, schema in event_schemas().items()}
    if asyncapi:
        files[ASYNCAPI_FILE] = dumps(build_asyncapi())
    return files


def check(out: Path, files: Mapping[str, str]) -> list[str]:
    """Problems of the committed files in ``out`` against freshly generated ``files``."""
    problems: list[str] = []
    for name, text in files.items():
        path = out / name
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        committed = path.read_text(encoding="utf-8")
        if committed == text:
            continue
        if name.endswith(".schema.json"):
            breaking = breaking_changes(json.loads(committed), json.loads(text))
            if breaking:
                problems.append(f"{path}: BREAKING change (needs .v2 topics): " + "; ".join(breaking))
                continue
        problems.append(f"{path}: stale (compatible change); regenerate it")
    stale = sorted(p.name for p in out.glob("*.schema.json") if p.name not in files)
    problems.extend(
        f"{out / name}: no event model any more (removing an event is breaking)" for name in stale
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policywatch_shared.schema_export", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default docs/events)")
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    parser.add_argument("--no-asyncapi", action="store_true", help="only the JSON Schemas")
    args = parser.parse_args(argv)

    files = render(asyncapi=not args.no_asyncapi)
    if args.check:
        problems = check(args.out, files)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m policywatch_shared.schema_export", file=sys.stderr)
            return 1
        print(f"{len(files)} files up to date in {args.out}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
