"""Compare two training-data configurations on the SAME dev split (dev only; test is never loaded).

    .venv/bin/python services/classifier/tools/compare_rounds.py oof OUT.npz [--without-stratum P]
    .venv/bin/python services/classifier/tools/compare_rounds.py compare OLD.npz NEW.npz [--stratum P]

``oof`` scores every dev passage with a model trained without its platform-family fold (the folds
of ``evaluate --tune``), optionally also without the dev rows whose stratum starts with ``P``
(the configuration before a labelling round, scored on the enlarged split), and prints the tuned
and nested dev macro-F1 with the nested per-category F1. ``compare`` prints both configurations'
figures side by side (also on the rows of stratum ``P`` and on the others) and a paired bootstrap
interval over dev passages of the nested macro-F1 gain.

Training reads the dev rows of tests/data/classifier/eval_set.jsonl, so a labelled round that was
not shipped (``tools/rounds/*.jsonl``, same row format) is compared by appending it to the
evaluation set for the two ``oof`` runs and restoring the file afterwards (docs/classifier.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
from policywatch_classifier.evaluate import (
    EvalItem,
    _f1,
    combined_scores,
    load_eval_set,
    macro_f1,
    nested_predictions,
    out_of_fold_probs,
    tune,
)
from policywatch_classifier.tagger import PassageTagger
from policywatch_classifier.train import shared_dir


def oof(dev: list[EvalItem], tagger: PassageTagger, without: str | None) -> np.ndarray:
    """``evaluate.out_of_fold_probs``, the fold models also trained without the stratum ``without``."""
    dropped = {it.id for it in dev if without and it.stratum.startswith(without)}
    return out_of_fold_probs(tagger, dev, shared_dir(), exclude=dropped)


@dataclass
class Figures:
    tuned: float  # thresholds fitted to the scores they are measured on (optimistic)
    nested: float
    per: dict[str, float]  # nested F1 per category with dev positives
    pred: np.ndarray
    gold: np.ndarray


def figures(dev: list[EvalItem], tagger: PassageTagger, p: np.ndarray, r: np.ndarray) -> Figures:
    ids = tagger.taxonomy.ids
    gold = np.array([[c in it.labels for c in ids] for it in dev])
    _, tuned = tune(tagger, dev, scores=(dev, p, r))
    pred = nested_predictions(dev, combined_scores(tagger, p, r), gold)
    per = {c: _f1(pred[:, j], gold[:, j]) for j, c in enumerate(ids) if gold[:, j].any()}
    return Figures(tuned, macro_f1(pred, gold), per, pred, gold)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("mode", choices=["oof", "compare"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--without-stratum", default=None, help="oof: also train without these dev rows")
    ap.add_argument("--stratum", default="dev-extra3", help="compare: report these rows separately")
    ap.add_argument("--boot", type=int, default=2000)
    args = ap.parse_args(argv)
    tagger = PassageTagger()
    dev = [it for it in load_eval_set(shared_dir()) if it.split == "dev"]
    r = tagger.scores([it.text for it in dev])[1]
    if args.mode == "oof":
        p = oof(dev, tagger, args.without_stratum)
        np.savez(args.files[0], p=p, ids=np.array([it.id for it in dev]))
        runs = [p]
    else:
        runs = []
        for f in args.files:
            data = np.load(f, allow_pickle=False)
            if list(data["ids"]) != [it.id for it in dev]:
                print(f"{f}: scored on another dev split", file=sys.stderr)
                return 2
            runs.append(data["p"])
    figs = [figures(dev, tagger, p, r) for p in runs]
    names = args.files if args.mode == "compare" else ["oof"]
    print(f"dev passages {len(dev)}; configurations: {' | '.join(names)}")
    print("tuned (out-of-fold): " + " | ".join(f"{f.tuned:.3f}" for f in figs))
    print("nested:              " + " | ".join(f"{f.nested:.3f}" for f in figs))
    for c in figs[0].per:
        print(f"  nested {c:28} " + " | ".join(f"{f.per.get(c, float('nan')):.2f}" for f in figs))
    if args.mode == "compare" and len(figs) == 2:
        a, b, gold = figs[0].pred, figs[1].pred, figs[0].gold
        new = np.array([it.stratum.startswith(args.stratum) for it in dev])
        for name, m in ((f"rows of {args.stratum}", new), ("other rows", ~new)):
            if m.any():
                old_f1, new_f1 = macro_f1(a[m], gold[m]), macro_f1(b[m], gold[m])
                print(f"nested on {name} ({int(m.sum())}): {old_f1:.3f} | {new_f1:.3f}")
        # Paired bootstrap over dev passages: the same resampled passages for both configurations.
        rng = np.random.default_rng(0)
        diffs = []
        for _ in range(args.boot):
            idx = rng.integers(0, len(dev), len(dev))
            diffs.append(macro_f1(b[idx], gold[idx]) - macro_f1(a[idx], gold[idx]))
        lo, hi = np.percentile(diffs, [5, 95])
        gain = macro_f1(b, gold) - macro_f1(a, gold)
        print(f"nested gain {gain:+.3f}, 90 % paired bootstrap interval {lo:+.3f} … {hi:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
