"""Governance exposure of a whole change (high / medium / low / none), from written rules.

Each rule that fires adds a reason; the severity is the highest level of any reason. The rules
are listed in docs/classifier.md ("Severity rules") with the same ids (S1…S10):

S1  date-only change, or (sev1.4) one that only fixes dates, spelling or formatting → none.
S2  technical change (extraction) → none.
S3  document unavailable → low.              S4  first version recorded (baseline) → low.
S5  AI training added or broadened with no opt-out described → high (with an opt-out → medium).
S6  removed disclosure about sharing, security or children/specific audiences → high (medium in a
    rulebook for developers, sellers or posted content: ``RULEBOOK_TYPES``).
S7  added passage expanding a high-exposure category (sharing, sensitive data, advertising,
    profiling, content licence …) → high (medium in a rulebook); a reworded one → medium.
S8  expansion or removed disclosure in another category → medium.
S9  tagged passages that only restrict the platform or clarify → low.
S10 headings/reorganisation only, or untagged wording → low (none when the differ says it is
    not substantive, or when the document is of no governance type: ``other``).
S11 (sev1.8) untagged wording that states a content rule in a rulebook for what users post
    (community guidelines, copyright policy) → medium.
"""

from __future__ import annotations

import re

from policywatch_shared.events import CategoryTag, ChangeEvent, ChangeKind, Direction, PassageTag, Severity

from policywatch_classifier.direction import direction_of, has_opt_out
from policywatch_classifier.taxonomy import category_name, get_taxonomy
from policywatch_classifier.trivial import is_trivial_change

#: Documents whose rules bind developers, sellers, advertisers or what users post, rather than
#: the platform's own handling of its users' data: there S6 and S7 give medium, not high (a
#: seller policy's new "disable Local inventory ads" or a developer table's "Use SDKs that
#: collect …" is not the platform selling its users' data; measured on labelled changes,
#: docs/classifier.md "How often is the severity right?").
RULEBOOK_TYPES = {"developer_terms", "commercial_terms", "copyright_policy", "community_guidelines"}


def consequence(change: str, tag: CategoryTag) -> int:
    """How consequential a tagged passage is for subscribers: AI training expanded > a removed
    disclosure > an expansion of a high-exposure category > other expansions > restrictions >
    the rest, then by confidence. The headline leads with the highest (``headline._lead``), and
    the reasons of one severity level are listed in this order, so the summary's "exposure"
    clause explains the headline's own passage when it is of that level."""
    if tag.id == "ai_training" and tag.direction == Direction.EXPANDS:
        rank = 100
    elif change == "removed" and tag.direction == Direction.EXPANDS:
        rank = 80
    elif tag.direction == Direction.EXPANDS:
        tax = get_taxonomy()
        rank = 60 if (tag.id in tax and tax.get(tag.id).exposure == "high") else 50
    elif tag.direction == Direction.RESTRICTS:
        rank = 30
    else:
        rank = 10
    return rank + int(tag.confidence * 9)


#: Rulebooks for what users post. There a change of untagged wording that states a content rule
#: ("Non-educational content that shows …", "We don't allow content that …", "the copyright strike
#: may be cleared") changes what is removed or demonetised: the labelling guide's "broader powers
#: to … remove content" is medium, and annotators gave such changes medium (S11, ``sev1.8``).
CONTENT_RULEBOOK_TYPES = {"community_guidelines", "copyright_policy"}
_CONTENT_RULE = re.compile(
    r"\bcontent (?:that|which|showing|depicting|containing|promoting)\b|"
    r"\b(?:don't|do not|doesn't|does not) allow\b|\bnot (?:be )?allowed\b|\bprohibit|"
    r"\b(?:strikes?|reinstat\w*|demoneti[sz]\w*)\b|\bremov\w* (?:the |your |such )?content\b",
    re.I,
)

REMOVAL_HIGH = {
    "third_party_sharing": "data sharing",
    "data_security": "security",
    "specific_audiences": "children or specific audiences",
}


def assess(change: ChangeEvent, passages: list[PassageTag]) -> tuple[Severity, list[str]]:
    reasons: list[tuple[Severity, int, str]] = []  # (level, consequence of its passage, text)
    kind = change.kind
    if kind == ChangeKind.DATE_ONLY:
        return Severity.NONE, ["S1: only the date of the document changed"]
    if kind == ChangeKind.TECHNICAL:
        return Severity.NONE, ["S2: technical change (extraction or page structure), not the terms"]
    if kind == ChangeKind.UNAVAILABLE:
        return Severity.LOW, ["S3: the document became unavailable; its terms cannot be checked"]
    if kind == ChangeKind.MODIFIED and is_trivial_change(change):
        return Severity.NONE, ["S1: only dates, spelling or formatting changed"]
    if kind == ChangeKind.FIRST_VERSION:
        reasons.append((Severity.LOW, 0, "S4: first version recorded (baseline for later changes)"))

    tax = get_taxonomy()
    rulebook = change.document_type in RULEBOOK_TYPES
    top, where = (
        (Severity.MEDIUM, " (a rulebook for developers, sellers or content)")
        if rulebook
        else (Severity.HIGH, "")
    )
    for p in passages:
        for tag in p.categories:
            cat = tag.id
            rank = consequence(p.change, tag)
            exposure = tax.get(cat).exposure if cat in tax else "medium"
            if cat == "ai_training" and p.change != "removed" and tag.direction == Direction.EXPANDS:
                if has_opt_out(p.text):
                    reasons.append(
                        (
                            Severity.MEDIUM,
                            rank,
                            "S5: AI training on user data added or broadened, with an opt-out described",
                        )
                    )
                else:
                    reasons.append(
                        (
                            Severity.HIGH,
                            rank,
                            "S5: new or broadened AI training on user content or data "
                            "without an opt-out described",
                        )
                    )
                continue
            if p.change == "removed" and cat in REMOVAL_HIGH and tag.direction == Direction.EXPANDS:
                reasons.append((top, rank, f"S6: removed disclosure about {REMOVAL_HIGH[cat]}{where}"))
                continue
            if tag.direction == Direction.EXPANDS:
                if p.change == "removed":
                    reasons.append(
                        (Severity.MEDIUM, rank, f"S8: removed disclosure about {category_name(cat)}")
                    )
                elif exposure == "high" and p.change == "added":
                    reasons.append((top, rank, f"S7: added terms expand {category_name(cat)}{where}"))
                elif exposure == "high":
                    reasons.append(
                        (Severity.MEDIUM, rank, f"S7: reworded terms broaden {category_name(cat)}")
                    )
                else:
                    reasons.append((Severity.MEDIUM, rank, f"S8: terms expand {category_name(cat)}"))
            else:
                verb = "restrict the platform" if tag.direction == Direction.RESTRICTS else "clarify"
                reasons.append((Severity.LOW, rank, f"S9: changes about {category_name(cat)} {verb}"))

    if not any(p.categories for p in passages) and kind != ChangeKind.FIRST_VERSION:
        structural = bool(change.sections) and all(
            s.kind in ("moved", "renamed", "structure") for s in change.sections
        )
        if structural:
            reasons.append((Severity.LOW, 0, "S10: headings or reorganisation only"))
        elif change.substantive and change.document_type == "other":
            # Imprints, brand guidelines, accessibility statements: no governance category found in
            # a document of no governance type — nothing that governs users changed.
            return Severity.NONE, [
                "S10: wording changed without a governance category, outside a governance document"
            ]
        elif (
            change.substantive
            and change.document_type in CONTENT_RULEBOOK_TYPES
            and any(_CONTENT_RULE.search(p.text) for p in passages if p.change != "removed")
        ):
            reasons.append((Severity.MEDIUM, 0, "S11: the rules on what content is allowed changed"))
        elif change.substantive:
            reasons.append((Severity.LOW, 0, "S10: wording changed without a governance category"))
        else:
            return Severity.NONE, ["S10: no substantive change"]

    if not reasons:
        return Severity.NONE, ["no rule fired"]
    level = max((s for s, _, _ in reasons), key=lambda s: s.rank)
    # Most severe reasons first; within a level the most consequential passage's first (the
    # headline's, when it is of that level; ties keep the passages' order); duplicates dropped.
    seen: set[str] = set()
    ordered: list[str] = []
    for _, _, text in sorted(reasons, key=lambda r: (-r[0].rank, -r[1])):
        if text not in seen:
            seen.add(text)
            ordered.append(text)
    return level, ordered


def passage_severity(text: str, tags: list[CategoryTag]) -> tuple[Severity, list[str]] | None:
    """Severity of one stand-alone passage, read as if it were newly added (``classify`` CLI).

    ``None`` when the passage has no category (severity is not meaningful then).
    """
    if not tags:
        return None
    tagged = []
    for t in tags:
        tag = t.model_copy()
        tag.direction = direction_of("added", t.id, after=text)
        tagged.append(tag)
    # A passage of no document: neither a rulebook nor of no governance type.
    fake = ChangeEvent.model_construct(
        kind=ChangeKind.MODIFIED, sections=[], substantive=True, document_type=""
    )
    return assess(fake, [PassageTag(change="added", text=text, categories=tagged)])
