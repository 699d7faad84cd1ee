"""Replay the whole shared corpus through the differ; compare with difflib in the same run.

    .venv/bin/python bench/differ_replay.py [--limit N] [--no-baseline] [--out FILE]

Prints versions/s, MB/s, p50/p99 time per version, peak memory, the same consecutive
pairs diffed with ``difflib.SequenceMatcher`` (line alignment + word diff inside changed
blocks, default autojunk) and the ratio; then recall / non-substantive alert share
against the hand labels in tests/data/differ/labels.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import lzma
import resource
import statistics
import sys
import time
from pathlib import Path

import policywatch_differ.engine as engine
from policywatch_differ.evaluate import evaluate, load_labels
from policywatch_differ.replay import Replayer

from policywatch.demo.corpus import corpus_path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = corpus_path()  # ../shared beside the repository, or POLICYWATCH_SHARED_DIR
LABELS = ROOT / "tests" / "data" / "differ" / "labels.jsonl"


def difflib_pair(a: str, b: str) -> int:
    """Line alignment then word-level diff inside changed blocks (what the differ does)."""
    la, lb = a.splitlines(), b.splitlines()
    n = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb).get_opcodes():
        if tag == "replace":
            wa, wb = " ".join(la[i1:i2]).split(), " ".join(lb[j1:j2]).split()
            n += len(difflib.SequenceMatcher(None, wa, wb).get_opcodes())
        elif tag != "equal":
            n += 1
    return n


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


DIFF_CPU = [0.0]


def _timed_diff_docs():  # type: ignore[no-untyped-def]
    """Time the diff stage alone (what the difflib baseline does) inside the full replay."""
    inner = engine.diff_docs

    def timed(old, new):  # type: ignore[no-untyped-def]
        t = time.process_time()
        try:
            return inner(old, new)
        finally:
            DIFF_CPU[0] += time.process_time() - t

    return timed


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not CORPUS.exists():
        sys.exit(f"shared corpus missing: {CORPUS}")
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    if args.limit:
        records = records[: args.limit]
    total_chars = sum(len(r["text"]) for r in records)
    print(f"{len(records)} versions, {total_chars / 1e6:.0f} M chars")

    engine.diff_docs = _timed_diff_docs()  # type: ignore[assignment]
    rep = Replayer()
    results, per = [], []
    cpu0, t0 = time.process_time(), time.perf_counter()
    # Per-version times are CPU times (process_time): on a shared machine wall time measures the load.
    for r in records:
        t = time.process_time()
        results.append(await rep.process(r))
        per.append(time.process_time() - t)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"differ : {wall:6.1f} s wall ({cpu:.1f} s CPU)  {len(records) / wall:6.0f} versions/s  "
        f"{total_chars / 1e6 / wall:5.1f} MB/s  ({len(records) / cpu:.0f} versions/s, "
        f"{total_chars / 1e6 / cpu:.1f} MB/s per CPU second)  CPU per version: "
        f"p50 {statistics.median(per) * 1e3:.1f} ms  "
        f"p99 {pct(per, 0.99) * 1e3:.1f} ms  max {max(per) * 1e3:.0f} ms  peak RSS {peak_mb:.0f} MB"
    )
    if args.out:
        with args.out.open("w") as fh:
            for res in results:
                fh.write(json.dumps(res) + "\n")

    if not args.no_baseline:
        prev: dict[tuple[str, str], str] = {}
        base = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        for r in records:
            k = (r["service"], r["document"])
            t = time.process_time()
            if k in prev and prev[k] != r["text"]:
                difflib_pair(prev[k], r["text"])
            base.append(time.process_time() - t)
            prev[k] = r["text"]
        bwall, bcpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(
            f"difflib: {bwall:6.1f} s wall ({bcpu:.1f} s CPU)  p50 {statistics.median(base) * 1e3:.1f} ms  "
            f"p99 {pct(base, 0.99) * 1e3:.1f} ms  max {max(base) * 1e3:.0f} ms"
        )
        print(
            f"ratio  : whole differ pipeline (extraction-free replay: normalisation, checks, sections, diff, "
            f"events) runs at {bcpu / cpu:.2f}x difflib's speed (CPU; {bwall / wall:.2f}x wall); "
            f"the diff stage alone ({DIFF_CPU[0]:.1f} s CPU) at {bcpu / DIFF_CPU[0]:.1f}x"
        )

    outcomes: dict[str, int] = {}
    for res in results:
        outcomes[res["outcome"]] = outcomes.get(res["outcome"], 0) + 1
    print("outcomes:", json.dumps(outcomes, sort_keys=True), "alerts:", sum(r["alert"] for r in results))
    if LABELS.exists():
        q = evaluate(results, load_labels(LABELS))
        print(
            f"labels : {q['labelled']} labelled, {q['substantive']} substantive; recall {q['recall']:.1%} "
            f"(distinct versions {q['recall_distinct']:.1%}); non-substantive share of alerts "
            f"{q['non_substantive_alert_share']:.1%} ({q['alerts']} alerts)"
        )
        print("alerts by label:", q["alerts_by_label"])
        if q["misses"]:
            print("missed:", q["misses"])
        if q["false_alerts"]:
            print("false alerts:", q["false_alerts"])


if __name__ == "__main__":
    asyncio.run(main())
