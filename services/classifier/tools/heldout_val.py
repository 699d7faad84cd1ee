"""A validation sample of the held-out platforms' own paragraphs (twenty-first session).

    .venv/bin/python services/classifier/tools/heldout_val.py sample OUT_DIR [--batch 300]
    .venv/bin/python services/classifier/tools/heldout_val.py examples OUT_FILE
    .venv/bin/python services/classifier/tools/heldout_val.py collect IN_DIR
    .venv/bin/python services/classifier/tools/heldout_val.py score --candidate-model F \
        --shipped-cache A --candidate-cache B [--model M] [--offset 0.05 --base shipped|candidate] \
        [--more SYNTHETIC.jsonl]

Why: every decision so far was taken on the dev platforms (nested family folds), and the held-out
figure has stayed 0.03–0.05 below the nested dev one; a recall deficit seen on the held-out
platforms (micro P 0.80, R 0.70) is not reproduced by the dev folds. Twice a candidate that lifted
the dev ranking was not shipped by its registered rule, so whether it helps on new platforms was
never measured. This sample measures that on the held-out platforms' *other* paragraphs: the
test split's passages are excluded (by text, so also under another service's name), as is every
paragraph a training row quotes (``train.decontaminate``'s overlap rule), and the paragraphs are
never training rows. The test split itself is still scored once per shipped change.

``sample`` draws ``SIZE`` paragraphs of 80–700 characters (the evaluation passages' range) from
the held-out platforms' latest documents (seed ``SEED``) and writes batches of ``{pid, text}`` to
label, plus ``relabel.jsonl``: ``RELABEL`` of them for a blind second labelling. ``examples``
writes labelled dev passages (text and labels; never test) that show the annotators the
conventions. ``collect`` checks the annotators' files (every pid once, known category ids) and
writes ``rounds/heldout-val.jsonl`` (pid, family and labels only: the text stays in ``../shared``).
``score`` compares the shipped model with a candidate on the labelled paragraphs, each with its
own thresholds tuned on its out-of-fold dev scores (``dev_ideas --oof-cache`` files).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from dev_ideas import dev_tuned_thresholds, macro_ap, patched_train, print_paired_gains
from policywatch_classifier.corpus import passage_key, passages_by_family
from policywatch_classifier.evaluate import EvalItem, load_eval_set, macro_f1
from policywatch_classifier.model import load_model
from policywatch_classifier.tagger import PassageTagger, combine
from policywatch_classifier.train import (
    Example,
    decontaminate,
    load_examples,
    shared_dir,
    synthetic_examples,
    train,
    word_string,
)

SEED = 20261221
SIZE = 2100
RELABEL = 200
MIN_CHARS, MAX_CHARS = 80, 700
EXAMPLES = 90
ROUND = Path(__file__).resolve().parent / "rounds" / "heldout-val.jsonl"
RELABEL_ROUND = Path(__file__).resolve().parent / "rounds" / "heldout-val-relabel.jsonl"


def pool(shared: Path) -> list[dict[str, str]]:
    """Every distinct paragraph of the held-out platforms' latest documents, 80–700 characters,
    that is not a passage of the evaluation set (either split), in a fixed order."""
    items = load_eval_set(shared)
    by_family = passages_by_family(
        shared,
        {it.service for it in items if it.split == "test"},
        exclude={it.text for it in items},
        keep=lambda passage: MIN_CHARS <= len(passage) <= MAX_CHARS,
    )
    rows, seen = [], set()
    for family, passages in sorted(by_family.items()):
        for service, text in passages:
            if (pid := passage_key(text)) not in seen:  # Meta's services share paragraphs
                seen.add(pid)
                rows.append({"pid": pid, "family": family, "service": service, "text": text})
    return rows


def sample(shared: Path) -> list[dict[str, str]]:
    """``SIZE`` paragraphs of ``pool``, a simple random sample (the families in their own shares)."""
    rows = pool(shared)
    return random.Random(SEED).sample(rows, min(SIZE, len(rows)))


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def cmd_sample(out: Path, batch: int) -> None:
    rows = sample(shared_dir())
    out.mkdir(parents=True, exist_ok=True)
    for k in range(0, len(rows), batch):
        write_jsonl(
            out / f"batch{k // batch:02d}.jsonl",
            [{"pid": r["pid"], "text": r["text"]} for r in rows[k : k + batch]],
        )
    again = random.Random(SEED + 1).sample(rows, RELABEL)
    write_jsonl(out / "relabel.jsonl", [{"pid": r["pid"], "text": r["text"]} for r in again])
    write_jsonl(out / "families.jsonl", [{"pid": r["pid"], "family": r["family"]} for r in rows])
    print(f"{len(rows)} paragraphs in {(len(rows) + batch - 1) // batch} batches; {RELABEL} to relabel")


def cmd_examples(out: Path) -> None:
    dev = [it for it in load_eval_set(shared_dir()) if it.split == "dev"]
    chosen = random.Random(SEED + 2).sample(dev, EXAMPLES)
    write_jsonl(out, [{"text": it.text, "labels": sorted(it.labels)} for it in chosen])
    print(f"{len(chosen)} labelled dev passages")


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cmd_collect(src: Path) -> None:
    """Check the annotators' files against the batches and write ``ROUND`` (and the blind second
    labelling of ``RELABEL`` paragraphs, ``RELABEL_ROUND``)."""
    ids = set(PassageTagger().taxonomy.ids)
    family = {str(r["pid"]): str(r["family"]) for r in read_jsonl(src / "families.jsonl")}

    def labels_of(batch: Path, labelled: Path) -> list[dict[str, object]]:
        want = [str(r["pid"]) for r in read_jsonl(batch)]
        got = [(str(r["pid"]), [str(c) for c in r["labels"]]) for r in read_jsonl(labelled)]  # type: ignore[attr-defined]
        if [pid for pid, _ in got] != want:
            raise SystemExit(f"{labelled}: pids differ from {batch} ({len(got)} lines for {len(want)})")
        if bad := {c for _, labels in got for c in labels} - ids:
            raise SystemExit(f"{labelled}: unknown category ids {sorted(bad)}")
        return [{"pid": pid, "family": family[pid], "labels": sorted(labels)} for pid, labels in got]

    rows = [
        row
        for b in sorted(src.glob("batch*.jsonl"))
        for row in labels_of(b, src / b.name.replace("batch", "labels"))
    ]
    write_jsonl(ROUND, rows)
    write_jsonl(RELABEL_ROUND, labels_of(src / "relabel.jsonl", src / "relabels.jsonl"))
    empty = sum(not r["labels"] for r in rows)
    print(
        f"{len(rows)} paragraphs labelled ({empty} without a category) -> {ROUND}; relabel -> {RELABEL_ROUND}"
    )


def quoted_by_training(texts: list[str], rows: list[Example]) -> set[int]:
    """Indices of ``texts`` that overlap a training row (either inside the other, by
    ``train.decontaminate``'s rule): such a paragraph is not new to the model, so it is not scored."""
    as_rows = [Example(t, set(), set()) for t in texts]
    kept = {id(e) for e in decontaminate(as_rows, [word_string(r.text) for r in rows])}
    return {k for k, e in enumerate(as_rows) if id(e) not in kept}


def thresholds_from(cache: Path, tagger: PassageTagger, dev: list[EvalItem], r: np.ndarray) -> np.ndarray:
    """Per-category thresholds tuned, as ``evaluate --tune`` tunes them, on the out-of-fold dev
    probabilities saved by ``evaluate --oof-cache`` or ``dev_ideas nbconfirm --part …`` and the dev
    passages' rule weights ``r``."""
    return dev_tuned_thresholds(tagger, dev, np.load(cache)["p"].astype(float), r)


def labelled_paragraphs(shared: Path, ids: list[str]) -> tuple[list[str], np.ndarray]:
    """The labelled sample's texts and gold labels, without the paragraphs a training row quotes."""
    labelled = {str(r["pid"]): [str(c) for c in r["labels"]] for r in read_jsonl(ROUND)}  # type: ignore[attr-defined]
    paragraphs = [r for r in pool(shared) if r["pid"] in labelled]
    texts = [r["text"] for r in paragraphs]
    quoted = quoted_by_training(texts, load_examples(shared))
    keep = [k for k in range(len(texts)) if k not in quoted]
    gold = np.array([[c in labelled[paragraphs[k]["pid"]] for c in ids] for k in keep])
    print(
        f"{len(labelled)} labelled paragraphs; {len(quoted)} overlap a training row and are left out; "
        f"{len(keep)} scored"
    )
    return [texts[k] for k in keep], gold


def combined(tagger: PassageTagger, texts: list[str]) -> np.ndarray:
    p, r = (a.astype(float) for a in tagger.scores(texts)[:2])
    return np.vectorize(combine)(p, r)


def describe(name: str, s: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> None:
    tp, fp, fn = int((pred & gold).sum()), int((pred & ~gold).sum()), int((~pred & gold).sum())
    print(
        f"{name:24s} macro-F1 {macro_f1(pred, gold):.3f}  AP {macro_ap(s, gold):.3f}  "
        f"micro P {tp / max(tp + fp, 1):.3f} R {tp / max(tp + fn, 1):.3f}",
        flush=True,
    )


def train_with_more(more: Path) -> Any:
    """A context in which ``train`` fits on the shipped rows plus the synthetic rows of ``more`` at
    weight 1.0, as ``dev_ideas.py synthetic --weight 1.0 --more`` adds them to every fold."""
    import policywatch_classifier.train as train_module

    shipped_rows = train_module.load_examples

    def load_examples_and_more(shared: Path) -> list[Example]:
        return shipped_rows(shared) + synthetic_examples(1.0, more)

    return patched_train("load_examples", load_examples_and_more)


def cmd_score(
    shipped_cache: Path,
    candidate_cache: Path,
    candidate_model: Path | None,
    offset: float,
    base: str,
    model: Path | None = None,
    more: Path | None = None,
) -> None:
    """A model (``model``, by default the shipped artefact) against a candidate on the labelled
    held-out paragraphs, each with its thresholds tuned on its own out-of-fold dev scores; with
    ``offset``, the ``base`` model (the one the first decision leaves shipped) at its thresholds
    against the same lowered by ``offset`` (the second registered candidate).

    The twenty-first session's decision: ``model`` = model 1.8.0 (``git show
    7c823c4:services/classifier/src/policywatch_classifier/data/model/classifier-model.joblib``),
    ``shipped_cache`` its out-of-fold scores (``evaluate --tune --oof-cache`` at 7c823c4); the
    candidate is what ``train`` fits since model 1.9.0 (NB weighting; trained into
    ``candidate_model`` when that file is missing), ``candidate_cache`` from ``dev_ideas.py
    nbconfirm --part nb``. The twenty-second session's: ``more`` = synthetic batch 4
    (``rounds/synthetic-batch4.jsonl``), whose rows the candidate is trained with besides the
    shipped ones (``train_with_more``), ``candidate_cache`` from ``dev_ideas.py synthetic --weight
    1.0 --more … --save F`` (``F.w1.0.npz``)."""
    shared = shared_dir()
    shipped = PassageTagger(model=load_model(model)) if model else PassageTagger()
    if candidate_model is None or not candidate_model.exists():
        path = candidate_model or Path(tempfile.mkdtemp()) / "candidate.joblib"
        with train_with_more(more) if more else contextlib.nullcontext():
            train(shared, path)  # the shipped training rows and fit: ``policywatch train``'s path
        candidate_model = path
    candidate = PassageTagger(model=load_model(candidate_model), lexicon=shipped.lexicon)
    ids = shipped.taxonomy.ids
    dev = [it for it in load_eval_set(shared) if it.split == "dev"]
    r_dev = shipped.scores([it.text for it in dev])[1].astype(float)  # both models share the rules
    th_shipped = thresholds_from(shipped_cache, shipped, dev, r_dev)
    if model is None and not np.allclose(th_shipped, [shipped.thresholds.of(c) for c in ids]):
        raise SystemExit("the shipped cache does not reproduce thresholds.yaml: stale --shipped-cache?")
    th_candidate = thresholds_from(candidate_cache, shipped, dev, r_dev)
    texts, gold = labelled_paragraphs(shared, ids)
    s_shipped, s_candidate = combined(shipped, texts), combined(candidate, texts)
    first = (s_shipped, s_shipped >= th_shipped)
    second = (s_candidate, s_candidate >= th_candidate)
    describe("shipped", *first, gold)
    describe("candidate", *second, gold)
    print_paired_gains(ids, gold, first, second)
    if offset:
        s, th = (s_candidate, th_candidate) if base == "candidate" else (s_shipped, th_shipped)
        at, lowered = (s, s >= th), (s, s >= th - offset)
        print(f"{base} model, thresholds lowered by {offset}:")
        describe(f"{base}", *at, gold)
        describe(f"{base}, thresholds -{offset}", *lowered, gold)
        print_paired_gains(ids, gold, at, lowered)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["sample", "examples", "collect", "score"])
    ap.add_argument(
        "path",
        type=Path,
        nargs="?",
        help="sample: output directory; examples: output file; collect: input directory",
    )
    ap.add_argument("--batch", type=int, default=300)
    ap.add_argument(
        "--shipped-cache", type=Path, help="evaluate --tune --oof-cache file of the shipped model"
    )
    ap.add_argument(
        "--candidate-cache",
        type=Path,
        help="candidate out-of-fold dev probabilities (dev_ideas: nbconfirm --part nb, synthetic --save)",
    )
    ap.add_argument(
        "--candidate-model", type=Path, help="candidate artefact (trained and kept there if missing)"
    )
    ap.add_argument("--model", type=Path, help="the model compared (default: the shipped artefact)")
    ap.add_argument("--more", type=Path, help="synthetic rows (.jsonl) the candidate is trained with too")
    ap.add_argument("--offset", type=float, default=0.0, help="also: every threshold lowered by this much")
    ap.add_argument(
        "--base", choices=["shipped", "candidate"], default="shipped", help="--offset: of this model"
    )
    args = ap.parse_args()
    if args.command == "sample":
        cmd_sample(args.path, args.batch)
    elif args.command == "examples":
        cmd_examples(args.path)
    elif args.command == "collect":
        cmd_collect(args.path)
    else:
        cmd_score(
            args.shipped_cache,
            args.candidate_cache,
            args.candidate_model,
            args.offset,
            args.base,
            args.model,
            args.more,
        )


if __name__ == "__main__":
    main()
