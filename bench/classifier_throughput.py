"""Classifier throughput on one core: passages/s and peak memory, full tagger vs lexicon-only baseline.

    .venv/bin/python bench/classifier_throughput.py [--passages 2000]

Passages are real paragraphs from the shared corpus (latest privacy policies and terms). The
baseline (lexicon rules only) is measured in the same run; the full path (rules + TF-IDF model +
evidence) is printed as a ratio to it. Single core: BLAS/OpenMP threads pinned to 1 and the
process pinned to one CPU where the OS allows.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import lzma  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

SHARED = Path(os.environ.get("POLICYWATCH_SHARED_DIR", Path(__file__).resolve().parents[1] / ".." / "shared"))
CORPUS = SHARED / "corpus" / "vlopses-us-versions.jsonl.xz"


def load_passages(n: int) -> list[str]:
    from policywatch_classifier.text import split_passages

    latest: dict[tuple[str, str], str] = {}
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["document"] in ("Privacy Policy", "Terms of Service") and r["text"]:
                latest[(r["service"], r["document"])] = r["text"]
    pool = [p.text for text in latest.values() for p in split_passages(text)]
    random.Random(7).shuffle(pool)
    return pool[:n]


def run(label: str, fn, texts: list[str], batch: int) -> float:  # type: ignore[no-untyped-def]
    fn(texts[:batch])  # warm-up (regex compilation, lazy imports)
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    dt = time.perf_counter() - t0
    rate = len(texts) / dt
    print(f"{label:32s} {rate:8.0f} passages/s  ({dt:.2f} s for {len(texts)})")
    return rate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    if not CORPUS.exists():
        print(f"skip: {CORPUS} missing")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from policywatch_classifier.tagger import PassageTagger
    from threadpoolctl import threadpool_limits

    texts = load_passages(args.passages)
    chars = sum(len(t) for t in texts) / max(1, len(texts))
    print(f"{len(texts)} passages, mean {chars:.0f} chars, batch {args.batch}, 1 core")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with threadpool_limits(1):
        rules = PassageTagger(use_model=False)
        base = run("baseline: lexicon only", rules.tag, texts, args.batch)
        full_tagger = PassageTagger()
        full = run("full: lexicon + model + evidence", full_tagger.tag, texts, args.batch)
        model = full_tagger.model
        assert model is not None
        mod = run("model only (predict_proba)", model.predict_proba, texts, args.batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"ratio full/baseline = {full / base:.2f}x ; model-only/baseline = {mod / base:.2f}x")
    print(f"peak RSS {peak / 1024:.0f} MB (corpus loading included; {rss0 / 1024:.0f} MB before the taggers)")
    goal = 200
    print(f"goal >= {goal} passages/s on one core: {'met' if full >= goal else 'NOT met'} ({full:.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
