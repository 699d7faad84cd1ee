from __future__ import annotations

import numpy as np
import pytest
from policywatch_classifier.pipeline import classify_passages
from policywatch_classifier.rules import get_lexicon
from policywatch_classifier.tagger import PassageTagger, combine
from policywatch_classifier.text import clean_markdown, split_passages, split_sentences

CASES = [
    ("We may use your prompts and outputs to train and improve our AI models.", "ai_training"),
    (
        "Any dispute will be resolved by binding arbitration and you waive any class action.",
        "dispute_resolution",
    ),
    ("We do not respond to Do Not Track signals.", "do_not_track"),
    ("We may share your personal information with advertising partners for targeted ads.", "advertising"),
    (
        "If we are involved in a merger or acquisition, your information may be transferred.",
        "business_transfer",
    ),
    ("We may suspend or terminate your account at any time without notice.", "account_termination"),
    ("You grant us a worldwide, royalty-free, sublicensable licence to use your content.", "content_license"),
    (
        "We disclose information in response to a subpoena or other legal process from law enforcement.",
        "law_enforcement",
    ),
    ("We rely on standard contractual clauses for transfers outside the EEA.", "international_transfer"),
    ("We collect biometric identifiers such as face geometry.", "sensitive_data"),
    ("Our service is not directed to children under 13.", "specific_audiences"),
    ("THE SERVICE IS PROVIDED AS IS AND WE ARE NOT LIABLE FOR INDIRECT DAMAGES.", "liability"),
]


@pytest.mark.parametrize(("text", "category"), CASES)
def test_known_passages_get_their_category_with_evidence(text: str, category: str) -> None:
    tags = classify_passages([text])[0]
    by_id = {t.id: t for t in tags}
    assert category in by_id, [t.id for t in tags]
    tag = by_id[category]
    assert 0.0 < tag.confidence <= 1.0
    assert tag.evidence and tag.evidence[0] in text


def test_unrelated_text_gets_no_category() -> None:
    assert classify_passages(["Welcome! Enjoy browsing our catalogue of furniture and lamps."]) == [[]]


def test_passages_are_independent_of_batch_order() -> None:
    texts = [c[0] for c in CASES]
    one_by_one = [classify_passages([t])[0] for t in texts]
    batched = classify_passages(list(reversed(texts)))[::-1]
    assert [[t.id for t in x] for x in one_by_one] == [[t.id for t in x] for x in batched]


def test_rules_only_tagger_works_without_model() -> None:
    tagger = PassageTagger(use_model=False)
    tags = tagger.tag(["We will retain your data for 30 days after you delete your account."])[0]
    assert "data_retention" in {t.id for t in tags}
    assert "rules-only" in tagger.version


def test_negative_rule_vetoes_staff_training() -> None:
    hits = get_lexicon().match("Our staff complete training programs on privacy every year.")
    assert "ai_training" not in hits


def test_combine_blends_model_and_rule() -> None:
    # A rule raises the model's score; it no longer tags against the model on its own.
    assert combine(0.0, 0.95) < 0.4
    assert combine(0.6, 0.95) > combine(0.6, 0.0) + 0.25
    assert combine(0.9, 0.0) == pytest.approx(0.63)
    assert combine(1.0, 1.0) == pytest.approx(1.0)


def test_markdown_cleaning_and_passage_offsets() -> None:
    md = (
        "# Title\n\nWe **collect** data, see [our page](https://x.test/a_(b)).\n\n"
        "* item one is a list item here ok\n"
    )
    passages = split_passages(md, min_chars=10)
    assert passages[0].text == "We collect data, see our page."
    assert md[passages[0].start : passages[0].end].startswith("We **collect**")
    assert clean_markdown("A \\- b") == "A - b"
    assert split_sentences("First one. Second one! Third?") == ["First one.", "Second one!", "Third?"]


def test_lexicon_prefilter_matches_trying_every_rule() -> None:
    from policywatch_classifier.rules import get_lexicon
    from policywatch_classifier.text import split_sentences

    lex = get_lexicon()

    def reference(text: str) -> dict[str, tuple[float, tuple[str, ...]]]:
        best: dict[str, tuple[float, list[str]]] = {}
        for sent in split_sentences(text):
            for rule in lex.rules:
                negs = lex.negatives.get(rule.category)
                if not rule.pattern.search(sent) or (negs and any(n.search(sent) for n in negs)):
                    continue
                cur = best.get(rule.category)
                if cur is None or rule.weight > cur[0]:
                    best[rule.category] = (rule.weight, [sent])
                elif rule.weight == cur[0] and sent not in cur[1]:
                    cur[1].append(sent)
        return {c: (w, tuple(ev[:3])) for c, (w, ev) in best.items()}

    texts = [
        "We retain your data for two years. We may share it with advertisers. Staff training is yearly.",
        "Disputes go to binding arbitration in Ireland. We do not respond to Do Not Track signals.",
        "Children under 13 may not use the service. We encrypt your data and keep it until you delete it.",
        "Hello world.",
    ]
    for text in texts:
        got = {c: (h.score, h.evidence) for c, h in lex.match(text).items()}
        assert got == reference(text)
    assert reference(texts[0])  # the texts do exercise the rules


def test_the_model_reads_platform_names_as_one_word() -> None:
    """Model 1.8.0: names are masked in training and in what the model reads, so a platform's
    name carries no category of its own (a name the model saw in ToS;DR quotes, one it did not)."""
    from policywatch_classifier.model import get_model
    from policywatch_classifier.names import mask_names

    assert mask_names("TikTok may share data with Meta Platforms; Facebook’s terms.") == (
        "Company may share data with Company; Company terms."
    )
    assert mask_names("Applebee and Metadata stay.") == "Applebee and Metadata stay."
    model = get_model()
    assert model is not None and model.masks_names
    texts = [
        f"{name} may share your data with advertisers." for name in ("Facebook", "Telegram", "Pinterest")
    ]
    p = model.predict_proba(texts)
    assert np.allclose(p[0], p[1]) and np.allclose(p[0], p[2])
