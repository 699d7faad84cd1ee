"""Compliance analysis in five parts, from ``data/knowledge.yaml`` filled with the change's specifics.

Parts: regulatory landscape (statutes/articles engaged + enforcing authorities), governance
exposure (level and why), jurisdiction flags, contract and vendor implications, compliance
considerations. Plus interpretive notes where the changed text is silent (no opt-out described,
no legal basis named …). Only the changed text and the structured result are used: nothing is
asserted about the platform that the text does not say.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any

from policywatch_shared.events import ComplianceAnalysis, Direction, PassageTag, RegulationRef, Severity

from policywatch_classifier.regulations import get_regulations
from policywatch_classifier.taxonomy import get_taxonomy, load_data


@lru_cache(maxsize=1)
def get_knowledge() -> dict[str, Any]:
    raw = load_data("knowledge.yaml")
    for entry in raw["categories"].values():
        for check in entry.get("checks") or []:
            check["rx"] = re.compile(check["absent"], re.I)
    return raw


def _fmt(template: str, **kw: str) -> str:
    try:
        return template.format(**kw)
    except (KeyError, IndexError):
        return template


def build_analysis(
    *,
    platform: str,
    document: str,
    passages: list[PassageTag],
    severity: Severity,
    severity_reasons: list[str],
    regulations: list[RegulationRef],
    jurisdictions: list[str],
) -> ComplianceAnalysis:
    tax = get_taxonomy()
    regs = get_regulations()
    know = get_knowledge()["categories"]
    by_cat: dict[str, list[PassageTag]] = defaultdict(list)
    directions: dict[str, set[Direction]] = defaultdict(set)
    for p in passages:
        for t in p.categories:
            by_cat[t.id].append(p)
            directions[t.id].add(t.direction)

    landscape: list[str] = []
    by_fw: dict[str, list[str]] = defaultdict(list)
    for ref in regulations:
        by_fw[ref.framework].append(f"{ref.provision} ({ref.title})" if ref.title else ref.provision)
    authorities = regs.authorities(regulations)
    for fw, provs in by_fw.items():
        line = f"{fw}: {'; '.join(provs)}"
        if authorities.get(fw):
            line += f" — enforced by {', '.join(authorities[fw])}"
        landscape.append(line)

    exposure = f"{severity.value.capitalize()}"
    if severity_reasons:
        exposure += ": " + "; ".join(r.split(": ", 1)[-1] for r in severity_reasons[:3])

    flags = [f"{j} — {regs.jurisdiction_names.get(j, j)}" for j in jurisdictions]

    contract: list[str] = []
    considerations: list[str] = []
    notes: list[str] = []
    for cat, plist in by_cat.items():
        entry = know.get(cat) or {}
        name = tax.get(cat).name if cat in tax else cat
        contract.extend(_fmt(c, platform=platform, document=document) for c in entry.get("contract") or [])
        dirs = ", ".join(sorted(d.value for d in directions[cat]))
        considerations.extend(
            f"[{name}] " + _fmt(c, platform=platform, document=document)
            for c in entry.get("considerations") or []
        )
        if Direction.EXPANDS in directions[cat]:
            considerations.append(
                f"[{name}] The change {dirs.replace('expands', 'expands the platform')}: "
                "review the quoted evidence against your own commitments."
            )
        text = " ".join(p.text for p in plist if p.change != "removed")
        if not text:
            notes.append(f"[{name}] The passage was removed; the document no longer states this provision.")
            continue
        for check in entry.get("checks") or []:
            if not check["rx"].search(text):
                notes.append(f"[{name}] {check['note']}")
    return ComplianceAnalysis(
        regulatory_landscape=landscape,
        governance_exposure=exposure,
        jurisdiction_flags=flags,
        contract_implications=list(dict.fromkeys(contract)),
        compliance_considerations=list(dict.fromkeys(considerations)),
        interpretive_notes=list(dict.fromkeys(notes)),
    )
