"""Train the linear model from the shared labelled data: ``python -m policywatch_classifier.train``.

Reproducible: fixed seeds, fixed sub-sampling, deterministic solver (liblinear). Inputs:
* ToS;DR points 2021 (CC BY-SA 3.0) — cases mapped to the taxonomy by ``data/label_mapping.yaml``;
* CLAUDETTE English sentences (CC BY 4.0) — unfair/fair clause tags mapped likewise;
* ``data/training_supplement.yaml`` — hand-written sentences for categories the data sets lack;
* ``data/training_synthetic.jsonl`` — synthetic passages written for this project about fictional
  companies, labelled fully against the taxonomy (``synthetic_examples``).
A public quote carries one ToS;DR case (or CLAUDETTE's clause types), not a full labelling, so it
is no negative example of a category the lexicon finds in it (``PARTIAL_RULE_WEIGHT``).
Of the evaluation set (tests/data/classifier/eval_set.jsonl, from the OTA corpus) the dev split is
training data (``dev_examples``); the test split's passages are read only to leave out the public
rows that quote them (``decontaminate``), never as training rows.
Two models per category are fitted on the same examples and weights: a logistic regression on
TF-IDF n-grams and one on dense passage embeddings (``embedding.py``, static WordLlama vectors
shipped in a PyPI wheel); the model blends their probabilities (``EMB_BLEND``, see model.py).
Output: ``data/model/classifier-model.joblib`` (+ ``LICENSE.md`` beside it: CC BY-SA derivative).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import json
import lzma
import random
import re
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from policywatch_classifier.corpus import family_of, latest_paragraphs, passage_key
from policywatch_classifier.model import LinearModel, model_path
from policywatch_classifier.names import mask_names
from policywatch_classifier.rules import get_lexicon
from policywatch_classifier.taxonomy import get_taxonomy, load_data
from policywatch_classifier.text import clean_markdown, split_sentences
from policywatch_classifier.tfidf import CompactTfidf

if TYPE_CHECKING:  # evaluate imports this module
    from policywatch_classifier.evaluate import EvalItem

MODEL_VERSION = "1.9.0"
MODEL_FILE_NAME = "classifier-model.joblib"
SEED = 20261124
DEFAULT_SHARED = Path(__file__).resolve().parents[4] / ".." / "shared"
CLAUDETTE_NEGATIVES = 6000
#: A public example is not a negative of a category whose lexicon rule of at least this weight
#: fires on it. Chosen on dev (nested macro-F1 0.769 → 0.780 at 0.7; 0.779 at 0.9, 0.775 at 0.6 and
#: 0.778 at 0.5, where the weak rules count too; docs/classifier.md).
PARTIAL_RULE_WEIGHT = 0.7
#: Embedding model: C of its logistic regressions and its share b of the blended probability.
#: Chosen on dev out-of-fold figures (family-grouped folds, services/classifier/tools/experiment.py).
EMB_C = 1.0
EMB_BLEND = 0.4


@dataclass
class Example:
    text: str
    labels: set[str]
    known: set[str]  # categories for which this example is a reliable positive or negative
    weight: float = 1.0
    source: str = ""
    #: Platform family of an in-domain row (dev passage or corpus paragraph): a fold model that
    #: scores a family is trained without that family's rows (``in_domain_rows``).
    family: str = ""


def shared_dir(explicit: str | Path | None = None) -> Path:
    import os

    for cand in (explicit, os.environ.get("POLICYWATCH_SHARED_DIR"), "/work/shared", DEFAULT_SHARED):
        if cand and (Path(cand) / "labelled").is_dir():
            return Path(cand).resolve()
    raise FileNotFoundError("shared data not found (set POLICYWATCH_SHARED_DIR or pass --shared)")


def load_examples(shared: Path) -> list[Example]:
    tax = get_taxonomy()
    all_ids = set(tax.ids)
    mapping = load_data("label_mapping.yaml")
    quotes = tosdr_quotes(shared, set(mapping["tosdr"]))
    by_text = full_label_texts(quotes, full_labels())
    out = [
        Example(text, set(by_text.get(text, mapping["tosdr"][case])), all_ids, 1.0, "tosdr")
        for _, case, text in quotes
    ]
    scope = set(mapping["claudette_scope"])
    negatives: list[Example] = []
    with lzma.open(shared / "labelled" / "claudette_en.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            text = clean_markdown(r["text"] or "")
            if len(text) < 30:
                continue
            tags = list(r["unfair_labels"]) + list(r["fair_labels"])
            if tags:
                labels: set[str] = set()
                for t in tags:
                    labels.update(mapping["claudette"].get(t, []))
                out.append(Example(text, labels, scope | labels, 1.0, "claudette"))
            else:
                negatives.append(Example(text, set(), scope, 1.0, "claudette"))
    rng = random.Random(SEED)
    out.extend(rng.sample(negatives, min(CLAUDETTE_NEGATIVES, len(negatives))))
    # A fully labelled quote is a reliable negative of the categories it lacks: no partial label.
    partial_labels([e for e in out if not (e.source == "tosdr" and e.text in by_text)])
    for item in load_data("training_supplement.yaml")["items"]:
        out.append(Example(item["text"], set(item["labels"]), all_ids, 3.0, SUPPLEMENT_SOURCE))
    out += synthetic_examples()
    return decontaminate(out, held_out_texts(shared))


#: Every category each ToS;DR quote addresses, by quote id (model 1.6.0): a quote was recorded for
#: the one case it illustrates, so as a training row it was a partial label (``partial_labels``).
FULL_LABELS_FILE = "tosdr_full_labels.jsonl"


def tosdr_quotes(shared: Path, cases: Collection[str]) -> list[tuple[str, str, str]]:
    """(quote id, case, cleaned text) of each ToS;DR quote of one of ``cases`` that is long enough
    and not flagged irrelevant, in file order."""
    quotes = []
    with lzma.open(shared / "labelled" / "tosdr_points_2021.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("irrelevant") or r["case"] not in cases:
                continue
            text = clean_markdown(r["text"] or "")
            if len(text) >= 20:
                quotes.append((r["id"], r["case"], text))
    return quotes


def full_labels(
    path: Path | None = None, name: str = FULL_LABELS_FILE, key: str = "qid"
) -> dict[str, set[str]]:
    """Id -> the full label set given by hand (docs/classifier.md, "Training"): the shipped labels
    of data file ``name`` (by default the quotes'), or another labelling in the same form
    (``path``; tools/dev_ideas.py). ``key``: the id field."""
    if path is None:
        text = resources.files("policywatch_classifier").joinpath("data", name).read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {r[key]: set(r["labels"]) for r in rows}


def full_label_texts(quotes: list[tuple[str, str, str]], by_id: dict[str, set[str]]) -> dict[str, set[str]]:
    """Quote text -> its full labels. By text: a quote recorded twice under two ids was labelled once."""
    return {text: by_id[qid] for qid, _, text in quotes if qid in by_id}


#: Paragraphs of the dev platforms' latest documents labelled by hand with every category they
#: address (model 1.7.0; ``tools/corpus_labels.py`` drew them): paragraph id and labels.
CORPUS_LABELS_FILE = "corpus_labels.jsonl"
#: ``Example.source`` of those paragraphs.
CORPUS_SOURCE = "ota-corpus"
#: Their training weight: half a public row's. On dev, 0.5 and 1 rank alike (AP 0.877); only at
#: 0.5 does the AP gain exclude zero against the double-blind dev labels too; 2 lowered the nested F1.
CORPUS_WEIGHT = 0.5


def corpus_examples(shared: Path, labels: dict[str, set[str]] | None = None) -> list[Example]:
    """Training rows of the labelled corpus paragraphs (``labels``: another labelling, by
    ``corpus.passage_key``; default the shipped one), each with its platform family.

    Why: apart from the 671 dev passages, every training row was a ToS;DR quote, a CLAUDETTE
    sentence or a synthetic passage; these are the platforms' own policies, contracts and
    developer terms, fully labelled. Only dev platforms' paragraphs were labelled, so a fold model
    leaves out the scored family's paragraphs like its dev passages (``in_domain_rows``).
    """
    by_key = full_labels(None, CORPUS_LABELS_FILE, "pid") if labels is None else labels
    texts: dict[str, str] = {}
    families: dict[str, set[str]] = {}
    for service, passage in latest_paragraphs(shared):
        if (key := passage_key(passage)) in by_key:
            texts[key] = passage
            families.setdefault(key, set()).add(family_of(service))
    if missing := set(by_key) - set(texts):
        # The corpus is fixed; a paragraph not found means another corpus file, not a missing row.
        raise ValueError(f"{len(missing)} labelled paragraphs not in the corpus of {shared}: {min(missing)}")
    all_ids = set(get_taxonomy().ids)
    # A paragraph that two platform families publish (2 of 10,334; one of them a held-out
    # platform's) is left out: a fold model would learn the scored family's text through the other.
    return [
        Example(texts[key], set(labels_of), all_ids, CORPUS_WEIGHT, CORPUS_SOURCE, min(families[key]))
        for key, labels_of in by_key.items()
        if len(families[key]) == 1
    ]


def in_domain_rows(
    items: Sequence[EvalItem], fold: Collection[int], corpus: list[Example], exclude: Iterable[str] = ()
) -> list[Example]:
    """The in-domain rows a model scoring dev passages ``fold`` (indices of ``items``) is trained
    on: the dev rows outside the fold (and not in ``exclude``, dev ids) and the corpus paragraphs
    of the other platform families."""
    ids = {items[i].id for i in fold} | set(exclude)
    families = {family_of(items[i].service) for i in fold}
    return dev_rows(items, ids) + [e for e in corpus if e.family not in families]


#: Training weight of a synthetic passage (that of a public quote; 0.5 measured the same on dev).
SYNTHETIC_WEIGHT = 1.0
SYNTHETIC_FILE = "training_synthetic.jsonl"
#: ``Example.source`` of the synthetic passages.
SYNTHETIC_SOURCE = "synthetic"
#: ``Example.source`` of the hand-written sentences of ``data/training_supplement.yaml``.
SUPPLEMENT_SOURCE = "supplement"


def synthetic_rows(path: Path | None = None) -> list[dict[str, Any]]:
    """The synthetic passages as stored (id, labels, sector, doc, text): the shipped file, or
    ``path`` (rows measured but not shipped, ``tools/rounds/synthetic-batch3.jsonl``)."""
    if path is None:
        text = (
            resources.files("policywatch_classifier")
            .joinpath("data", SYNTHETIC_FILE)
            .read_text(encoding="utf-8")
        )
    else:
        text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def synthetic_examples(weight: float = SYNTHETIC_WEIGHT, path: Path | None = None) -> list[Example]:
    """Synthetic passages: original policy-style text about fictional companies in many sectors,
    each labelled with every category it addresses (``docs/classifier.md``, Training).

    Why: the public quotes are mostly terms-of-service sentences, each labelled with one case, and
    the dev passages come from nine platform families; these rows give the model the indirect
    wordings of privacy policies ("the companies that help us run the service") from neither, with
    full labels, so they are negatives of every category they are not labelled with.
    """
    all_ids = set(get_taxonomy().ids)
    return [
        Example(clean_markdown(r["text"]), set(r["labels"]), all_ids, weight, SYNTHETIC_SOURCE)
        for r in synthetic_rows(path)
    ]


#: A public row and a held-out passage "overlap" when one contains the other, compared on their
#: words (lower case, punctuation dropped), the shorter having at least this many characters.
OVERLAP_MIN_CHARS = 30


def word_string(text: str) -> str:
    """The words of ``text``, lower case, one space apart: what overlap is compared on."""
    return " ".join(re.findall(r"\w+", text.lower()))


def held_out_texts(shared: Path) -> list[str]:
    """The test split's passages (words only), read so that no training row quotes them."""
    from policywatch_classifier.evaluate import EVAL_SET, load_eval_set

    if not EVAL_SET.exists():
        return []
    return [word_string(it.text) for it in load_eval_set(shared) if it.split == "test"]


def decontaminate(examples: list[Example], held_out: list[str]) -> list[Example]:
    """``examples`` without the rows that overlap a held-out passage.

    Why: CLAUDETTE and ToS;DR quote the terms and policies of the same platforms the test split
    samples, so 18 of its 432 passages had their own sentences (or the whole passage) among the
    training rows — the test split would not be "kept apart from training". Only rows are dropped;
    the rest (and the sampled CLAUDETTE negatives) stay as they were.
    """
    if not held_out:
        return examples
    sep = "\x00"
    haystack = sep + sep.join(held_out) + sep  # one search per row, not one per (row, passage)
    words = [word_string(e.text) for e in examples]
    dropped = {k for k, w in enumerate(words) if len(w) >= OVERLAP_MIN_CHARS and w in haystack}
    # The other way round: a held-out passage inside a (longer) training row.
    starts, offset = [], 0
    for w in words:
        starts.append(offset)
        offset += len(w) + 1
    rows = sep.join(words)
    for passage in held_out:
        if len(passage) < OVERLAP_MIN_CHARS:
            continue
        at = rows.find(passage)
        while at >= 0:
            dropped.add(bisect.bisect_right(starts, at) - 1)
            at = rows.find(passage, at + 1)
    return [e for k, e in enumerate(examples) if k not in dropped]


def partial_labels(examples: list[Example]) -> int:
    """Make each example no negative of the categories a lexicon rule of weight
    ``PARTIAL_RULE_WEIGHT`` or more finds in it (and it is not labelled with); returns how many
    examples changed.

    Why: a ToS;DR quote was labelled with the one case it was quoted for, so a quote about account
    deletion that also says how long data is kept would otherwise teach the retention model that
    such wording is *not* about retention. Such categories become unknown for the quote (no row
    in that category's regression), not positives: the rules are not labels either.
    """
    lexicon = get_lexicon()
    changed = 0
    for e in examples:
        hits = lexicon.match(e.text, split_sentences(e.text))
        found = {c for c, h in hits.items() if h.score >= PARTIAL_RULE_WEIGHT} - e.labels
        if found & e.known:
            e.known = e.known - found
            changed += 1
    return changed


DEV_WEIGHT = 2.0


def dev_examples(shared: Path, exclude: set[str] | None = None) -> list[Example]:
    """In-domain examples: the DEV split of the evaluation set (the test split is never used)."""
    from policywatch_classifier.evaluate import load_eval_set

    return dev_rows([it for it in load_eval_set(shared) if it.split == "dev"], exclude or ())


#: ``Example.source`` of the in-domain dev rows.
DEV_SOURCE = "ota-dev"


def dev_rows(items: Iterable[EvalItem], exclude: Collection[str] = ()) -> list[Example]:
    """Training rows of already loaded dev passages, but those whose id is in ``exclude``."""
    all_ids = set(get_taxonomy().ids)
    return [
        Example(it.text, set(it.labels), all_ids, DEV_WEIGHT, DEV_SOURCE)
        for it in items
        if it.id not in exclude
    ]


def nb_ratio(x: Any, y: np.ndarray, weight: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Per feature, the naive-Bayes log-count ratio of a category's positives against its
    negatives: the weighted number of rows holding the feature in each class, plus ``smoothing``,
    normalised (model 1.9.0).

    Why: the TF-IDF regression fits on features scaled by this ratio (NB-LR, after Wang and
    Manning's NB-SVM), so n-grams typical of a category start out weighted towards it. Decided on
    a hand-labelled sample of the held-out platforms' own paragraphs (macro-F1 0.634 → 0.674,
    docs/classifier.md "Twenty-first session"); the scaling folds into the coefficients, so the
    artefact's form and the run-time cost do not change.
    """
    present = (x > 0).astype(np.float64)
    pos = smoothing + np.asarray(present[y == 1].T @ weight[y == 1]).ravel()
    neg = smoothing + np.asarray(present[y == 0].T @ weight[y == 0]).ravel()
    return np.asarray(np.log((pos / pos.sum()) / (neg / neg.sum())))


def fit(
    examples: list[Example], *, c: float = 4.0
) -> tuple[CompactTfidf, CompactTfidf, np.ndarray, np.ndarray, dict[str, dict[str, int]]]:
    tax = get_taxonomy()
    texts = [e.text for e in examples]
    word = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=60000, sublinear_tf=True, strip_accents="unicode"
    )
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), min_df=3, max_features=60000, sublinear_tf=True
    )
    x = sp.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
    weights = np.zeros((len(tax.ids), x.shape[1]), dtype=np.float32)
    bias = np.zeros(len(tax.ids), dtype=np.float32)
    counts: dict[str, dict[str, int]] = {}
    for k, cat in enumerate(tax.ids):
        rows = [i for i, e in enumerate(examples) if cat in e.known]
        y = np.array([1 if cat in examples[i].labels else 0 for i in rows])
        counts[cat] = {"positives": int(y.sum()), "negatives": int(len(y) - y.sum())}
        if y.sum() == 0:
            bias[k] = -10.0  # never predicted by the model: rules only
            continue
        sw = np.array([examples[i].weight for i in rows])
        xr = x[rows]
        r = nb_ratio(xr, y, sw)
        clf = LogisticRegression(
            C=c, class_weight="balanced", solver="liblinear", random_state=SEED, max_iter=200
        )
        clf.fit(sp.csr_matrix(xr.multiply(r)), y, sample_weight=sw)
        weights[k] = clf.coef_[0] * r  # x·(w∘r) = (x∘r)·w: the artefact reads unscaled features
        bias[k] = clf.intercept_[0]
    # Only what transform needs, as plain objects: the service never imports scikit-learn.
    return CompactTfidf.from_sklearn(word), CompactTfidf.from_sklearn(char), weights, bias, counts


def fit_embedding(
    examples: list[Example], embeddings: np.ndarray, *, c: float = EMB_C
) -> tuple[np.ndarray, np.ndarray]:
    """Per-category logistic regression on passage embeddings (same rows, labels and weights as
    the TF-IDF model). lbfgs on dense features is deterministic for the same inputs."""
    tax = get_taxonomy()
    weights = np.zeros((len(tax.ids), embeddings.shape[1]), dtype=np.float32)
    bias = np.full(len(tax.ids), -10.0, dtype=np.float32)  # a category without positives: never
    for k, cat in enumerate(tax.ids):
        rows = [i for i, e in enumerate(examples) if cat in e.known]
        y = np.array([1 if cat in examples[i].labels else 0 for i in rows])
        if y.sum() == 0:
            continue
        sw = np.array([examples[i].weight for i in rows])
        clf = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=2000)
        clf.fit(embeddings[rows], y, sample_weight=sw)
        weights[k] = clf.coef_[0]
        bias[k] = clf.intercept_[0]
    return weights, bias


def fit_model(examples: list[Example], *, c: float = 4.0) -> tuple[LinearModel, dict[str, dict[str, int]]]:
    """Both regressions per category on ``examples``: the model (no training metadata yet) and
    the rows per category. ``train`` and the out-of-fold models of ``evaluate`` fit through here."""
    from policywatch_classifier.embedding import get_embedder

    # Platform names as one word (model 1.8.0): LinearModel.predict_proba masks what it reads too.
    examples = [dataclasses.replace(e, text=mask_names(e.text)) for e in examples]
    word, char, weights, bias, counts = fit(examples, c=c)
    embedder = get_embedder()
    emb_weights, emb_bias = fit_embedding(examples, embedder.embed([e.text for e in examples]))
    model = LinearModel(
        version=MODEL_VERSION,
        categories=list(get_taxonomy().ids),
        word=word,
        char=char,
        weights=weights,
        bias=bias,
        emb_weights=emb_weights,
        emb_bias=emb_bias,
        blend=EMB_BLEND,
        embedding=embedder.name,
        masks_names=True,
    )
    return model, counts


def train(
    shared: Path,
    out_path: Path | None = None,
    *,
    c: float = 4.0,
    with_dev: bool = True,
    exclude_dev: set[str] | None = None,
    save: bool = True,
) -> tuple[LinearModel, str]:
    tax = get_taxonomy()
    examples = load_examples(shared)
    if with_dev:
        # The labelled paragraphs are dev platforms' text: in-domain data, like the dev split.
        examples += decontaminate(corpus_examples(shared), held_out_texts(shared))
        examples += dev_examples(shared, exclude_dev)
    model, counts = fit_model(examples, c=c)
    model.meta = {
        "taxonomy_version": tax.version,
        "examples": len(examples),
        "with_dev": with_dev,
        "sources": {
            "tosdr_points_2021": "CC BY-SA 3.0, ToS;DR contributors",
            "tosdr_full_labels": "CC BY 4.0, policywatch (labels only)",
            "ota_eval_dev_split": "ODC-BY 1.0, Open Terms Archive (passages) + policywatch labels",
            "ota_corpus_labels": "ODC-BY 1.0, Open Terms Archive (paragraphs) + policywatch labels",
            "claudette_en": "CC BY 4.0, Galassi et al. (CLAUDETTE)",
            "training_supplement": "CC BY 4.0, policywatch",
            "training_synthetic": "CC BY 4.0, policywatch",
        },
        "counts": counts,
        "C": c,
        "embedding": {"id": model.embedding, "C": EMB_C, "blend": EMB_BLEND},
        "partial_labels": {"min_rule_weight": PARTIAL_RULE_WEIGHT, "lexicon": get_lexicon().version},
    }
    digest = model.dump(out_path or model_path()) if save else ""
    return model, digest


def check(shared: Path, *, with_dev: bool = True) -> int:
    """Retrain and compare with the shipped artefact: same vocabularies, counts and metadata, and
    weights equal up to float16 rounding (BLAS builds may differ in the last bit)."""
    import tempfile

    from policywatch_classifier.model import load_model

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / MODEL_FILE_NAME
        train(shared, out, with_dev=with_dev)
        new, shipped = load_model(out), load_model(model_path())
    if new is None or shipped is None:
        print("check: model missing")
        return 1
    problems = []
    if new.version != shipped.version or new.categories != shipped.categories:
        problems.append("version or categories differ")
    if new.word.vocabulary != shipped.word.vocabulary or new.char.vocabulary != shipped.char.vocabulary:
        problems.append("vocabularies differ")
    if new.meta != shipped.meta:
        problems.append("training metadata (counts, sources) differ")
    w_new, w_old = new.weights.astype(np.float32), shipped.weights.astype(np.float32)
    dw = float(np.abs(w_new - w_old).max())
    db = float(np.abs(new.bias - shipped.bias).max())
    # float16 keeps ~3 significant digits: one rounding step is ~1e-3 of the value (0.002 at |w|≈3).
    same_w = np.allclose(w_new, w_old, rtol=2e-3, atol=1e-4)
    if not (same_w and np.allclose(new.bias, shipped.bias, atol=1e-3)):
        problems.append(f"weights differ beyond float16 rounding (max |dw| {dw:.2g}, |db| {db:.2g})")
    if (new.emb_weights is None) != (shipped.emb_weights is None) or new.blend != shipped.blend:
        problems.append("embedding model present in one artefact only, or blend differs")
    elif new.emb_weights is not None and shipped.emb_weights is not None:
        v_new, v_old = new.emb_weights.astype(np.float32), shipped.emb_weights.astype(np.float32)
        if not np.allclose(v_new, v_old, rtol=2e-3, atol=1e-4):
            dv = float(np.abs(v_new - v_old).max())
            problems.append(f"embedding weights differ beyond float16 rounding (max |dv| {dv:.2g})")
    print(f"check: max |dw| {dw:.2g}, |db| {db:.2g}; " + ("; ".join(problems) or "same model as shipped"))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--shared", default=None, help="shared data directory (default: ../shared)")
    ap.add_argument("--out", default=None, help="artefact path (default: inside the package)")
    ap.add_argument("--no-dev", action="store_true", help="do not add the eval set's dev split to training")
    ap.add_argument(
        "--check",
        action="store_true",
        help="retrain into a temp file, compare with the shipped model",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.check:
        return check(shared_dir(args.shared), with_dev=not args.no_dev)
    out = Path(args.out) if args.out else model_path()
    model, digest = train(shared_dir(args.shared), out, with_dev=not args.no_dev)
    size = out.stat().st_size
    print(
        f"trained model {model.version} on {model.meta['examples']} examples in "
        f"{time.perf_counter() - t0:.1f}s -> {out} ({size / 1e6:.2f} MB, sha256 {digest})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
