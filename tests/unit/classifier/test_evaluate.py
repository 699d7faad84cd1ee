"""Threshold tuning figures: tuned on the scores vs nested (thresholds from the other family folds)."""

from __future__ import annotations

import numpy as np
import pytest
from policywatch_classifier.evaluate import EvalItem, best_threshold, nested_f1, score, tune
from policywatch_classifier.tagger import PassageTagger

SERVICES = ["A", "B", "C", "D", "E", "Google Maps", "YouTube"]


def _items(labels: list[bool], cat: str) -> list[EvalItem]:
    return [
        EvalItem(f"ev{i}", "dev", SERVICES[i % len(SERVICES)], "doc", {cat} if y else set(), "t", "")
        for i, y in enumerate(labels)
    ]


def test_best_threshold_prefers_the_default_on_ties() -> None:
    s = np.array([0.9, 0.9, 0.1, 0.1])
    y = np.array([True, True, False, False])
    t, f1 = best_threshold(s, y)
    assert f1 == 1.0 and t == 0.6


def test_nested_figure_is_below_the_tuned_one_on_noise_and_equal_when_separable() -> None:
    tagger = PassageTagger(use_model=False)  # the score is then the rule weight r
    ids = tagger.taxonomy.ids
    cat = ids[0]
    rng = np.random.default_rng(1)
    labels = [bool(x) for x in rng.integers(0, 2, 140)]
    dev = _items(labels, cat)
    p = np.zeros((len(dev), len(ids)), dtype=np.float32)
    r = np.zeros_like(p)
    r[:, 0] = [0.9 if y else 0.2 for y in labels]  # separable
    _, tuned = tune(tagger, dev, scores=(dev, p, r))
    assert tuned == nested_f1(tagger, dev, p, r) == 1.0
    # A weak signal under noise: thresholds fitted to the very scores they are measured on look
    # better than they are (uniform noise alone gave equal figures: a nested_f1 that tuned on all
    # of dev would have passed).
    r[:, 0] = np.clip(0.6 + np.where(labels, 0.1, -0.1) + rng.normal(0, 0.15, len(dev)), 0, 1)
    _, tuned = tune(tagger, dev, scores=(dev, p, r))
    assert nested_f1(tagger, dev, p, r) < tuned


def test_report_carries_a_bootstrap_interval_that_narrows_with_more_passages() -> None:
    cats = ["a", "b"]
    rng = np.random.default_rng(3)

    def report(n: int) -> tuple[float, tuple[float, float]]:
        gold = [{c for c in cats if rng.random() < 0.3} for _ in range(n)]
        # 80 % of the labels right: an imperfect tagger whose macro-F1 varies between samples.
        pred = [{c for c in cats if (c in g) == (rng.random() < 0.8)} for g in gold]
        rep = score(gold, pred, cats, "test")
        return rep.macro_f1, rep.macro_f1_interval

    f_small, (lo_small, hi_small) = report(60)
    f_large, (lo_large, hi_large) = report(2000)
    assert lo_small < f_small < hi_small and lo_large < f_large < hi_large
    assert hi_large - lo_large < (hi_small - lo_small) / 3  # width shrinks ~ 1/sqrt(n)
    perfect = score([{"a"}, {"b"}, set()], [{"a"}, {"b"}, set()], cats, "test")
    assert perfect.macro_f1_interval == (1.0, 1.0)
    assert "bootstrap interval 1.000 … 1.000" in perfect.format()


class _FitCalled(Exception):
    pass


def test_fold_models_are_trained_without_the_public_rows_quoting_the_fold(monkeypatch, tmp_path) -> None:
    """Out-of-fold scores must come from models that never saw the scored sentences: a public
    row quoting a passage of the fold is left out of that fold's training rows, and so are the
    labelled corpus paragraphs of the fold's platform family."""
    import policywatch_classifier.evaluate as evaluate
    import policywatch_classifier.train as train

    quoted = "We may share your personal information with advertising partners and measurement vendors."
    dev = [
        EvalItem("ev0", "dev", "A", "doc", set(), f"Sharing. {quoted} See below.", ""),
        EvalItem("ev1", "dev", "B", "doc", set(), "We keep logs for thirty days and then delete them.", ""),
    ]
    public = [
        train.Example(quoted.upper(), {"third_party_sharing"}, {"third_party_sharing"}, 1.0, "tosdr"),
        train.Example("We keep logs for thirty days and then delete them.", set(), {"data_retention"}),
        train.Example(
            "You may close your account at any time.", {"account_termination"}, {"account_termination"}
        ),
    ]
    seen: list[list[str]] = []

    def fit_model(rows: list[train.Example], **_: object) -> None:
        seen.append([r.text for r in rows])
        raise _FitCalled

    corpus = [
        train.Example("A paragraph of platform A's own terms.", set(), set(), 0.5, train.CORPUS_SOURCE, "A"),
        train.Example("A paragraph of platform B's own terms.", set(), set(), 0.5, train.CORPUS_SOURCE, "B"),
    ]
    monkeypatch.setattr(train, "load_examples", lambda shared: public)
    monkeypatch.setattr(train, "corpus_examples", lambda shared: corpus)
    monkeypatch.setattr(train, "fit_model", fit_model)
    monkeypatch.setattr(evaluate, "family_folds", lambda services, folds=5: [[0]])
    with pytest.raises(_FitCalled):  # the first fold's training rows are all this test needs
        evaluate.out_of_fold_probs(PassageTagger(use_model=False), dev, tmp_path)
    # the fold {ev0}: the quoting row is gone, the other public rows and the other fold's dev row stay
    assert public[0].text not in seen[0]
    assert public[1].text in seen[0] and public[2].text in seen[0]
    assert dev[1].text in seen[0] and dev[0].text not in seen[0]
    # the labelled corpus paragraphs of the scored platform's family are left out with its dev rows
    assert corpus[0].text not in seen[0] and corpus[1].text in seen[0]
