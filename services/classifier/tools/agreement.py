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

    .venv/bin/python services/classifier/tools/agreement.py --test-labels

compares label sets only (no text, no prediction) for the held-out passages of the sixth labelling
round: the two blind labellings of the 154 ``test-extra`` passages and the label chosen after
adjudication (``double_labels_test_extra.jsonl``), and a third labelling, by the same procedure, of
70 earlier test passages against their original labels (``relabel_test_calibration.jsonl``): does
the new round label like the first annotator did?

    .venv/bin/python services/classifier/tools/agreement.py --synthetic

compares the labels the writers gave the synthetic training passages
(``policywatch_classifier/data/training_synthetic.jsonl``) with a blind relabelling of 150 of them
(seed 20261202; ``relabel_synthetic.jsonl``): are the training rows labelled as consistently as
the evaluation set? ``--synthetic-rows tools/rounds/synthetic-batch4.jsonl --synthetic-relabel
tools/rounds/synthetic-batch4-relabel.jsonl`` does the same for the fourth batch (not shipped).

    .venv/bin/python services/classifier/tools/agreement.py --dev-relabel [F]

compares the two blind labellings of the double-blind dev relabelling (ninth session,
``tools/rounds/dev-relabel.jsonl``), their adjudication and the evaluation set's first labels.

    .venv/bin/python services/classifier/tools/agreement.py --quotes

compares the full labels of the ToS;DR quotes (``policywatch_classifier/data/tosdr_full_labels.jsonl``,
model 1.6.0) with a blind relabelling of 200 of them (seed 20261129,
``tools/rounds/tosdr-full-labels-relabel.jsonl``; quote ids and labels only). ``--claudette`` does
the same for the full labels of the CLAUDETTE training sentences (measured, not shipped;
``tools/rounds/claudette-full-labels*.jsonl``, seed 20261131). ``--corpus`` does it for the labelled
paragraphs of the dev platforms' documents (fifteenth session, ``data/corpus_labels.jsonl``; 200 of
each of the two labelling rounds relabelled blind, seeds 11 and 12,
``tools/rounds/corpus-labels-relabel.jsonl``). ``--heldout-val`` does it for the held-out validation
paragraphs (twenty-first session, ``tools/rounds/heldout-val.jsonl``; 200 relabelled blind, seed
20261222, ``tools/rounds/heldout-val-relabel.jsonl``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from dev_ideas import CLAUDETTE_LABELS, Dev
from policywatch_classifier.evaluate import (
    EVAL_SET,
    _f1,
    bootstrap_interval,
    macro_f1,
    nested_predictions,
    score,
)

RELABEL = EVAL_SET.parent / "relabel_dev.jsonl"
DOUBLE = EVAL_SET.parent / "double_labels_test_extra.jsonl"
CALIBRATION = EVAL_SET.parent / "relabel_test_calibration.jsonl"
SYNTHETIC_RELABEL = EVAL_SET.parent / "relabel_synthetic.jsonl"
DEV_RELABEL = Path(__file__).resolve().parent / "rounds" / "dev-relabel.jsonl"
QUOTES_RELABEL = Path(__file__).resolve().parent / "rounds" / "tosdr-full-labels-relabel.jsonl"
CLAUDETTE_RELABEL = Path(__file__).resolve().parent / "rounds" / "claudette-full-labels-relabel.jsonl"
CORPUS_RELABEL = Path(__file__).resolve().parent / "rounds" / "corpus-labels-relabel.jsonl"


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean labellings (1.0 when both are constant and equal)."""
    po = float((a == b).mean())
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return 1.0 if pe == 1.0 else (po - pe) / (1 - pe)


def labelling_line(name: str, ids: list[str], pred: list[set[str]], gold: list[set[str]]) -> None:
    """Agreement of labelling ``pred`` with labelling ``gold``, scored like the classifier."""
    report = score(gold, pred, ids, name)
    lo, hi = report.macro_f1_interval
    extra = sum(len(p - g) for p, g in zip(pred, gold, strict=True))
    missing = sum(len(g - p) for p, g in zip(pred, gold, strict=True))
    print(
        f"{name:56s} macro-F1 {report.macro_f1:.3f} (90 % {lo:.3f} … {hi:.3f}), identical "
        f"{sum(a == b for a, b in zip(pred, gold, strict=True))} of {len(gold)}, labels only in the "
        f"first {extra}, only in the second {missing}"
    )


def test_labels() -> None:
    from policywatch_classifier.taxonomy import get_taxonomy

    ids = get_taxonomy().ids
    rows = [json.loads(line) for line in DOUBLE.read_text().splitlines()]
    a, b, final = ([set(r[k]) for r in rows] for k in ("a", "b", "final"))
    labelling_line("test-extra: annotator B vs annotator A", ids, b, a)
    labelling_line("test-extra: A vs adjudicated", ids, a, final)
    labelling_line("test-extra: B vs adjudicated", ids, b, final)
    original = {r["id"]: set(r["labels"]) for r in map(json.loads, EVAL_SET.read_text().splitlines())}
    third = [json.loads(line) for line in CALIBRATION.read_text().splitlines()]
    labelling_line(
        "earlier test passages: new procedure vs original labels",
        ids,
        [set(r["labels"]) for r in third],
        [original[r["id"]] for r in third],
    )


def synthetic_labels(rows: Path | None = None, relabel: Path = SYNTHETIC_RELABEL) -> None:
    """``rows``: synthetic rows measured but not shipped (``tools/rounds/``) instead of the shipped ones."""
    from policywatch_classifier.taxonomy import get_taxonomy
    from policywatch_classifier.train import synthetic_rows

    written = {r["id"]: set(r["labels"]) for r in synthetic_rows(rows)}
    again = [json.loads(line) for line in relabel.read_text().splitlines()]
    again = [r for r in again if r["id"] in written]  # a row dropped from training is not compared
    labelling_line(
        "synthetic passages: blind relabelling vs the writers' labels",
        get_taxonomy().ids,
        [set(r["labels"]) for r in again],
        [written[r["id"]] for r in again],
    )


def full_label_agreement(name: str, first: dict[str, set[str]], relabel: Path, key: str = "qid") -> None:
    """Full labels (``first``: id -> labels) against a blind second labelling of some of them
    (``relabel``'s rows name their text by ``key``)."""
    from policywatch_classifier.taxonomy import get_taxonomy

    again = [json.loads(line) for line in relabel.read_text().splitlines()]
    labelling_line(
        f"{name}: blind relabelling vs the full labels",
        get_taxonomy().ids,
        [set(r["labels"]) for r in again],
        [first[r[key]] for r in again],
    )


def dev_relabel(path: Path) -> None:
    """A double-blind relabelling of the dev split (``tools/rounds/dev-relabel.jsonl``: each
    annotator's labels ``a`` and ``b`` and the adjudicated ``labels``) against itself and against
    the evaluation set's first labels (label ids only; ``dev_ideas.py relabel`` trains on it)."""
    from policywatch_classifier.taxonomy import get_taxonomy

    ids = get_taxonomy().ids
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    a, b, final = ([set(r[k]) for r in rows] for k in ("a", "b", "labels"))
    first = {r["id"]: set(r["labels"]) for r in map(json.loads, EVAL_SET.read_text().splitlines())}
    labelling_line("dev relabelling: annotator B vs annotator A", ids, b, a)
    labelling_line("dev relabelling: A vs adjudicated", ids, a, final)
    labelling_line("dev relabelling: B vs adjudicated", ids, b, final)
    labelling_line("dev relabelling: adjudicated vs first labels", ids, final, [first[r["id"]] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--relabel", type=Path, default=RELABEL)
    ap.add_argument("--oof-cache", type=Path, default=None)
    ap.add_argument("--test-labels", action="store_true", help="label agreement of the test-extra round")
    ap.add_argument("--synthetic", action="store_true", help="label agreement of the synthetic training rows")
    ap.add_argument("--quotes", action="store_true", help="label agreement of the quotes' full labels")
    ap.add_argument("--claudette", action="store_true", help="same, CLAUDETTE sentences (not shipped)")
    ap.add_argument("--corpus", action="store_true", help="same, dev platforms' corpus paragraphs")
    ap.add_argument("--heldout-val", action="store_true", help="same, held-out validation paragraphs")
    ap.add_argument("--synthetic-rows", type=Path, default=None, help="--synthetic: other synthetic rows")
    ap.add_argument(
        "--synthetic-relabel",
        type=Path,
        default=SYNTHETIC_RELABEL,
        help="--synthetic: their blind relabelling",
    )
    ap.add_argument(
        "--dev-relabel",
        type=Path,
        nargs="?",
        const=DEV_RELABEL,
        default=None,
        help="label agreement of the double-blind dev relabelling",
    )
    args = ap.parse_args()
    if args.dev_relabel is not None:
        dev_relabel(args.dev_relabel)
        return
    if args.test_labels:
        test_labels()
        return
    if args.synthetic:
        synthetic_labels(args.synthetic_rows, args.synthetic_relabel)
        return
    from policywatch_classifier.train import CORPUS_LABELS_FILE, full_labels

    if args.quotes:
        full_label_agreement("ToS;DR quotes", full_labels(), QUOTES_RELABEL)
        return
    if args.claudette:
        full_label_agreement("CLAUDETTE sentences", full_labels(CLAUDETTE_LABELS), CLAUDETTE_RELABEL)
        return
    if args.corpus:
        full_label_agreement(
            "dev platforms' paragraphs", full_labels(None, CORPUS_LABELS_FILE, "pid"), CORPUS_RELABEL
        )
        return
    if args.heldout_val:
        from heldout_val import RELABEL_ROUND, ROUND

        full_label_agreement(
            "held-out validation paragraphs", full_labels(ROUND, key="pid"), RELABEL_ROUND, "pid"
        )
        return
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
