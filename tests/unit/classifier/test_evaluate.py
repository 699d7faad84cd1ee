"""Threshold tuning figures: tuned on the scores vs nested (thresholds from the other family folds)."""

from __future__ import annotations

import numpy as np
from policywatch_classifier.evaluate import EvalItem, best_threshold, nested_f1, tune
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
