"""Classifier throughput on one core: passages/s and peak memory, against a baseline in the same run.

    .venv/bin/python bench/classifier_throughput.py [--passages 2000]

Passages are real paragraphs from the shared corpus (latest privacy policies and terms). The
baseline — the lexicon as first written, every rule tried on every sentence — is measured in the
same run; the shipped lexicon (per-category pre-filter, same results) and the full path (rules +
TF-IDF model + embedding model + evidence) are printed as ratios to it. Single core: BLAS/OpenMP
threads pinned to 1 and the process pinned to one CPU where the OS allows.
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
    # Distinct passages: platforms (Google's services) share paragraphs, and the tagger remembers
    # its last 512 passages, so a repeat would be timed as a free look-up.
    pool = list(dict.fromkeys(p.text for text in latest.values() for p in split_passages(text)))
    random.Random(7).shuffle(pool)
    return pool[:n]


def run(label: str, fn, texts: list[str], batch: int, warm: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Passages per CPU-second (the process is single-threaded and pinned: this is the rate of one
    free core, whatever else the machine runs); the wall-clock rate is printed beside it."""
    # Warm-up (regex compilation, lazy imports) on other passages than the timed ones: the
    # tagger would answer those from its memo of recent passages.
    assert not set(warm) & set(texts)
    fn(warm)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = len(texts) / cpu
    print(f"{label:40s} {rate:8.0f} passages/CPU-s  (wall {len(texts) / dt:6.0f}/s, {dt:.2f} s)")
    return rate


def naive_lexicon(lexicon):  # type: ignore[no-untyped-def]
    """The lexicon as first written: every rule on every sentence (baseline of the pre-filter)."""
    from policywatch_classifier.text import split_sentences

    def tag(texts: list[str]) -> list[dict[str, float]]:
        out = []
        for text in texts:
            best: dict[str, float] = {}
            for sent in split_sentences(text):
                for rule in lexicon.rules:
                    if not rule.pattern.search(sent):
                        continue
                    negs = lexicon.negatives.get(rule.category)
                    if negs and any(n.search(sent) for n in negs):
                        continue
                    best[rule.category] = max(best.get(rule.category, 0.0), rule.weight)
            out.append(best)
        return out

    return tag


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

    texts = load_passages(args.passages + args.batch)
    warm, texts = texts[: args.batch], texts[args.batch :]
    chars = sum(len(t) for t in texts) / max(1, len(texts))
    print(f"{len(texts)} passages, mean {chars:.0f} chars, batch {args.batch}, 1 core")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with threadpool_limits(1):
        rules = PassageTagger(use_model=False)
        naive_tag = naive_lexicon(rules.lexicon)
        naive = run("baseline: lexicon, every rule x sentence", naive_tag, texts, args.batch, warm)
        base = run("lexicon only (per-category pre-filter)", rules.tag, texts, args.batch, warm)
        full_tagger = PassageTagger()
        full = run("full: lexicon + model + evidence", full_tagger.tag, texts, args.batch, warm)
        model = full_tagger.model
        assert model is not None
        mod = run("model only (TF-IDF + embedding models)", model.predict_proba, texts, args.batch, warm)
        from policywatch_classifier.embedding import get_embedder

        run("embedding only (tokenise + mean-pool)", get_embedder().embed, texts, args.batch, warm)
    print(f"scikit-learn imported: {'sklearn' in sys.modules} (the run-time path must not need it)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"ratios vs baseline: lexicon {base / naive:.2f}x ; full {full / naive:.2f}x ; "
        f"model-only {mod / naive:.2f}x"
    )
    print(f"peak RSS {peak / 1024:.0f} MB (corpus loading included; {rss0 / 1024:.0f} MB before the taggers)")
    goal = 200
    print(f"goal >= {goal} passages/s on one core: {'met' if full >= goal else 'NOT met'} ({full:.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
