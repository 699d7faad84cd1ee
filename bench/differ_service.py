"""Cost of one capture in the differ service (issue 7), against baselines in the same run.

    .venv/bin/python bench/differ_service.py [--documents 20] [--rounds 3] [--restart]
    .venv/bin/python bench/differ_service.py --against DIR [--repeat 3]


Feeds ``DifferService.handle`` the captures the load bench (bench/system_load.py) makes:
real corpus documents (first recorded version, capped at 60,000 characters; by default
documents at least that long, as most of the load bench's are) rendered to HTML by the
demo site (chrome, cookie banner, navigation around ``article.policy``), stored raw in a
``LocalStore`` in a temporary directory. Per document: the first version, then
``--rounds`` modified versions (the load bench's added clause, renumbered each round),
then the last page again (unchanged). Prints CPU (process time) and wall ms per capture
of each kind, and two baselines measured on the same pages: extraction alone without the
block cache (what every capture cost before it) and a bare ``difflib`` diff of the two
texts (line alignment, then words inside replaced blocks). ``--restart`` also times a
modified capture handled by a fresh service (empty memory) on the stored state.

``--against DIR`` compares two versions of the differ in the same run: DIR holds another
``policywatch_differ`` package (e.g. the committed one:
``git archive HEAD services/differ/src | tar -x -C /tmp/base`` then ``--against
/tmp/base/services/differ/src``). The bench runs ``--repeat`` times with each, alternately,
in child processes, and prints the CPU p50 per capture of both and their ratio. It also
checks that both produce the same results: every change event (fresh ``produced_at`` and
``trace_id`` aside) and every stored version text and history index (the same, inside the
remembered events) — it stops if one differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import policywatch_differ.extract as extraction
import policywatch_differ.service as service_module
from differ_replay import difflib_pair  # sibling script: bench/ is on sys.path when run
from policywatch_differ.extract import extract
from policywatch_differ.htmlmd import MarkdownCache
from policywatch_differ.service import DifferService
from policywatch_shared.events import (
    CapturedPage,
    CaptureEvent,
    CaptureOutcome,
    ExtractionHints,
    Fetcher,
)
from policywatch_shared.storage import LocalStore
from system_load import CLAUSE, MAX_CHARS  # the load bench's page size and added clause

from policywatch.demo.corpus import BUNDLED, corpus_path, iter_corpus
from policywatch.demo.setup import REMOVE, SELECT
from policywatch.demo.site import SiteDocument, _article, _chrome

HINTS = ExtractionHints(select=SELECT, remove=REMOVE)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def texts(limit: int, min_chars: int) -> list[str]:
    """First recorded versions of corpus documents, capped at 60,000 characters: those at least
    ``min_chars`` long first (the load bench's size), then the longest others."""
    path = corpus_path() if corpus_path().exists() else BUNDLED
    firsts = [doc.versions[0].text[:MAX_CHARS] for doc in iter_corpus(path) if doc.versions]
    big = [t for t in firsts if len(t) >= min_chars]
    rest = sorted((t for t in firsts if len(t) < min_chars), key=len, reverse=True)
    return (big + rest)[:limit]


def page(i: int, text: str, docs: list[SiteDocument]) -> bytes:
    """The HTML the demo site serves for this text (the chrome rotates per request)."""
    doc = SiteDocument(f"bench/doc-{i}", f"Bench document {i}", f"Bench {i}", [text])
    site = SimpleNamespace(documents_list=lambda: docs)
    return _chrome(site, doc, _article(doc), title=doc.title).encode()  # type: ignore[arg-type]


async def capture(store: LocalStore, doc: int, n: int, body: bytes) -> CaptureEvent:
    obj = await store.put_bytes(body, namespace="raw", content_type="text/html; charset=utf-8")
    url = f"http://127.0.0.1:1/bench/doc-{doc}"
    return CaptureEvent(
        event_id=f"cap-{doc}-{n}",
        platform=f"bench-{doc}",
        document_type="privacy_policy",
        document_id=f"bench/doc-{doc}",
        fetch_request_id=f"req-{doc}-{n}",
        outcome=CaptureOutcome.OK,
        attempted_at=T0 + timedelta(hours=n),
        pages=[
            CapturedPage(
                url=url, final_url=url, status=200, outcome=CaptureOutcome.OK, fetcher=Fetcher.HTTP,
                content_type="text/html; charset=utf-8", sha256=obj.sha256, size=obj.size,
                storage_key=obj.key,
            )
        ],
        hints=HINTS,
    )  # fmt: skip


def ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1e3:6.1f}  max {max(xs) * 1e3:6.1f} ms"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="modified captures per document")
    ap.add_argument("--min-chars", type=int, default=MAX_CHARS, help="prefer documents this long")
    ap.add_argument("--restart", action="store_true", help="also time a fresh service on the stored state")
    ap.add_argument(
        "--against", type=Path, help="src directory of another policywatch_differ to compare with"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each version with --against")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child of --against
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # child of --against: results
    args = ap.parse_args()
    if args.against:
        return compare(args)
    bodies = texts(args.documents, args.min_chars)
    site_docs = [SiteDocument(f"bench/doc-{i}", f"Bench document {i}", "Bench", [""]) for i in range(6)]
    print(f"{len(bodies)} documents, {statistics.mean(map(len, bodies)):.0f} chars of markdown on average")

    cpu: dict[str, list[float]] = {"first": [], "modified": [], "unchanged": []}
    # The share of each handle spent extracting (the service's own call, block cache and all).
    extract_in_handle: dict[str, list[float]] = {k: [] for k in cpu}
    in_extract: list[float] = []
    plain_extract = service_module.extract

    def timed_extract(*a: Any, **kw: Any) -> str:
        c = time.process_time()
        try:
            return plain_extract(*a, **kw)
        finally:
            in_extract.append(time.process_time() - c)

    service_module.extract = timed_extract
    wall: dict[str, list[float]] = {k: [] for k in cpu}
    results: list[Any] = []  # change events, for the identity check of --against
    raw_names: dict[str, str] = {}  # raw key → capture order (the pages differ per process)
    extract_cpu: list[float] = []  # uncached extraction of the same pages
    base: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp))
        svc = DifferService(store)
        for i, text in enumerate(bodies):
            versions = [text] + [text + CLAUSE.format(n=r) for r in range(1, args.rounds + 1)]
            prev_md = None
            for n, v in enumerate(versions):
                html = page(i, v, site_docs)
                for kind in ("first" if n == 0 else "modified", "unchanged"):
                    if kind == "unchanged" and n != len(versions) - 1:
                        continue
                    ev = await capture(store, i, len(cpu[kind]) + 100 * n + (kind == "unchanged"), html)
                    raw_names.setdefault(str(ev.pages[0].storage_key), f"raw-{len(raw_names)}")
                    c, w = time.process_time(), time.perf_counter()
                    in_extract.clear()
                    events = await svc.handle(ev)
                    cpu[kind].append(time.process_time() - c)
                    extract_in_handle[kind].append(sum(in_extract))
                    wall[kind].append(time.perf_counter() - w)
                    results.append([_fresh_aside(e.model_dump(mode="json")) for e in events])
                    expected = {"first": "first_version", "modified": "modified", "unchanged": None}[kind]
                    got = events[-1].kind.value if events else None
                    if got != expected:
                        sys.exit(f"document {i} capture {n}: expected {expected}, got {got}")
                # Components (not part of the service figures): extraction without the block
                # cache (what every capture cost before it), and a bare text diff.
                cached, extraction.BLOCKS = extraction.BLOCKS, MarkdownCache(0)
                c = time.process_time()
                md = extract(html, content_type="text/html; charset=utf-8", hints=HINTS)
                extract_cpu.append(time.process_time() - c)
                extraction.BLOCKS = cached
                if prev_md is not None:
                    c = time.process_time()
                    difflib_pair(prev_md, md)
                    base.append(time.process_time() - c)
                prev_md = md

        if args.dump:
            args.dump.write_text(json.dumps({"events": results, "objects": await stored(store, raw_names)}))
        if args.json:
            import policywatch_differ

            extracting = {f"extract {k}": v for k, v in extract_in_handle.items()}
            # The rest of each capture: comparison, storage, event (what extraction leaves).
            rest = {
                f"rest {k}": [a - b for a, b in zip(v, extract_in_handle[k], strict=True)]
                for k, v in cpu.items()
            }
            print(json.dumps({"module": policywatch_differ.__file__, **cpu, **extracting, **rest}))
            return
        for kind in cpu:
            n = len(cpu[kind])
            print(f"handle {kind:9s}: CPU {ms(cpu[kind])}   wall {ms(wall[kind])}   ({n} captures)")
            print(f"  of which extraction: CPU {ms(extract_in_handle[kind])}")
        print(f"baseline: extraction alone, no block cache: CPU {ms(extract_cpu)}")
        print(f"baseline: difflib diff of the two texts    : CPU {ms(base)}")
        mod = statistics.median(cpu["modified"])
        print(
            f"ratio  : a modified capture (extraction, checks, diff, storage) costs "
            f"{mod / statistics.median(extract_cpu):.2f}x a bare uncached extraction of its page and "
            f"{mod / statistics.median(base):.0f}x a difflib diff of its text (CPU p50)"
        )

        if args.restart:
            fresh = DifferService(store)
            i = 0
            html = page(i, bodies[i] + CLAUSE.format(n=99), site_docs)
            ev = await capture(store, i, 999, html)
            c = time.process_time()
            await fresh.handle(ev)
            took = (time.process_time() - c) * 1e3
            print(f"after a restart (empty caches): modified capture CPU {took:.1f} ms")


def _fresh_aside(event: dict[str, Any]) -> dict[str, Any]:
    """An event without what is legitimately new on each run."""
    return {k: v for k, v in event.items() if k not in ("produced_at", "trace_id")}


async def stored(store: LocalStore, raw_names: dict[str, str]) -> dict[str, Any]:
    """Every version text (sha256, metadata) and history index the differ wrote; the raw
    pages' keys in the histories by capture order (the demo's chrome rotates per process)."""
    out: dict[str, Any] = {}
    for key in await store.list_keys("versions/"):
        obj = await store.stat(key)
        out[key] = obj and [obj.sha256, obj.size, obj.content_type, obj.metadata]
    for key in await store.list_keys("differ/history/"):
        text = (await store.get_bytes(key)).decode()
        for raw, name in raw_names.items():
            text = text.replace(raw, name)
        history = json.loads(text)
        history["events"] = {k: v and _fresh_aside(v) for k, v in history["events"].items()}
        out[key] = history
    return out


def compare(args: argparse.Namespace) -> None:
    """This bench with the current code and with ``--against``'s, alternately, in child processes."""
    cmd = [
        sys.executable,
        __file__,
        "--json",
        "--documents",
        str(args.documents),
        "--rounds",
        str(args.rounds),
    ]
    cmd += ["--min-chars", str(args.min_chars)]
    runs: dict[str, list[dict[str, list[float]]]] = {"baseline": [], "current": []}
    dumps: dict[str, list[Any]] = {"baseline": [], "current": []}
    tmp = tempfile.TemporaryDirectory()
    for r in range(args.repeat):
        for name in ("baseline", "current") if r % 2 == 0 else ("current", "baseline"):
            env = dict(os.environ)
            if name == "baseline":  # PYTHONPATH comes before the installed (editable) package
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(args.against.resolve()), env.get("PYTHONPATH")])
                )
            dump = Path(tmp.name) / f"{name}-{r}.json"
            done = subprocess.run(
                [*cmd, "--dump", str(dump)], env=env, check=True, capture_output=True, text=True
            )
            dumps[name].append(json.loads(dump.read_text()))
            out = json.loads(done.stdout.splitlines()[-1])
            if (name == "baseline") != out["module"].startswith(str(args.against.resolve())):
                sys.exit(f"{name} run imported {out['module']}")
            runs[name].append(out)
            print(
                f"{name:8s} run {r + 1}: modified p50 {statistics.median(out['modified']) * 1e3:.1f} ms",
                flush=True,
            )
    tmp.cleanup()
    ref = dumps["baseline"][0]
    for name, got in dumps.items():
        for r, d in enumerate(got):
            for part in ("events", "objects"):
                if d[part] != ref[part]:
                    sys.exit(f"{name} run {r + 1}: {part} differ from the baseline's first run")
    events = sum(map(len, ref["events"]))
    print(
        f"identical results in all {2 * args.repeat} runs: {events} change events, "
        f"{len(ref['objects'])} stored versions and histories"
    )
    print(f"CPU per capture (ms), p50 / mean of each run; baseline = {args.against}")
    kinds = ["modified", "unchanged", "first", "extract modified", "rest modified", "rest unchanged"]
    for kind in kinds:
        for stat in (statistics.median, statistics.mean):
            ms_ = {k: [stat(run[kind]) * 1e3 for run in v] for k, v in runs.items()}
            ratio = statistics.median(ms_["baseline"]) / statistics.median(ms_["current"])
            fmt = {k: " ".join(f"{x:.1f}" for x in v) for k, v in ms_.items()}
            label = f"{kind} {'p50' if stat is statistics.median else 'mean'}"
            print(f"  {label:20s}: baseline {fmt['baseline']:18s} current {fmt['current']:18s} ", end="")
            print(f"-> {ratio:.2f}x less CPU")


if __name__ == "__main__":
    asyncio.run(main())
