"""Pure, synchronous classification of a change event (the differ's ``replay`` imports this).

``classify_change(change, index=None)``: passages of the change → tags with evidence and
direction → severity with reasons → regulations and jurisdictions → compliance analysis →
cross-platform view (when a provision index is given) → headline and summary.
Deterministic: same change + same versions → same result and same event_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from policywatch_shared.events import (
    CategoryTag,
    ChangeEvent,
    ChangeKind,
    ClassifiedChange,
    DiffOp,
    Direction,
    PassageTag,
    SectionChange,
    make_event_id,
)

from policywatch_classifier.analysis import build_analysis, get_knowledge
from policywatch_classifier.direction import direction_of
from policywatch_classifier.headline import Summariser, apply_summariser, template_headline, template_summary
from policywatch_classifier.provision import ProvisionIndex
from policywatch_classifier.regulations import get_regulations, jurisdictions_of
from policywatch_classifier.severity import assess
from policywatch_classifier.tagger import PassageTagger, get_tagger
from policywatch_classifier.text import clean_markdown, split_passages

#: Direction and severity rules (they decide together what an alert says). 1.1: a reworded list of
#: data kinds or recipients that grows or shrinks, and a changed retention or notice period. 1.2:
#: contracted negations ("don't", "won't", "can't", "cannot") keep the words they negate from
#: counting as powers. 1.3: headings are neutral; rules for others ("Don't sell user data") protect;
#: a negation governs its clause; an added statement of a practice expands, of a right restricts.
#: 1.4: S6/S7 give medium in rulebooks for developers, sellers or content; untagged wording in a
#: document of no governance type is none. 1.5: sections where only headings changed are not
#: tagged; a list item of rules for others cut from its lead-in ("use Grounded Output to train …")
#: restricts; a quoted term keeps its negation ('will not "sell"'). 1.6: in an added passage of a
#: rights category (security, choice, access …) only a stated power counts, not a practice's nouns
#: ("a certificate … by a third party auditor" weakened no commitment); headlines and reasons keep
#: the capitals of "AI training" and "Do Not Track"; a rulebook "removed its rules on …". 1.7: a
#: power word inserted into a reworded sentence under its negation ("You will not … train …") is none;
#: within a level, the reasons of the most consequential passage come first. 1.8: an added passage
#: that only points elsewhere ("please refer to the … Guidelines", "Learn more about …") is neutral;
#: untagged wording stating a content rule in community guidelines or a copyright policy is medium
#: (S11).
SEVERITY_RULES_VERSION = "1.8"
PassageChange = Literal["added", "removed", "reworded"]
MAX_PASSAGES = 4000  # bound the work for near-total rewrites (~10 s of tagging on one core)
MAX_EVENT_PASSAGES = 400  # passages carried by the event: all tagged ones first, then untagged
MAX_PASSAGE_CHARS = 1500  # text kept per PassageTag: keeps events well under broker message limits
MAX_TOTAL_PASSAGE_CHARS = 150_000  # whole event: the change itself also travels inside it
MAX_CROSS_PLATFORM = 5
TAGGED_KINDS = {ChangeKind.MODIFIED, ChangeKind.RESTORED, ChangeKind.REVERTED}


def model_version(tagger: PassageTagger | None = None) -> str:
    """Taxonomy + lexicon + model + thresholds + direction/severity rules + knowledge base versions."""
    t = tagger or get_tagger()
    return (
        f"{t.version}+sev{SEVERITY_RULES_VERSION}+reg{get_regulations().version}"
        f"+kb{get_knowledge()['version']}"
    )


class RawPassage:
    """One added, removed or reworded passage of a change, as tagged and directed."""

    __slots__ = ("after", "before", "change", "heading_path", "text", "word_diff")

    def __init__(
        self,
        heading_path: list[str],
        change: PassageChange,
        before: str | None,
        after: str | None,
        word_diff: list[DiffOp] | None = None,
    ) -> None:
        self.heading_path = heading_path
        self.change: PassageChange = change
        self.before = clean_markdown(before) if before else None
        self.after = clean_markdown(after) if after else None
        self.text = (self.after if change != "removed" else self.before) or ""
        self.word_diff = word_diff


def _split(text: str) -> list[str]:
    parts = [p.text for p in split_passages(text, min_chars=20, max_chars=4000)]
    return parts or ([clean_markdown(text)] if text.strip() else [])


def raw_passages(sections: list[SectionChange], *, headings: bool = False) -> list[RawPassage]:
    """The change's passages in document order (the evaluation tools score their directions).

    ``headings``: also the heading lines of sections where only headings changed — not tagged,
    but the evaluation tools' labels were keyed on passages that included them."""
    out: list[RawPassage] = []
    for s in sections:
        path = list(s.heading_path)
        if s.kind == "structure" and not headings:
            # Only headings changed (the differ: no body paragraph touched). A removed heading is
            # not a removed disclosure: Facebook's privacy policy dropped 140 box titles on
            # 7 October 2025 and was read as "removed its disclosure on first-party collection".
            continue
        if s.paragraphs:
            for p in s.paragraphs:
                out.append(RawPassage(path, p.kind, p.before, p.after, list(p.word_diff)))
        elif s.kind == "added" and s.after:
            out.extend(RawPassage(path, "added", None, t) for t in _split(s.after))
        elif s.kind == "removed" and s.before:
            out.extend(RawPassage(path, "removed", t, None) for t in _split(s.before))
        elif s.kind == "modified" and (s.before or s.after):
            out.append(RawPassage(path, "reworded", s.before, s.after))
        # moved / renamed without paragraphs: no wording change to tag (severity rule S10 covers them)
    return [r for r in out if r.text.strip()][:MAX_PASSAGES]


def classify_passages(
    texts: Sequence[str], *, tagger: PassageTagger | None = None
) -> list[list[CategoryTag]]:
    """Tag independent passages (markdown or plain text) with categories, confidence and evidence."""
    t = tagger or get_tagger()
    return t.tag([clean_markdown(x) for x in texts])


def tag_passages(raws: list[RawPassage], tagger: PassageTagger) -> list[PassageTag]:
    """One ``PassageTag`` per raw passage, in order: categories, evidence and each tag's direction."""
    texts = [r.text for r in raws]
    # Reworded passages: a category present only before the change (e.g. a deleted promise) counts too.
    before_idx = [
        i for i, r in enumerate(raws) if r.change == "reworded" and r.before and r.before != r.after
    ]
    tags = tagger.tag(texts + [raws[i].before or "" for i in before_idx])
    main, extra = tags[: len(raws)], tags[len(raws) :]
    for i, more in zip(before_idx, extra, strict=True):
        have = {t.id for t in main[i]}
        main[i].extend(t for t in more if t.id not in have)
    out: list[PassageTag] = []
    for r, ptags in zip(raws, main, strict=True):
        for t in ptags:
            t.direction = direction_of(
                r.change,
                t.id,
                before=r.before,
                after=r.after,
                word_diff=r.word_diff,
            )
        text = r.text if len(r.text) <= MAX_PASSAGE_CHARS else r.text[: MAX_PASSAGE_CHARS - 1] + "…"
        out.append(PassageTag(heading_path=r.heading_path, change=r.change, text=text, categories=ptags))
    return out


def _bound(result: ClassifiedChange, budget: int = MAX_TOTAL_PASSAGE_CHARS) -> None:
    """Keep the event under the broker's message limit on near-total rewrites: untagged passages
    beyond MAX_EVENT_PASSAGES are dropped, then untagged texts are cut, then tagged ones.
    Tagged passages, categories and evidence are never dropped."""
    untagged = [p for p in result.passages if not p.categories]
    room = max(0, MAX_EVENT_PASSAGES - (len(result.passages) - len(untagged)))
    drop = {id(p) for p in untagged[room:]}
    result.passages = passages = [p for p in result.passages if id(p) not in drop]
    for keep, only_untagged in ((200, True), (400, False)):
        if sum(len(p.text) for p in passages) <= budget:
            return
        for p in passages:
            if len(p.text) > keep and (not only_untagged or not p.categories):
                p.text = p.text[: keep - 1] + "…"


def classify_change(
    change: ChangeEvent,
    *,
    index: ProvisionIndex | None = None,
    tagger: PassageTagger | None = None,
    summariser: Summariser | None = None,
) -> ClassifiedChange:
    t = tagger or get_tagger()
    version = model_version(t)
    passages = tag_passages(raw_passages(change.sections), t) if change.kind in TAGGED_KINDS else []

    best: dict[str, float] = {}
    for p in passages:
        for tag in p.categories:
            best[tag.id] = max(best.get(tag.id, 0.0), tag.confidence)
    categories = sorted(best, key=lambda c: (-best[c], c))

    severity, reasons = assess(change, passages)
    changed_text = " ".join(p.text for p in passages)
    regs = get_regulations()
    regulations = regs.for_categories(categories, changed_text) if categories else []
    jurisdictions = jurisdictions_of(regulations)

    cross = []
    others: dict[str, int] = {}
    if index is not None:
        expanded = [
            c
            for c in categories
            if any(tg.id == c and tg.direction == Direction.EXPANDS for p in passages for tg in p.categories)
        ]
        for cat in (expanded + [c for c in categories if c not in expanded])[:MAX_CROSS_PLATFORM]:
            cp = index.cross_platform(cat, exclude_platform=change.platform)
            if cp.platform_count:
                cross.append(cp)
                others[cat] = index.other_platforms(cat, change.platform)

    result = ClassifiedChange(
        event_id=make_event_id("classified", change.event_id, version),
        trace_id=change.trace_id,
        platform=change.platform,
        document_type=change.document_type,
        document_id=change.document_id,
        change=change,
        categories=categories,
        passages=passages,
        severity=severity,
        severity_reasons=reasons,
        regulations=regulations,
        jurisdictions=jurisdictions,
        analysis=None,
        cross_platform=cross,
        model_version=version,
    )
    if categories or change.kind in TAGGED_KINDS:
        result.analysis = build_analysis(
            platform=change.platform,
            document=change.document_id,
            passages=passages,
            severity=severity,
            severity_reasons=reasons,
            regulations=regulations,
            jurisdictions=jurisdictions,
        )
    result.headline = template_headline(change, passages)
    result.summary = template_summary(result, others)
    _bound(result)  # last: the rules above read every passage in full
    apply_summariser(result, summariser)
    return result
