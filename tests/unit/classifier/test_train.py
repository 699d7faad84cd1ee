"""Training data: public quotes are partial labels (train.partial_labels), held-out passages are
never quoted (train.decontaminate), synthetic passages are full labels (train.synthetic_examples)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from policywatch_classifier.taxonomy import get_taxonomy
from policywatch_classifier.train import (
    CORPUS_LABELS_FILE,
    FULL_LABELS_FILE,
    PARTIAL_RULE_WEIGHT,
    SEED,
    SYNTHETIC_WEIGHT,
    Example,
    decontaminate,
    fit,
    nb_ratio,
    partial_labels,
    synthetic_examples,
    word_string,
)
from sklearn.linear_model import LogisticRegression

DELETION = "You can delete your account at any time. We retain your personal data for 30 days after deletion."
PLAIN = "The weather is nice today and we like apples very much indeed."


def test_public_quote_is_no_negative_of_a_category_the_rules_find() -> None:
    all_ids = set(get_taxonomy().ids)
    quote = Example(DELETION, {"account_termination"}, set(all_ids))
    plain = Example(PLAIN, set(), set(all_ids))
    assert partial_labels([quote, plain]) == 1
    # Rules of weight >= PARTIAL_RULE_WEIGHT find retention and deletion rights in the quote: unknown
    # for it now, while its own label stays known (a positive) and the others stay negatives.
    assert PARTIAL_RULE_WEIGHT <= 0.9
    assert quote.known == all_ids - {"data_retention", "user_access_edit_deletion"}
    assert "account_termination" in quote.known and "advertising" in quote.known
    assert plain.known == all_ids


def test_unknown_categories_are_no_rows_of_their_regression() -> None:
    all_ids = set(get_taxonomy().ids)
    rows = [
        Example(DELETION, {"account_termination"}, all_ids - {"data_retention"}),
        Example(DELETION + " Again.", {"data_retention"}, set(all_ids)),
        Example(PLAIN, set(), set(all_ids)),
        Example(PLAIN + " Again.", set(), set(all_ids)),
    ] * 2
    counts = fit(rows)[4]
    assert counts["data_retention"] == {"positives": 2, "negatives": 4}  # the first quote is not a row
    assert counts["account_termination"] == {"positives": 2, "negatives": 6}


def test_nb_ratio_weighs_a_feature_by_the_classes_that_hold_it() -> None:
    # Features: held by positives only, by negatives only, by both alike, by nobody.
    x = sp.csr_matrix(np.array([[1.0, 0, 0.5, 0], [0.3, 0, 0.2, 0], [0, 1.0, 0.4, 0], [0, 0.7, 0.1, 0]]))
    y = np.array([1, 1, 0, 0])
    r = nb_ratio(x, y, np.ones(4))
    assert r[0] > 0 > r[1]
    assert r[2] == pytest.approx(0.0) and r[3] == pytest.approx(0.0)
    assert r[0] == pytest.approx(-r[1])
    # Row weights count: a feature of a doubly weighted positive leans further towards it.
    assert nb_ratio(x, y, np.array([2.0, 2.0, 1.0, 1.0]))[0] > r[0]


def test_the_tfidf_regression_is_nb_weighted_and_folded_into_its_weights() -> None:
    """Model 1.9.0: each category's TF-IDF regression fits on NB-scaled features; the artefact's
    weights read unscaled features, so they are the fitted coefficients times the ratio."""
    all_ids = set(get_taxonomy().ids)
    rows = [
        Example(DELETION, {"data_retention"}, set(all_ids)),
        Example(
            "We keep your personal data for as long as your account is open.", {"data_retention"}, all_ids
        ),
        Example(PLAIN, set(), set(all_ids)),
        Example("Apples and pears are sold at the market on Saturdays.", set(), set(all_ids)),
    ] * 3
    word, char, weights, bias, _ = fit(rows)
    k = get_taxonomy().ids.index("data_retention")
    texts = [e.text for e in rows]
    x = sp.hstack([word.transform(texts), char.transform(texts)], format="csr")
    y = np.array([1 if "data_retention" in e.labels else 0 for e in rows])
    r = nb_ratio(x, y, np.ones(len(rows)))
    clf = LogisticRegression(
        C=4.0, class_weight="balanced", solver="liblinear", random_state=SEED, max_iter=200
    )
    clf.fit(sp.csr_matrix(x.multiply(r)), y, sample_weight=np.ones(len(rows)))
    np.testing.assert_allclose(weights[k], (clf.coef_[0] * r).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights[k], clf.coef_[0])  # the scaling is not a no-op
    assert bias[k] == pytest.approx(clf.intercept_[0], rel=1e-5)


def test_rows_quoting_a_held_out_passage_are_left_out() -> None:
    held_out = [
        word_string("We may suspend or terminate your account at any time, for any reason, without notice."),
        word_string("You can contact our Data Protection Officer at dpo@example.com."),
    ]
    rows = [
        # a sentence of a held-out passage, other case and punctuation: dropped
        Example("we may SUSPEND or terminate your account at any time for any reason", {"a"}, {"a"}),
        # a longer row containing a whole held-out passage: dropped
        Example(
            "Privacy. You can contact our Data Protection Officer at dpo@example.com. Thanks.", set(), {"a"}
        ),
        # shorter than the minimum overlap: kept, though "at any time" is in a passage
        Example("at any time", set(), {"a"}),
        # unrelated: kept
        Example("We keep logs for 30 days and then delete them.", {"b"}, {"b"}),
        # words spanning two held-out passages must not match across the separator: kept
        Example("without notice. You can contact our Data Protection Officer", set(), {"a"}),
    ]
    kept = decontaminate(rows, held_out)
    assert [e.text for e in kept] == [rows[2].text, rows[3].text, rows[4].text]
    assert decontaminate(rows, []) == rows


def test_synthetic_rows_are_fully_labelled_distinct_taxonomy_rows() -> None:
    rows = synthetic_examples()
    ids = set(get_taxonomy().ids)
    assert len(rows) >= 2500
    assert len({word_string(e.text) for e in rows}) == len(rows)
    assert all(e.labels <= ids and e.known == ids and e.weight == SYNTHETIC_WEIGHT for e in rows)
    assert all(40 <= len(e.text) <= 1500 for e in rows)
    negatives = sum(not e.labels for e in rows) / len(rows)
    assert 0.15 <= negatives <= 0.3  # realistic no-category passages, hard negatives among them
    per_category = Counter(c for e in rows for c in e.labels)
    assert min(per_category[c] for c in ids) >= 50
    assert [e.weight for e in synthetic_examples(0.5)][:3] == [0.5] * 3


@pytest.mark.parametrize(
    ("name", "key", "min_rows", "every_category", "none_share"),
    [
        (FULL_LABELS_FILE, "qid", 7000, True, (0.1, 0.3)),  # the ToS;DR quotes (model 1.6.0)
        (CORPUS_LABELS_FILE, "pid", 10000, False, (0.5, 0.8)),  # corpus paragraphs (1.7.0): most none
    ],
    ids=["quotes", "corpus"],
)
def test_full_labels_are_ids_and_taxonomy_labels_once_per_row(
    name: str, key: str, min_rows: int, every_category: bool, none_share: tuple[float, float]
) -> None:
    import json
    from importlib import resources

    from policywatch_classifier.train import full_labels

    lines = resources.files("policywatch_classifier").joinpath("data", name).read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    labels = full_labels(None, name, key)
    assert len(labels) == len(rows) >= min_rows  # one row per quote or paragraph, none twice
    assert all(set(r) == {key, "labels"} for r in rows)  # ids and labels only: no quoted or corpus text
    used = set().union(*labels.values())
    ids = set(get_taxonomy().ids)
    assert used == ids if every_category else used <= ids
    low, high = none_share
    assert low <= sum(not v for v in labels.values()) / len(labels) <= high


def test_a_fold_model_leaves_out_the_scored_familys_dev_rows_and_paragraphs() -> None:
    from policywatch_classifier.evaluate import EvalItem
    from policywatch_classifier.train import DEV_SOURCE, in_domain_rows

    def item(i: str, service: str) -> EvalItem:
        return EvalItem(
            i, "dev", service, "privacy", {"data_retention"}, f"passage {i} of {service}", "random"
        )

    items = [item("a", "YouTube"), item("b", "Google Maps"), item("c", "TikTok"), item("d", "Bing")]
    corpus = [
        Example(f"paragraph of {f}", set(), set(), 1.0, "ota-corpus", f) for f in ("Google", "TikTok", "Bing")
    ]
    rows = in_domain_rows(items, [0, 1], corpus, exclude=["d"])  # a fold holds a whole family: Google
    assert [e.text for e in rows if e.source == DEV_SOURCE] == ["passage c of TikTok"]
    assert [e.family for e in rows if e.source == "ota-corpus"] == ["TikTok", "Bing"]
