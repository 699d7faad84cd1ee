"""The shortcuts that cut the classifier's CPU per change give the same results as the long way."""

from __future__ import annotations

import re

import policywatch_classifier.provision as provision
import pytest
from policywatch_classifier import text as text_mod
from policywatch_classifier.provision import ProvisionIndex
from policywatch_classifier.tagger import PassageTagger, get_tagger
from policywatch_classifier.text import clean_markdown, split_passages
from policywatch_shared.events import Direction


def _clean_every_pattern(text: str) -> str:
    """clean_markdown as first written: every pattern applied to every text."""
    t = text_mod
    text = t._LINK.sub(r"\1", text)
    text = t._AUTOLINK.sub(r"\1", text)
    text = t._UNDERLINE.sub(" ", text)
    text = t._HEADING_MARK.sub("", text)
    text = t._BULLET.sub("", text)
    text = t._EMPH.sub("", text)
    text = t._ESC.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize(
    "raw",
    [
        "Plain sentence without any markup at all",
        "See [our policy](https://x.example/p(1)) and <https://x.example/a>.",
        "Title\n-=-\nbody",
        "Title\n=====\n\n## Heading\n\n* one\n+ two\n- three\n12. four",
        "**bold** __under__ *em* `code` snake_case \\*escaped\\* \\[x\\]",
        "tabs\tand\u00a0nbsp\u2003em\x1cseparator\x85nel\n\n  trailing  ",
        "a - b = c -- d == e",
        "",
    ],
)
def test_clean_markdown_matches_every_pattern_applied(raw: str) -> None:
    assert clean_markdown(raw) == _clean_every_pattern(raw)


def _doc(n: int, extra: str = "") -> str:
    blocks = ["# Privacy policy", "Intro\n=====", "[Home](https://x.example) | [Help](https://x.example/h)"]
    blocks += [
        f"We keep record {i} of your account for as long as needed to provide the service." for i in range(n)
    ]
    blocks += [
        "We may use your prompts to train our AI models.",
        "We keep record 3 of your account for as long as needed to provide the service.",  # a duplicate
    ]
    return "\n\n".join(blocks) + extra


EDITS = [
    lambda d: d + "\n\nWe may share your personal information with advertising partners for targeted ads.",
    lambda d: d.replace("record 5 ", "record five "),  # a block reworded
    lambda d: d.replace(
        "\n\nWe may use your prompts to train our AI models.", ""
    ),  # the excerpt's block removed
    lambda d: "Any dispute will be resolved by binding arbitration and you waive any class action.\n\n" + d,
    lambda d: d.replace("We keep record 7", "## We keep record 7"),  # a passage becomes a heading
    lambda d: d.replace("record 2 of", "record 9 of"),  # now a duplicate of another block
    lambda d: "",
]


def test_reindexing_a_changed_document_equals_indexing_it_from_scratch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cleaned: list[str] = []
    real = provision.block_passage

    def counting(raw: str, **kw: int) -> str | None:
        cleaned.append(raw)
        return real(raw, **kw)

    monkeypatch.setattr(provision, "block_passage", counting)
    tagger = get_tagger()
    for edit in EDITS:
        v1 = _doc(30)
        index = ProvisionIndex()
        index.index_document(platform="p", document_id="p/x", text=v1, tagger=tagger)
        v2 = edit(v1)
        cleaned.clear()
        again = index.index_document(platform="p", document_id="p/x", text=v2, tagger=tagger)
        # Only new blocks (and the excerpts' blocks) are cleaned again, not the 30 unchanged ones.
        assert len(cleaned) <= 1 + len(again.categories)
        n = len(cleaned)
        fresh = ProvisionIndex().index_document(platform="p", document_id="p/x", text=v2, tagger=tagger)
        assert len(cleaned) - n == len(list(text_mod.iter_blocks(v2)))  # from scratch: every block
        assert again.to_dict(with_passages=True) == fresh.to_dict(with_passages=True)
        assert list(again.categories) == list(fresh.categories)  # same order too
        assert list(again.passages) == list(fresh.passages)
        assert list(again.passages) == list(
            dict.fromkeys(provision.passage_hash(p.text) for p in split_passages(v2, max_chars=1500))
        )


def test_a_reloaded_entry_is_reindexed_from_its_text() -> None:
    index = ProvisionIndex()
    index.index_document(platform="p", document_id="p/x", text=_doc(10), tagger=get_tagger())
    reloaded = ProvisionIndex.from_json(index.to_json())
    v2 = _doc(12)
    entry = reloaded.index_document(platform="p", document_id="p/x", text=v2, tagger=get_tagger())
    fresh = ProvisionIndex().index_document(platform="p", document_id="p/x", text=v2, tagger=get_tagger())
    assert entry.to_dict(with_passages=True) == fresh.to_dict(with_passages=True)


TEXTS = [
    "We may use your prompts and outputs to train and improve our AI models.",
    "Any dispute will be resolved by binding arbitration. You waive any class action. Really.",
    "We collect biometric identifiers such as face geometry.",
    "Nothing to see here at all.",
]


def test_remembered_tags_equal_fresh_tags_and_are_fresh_objects() -> None:
    tagger = PassageTagger()
    first = tagger.tag(TEXTS)
    for tags in first:
        for t in tags:
            t.direction = Direction.EXPANDS  # what the pipeline does to its copies
    again = tagger.tag([*reversed(TEXTS), "Another text, never tagged before, about cookies."])
    fresh = PassageTagger().tag(list(reversed(TEXTS)))
    assert [[t.model_dump() for t in tags] for tags in again[:-1]] == [
        [t.model_dump() for t in tags] for tags in fresh
    ]
    assert any(first) and all(t.direction == Direction.NEUTRAL for tags in again for t in tags)


def test_swapping_a_taggers_part_forgets_remembered_tags() -> None:
    tagger = PassageTagger()
    with_model = tagger.tag(TEXTS)
    tagger.model = None  # rules only from now on
    rules_only = PassageTagger(use_model=False).tag(TEXTS)
    assert with_model != rules_only  # else this test would show nothing
    assert tagger.tag(TEXTS) == rules_only
