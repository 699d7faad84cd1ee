"""Plain-language headline and summary, templated from the structured result.

The product is complete without any language model: :func:`template_headline` and
:func:`template_summary` always run. An optional :class:`Summariser` (e.g. a local LLM) can be
plugged in by dotted path (``CLASSIFIER_SUMMARISER=package.module:factory``); it is off by
default, and if it fails or returns nothing the templates are kept.
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol, runtime_checkable

from policywatch_shared.events import (
    ChangeEvent,
    ChangeKind,
    ClassifiedChange,
    Direction,
    PassageTag,
    Severity,
    document_name,
)

from policywatch_classifier.direction import has_opt_out
from policywatch_classifier.severity import RULEBOOK_TYPES, consequence
from policywatch_classifier.taxonomy import category_name, get_taxonomy

log = logging.getLogger(__name__)

EXPANDS = {
    "ai_training": "may now use your data to train AI models",
    "third_party_sharing": "now shares more of your data with third parties",
    "advertising": "expands the use of your data for advertising",
    "content_license": "broadens the licence you grant over your content",
    "sensitive_data": "expands its use of sensitive data",
    "profiling_inferences": "expands profiling and inferences about you",
    "account_termination": "widens its power to suspend accounts or remove content",
    "dispute_resolution": "changes how disputes with users are resolved",
    "liability": "limits its liability further",
    "data_retention": "may keep your data longer",
    "first_party_collection": "collects or uses more of your data",
    "international_transfer": "changes where your data is transferred",
    "law_enforcement": "changes how it handles government requests",
    "business_transfer": "may pass your data on in a business sale",
    "policy_change": "changes how it can change its terms",
    "user_choice_control": "reduces your privacy choices",
    "user_access_edit_deletion": "changes your data rights",
    "data_security": "weakens its security commitments",
    "specific_audiences": "changes its rules for children or specific regions",
}
DOC_LABEL = {
    "privacy_policy": "privacy policy",
    "terms_of_service": "terms of service",
    "cookie_policy": "cookie policy",
    "ai_terms": "AI terms",
    "acceptable_use_policy": "acceptable use policy",
    "data_processing_agreement": "data processing agreement",
    "community_guidelines": "community guidelines",
    "children_privacy_policy": "children's privacy policy",
    "developer_terms": "developer terms",
    "copyright_policy": "copyright policy",
    "commercial_terms": "commercial terms",
}


def platform_label(platform: str) -> str:
    return platform.replace("_", " ").replace("-", " ").title() if platform.islower() else platform


def doc_label(document_type: str, document_id: str = "") -> str:
    """How a headline names the document: its type, or for a type that names no kind of document
    (``other``, ``trust_and_safety``) the document's own name ("Bing removed … from its Ranking
    Parameters Description", not "from its other")."""
    if document_type in DOC_LABEL:
        return DOC_LABEL[document_type]
    if name := document_name(document_id):
        return name
    return "document" if document_type == "other" else document_type.replace("_", " ")


def _lead(passages: list[PassageTag]) -> tuple[PassageTag, str, Direction] | None:
    """The passage/category that should headline the change (most consequential first:
    ``severity.consequence``; ties go to the earlier passage)."""
    best: tuple[int, PassageTag, str, Direction] | None = None
    for p in passages:
        for t in p.categories:
            rank = consequence(p.change, t)
            if best is None or rank > best[0]:
                best = (rank, p, t.id, t.direction)
    return None if best is None else (best[1], best[2], best[3])


def lead_evidence(passages: list[PassageTag], lead: tuple[PassageTag, str, Direction] | None) -> str | None:
    """The evidence the summary quotes: the headline's own passage and category (``lead``, from
    ``_lead``), so "X may now use your data to train AI models" quotes the AI-training sentence
    and not the first tagged passage's ("We collect some data"); else the first evidence of any
    tag."""
    if lead is not None:
        passage, cat, _ = lead
        for t in passage.categories:
            if t.id == cat and t.evidence:
                return t.evidence[0]
    return next((t.evidence[0] for p in passages for t in p.categories if t.evidence), None)


def template_headline(change: ChangeEvent, passages: list[PassageTag]) -> str:
    who = platform_label(change.platform)
    doc = doc_label(change.document_type, change.document_id)
    if change.kind == ChangeKind.DATE_ONLY:
        return f"{who} updated the date of its {doc}"
    if change.kind == ChangeKind.TECHNICAL:
        return f"{who}'s {doc} was re-extracted (no change to the terms)"
    if change.kind == ChangeKind.UNAVAILABLE:
        return f"{who}'s {doc} is unavailable"
    if change.kind == ChangeKind.FIRST_VERSION:
        return f"Now tracking {who}'s {doc}"
    lead = _lead(passages)
    if lead is None:
        return f"{who} updated its {doc}"
    passage, cat, direction = lead
    name = category_name(cat)
    if passage.change == "removed" and direction == Direction.EXPANDS:
        # Developer, seller, copyright and community rulebooks state rules, not disclosures.
        what = "rules" if change.document_type in RULEBOOK_TYPES else "disclosure"
        return f"{who} removed its {what} on {name} from its {doc}"
    if direction == Direction.EXPANDS:
        if cat == "ai_training" and has_opt_out(passage.text):
            return f"{who} expands AI training on user data (an opt-out is described)"
        return f"{who} {EXPANDS.get(cat, f'changes its terms on {name}')}"
    if direction == Direction.RESTRICTS:
        return f"{who} narrows its terms on {name}"
    return f"{who} clarifies its terms on {name}"


def template_summary(result: ClassifiedChange, others: dict[str, int] | None = None) -> str:
    """``others``: per category, how many platforms other than this one have such a provision."""
    change = result.change
    who = platform_label(change.platform)
    counts = {k: sum(1 for p in result.passages if p.change == k) for k in ("added", "removed", "reworded")}
    parts = [f"{who} {doc_label(change.document_type, change.document_id)}: {change.summary.rstrip('.')}."]
    if result.passages:
        parts.append(
            f"{len(result.passages)} passage(s) changed ({counts['added']} added, "
            f"{counts['removed']} removed, "
            f"{counts['reworded']} reworded)."
        )
    tax = get_taxonomy()
    if result.categories:
        names = [tax.get(c).name if c in tax else c for c in result.categories]
        parts.append("Categories: " + ", ".join(names) + ".")
    parts.append(
        f"Governance exposure: {result.severity.value}"
        + (f" ({result.severity_reasons[0].split(': ', 1)[-1]})." if result.severity_reasons else ".")
    )
    lead = _lead(result.passages)
    evidence = lead_evidence(result.passages, lead)
    if evidence and result.severity != Severity.NONE:
        parts.append(f"Evidence: “{evidence}”")
    if result.regulations:
        # The headline's category first: its statutes are the ones the headline engages.
        ordered = sorted(result.regulations, key=lambda r: lead is None or lead[1] not in r.categories)
        regs = ", ".join(f"{r.framework} {r.provision}" for r in ordered[:5])
        parts.append(f"Regulations: {regs}.")
    for cp in result.cross_platform[:1]:
        name = tax.get(cp.category).name if cp.category in tax else cp.category
        n = cp.platform_count
        line = f"{name}: identified across {n} platform{'s' if n != 1 else ''}"
        # "Others" = the platforms other than this one (the index may or may not hold this one yet).
        n_other = (others or {}).get(cp.category, len(cp.examples))
        if n_other:
            who_else = ", ".join(platform_label(e.platform) for e in cp.examples)
            do = "does" if n_other == 1 else "do"
            line += f"; {n_other} other platform{'s' if n_other != 1 else ''} {do} the same ({who_else})"
        parts.append(line + ".")
    return " ".join(parts)


@runtime_checkable
class Summariser(Protocol):
    """Optional summariser: returns (headline, summary) or None to keep the templates."""

    def summarise(self, result: ClassifiedChange) -> tuple[str, str] | None: ...


def load_summariser(spec: str | None) -> Summariser | None:
    """``None``/``""``/``"template"`` → no summariser; else ``module:factory`` returning a Summariser."""
    if not spec or spec == "template":
        return None
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "summariser")
    obj = factory() if callable(factory) and not isinstance(factory, Summariser) else factory
    if not isinstance(obj, Summariser):
        raise TypeError(f"{spec} does not provide a Summariser")
    return obj


def apply_summariser(result: ClassifiedChange, summariser: Summariser | None) -> None:
    if summariser is None:
        return
    try:
        out = summariser.summarise(result)
    except Exception:  # a broken plug-in must never lose the alert
        log.exception("summariser failed; keeping templated headline")
        return
    if out:
        result.headline, result.summary = out
