"""How often is a change's severity right? Labelled severities of real changes, the pipeline scored on them.

    .venv/bin/policywatch replay ../shared/corpus/vlopses-us-versions.jsonl.xz --out /tmp/replay.jsonl
    .venv/bin/python services/classifier/tools/severity_eval.py sample /tmp/replay.jsonl OUT.jsonl \
        [--dev 80 --test 60 --seed 20261207] [--exclude LABELS.jsonl]
    .venv/bin/python services/classifier/tools/severity_eval.py score /tmp/replay.jsonl \
        [--labels tests/data/classifier/severity_labels.jsonl] [--split dev|test|all] [--errors N] \
        [--dump LEVELS.json] [--compare OTHER_LEVELS.json]
    .venv/bin/python services/classifier/tools/severity_eval.py agreement

Items are whole changes (``modified`` ones with 1–``MAX_PASSAGES`` passages, so that an annotator
can read all of it; the share of changes that size is printed), drawn at random from the unique
ones (the same passages published in two documents of a family count once), split by platform
family like the evaluation set. Annotators see the passages of the change, never a category, a
direction or a severity. The labels file keeps change keys and labels only; ``score`` runs
``pipeline.classify_change`` on the replay's change events, so the whole path (tagger, direction,
severity rules) is scored.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from direction_eval import (
    accuracy,
    changed_words,
    evaluation_parser,
    held_out_services,
    interval,
    paired_interval,
    print_confusion,
    read_labels,
    replay_changes,
)
from policywatch_classifier import pipeline
from policywatch_shared.events import ChangeEvent, ChangeKind

ROOT = Path(__file__).resolve().parents[3]
LABELS = ROOT / "tests" / "data" / "classifier" / "severity_labels.jsonl"
LEVELS = ("none", "low", "medium", "high")
MAX_PASSAGES = 12


def change_key(event: ChangeEvent) -> str:
    """The change's passages (kind, before, after), not its document: a family's shared text counts once.
    Heading-only sections count too, as when the labels were made (the pipeline no longer tags them)."""
    parts = sorted(
        "\0".join((r.change, r.before or "", r.after or ""))
        for r in pipeline.raw_passages(event.sections, headings=True)
    )
    return hashlib.sha1("\1".join(parts).encode("utf-8")).hexdigest()[:16]


def changes(replay: Path, documents: set[str] | None = None) -> Iterator[tuple[str, ChangeEvent]]:
    """(service, change event) of every ``modified`` change of the replay."""
    return replay_changes(replay, {ChangeKind.MODIFIED.value}, documents)


def render(event: ChangeEvent) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for r in pipeline.raw_passages(event.sections):
        out.append(
            {
                "change": r.change,
                "heading": " > ".join(r.heading_path)[:200],
                "before": (r.before or "")[:1500] if r.change != "added" else None,
                "after": (r.after or "")[:1500] if r.change != "removed" else None,
                "changed_words": changed_words(r.before or "", r.after or "")[:1500]
                if r.change == "reworded"
                else None,
            }
        )
    return out


def sample(replay: Path, out: Path, n_dev: int, n_test: int, seed: int, exclude: Path | None = None) -> None:
    """Draw changes to label; ``exclude``: a labels file whose changes are not drawn again (a fresh
    sample beside the first)."""
    held_out = held_out_services()
    seen: set[str] = {r["key"] for r in read_labels(exclude)} if exclude else set()
    pool: list[tuple[str, ChangeEvent]] = []
    total = 0
    for service, event in changes(replay):
        total += 1
        n = len(pipeline.raw_passages(event.sections))
        key = change_key(event)
        if 1 <= n <= MAX_PASSAGES and key not in seen:
            seen.add(key)
            pool.append((service, event))
    print(f"{total} modified changes; {len(pool)} unique with 1–{MAX_PASSAGES} passages")
    rng = random.Random(seed)
    chosen = []
    for split, n in (("dev", n_dev), ("test", n_test)):
        part = [(s, e) for s, e in pool if (s in held_out) == (split == "test")]
        chosen += [(split, e) for _, e in rng.sample(part, min(n, len(part)))]
    rng.shuffle(chosen)
    with out.open("w", encoding="utf-8") as fh:
        for split, event in chosen:
            row = {
                "key": change_key(event),
                "split": split,
                "document": event.document_id,
                "summary": event.summary,
                "passages": render(event),
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(chosen)} changes to {out}: {Counter(s for s, _ in chosen)}")


def weighted_kappa(gold: list[str], pred: list[str]) -> float:
    """Cohen's kappa with quadratic weights over the ordered levels (none < low < medium < high)."""
    k = len(LEVELS)
    g = np.array([LEVELS.index(x) for x in gold])
    p = np.array([LEVELS.index(x) for x in pred])
    observed = np.zeros((k, k))
    for a, b in zip(g, p, strict=True):
        observed[a, b] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / len(g)
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    denominator = float((weights * expected).sum())
    return 1.0 if denominator == 0 else 1.0 - float((weights * observed).sum()) / denominator


def within_one(gold: list[str], pred: list[str]) -> float:
    return float(
        np.mean([abs(LEVELS.index(g) - LEVELS.index(p)) <= 1 for g, p in zip(gold, pred, strict=True)])
    )


def report(name: str, gold: list[str], pred: list[str]) -> None:
    if not gold:
        return
    tp = sum(g == "high" and p == "high" for g, p in zip(gold, pred, strict=True))
    n_pred, n_gold = sum(p == "high" for p in pred), sum(g == "high" for g in gold)
    lo, hi = interval(gold, pred, accuracy)
    print(
        f"{name:30s} n={len(gold):3d}  exact {accuracy(gold, pred):.3f} ({lo:.3f} … {hi:.3f})  "
        f"within one level {within_one(gold, pred):.3f}  "
        f"weighted kappa {weighted_kappa(gold, pred):.3f}  high: precision {tp}/{n_pred} recall {tp}/{n_gold}"
    )


def score(
    replay: Path, labels: Path, split: str, errors: int, dump: Path | None = None, compare: Path | None = None
) -> None:
    rows = [r for r in read_labels(labels) if split == "all" or r["split"] == split]
    wanted = {r["key"] for r in rows}
    found: dict[str, ChangeEvent] = {}
    for _, event in changes(replay, {r["document"] for r in rows}):
        key = change_key(event)
        if key in wanted:
            found.setdefault(key, event)
    missing = len(wanted - found.keys())
    if missing:
        print(f"warning: {missing} labelled changes not found in the replay")
    scored = [(r, pipeline.classify_change(found[r["key"]])) for r in rows if r["key"] in found]
    gold = [r["label"] for r, _ in scored]
    pred = [c.severity.value for _, c in scored]
    report(f"pipeline, {split}", gold, pred)
    if dump:  # the levels this code gives, for a later --compare from another version's code
        dump.write_text(
            json.dumps({r["key"]: p for (r, _), p in zip(scored, pred, strict=True)}), encoding="utf-8"
        )
    if compare:
        other = json.loads(compare.read_text(encoding="utf-8"))
        old = [other[r["key"]] for r, _ in scored]
        report(f"levels in {compare.name}", gold, old)
        lo, hi = paired_interval(gold, pred, old, weighted_kappa)
        print(f"weighted-kappa gain over {compare.name}: 90 % paired interval {lo:+.3f} … {hi:+.3f}")
    print_confusion(gold, pred, LEVELS, "pipeline")
    wrong = [(r, c) for r, c in scored if r["label"] != c.severity.value]
    for r, c in random.Random(1).sample(wrong, min(errors, len(wrong))):
        print(f"\n### {c.document_id}: label {r['label']}, pipeline {c.severity.value}")
        print(f"  reasons: {c.severity_reasons[:4]}")
        for p in c.passages[:6]:
            tags = ", ".join(f"{t.id}:{t.direction.value if t.direction else '-'}" for t in p.categories)
            print(f"  - {p.change} [{tags}] {p.text[:200]}")


def agreement(labels: Path) -> None:
    rows = read_labels(labels)
    same = sum(r["a"] == r["b"] for r in rows)
    print(f"{len(rows)} changes; the two annotators give the same level on {same} ({same / len(rows):.3f})")
    report("annotator B vs A", [r["a"] for r in rows], [r["b"] for r in rows])
    for who in ("a", "b"):
        report(f"annotator {who.upper()} vs adjudicated", [r["label"] for r in rows], [r[who] for r in rows])


def main() -> None:
    ap, s, c = evaluation_parser(__doc__ or "", LABELS, 80, 60, 20261207, "changes")
    s.add_argument("--exclude", type=Path, help="a labels file whose changes are not drawn again")
    c.add_argument("--dump", type=Path, help="write the levels given (JSON: change key -> level)")
    c.add_argument("--compare", type=Path, help="a --dump of other code: paired interval of the kappa gain")
    args = ap.parse_args()
    if args.cmd == "sample":
        sample(args.replay, args.out, args.dev, args.test, args.seed, args.exclude)
    elif args.cmd == "score":
        score(args.replay, args.labels, args.split, args.errors, args.dump, args.compare)
    else:
        agreement(args.labels)


if __name__ == "__main__":
    main()
