"""Model-selection experiments on the DEV split only (grouped by platform family).

    .venv/bin/python services/classifier/tools/experiment.py [--configs base,w4,c1 ...]

Each configuration is scored by leave-families-out cross-fitting on dev: the dev platforms are
grouped by family (Google's services together) into 5 folds; each fold is scored by a model
trained on the public labelled data plus the other folds, so no platform's own text helps score
it (closer to the held-out test situation than random folds). Thresholds are then tuned on those
out-of-fold scores exactly as ``evaluate --tune`` does, and dev macro-F1 is reported. The test
split is never loaded here.

Configurations ``stack*`` append the passage embedding (embedding.py) to the TF-IDF features;
``blend*`` fit a second regression on the embedding and print the combined figure for several
blend weights (the shipped model: blend 0.4, C = 1). ``--save-oof PREFIX`` keeps the scores.

Approximation for speed: the TF-IDF vocabularies are fitted once per run on all training texts
(public data + all of dev); only the logistic regressions are refitted per fold.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from policywatch_classifier.evaluate import best_threshold, family_folds, load_eval_set
from policywatch_classifier.tagger import PassageTagger, combine
from policywatch_classifier.taxonomy import get_taxonomy
from policywatch_classifier.text import split_sentences
from policywatch_classifier.train import SEED, load_examples, shared_dir
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


@dataclass
class Config:
    name: str
    c: float = 4.0
    dev_weight: float = 2.0
    pool: str = "passage"  # passage | max | mean  (sentence pooling of model probabilities)
    emb: str = "none"  # none | stack (embedding appended to the TF-IDF features) | blend (own LR)
    emb_scale: float = 1.0  # stack: scale of the embedding block against the TF-IDF block
    emb_c: float = 1.0  # blend: C of the logistic regression on embeddings


CONFIGS = {
    "base": Config("base"),
    "w4": Config("w4", dev_weight=4.0),
    "w8": Config("w8", dev_weight=8.0),
    "c1": Config("c1", c=1.0),
    "c16": Config("c16", c=16.0),
    "max": Config("max", pool="max"),
    "mean": Config("mean", pool="mean"),
    "w4max": Config("w4max", dev_weight=4.0, pool="max"),
    "w4mean": Config("w4mean", dev_weight=4.0, pool="mean"),
    "stack1": Config("stack1", emb="stack", emb_scale=1.0),
    "stack2": Config("stack2", emb="stack", emb_scale=2.0),
    "stack4": Config("stack4", emb="stack", emb_scale=4.0),
    "blend1": Config("blend1", emb="blend", emb_c=1.0),
    "blend4": Config("blend4", emb="blend", emb_c=4.0),
    "blend16": Config("blend16", emb="blend", emb_c=16.0),
}
BLENDS = [0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0]


def fold_labels(services: list[str]) -> list[int]:
    """Each passage's fold number, from the family folds every other tool uses (``family_folds``)."""
    label = [0] * len(services)
    for k, members in enumerate(family_folds(services)):
        for i in members:
            label[i] = k
    return label


def tuned_f1(scores: np.ndarray, gold: np.ndarray) -> tuple[float, list[float]]:
    f1s, ths = [], []
    for j in range(gold.shape[1]):
        y = gold[:, j]
        if not y.any():
            continue
        best_t, best = best_threshold(scores[:, j], y)  # the grid and tie rule evaluate --tune uses
        f1s.append(best)
        ths.append(best_t)
    return float(np.mean(f1s)), ths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default="base,w4")
    ap.add_argument(
        "--public-only",
        action="store_true",
        help="one model on the public data only (dev is then out-of-sample as a whole): compares poolings",
    )
    ap.add_argument("--save-oof", default=None, help="prefix: keep each configuration's dev scores (.npz)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    shared = shared_dir()
    tax = get_taxonomy()
    ids = tax.ids
    base = load_examples(shared)
    dev = [it for it in load_eval_set(shared) if it.split == "dev"]
    fold = fold_labels([it.service for it in dev])
    gold = np.array([[c in it.labels for c in ids] for it in dev])
    print(f"{len(base)} public examples, {len(dev)} dev passages, folds {np.bincount(fold).tolist()}")

    texts = [e.text for e in base] + [it.text for it in dev]
    word = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=60000, sublinear_tf=True, strip_accents="unicode"
    )
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), min_df=3, max_features=60000, sublinear_tf=True
    )
    x_all = sp.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
    x_base, x_dev = x_all[: len(base)], x_all[len(base) :]
    sents = [split_sentences(it.text) for it in dev]
    flat = [s for ss in sents for s in ss]
    owner = np.array([i for i, ss in enumerate(sents) for _ in ss])
    x_sent = sp.hstack([word.transform(flat), char.transform(flat)], format="csr")
    rules = PassageTagger(use_model=False)
    _, r, _, _ = rules.scores([it.text for it in dev])
    emb_base = emb_dev = None
    if any(CONFIGS[n].emb != "none" for n in args.configs.split(",")):
        from policywatch_classifier.embedding import get_embedder

        embedder = get_embedder()
        emb_base = embedder.embed([e.text for e in base])
        emb_dev = embedder.embed([it.text for it in dev])
    print(f"features ready in {time.perf_counter() - t0:.0f}s")

    rules_f1, _ = tuned_f1(r, gold)
    print(f"rules only: dev macro-F1 {rules_f1:.3f}")
    if args.public_only:
        fold = [0] * len(dev)  # one "fold" = all of dev, scored by a model trained without any of it
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        t1 = time.perf_counter()
        xb, xd = x_base, x_dev
        if cfg.emb == "stack":
            assert emb_base is not None and emb_dev is not None
            xb = sp.hstack([x_base, sp.csr_matrix(cfg.emb_scale * emb_base)], format="csr")
            xd = sp.hstack([x_dev, sp.csr_matrix(cfg.emb_scale * emb_dev)], format="csr")
        p_pass = np.zeros(gold.shape, dtype=np.float32)
        p_sent = np.zeros(gold.shape, dtype=np.float32)
        p_emb = np.zeros(gold.shape, dtype=np.float32)
        for k in range(max(fold) + 1):
            train_dev = [i for i in range(len(dev)) if fold[i] != k]
            test_dev = [i for i in range(len(dev)) if fold[i] == k]
            x = sp.vstack([xb, xd[train_dev]], format="csr")
            for j, c in enumerate(ids):
                rows = [i for i, e in enumerate(base) if c in e.known]
                y = np.array(
                    [c in base[i].labels for i in rows] + [c in dev[i].labels for i in train_dev], dtype=int
                )
                w = np.array([base[i].weight for i in rows] + [cfg.dev_weight] * len(train_dev))
                xr = x[rows + list(range(len(base), len(base) + len(train_dev)))]
                if y.sum() == 0:
                    continue
                clf = LogisticRegression(
                    C=cfg.c, class_weight="balanced", solver="liblinear", random_state=SEED, max_iter=200
                )
                clf.fit(xr, y, sample_weight=w)
                p_pass[test_dev, j] = clf.predict_proba(xd[test_dev])[:, 1]
                if cfg.emb == "blend":
                    assert emb_base is not None and emb_dev is not None
                    e_tr = np.vstack([emb_base[rows], emb_dev[train_dev]])
                    ce = LogisticRegression(C=cfg.emb_c, class_weight="balanced", max_iter=1000)
                    ce.fit(e_tr, y, sample_weight=w)
                    p_emb[test_dev, j] = ce.predict_proba(emb_dev[test_dev])[:, 1]
                if cfg.pool != "passage" and cfg.emb == "none":
                    mask = np.isin(owner, test_dev)
                    ps = clf.predict_proba(x_sent[mask])[:, 1]
                    best = np.zeros(len(dev), dtype=np.float32)
                    np.maximum.at(best, owner[mask], ps)
                    p_sent[test_dev, j] = best[test_dev]
        variants: dict[str, np.ndarray] = {"passage": p_pass}
        if cfg.pool != "passage":
            variants = {cfg.pool: np.maximum(p_pass, p_sent) if cfg.pool == "max" else (p_pass + p_sent) / 2}
        if cfg.emb == "blend":
            variants = {f"blend{b}": (1 - b) * p_pass + b * p_emb for b in BLENDS}
        for pool, p in variants.items():
            s = np.vectorize(combine)(p, r)
            f1, _ = tuned_f1(s, gold)
            m1, _ = tuned_f1(p, gold)
            print(
                f"{name:8s} pool={pool:10s} C={cfg.c:<5} devw={cfg.dev_weight:<4} "
                f"combined dev macro-F1 {f1:.3f} | model alone {m1:.3f}   ({time.perf_counter() - t1:.0f}s)",
                flush=True,
            )
        if args.save_oof:
            np.savez(f"{args.save_oof}-{name}.npz", p_pass=p_pass, p_emb=p_emb, r=r, gold=gold)


if __name__ == "__main__":
    main()
