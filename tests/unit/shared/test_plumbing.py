"""Unit tests of the shared plumbing that need no server."""

from __future__ import annotations

import json
import logging

from policywatch_shared.broker import is_poison, is_transient
from policywatch_shared.dedupe import SeenIds
from policywatch_shared.errors import PermanentError
from policywatch_shared.events import OperatorAlert, make_event_id
from policywatch_shared.logs import JsonFormatter, log_context
from policywatch_shared.storage import StorageUnavailable, content_key
from policywatch_shared.tansu import tansu_binary
from pydantic import ValidationError


def test_seen_ids_is_bounded_and_remembers_recent() -> None:
    seen = SeenIds(maxlen=3)
    for i in range(5):
        seen.add(str(i))
    assert len(seen) == 3
    assert "0" not in seen and "1" not in seen and "4" in seen


def test_event_ids_are_deterministic() -> None:
    assert make_event_id("capture", "a/b", 1) == make_event_id("capture", "a/b", 1)
    assert make_event_id("capture", "a/b", 1) != make_event_id("capture", "a/b", 2)
    assert make_event_id("capture", "a", "b") != make_event_id("capture", "a\x1fb")  # parts can't be confused


def test_error_classification() -> None:
    assert is_transient(StorageUnavailable("down"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError("bug"))
    try:
        OperatorAlert.model_validate({"nope": 1})
    except ValidationError as exc:
        assert is_poison(exc)
    assert is_poison(json.JSONDecodeError("x", "y", 0))
    assert is_poison(PermanentError("bad input"))
    assert not is_poison(RuntimeError("maybe next time"))


def test_json_logs_carry_context() -> None:
    record = logging.LogRecord("policywatch.x", logging.INFO, __file__, 1, "captured %s", ("doc",), None)
    with log_context(document_id="openai/privacy_policy", trace_id="t1"):
        line = JsonFormatter("fetcher").format(record)
    entry = json.loads(line)
    assert entry["msg"] == "captured doc"
    assert entry["service"] == "fetcher"
    assert entry["document_id"] == "openai/privacy_policy" and entry["trace_id"] == "t1"
    outside = json.loads(JsonFormatter("fetcher").format(record))
    assert "document_id" not in outside


def test_content_keys_and_tansu_binary() -> None:
    assert content_key("captures", "abcdef") == "captures/ab/abcdef"
    assert tansu_binary().exists()


def test_local_store_lists_keys_by_prefix_only_below_it(tmp_path) -> None:
    import asyncio

    from policywatch_shared.storage import LocalStore

    store = LocalStore(tmp_path)

    async def run() -> tuple[list[str], list[str], list[str], list[str]]:
        for key in ("a/b/one.json", "a/b/two.json", "a/bc/three.json", "a/x.json", "top.json"):
            await store.put_named(key, b"{}")
        return (
            await store.list_keys("a/b/"),
            await store.list_keys("a/b"),
            await store.list_keys("nothing/here/"),
            await store.list_keys(""),
        )

    below, partial, missing, everything = asyncio.run(run())
    assert below == ["a/b/one.json", "a/b/two.json"]
    assert partial == ["a/b/one.json", "a/b/two.json", "a/bc/three.json"]  # a prefix, not a folder
    assert missing == [] and len(everything) == 5
