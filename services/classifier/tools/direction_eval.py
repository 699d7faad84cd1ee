"""How often is a tag's direction right? Labelled directions of real changes, and the rules scored on them.

    .venv/bin/policywatch replay ../shared/corpus/vlopses-us-versions.jsonl.xz --out /tmp/replay.jsonl
    .venv/bin/python services/classifier/tools/direction_eval.py sample /tmp/replay.jsonl OUT.jsonl \
        [--dev 300 --test 200 --seed 20261206]
    .venv/bin/python services/classifier/tools/direction_eval.py score /tmp/replay.jsonl \
        [--labels tests/data/classifier/direction_labels.jsonl] [--split dev|test|all] [--errors N] \
        [--base GIT_REV]
    .venv/bin/python services/classifier/tools/direction_eval.py agreement

Every classified change of the replay goes through ``pipeline.classify_change``; each tag the
shipped tagger gives a passage is one *item*: (passage, category). ``sample`` draws items at random
from the unique ones (a passage and category seen again in another document, or the mirror image
of an earlier change — a revert — counts once), split by platform family like the evaluation set
(test = the held-out families), and writes them with their texts for annotators (not into the
repository: the corpus is read, never copied). The labels file keeps passage keys, categories and
labels only; ``score`` re-derives the texts from the replay and runs ``direction.direction_of`` on
them, so a later change of the rules is scored on the same items.

An item's passage key hashes the change kind and the passage's text before and after the change
(``pipeline`` inputs), not the tagger's output: items stay scorable when the model changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from direction_diff import base_rules, changed_words
from policywatch_classifier import pipeline
from policywatch_classifier.direction import ChangeKindLit, direction_of
from policywatch_classifier.evaluate import held_out_services, resampled_interval
from policywatch_classifier.tagger import get_tagger
from policywatch_shared.events import ChangeEvent, DiffOp

ROOT = Path(__file__).resolve().parents[3]
LABELS = ROOT / "tests" / "data" / "classifier" / "direction_labels.jsonl"
DIRECTIONS = ("expands", "restricts", "neutral")
#: Bootstrap draws and seed of every interval these tools print.
DRAWS, SEED = 2000, 7
#: An annotator's answer when the category does not apply to the passage (a tagging error):
#: such items say nothing about direction and are left out of the scores.
OFF_TOPIC = "off_topic"
TAGGED = {k.value for k in pipeline.TAGGED_KINDS}


@dataclass(frozen=True)
class Item:
    key: str  # passage key (change kind + text before + text after)
    category: str
    service: str
    document: str
    change: str  # added / removed / reworded
    before: str
    after: str

    @property
    def mirror(self) -> tuple[str, frozenset[str]]:
        """Same for a change and its revert (before and after swapped, added ↔ removed)."""
        return self.category, frozenset((self.before, self.after))


@dataclass(frozen=True)
class Passage:
    key: str
    document: str
    change: ChangeKindLit
    before: str | None
    after: str | None
    word_diff: list[DiffOp] | None

    def direction(self, category: str) -> str:
        return direction_of(
            self.change, category, before=self.before, after=self.after, word_diff=self.word_diff
        ).value


def passage_key(change: str, before: str | None, after: str | None) -> str:
    raw = "\0".join((change, before or "", after or ""))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def replay_changes(
    replay: Path, kinds: Collection[str], documents: Collection[str] | None = None
) -> Iterator[tuple[str, ChangeEvent]]:
    """(service, change event) of each change of the replay of one of ``kinds`` (values of
    ``ChangeKind``), of ``documents`` only when given. A replay made with or without the
    classifier serves: only the differ's change events are read."""
    with replay.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            change = row.get("change")
            if (
                not change
                or change["kind"] not in kinds
                or (documents and change["document_id"] not in documents)
            ):
                continue
            yield row["service"], ChangeEvent.model_validate(change)


def items(replay: Path) -> Iterator[Item]:
    """Every tag the shipped tagger gives a passage of a classified change, in replay order (with
    repeats)."""
    tagger = get_tagger()
    for service, event in replay_changes(replay, TAGGED):
        raws = pipeline.raw_passages(event.sections)
        for r, tagged in zip(raws, pipeline.tag_passages(raws, tagger), strict=True):
            key = passage_key(r.change, r.before, r.after)
            for tag in tagged.categories:
                yield Item(key, tag.id, service, event.document_id, r.change, r.before or "", r.after or "")


def passages(replay: Path, documents: set[str] | None = None) -> Iterator[Passage]:
    """Every passage of every change the classifier tags (``pipeline.raw_passages``), without the
    tagger."""
    for _, event in replay_changes(replay, TAGGED, documents):
        for r in pipeline.raw_passages(event.sections):
            yield Passage(
                passage_key(r.change, r.before, r.after),
                event.document_id,
                r.change,
                r.before,
                r.after,
                r.word_diff,
            )


def unique(all_items: Iterator[Item]) -> list[Item]:
    seen: set[tuple[str, frozenset[str]]] = set()
    out = []
    for it in all_items:
        if it.mirror not in seen:
            seen.add(it.mirror)
            out.append(it)
    return out


def sample(replay: Path, out: Path, n_dev: int, n_test: int, seed: int) -> None:
    held_out = held_out_services()
    pool = unique(items(replay))
    rng = random.Random(seed)
    chosen = []
    for split, n in (("dev", n_dev), ("test", n_test)):
        part = [it for it in pool if (it.service in held_out) == (split == "test")]
        chosen += [(split, it) for it in rng.sample(part, min(n, len(part)))]
    rng.shuffle(chosen)
    with out.open("w", encoding="utf-8") as fh:
        for split, it in chosen:
            row = {
                "key": it.key,
                "category": it.category,
                "split": split,
                "document": it.document,
                "change": it.change,
                "before": it.before if it.change != "added" else None,
                "after": it.after if it.change != "removed" else None,
                "changed_words": changed_words(it.before, it.after) if it.change == "reworded" else None,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(pool)} unique items; wrote {len(chosen)} to {out}")
    print(Counter((s, it.change) for s, it in chosen))


def read_labels(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Mean F1 over the three directions (a direction absent from both counts as F1 1)."""
    f1s = []
    for d in DIRECTIONS:
        tp = sum(g == d and p == d for g, p in zip(gold, pred, strict=True))
        fp = sum(g != d and p == d for g, p in zip(gold, pred, strict=True))
        fn = sum(g == d and p != d for g, p in zip(gold, pred, strict=True))
        f1s.append(1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def interval(
    gold: list[str], pred: list[str], metric: Callable[[list[str], list[str]], float]
) -> tuple[float, float]:
    """90 % bootstrap interval (items resampled, 2,000 draws) of ``metric(gold, pred)``."""
    g, p = np.array(gold), np.array(pred)
    return resampled_interval(lambda k: metric(list(g[k]), list(p[k])), len(g), DRAWS, SEED)


def paired_interval(
    gold: list[str], new: list[str], old: list[str], metric: Callable[[list[str], list[str]], float]
) -> tuple[float, float]:
    """90 % bootstrap interval of the gain in ``metric`` of ``new`` over ``old`` (same items resampled)."""
    g, n, o = np.array(gold), np.array(new), np.array(old)
    return resampled_interval(
        lambda k: metric(list(g[k]), list(n[k])) - metric(list(g[k]), list(o[k])), len(g), DRAWS, SEED
    )


def accuracy(gold: list[str], pred: list[str]) -> float:
    return float(np.mean([g == p for g, p in zip(gold, pred, strict=True)]))


def print_confusion(gold: list[str], pred: list[str], levels: Sequence[str], what: str) -> None:
    """Counts of (label, prediction), a row per label."""
    width = max(map(len, levels)) + 2
    print(f"confusion (rows: label, columns: {what}):")
    print("  " + " " * width + "".join(f"{v:>{width}s}" for v in levels))
    for g in levels:
        counts = Counter(p for gg, p in zip(gold, pred, strict=True) if gg == g)
        print(f"  {g:{width}s}" + "".join(f"{counts[v]:{width}d}" for v in levels))


def report(name: str, gold: list[str], pred: list[str]) -> None:
    if not gold:
        return
    a_lo, a_hi = interval(gold, pred, accuracy)
    f_lo, f_hi = interval(gold, pred, macro_f1)
    print(
        f"{name:28s} n={len(gold):4d}  accuracy {accuracy(gold, pred):.3f} ({a_lo:.3f} … {a_hi:.3f})  "
        f"macro-F1 {macro_f1(gold, pred):.3f} ({f_lo:.3f} … {f_hi:.3f})"
    )


def score(replay: Path, labels: Path, split: str, errors: int, base: str | None = None) -> None:
    rows = [r for r in read_labels(labels) if split == "all" or r["split"] == split]
    found = {p.key: p for p in passages(replay, {r["document"] for r in rows})}
    missing = sum(r["key"] not in found for r in rows)
    if missing:
        # Texts come from the replay of the shared corpus: a change of the differ can alter passages.
        print(f"warning: {missing} labelled items not found in the replay")
    scored = [(r, found[r["key"]]) for r in rows if r["key"] in found and r["label"] != OFF_TOPIC]
    off = sum(r["label"] == OFF_TOPIC for r in rows)
    print(f"{len(scored)} items scored ({off} labelled {OFF_TOPIC}: the category does not apply)")
    gold = [r["label"] for r, _ in scored]
    pred = [p.direction(r["category"]) for r, p in scored]
    report(f"rules, {split}", gold, pred)
    for change in ("added", "removed", "reworded"):
        sel = [i for i, (_, p) in enumerate(scored) if p.change == change]
        report(f"  {change}", [gold[i] for i in sel], [pred[i] for i in sel])
    report("always 'expands' (baseline)", gold, ["expands"] * len(gold))
    if base:
        rules = base_rules(base)
        old = [
            rules(p.change, r["category"], before=p.before, after=p.after, word_diff=p.word_diff).value
            for r, p in scored
        ]
        report(f"rules at {base}", gold, old)
        lo, hi = paired_interval(gold, pred, old, accuracy)
        print(f"accuracy gain over {base}: 90 % paired interval {lo:+.3f} … {hi:+.3f}")
    print_confusion(gold, pred, DIRECTIONS, "rules")
    wrong = [(r, p, d) for (r, p), d in zip(scored, pred, strict=True) if r["label"] != d]
    for r, p, d in random.Random(1).sample(wrong, min(errors, len(wrong))):
        before, after = p.before or "", p.after or ""
        words = changed_words(before, after) if p.change == "reworded" else (after or before)
        print(f"\n### {p.document} · {r['category']} · {p.change}: label {r['label']}, rules {d}")
        print(f"  {words[:700]}")


def agreement(labels: Path) -> None:
    """The two blind labellings against each other, and each against the adjudicated label."""
    rows = read_labels(labels)
    both = [r for r in rows if OFF_TOPIC not in (r["a"], r["b"])]
    same = sum(r["a"] == r["b"] for r in rows)
    print(f"{len(rows)} items; the two annotators give the same answer on {same} ({same / len(rows):.3f})")
    report("annotator B vs A", [r["a"] for r in both], [r["b"] for r in both])
    for who in ("a", "b"):
        sel = [r for r in rows if OFF_TOPIC not in (r[who], r["label"])]
        report(f"annotator {who.upper()} vs adjudicated", [r["label"] for r in sel], [r[who] for r in sel])


def evaluation_parser(
    doc: str, labels: Path, n_dev: int, n_test: int, seed: int, unit: str
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``sample`` / ``score`` / ``agreement`` commands both evaluation tools share: the parser,
    and the ``sample`` and ``score`` sub-parsers for a tool's own options."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("replay", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--dev", type=int, default=n_dev)
    s.add_argument("--test", type=int, default=n_test)
    s.add_argument("--seed", type=int, default=seed)
    c = sub.add_parser("score")
    c.add_argument("replay", type=Path)
    c.add_argument("--labels", type=Path, default=labels)
    c.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    c.add_argument("--errors", type=int, default=0, help=f"print this many wrong {unit} (dev only!)")
    g = sub.add_parser("agreement")
    g.add_argument("--labels", type=Path, default=labels)
    return ap, s, c


def main() -> None:
    ap, _, c = evaluation_parser(__doc__ or "", LABELS, 300, 200, 20261206, "items")
    c.add_argument("--base", help="also score direction.py as committed at this git revision")
    args = ap.parse_args()
    if args.cmd == "sample":
        sample(args.replay, args.out, args.dev, args.test, args.seed)
    elif args.cmd == "score":
        score(args.replay, args.labels, args.split, args.errors, args.base)
    else:
        agreement(args.labels)


if __name__ == "__main__":
    main()
