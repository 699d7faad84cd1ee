"""How consistent are the evaluation labels? A second, blind labelling of dev passages against the first.

    .venv/bin/python services/classifier/tools/agreement.py [--relabel F] [--oof-cache F]

``tests/data/classifier/relabel_dev.jsonl`` holds a second labelling of 100 dev passages (sampled
with seed 20261129 from the dev passages whose labels the labeller had not seen in an error
listing), done against the taxonomy definitions without looking at the first labels or at any
prediction. The evaluation set was labelled by one annotator, so its labels carry noise that no
model can learn; the agreement of two labellings on the same passages — scored with the same
macro-F1 as the classifier — is a rough ceiling for the classifier's figure on these labels.
Printed next to it: the shipped tagger's nested out-of-fold predictions (``dev_ideas.Dev``: each
passage scored by models and thresholds that never saw its platform family) on the same passages,
against either labelling. Dev only; the test split is never loaded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from dev_ideas import Dev
from policywatch_classifier.evaluate import EVAL_SET, _f1, bootstrap_interval, macro_f1, nested_predictions

RELABEL = EVAL_SET.parent / "relabel_dev.jsonl"


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean labellings (1.0 when both are constant and equal)."""
    po = float((a == b).mean())
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return 1.0 if pe == 1.0 else (po - pe) / (1 - pe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--relabel", type=Path, default=RELABEL)
    ap.add_argument("--oof-cache", type=Path, default=None)
    args = ap.parse_args()
    second = {r["id"]: set(r["labels"]) for r in map(json.loads, args.relabel.read_text().splitlines())}
    dev = Dev(args.oof_cache)
    rows = [i for i, it in enumerate(dev.items) if it.id in second]
    if len(rows) != len(second):
        raise SystemExit(f"{len(second) - len(rows)} relabelled ids are not dev passages")
    first = dev.gold[rows]
    again = np.array([[c in second[dev.items[i].id] for c in dev.ids] for i in rows])
    model = nested_predictions(dev.items, dev.combined(dev.p, dev.r), dev.gold)[rows]

    def line(name: str, pred: np.ndarray, gold: np.ndarray) -> None:
        lo, hi = bootstrap_interval(pred, gold)
        tp, fp, fn = (pred & gold).sum(), (pred & ~gold).sum(), (~pred & gold).sum()
        print(
            f"{name:46s} macro-F1 {macro_f1(pred, gold):.3f} (90 % {lo:.3f} … {hi:.3f})"
            f"  micro-F1 {2 * tp / (2 * tp + fp + fn):.3f}  exact {float((pred == gold).all(1).mean()):.2f}"
        )

    print(f"{len(rows)} dev passages labelled twice")
    line("second labelling vs first", again, first)
    line("first labelling vs second", first, again)
    line("tagger (nested out-of-fold) vs first labelling", model, first)
    line("tagger (nested out-of-fold) vs second labelling", model, again)
    header = f"{'category':28s} {'first':>5s} {'second':>6s} {'F1':>5s} {'kappa':>6s}"
    print(f"{header} {'tagger F1 (first)':>18s}")
    for j, c in enumerate(dev.ids):
        if first[:, j].any() or again[:, j].any():
            print(
                f"{c:28s} {int(first[:, j].sum()):5d} {int(again[:, j].sum()):6d} "
                f"{_f1(again[:, j], first[:, j]):5.2f} {kappa(again[:, j], first[:, j]):6.2f} "
                f"{_f1(model[:, j], first[:, j]):18.2f}"
            )


if __name__ == "__main__":
    main()
