"""Classifier CPU per change event, new code against the committed code, in the same run.

    .venv/bin/python bench/classifier_change.py [--mode append|versions] [--docs 12] [--changes 3]

Replays realistic change events through ``ClassifierService.handle`` (real ``LocalStore`` in a
temp dir): documents are real policies from the shared corpus (first version indexed first, as the
service sees it), then each change appends one section (new paragraphs recombined from real
sentences) to the document's current version; ``--mode versions`` replays consecutive recorded
versions instead, with the sections the differ's own diff gives. The baseline is
``git archive HEAD services/classifier/src`` loaded in a child process through PYTHONPATH; the
working tree runs in another child. Each child
prints CPU seconds (time.process_time, one pinned core) over the change events and a digest of
every ClassifiedChange and provision index entry: the digests must be equal.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import lzma  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from policywatch.demo.corpus import corpus_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = corpus_path()  # ../shared beside the repository, or POLICYWATCH_SHARED_DIR
FIXED_TIME = datetime(2026, 1, 1, tzinfo=UTC)
#: (kind "first" | "change", platform, document_id, version text, SectionChange list)
Event = tuple[str, str, str, str, list[Any]]


def load_documents(n: int) -> list[tuple[str, str, str]]:
    """(platform, document, text) of the first version of ``n`` mid-sized documents (30k–120k chars)."""
    first: dict[tuple[str, str], str] = {}
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            key = (r["service"], r["document"])
            if key not in first and r["text"] and 30_000 <= len(r["text"]) <= 120_000:
                first[key] = r["text"]
    keys = sorted(first)
    random.Random(11).shuffle(keys)
    return [(s, d, first[(s, d)]) for s, d in keys[:n]]


def load_histories(n: int, changes: int) -> list[list[tuple[str, str, str]]]:
    """Per document, its first ``changes + 1`` versions whose text changed (30k–120k chars)."""
    hist: dict[tuple[str, str], list[str]] = {}
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            h = hist.setdefault((r["service"], r["document"]), [])
            if len(h) <= changes and r["text"] and 30_000 <= len(r["text"]) <= 120_000:
                if not h or h[-1] != r["text"]:
                    h.append(r["text"])
    keys = sorted(k for k, h in hist.items() if len(h) == changes + 1)
    random.Random(11).shuffle(keys)
    return [[(s, d, t) for t in hist[(s, d)]] for s, d in keys[:n]]


def version_events(histories: list[list[tuple[str, str, str]]]) -> list[Event]:
    """Consecutive recorded versions, sections from the differ's own diff (what it would publish)."""
    from policywatch_differ.change import diff_docs
    from policywatch_differ.sections import parse

    events: list[Event] = []
    for versions in histories:
        platform, document, text = versions[0]
        events.append(("first", platform, f"{platform}/{document}", text, []))
    for k in range(1, len(histories[0])):
        for versions in histories:
            platform, document, text = versions[k]
            sections = diff_docs(parse(versions[k - 1][2]), parse(text)).sections
            events.append(("change", platform, f"{platform}/{document}", text, sections))
    return events


def make_events(docs: list[tuple[str, str, str]], changes: int) -> list[Event]:
    """Each change appends a new section to the document's current version."""
    from policywatch_classifier.text import iter_blocks, split_sentences
    from policywatch_shared.events import SectionChange

    # New paragraphs are real sentences of the documents, recombined: text the tag caches never saw.
    pool: list[str] = []
    for _, _, text in docs:
        for s, e in iter_blocks(text):
            pool.extend(x for x in split_sentences(text[s:e]) if len(x) > 60 and "\n" not in x)
    rng = random.Random(5)
    events: list[Event] = []
    current: dict[str, str] = {}
    for platform, document, text in docs:
        doc_id = f"{platform}/{document}"
        current[doc_id] = text
        events.append(("first", platform, doc_id, text, []))
    for k in range(changes):
        for platform, document, _ in docs:
            doc_id = f"{platform}/{document}"
            body = "\n\n".join(" ".join(rng.sample(pool, 3)) for _ in range(3))
            section = f"## New section {k + 1}\n\n{body}"
            current[doc_id] = current[doc_id].rstrip("\n") + "\n\n" + section + "\n"
            added = SectionChange(
                kind="added", heading_path=[f"New section {k + 1}"], anchor=f"new-{k}", after=section
            )
            events.append(("change", platform, doc_id, current[doc_id], [added]))
    return events


async def replay(events: list[Event], root: Path) -> tuple[float, int, str]:
    from policywatch_classifier.service import ClassifierService
    from policywatch_classifier.settings import ClassifierSettings
    from policywatch_shared.events import ChangeEvent, ChangeKind, VersionRef
    from policywatch_shared.storage import LocalStore

    store = LocalStore(root)
    settings = ClassifierSettings(storage_backend="local", storage_dir=str(root))
    service = ClassifierService(settings, store)
    await service.start()
    digest = hashlib.sha256()
    cpu = 0.0
    n = 0
    for i, (kind, platform, doc_id, text, sections) in enumerate(events):
        obj = await store.put_bytes(text.encode("utf-8"), namespace="versions")
        version = VersionRef(
            version_id=obj.sha256[:16],
            number=i + 1,
            sha256=obj.sha256,
            storage_key=obj.key,
            first_seen=FIXED_TIME,
        )
        change = ChangeEvent(
            event_id=f"bench-{i}",
            produced_at=FIXED_TIME,
            trace_id=f"t{i}",
            platform=platform,
            document_type="privacy_policy",
            document_id=doc_id,
            capture_id=f"cap-{i}",
            kind=ChangeKind.FIRST_VERSION if kind == "first" else ChangeKind.MODIFIED,
            substantive=True,
            significance=0.1,
            summary=f"{len(sections)} sections changed",
            detected_at=FIXED_TIME,
            to_version=version,
            sections=sections,
        )
        c0 = time.process_time()
        result = await service.handle(change)
        if kind == "change":
            cpu += time.process_time() - c0
            n += 1
        digest.update(result.model_dump_json(exclude={"produced_at"}).encode("utf-8"))
    for key in sorted(await store.list_keys("classifier/")):
        digest.update(key.encode() + await store.get_bytes(key))
    return cpu, n, digest.hexdigest()


def child(args: argparse.Namespace) -> None:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    import policywatch_classifier

    if args.mode == "versions":
        events = version_events(load_histories(args.docs, args.changes))
    else:
        events = make_events(load_documents(args.docs), args.changes)
    from policywatch_classifier.tagger import get_tagger

    get_tagger().tag(["Warm-up: we may share your personal data with partners."])
    with tempfile.TemporaryDirectory() as tmp:
        cpu, n, digest = asyncio.run(replay(events, Path(tmp)))
    import resource

    print(
        json.dumps(
            {
                "module": policywatch_classifier.__file__,
                "cpu_ms_per_change": 1000 * cpu / n,
                "changes": n,
                "digest": digest,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_child(src: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--child", "--mode", args.mode, "--docs", str(args.docs)]
    cmd += ["--changes", str(args.changes)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=12)
    ap.add_argument("--changes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--mode",
        choices=["append", "versions"],
        default="append",
        help="append: a new section per change; versions: consecutive recorded versions",
    )
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if not CORPUS.exists():
        sys.exit(f"shared corpus missing: {CORPUS}")
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "HEAD", "services/classifier/src"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        base_src = Path(tmp) / "services" / "classifier" / "src"
        base: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for _ in range(args.rounds):  # interleaved: machine noise hits both alike
            base.append(run_child(base_src, args))
            new.append(run_child(None, args))
    assert base[0]["module"].startswith(tmp), base[0]["module"]
    b = min(r["cpu_ms_per_change"] for r in base)
    m = min(r["cpu_ms_per_change"] for r in new)
    same = {r["digest"] for r in base} == {r["digest"] for r in new} and len({r["digest"] for r in base}) == 1
    what = "appended section" if args.mode == "append" else "consecutive recorded versions"
    print(f"change events: {new[0]['changes']} ({what}, {args.docs} documents of 30k-120k chars)")
    print(
        f"baseline (git HEAD)  {b:7.1f} ms CPU/change   peak RSS {max(r['max_rss_mb'] for r in base):.0f} MB"
    )
    print(
        f"working tree         {m:7.1f} ms CPU/change   peak RSS {max(r['max_rss_mb'] for r in new):.0f} MB"
    )
    print(f"speed-up             {b / m:7.2f}x")
    print(f"outputs identical    {same}  ({new[0]['digest'][:16]})")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
