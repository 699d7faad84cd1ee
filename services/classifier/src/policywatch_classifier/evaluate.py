"""Evaluate the tagger on the labelled evaluation set: ``python -m policywatch_classifier.evaluate``.

The set (``tests/data/classifier/eval_set.jsonl``) stores references, not text: service,
document, commit and raw character offsets into the Open Terms Archive corpus in the shared
data, plus a sha1 prefix of the cleaned passage (detects drift) and hand-assigned labels.
Passages are split by platform family into ``dev`` (used to tune thresholds and rules) and
``test`` (held out; the figure to report). ``--tune`` rewrites data/thresholds.yaml from dev.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from policywatch_classifier.corpus import family_of
from policywatch_classifier.tagger import PassageTagger
from policywatch_classifier.text import passage_at
from policywatch_classifier.train import Example, shared_dir

REPO_ROOT = Path(__file__).resolve().parents[4]
EVAL_SET = REPO_ROOT / "tests" / "data" / "classifier" / "eval_set.jsonl"


@dataclass
class EvalItem:
    id: str
    split: str
    service: str
    document: str
    labels: set[str]
    text: str
    stratum: str


def held_out_services(path: Path = EVAL_SET) -> set[str]:
    """The platforms of the test split (the held-out families): every labelled sample of the
    project (directions, severities, the differ's alerts) splits by the same families."""
    with path.open(encoding="utf-8") as fh:
        return {r["service"] for r in map(json.loads, fh) if r["split"] == "test"}


def load_eval_set(shared: Path, path: Path = EVAL_SET) -> list[EvalItem]:
    refs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    commits = {r["commit"] for r in refs}
    texts: dict[str, str] = {}
    with lzma.open(shared / "corpus" / "vlopses-us-versions.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            # Cheap pre-filter: only parse lines whose commit is referenced.
            head = line[:400]
            if not any(c in head for c in commits) and '"commit"' in head:
                continue
            r = json.loads(line)
            if r["commit"] in commits:
                texts[r["commit"]] = r["text"]
    items = []
    for r in refs:
        doc = texts.get(r["commit"])
        if doc is None:
            raise LookupError(f"{r['id']}: commit {r['commit']} not in corpus")
        text = passage_at(doc, r["start"], r["end"])
        if hashlib.sha1(text.encode("utf-8")).hexdigest()[:12] != r["sha1"]:
            raise ValueError(f"{r['id']}: passage text drifted (cleaning rules changed?)")
        items.append(
            EvalItem(
                r["id"], r["split"], r["service"], r["document"], set(r["labels"]), text, r.get("stratum", "")
            )
        )
    return items


@dataclass
class Report:
    split: str
    n: int
    per_category: dict[str, dict[str, float]]
    macro_f1: float
    micro_f1: float
    #: 90 % bootstrap interval of macro_f1 (passages resampled): how far the figure could move on
    #: another sample of passages of the same kind. A few hundred passages with 3–20 positives per
    #: category make macro-F1 noisy; read a difference between two figures against this width.
    macro_f1_interval: tuple[float, float] = (0.0, 0.0)

    def format(self) -> str:
        lines = [
            f"split={self.split} passages={self.n} macro-F1={self.macro_f1:.3f} micro-F1={self.micro_f1:.3f}",
            "macro-F1 90 % bootstrap interval {:.3f} … {:.3f} ({} resamples of the passages)".format(
                *self.macro_f1_interval, BOOTSTRAP_DRAWS
            ),
        ]
        lines.append(f"{'category':28} {'P':>6} {'R':>6} {'F1':>6} {'support':>8}")
        for cat, m in self.per_category.items():
            lines.append(
                f"{cat:28} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {int(m['support']):8d}"
            )
        return "\n".join(lines)


def score(gold: list[set[str]], pred: list[set[str]], categories: Iterable[str], split: str) -> Report:
    cats = list(categories)
    g = np.array([[c in x for c in cats] for x in gold], dtype=bool).reshape(len(gold), len(cats))
    p = np.array([[c in x for c in cats] for x in pred], dtype=bool).reshape(len(pred), len(cats))
    tps, fps, fns = (p & g).sum(0), (p & ~g).sum(0), (~p & g).sum(0)
    per: dict[str, dict[str, float]] = {}
    for c, tp, fp, fn in zip(cats, tps.tolist(), fps.tolist(), fns.tolist(), strict=True):
        prec = tp / (tp + fp) if tp + fp else (1.0 if tp + fn == 0 else 0.0)
        rec = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[c] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    tp_all, fp_all, fn_all = int(tps.sum()), int(fps.sum()), int(fns.sum())
    micro = 2 * tp_all / (2 * tp_all + fp_all + fn_all) if tp_all else 0.0
    f1s = [m["f1"] for m in per.values() if m["support"]]
    macro = float(np.mean(f1s)) if f1s else 0.0
    return Report(split, len(gold), per, macro, micro, bootstrap_interval(p, g))


BOOTSTRAP_DRAWS = 1000


def resampled_interval(
    stat: Callable[[np.ndarray], float],
    n: int,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
    level: float = 0.90,
) -> tuple[float, float]:
    """Percentile interval of ``stat(rows)`` over ``draws`` bootstrap resamples (row indices) of
    ``n`` rows; seeded, so a report is reproducible. For a paired interval of a gain, ``stat``
    computes both sides on the same rows. The evaluation tools (dev_ideas, direction_eval,
    severity_eval) use it too."""
    rng = np.random.default_rng(seed)
    values = [stat(k) for k in rng.integers(0, n, (draws, n))]
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return (float(lo), float(hi))


def bootstrap_interval(pred: np.ndarray, gold: np.ndarray, level: float = 0.90) -> tuple[float, float]:
    """Percentile interval of ``macro_f1`` over resamples of the passages (rows). A category
    absent from a resample drops out of its mean, as in ``macro_f1``."""
    if len(gold) == 0:
        return (0.0, 0.0)
    return resampled_interval(lambda k: macro_f1(pred[k], gold[k]), len(gold), level=level)


def evaluate(tagger: PassageTagger, items: list[EvalItem], split: str) -> Report:
    chosen = [it for it in items if split == "all" or it.split == split]
    preds = tagger.tag([it.text for it in chosen])
    return score([it.labels for it in chosen], [{t.id for t in p} for p in preds], tagger.taxonomy.ids, split)


def family_folds(services: list[str], folds: int = 5) -> list[list[int]]:
    """Indices grouped into ``folds`` folds by platform family (largest family first, into the
    smallest fold), so no family is split across folds."""
    fams: dict[str, list[int]] = {}
    for i, s in enumerate(services):
        fams.setdefault(family_of(s), []).append(i)
    out: list[list[int]] = [[] for _ in range(folds)]
    for name in sorted(fams, key=lambda f: (-len(fams[f]), f)):
        min(out, key=len).extend(fams[name])
    return [sorted(f) for f in out if f]


def fold_training_rows(
    dev: list[EvalItem],
    shared: Path,
    *,
    exclude: Iterable[str] = (),
    rows_for: Callable[[list[int]], list[Example]] | None = None,
) -> Iterator[tuple[list[int], list[Example]]]:
    """Each fold of the dev passages (indices) and the rows a model that scores it is trained on.

    Folds are grouped by platform family (``family_folds``): a platform's own wording never helps
    score it, as on the held-out split, whose platforms the model never saw (random folds made the
    out-of-fold probabilities optimistic, so the tuned thresholds were too high and recall on new
    platforms low). ``exclude``: dev ids no fold model is trained on (tools/compare_rounds.py).
    ``rows_for(fold)``: other training rows than the shipped ones (tools/dev_ideas.py).
    Public rows that quote a passage of the fold are left out of that fold's rows too, as
    training leaves out those quoting a held-out passage (``train.decontaminate``): 59 rows quote
    42 of the 671 dev passages, whose scores were inflated by them.
    """
    from policywatch_classifier.train import (
        DEV_SOURCE,
        corpus_examples,
        decontaminate,
        in_domain_rows,
        load_examples,
        word_string,
    )

    # Once, not per fold: reading and partial labels take ~15 s.
    public = load_examples(shared) if rows_for is None else []
    corpus = corpus_examples(shared) if rows_for is None else []
    for fold in family_folds([it.service for it in dev]):
        if rows_for is None:
            # The corpus paragraphs of the fold's families are left out with its dev rows.
            rows = public + in_domain_rows(dev, fold, corpus, exclude)
        else:
            rows = rows_for(fold)
        kept = {id(e) for e in decontaminate(rows, [word_string(dev[i].text) for i in fold])}
        yield fold, [e for e in rows if e.source == DEV_SOURCE or id(e) in kept]


def out_of_fold_probs(
    tagger: PassageTagger,
    dev: list[EvalItem],
    shared: Path,
    *,
    exclude: Iterable[str] = (),
    rows_for: Callable[[list[int]], list[Example]] | None = None,
) -> np.ndarray:
    """Model probabilities for dev passages from models that did not see them (5-fold cross-fitting).

    The shipped model is trained on the dev split too; tuning thresholds on its own training data
    would be optimistic, so each fold is scored by a model trained without that fold, on the rows
    of ``fold_training_rows`` (its arguments are passed on).
    """
    from policywatch_classifier.train import fit_model

    p = np.zeros((len(dev), len(tagger.taxonomy.ids)), dtype=np.float32)
    for fold, rows in fold_training_rows(dev, shared, exclude=exclude, rows_for=rows_for):
        model, _ = fit_model(rows)
        fold_p, _, _, _ = PassageTagger(model=model, lexicon=tagger.lexicon).scores(
            [dev[i].text for i in fold]
        )
        p[fold] = fold_p
    return p


#: Bumped when out-of-fold scores are computed differently (2: fold-quoting public rows left out),
#: so that a cache of the old kind is not reused.
OOF_VERSION = 2


def dev_scores(
    tagger: PassageTagger, items: list[EvalItem], shared: Path | None = None, cache: Path | None = None
) -> tuple[list[EvalItem], np.ndarray, np.ndarray]:
    """(dev items, model probabilities, rule weights) on dev; the probabilities are out-of-fold
    when the model was trained on dev. ``cache`` (.npz) keeps them for the same model artefact, so
    lexicon or threshold work does not retrain five models each time."""
    dev = [it for it in items if it.split == "dev"]
    p, r, _, _ = tagger.scores([it.text for it in dev])
    if tagger.model is not None and tagger.model.meta.get("with_dev") and shared is not None:
        key = f"oof{OOF_VERSION}:{tagger.model.digest}:{','.join(it.id for it in dev)}"
        if cache is not None and cache.exists():
            data = np.load(cache, allow_pickle=False)
            if str(data["key"]) == key:
                return dev, data["p"], r
        p = out_of_fold_probs(tagger, dev, shared)
        if cache is not None:
            np.savez(cache, p=p, key=np.array(key))
    return dev, p, r


GRID = [round(x, 2) for x in np.arange(0.40, 0.81, 0.05)]


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(
    s: np.ndarray, y: np.ndarray, grid: Iterable[float] = GRID, default: float = 0.6
) -> tuple[float, float]:
    """(threshold, F1) maximising F1 on ``grid``; ties → the threshold closest to ``default``."""
    best, best_t = -1.0, default
    for t in sorted(grid, key=lambda g: abs(g - default)):
        f1 = _f1(s >= t, y)
        if f1 > best + 1e-9:
            best, best_t = f1, t
    return best_t, best


def combined_scores(tagger: PassageTagger, p: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.array(
        [
            [tagger.combined(float(p[i, j]), float(r[i, j])) for j in range(p.shape[1])]
            for i in range(p.shape[0])
        ]
    ).reshape(p.shape)


def tune(
    tagger: PassageTagger,
    items: list[EvalItem],
    shared: Path | None = None,
    cache: Path | None = None,
    scores: tuple[list[EvalItem], np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, float], float]:
    """Per-category threshold maximising dev F1 (ties → the threshold closest to the default 0.6).

    Returns the thresholds and the dev macro-F1 they reach on out-of-fold scores (every dev passage
    scored by a model that never saw its platform family; the thresholds, though, are fitted to
    these same scores: see ``nested_f1`` for the estimate without that optimism)."""
    dev, p, r = scores or dev_scores(tagger, items, shared, cache)
    s = combined_scores(tagger, p, r)
    # Narrow grid, ties broken towards the default: chosen by 5-fold CV on dev (0.80 vs 0.79 for a
    # wide grid with ties towards precision) to keep the tuning from over-fitting a small dev set.
    out: dict[str, float] = {}
    f1s: list[float] = []
    for j, c in enumerate(tagger.taxonomy.ids):
        y = np.array([c in it.labels for it in dev])
        out[c], best = best_threshold(s[:, j], y)
        if y.any():
            f1s.append(best)
    return out, float(np.mean(f1s)) if f1s else 0.0


def nested_f1(tagger: PassageTagger, dev: list[EvalItem], p: np.ndarray, r: np.ndarray) -> float:
    """Dev macro-F1 with thresholds tuned on the OTHER family folds' out-of-fold scores and applied
    to the held-out fold: neither the model nor the thresholds saw the scored platform family.
    Lower than the tuned figure (which fits thresholds to the scores it is measured on) and the
    closer estimate of a new platform (the test split)."""
    s = combined_scores(tagger, p, r)
    gold = np.array([[c in it.labels for c in tagger.taxonomy.ids] for it in dev])
    return macro_f1(nested_predictions(dev, s, gold), gold)


def nested_thresholds(
    dev: list[EvalItem],
    s: np.ndarray,
    gold: np.ndarray,
    pick: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per family fold: its mask over the dev passages and one threshold per category, tuned on
    the other folds' combined scores ``s``; ``pick(scores, gold)`` chooses it (default:
    ``best_threshold``; other rules are compared in tools/dev_ideas.py)."""
    for fold in family_folds([it.service for it in dev]):
        held = np.zeros(len(dev), dtype=bool)
        held[fold] = True
        yield (
            held,
            np.array(
                [
                    pick(s[~held, j], gold[~held, j])
                    if pick
                    else best_threshold(s[~held, j], gold[~held, j])[0]
                    for j in range(gold.shape[1])
                ]
            ),
        )


def nested_predictions(
    dev: list[EvalItem],
    s: np.ndarray,
    gold: np.ndarray,
    pick: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> np.ndarray:
    """Per dev passage and category: combined score ``s`` >= the threshold tuned on the other
    family folds (``nested_thresholds``; see ``nested_f1``)."""
    pred = np.zeros_like(gold)
    for held, th in nested_thresholds(dev, s, gold, pick):
        pred[held] = s[held] >= th
    return pred


def macro_f1(pred: np.ndarray, gold: np.ndarray) -> float:
    """Mean F1 over the categories with at least one gold positive (0.0 when none has)."""
    f1s = [_f1(pred[:, j], gold[:, j]) for j in range(gold.shape[1]) if gold[:, j].any()]
    return float(np.mean(f1s)) if f1s else 0.0


def write_thresholds(th: dict[str, float], version: str) -> Path:
    path = Path(str(resources.files("policywatch_classifier").joinpath("data", "thresholds.yaml")))
    lines = [
        "# Per-category decision thresholds on the combined score (see tagger.py).",
        "# Tuned ONLY on the dev split of tests/data/classifier/eval_set.jsonl by",
        "# `python -m policywatch_classifier.evaluate --tune`; the test split is reported, never tuned on.",
        f'version: "{version}"',
        "default: 0.6",
        "thresholds:",
        *[f"  {c}: {t}" for c, t in th.items()],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate the classifier on the labelled evaluation set.")
    ap.add_argument(
        "--split",
        default=None,
        choices=["dev", "test", "all"],
        help="split to report (default: test; dev with --tune/--errors, so tuning never shows test)",
    )
    ap.add_argument("--shared", default=None)
    ap.add_argument("--rules-only", action="store_true", help="evaluate the lexicon without the model")
    ap.add_argument("--model-only", action="store_true", help="evaluate the model without the lexicon")
    ap.add_argument("--tune", action="store_true", help="tune thresholds on dev and write thresholds.yaml")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--oof-cache", default=None, help=".npz keeping out-of-fold dev probabilities (--tune)")
    ap.add_argument(
        "--errors", action="store_true", help="print out-of-fold false positives/negatives (dev only)"
    )
    args = ap.parse_args(argv)
    try:
        shared = shared_dir(args.shared)
    except FileNotFoundError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    items = load_eval_set(shared)
    tagger = PassageTagger(use_model=not args.rules_only)
    if args.model_only:
        from policywatch_classifier.rules import Lexicon

        tagger.lexicon = Lexicon(version="none", rules=(), negatives={})
    if args.tune:
        cache = Path(args.oof_cache) if args.oof_cache else None
        dev, p, r = dev_scores(tagger, items, shared, cache)
        th, oof_f1 = tune(tagger, items, scores=(dev, p, r))
        print(f"dev macro-F1, out-of-fold (grouped by platform family), tuned thresholds: {oof_f1:.3f}")
        print(
            f"dev macro-F1, nested (thresholds tuned on the other folds): {nested_f1(tagger, dev, p, r):.3f}"
        )
        import datetime as _dt

        # Date + content hash: two tunings on the same day must not share a version (model_version).
        digest = hashlib.sha1(json.dumps(th, sort_keys=True).encode()).hexdigest()[:6]
        path = write_thresholds(th, f"{_dt.date.today():%Y%m%d}-{digest}")
        print(f"wrote {path}")
        from policywatch_classifier import tagger as tagger_mod

        tagger_mod.get_thresholds.cache_clear()
        tagger = PassageTagger(use_model=not args.rules_only)
    if args.errors:
        # Out-of-fold scores: the shipped model saw dev, so its own dev errors would hide most mistakes.
        dev, p, r = dev_scores(tagger, items, shared, Path(args.oof_cache) if args.oof_cache else None)
        ids = tagger.taxonomy.ids
        for i, it in enumerate(dev):
            pred = {
                c
                for j, c in enumerate(ids)
                if tagger.combined(float(p[i, j]), float(r[i, j])) >= tagger.thresholds.of(c)
            }
            if pred != it.labels:
                print(
                    f"{it.id} FP={sorted(pred - it.labels)} FN={sorted(it.labels - pred)} | {it.text[:300]}"
                )
    split = args.split or ("dev" if args.tune or args.errors else "test")
    report = evaluate(tagger, items, split)
    if args.json:
        print(
            json.dumps(
                {
                    "split": report.split,
                    "n": report.n,
                    "macro_f1": report.macro_f1,
                    "micro_f1": report.micro_f1,
                    "macro_f1_interval_90": list(report.macro_f1_interval),
                    "per_category": report.per_category,
                    "version": tagger.version,
                }
            )
        )
    else:
        print(f"tagger {tagger.version}")
        print(report.format())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
