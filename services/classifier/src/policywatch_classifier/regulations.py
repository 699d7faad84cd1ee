"""Regulatory mapping: taxonomy categories → statutes/articles, jurisdictions and authorities."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from policywatch_shared.events import RegulationRef

from policywatch_classifier.taxonomy import get_taxonomy, load_data


@dataclass(frozen=True)
class Regulation:
    key: str
    framework: str
    provision: str
    title: str
    jurisdictions: tuple[str, ...]
    authorities: tuple[str, ...]
    requires: re.Pattern[str] | None = None

    def applies_to(self, text: str | None) -> bool:
        return self.requires is None or text is None or bool(self.requires.search(text))


@dataclass(frozen=True)
class RegulationCatalog:
    version: str
    regulations: dict[str, Regulation]
    jurisdiction_names: dict[str, str]

    def for_categories(self, categories: Iterable[str], text: str | None = None) -> list[RegulationRef]:
        """RegulationRefs engaged by ``categories`` (one per provision, listing the categories).

        With ``text`` (the changed passages), provisions with a ``requires`` pattern are cited only
        when it matches. Any GDPR article also engages the UK GDPR counterpart (same text in UK law).
        """
        tax = get_taxonomy()
        engaged: dict[str, list[str]] = {}
        for cat in categories:
            if cat not in tax:
                continue
            for key in tax.get(cat).regulations:
                if not self.regulations[key].applies_to(text):
                    continue
                engaged.setdefault(key, [])
                if cat not in engaged[key]:
                    engaged[key].append(cat)
        gdpr_cats: list[str] = []
        for key, cats in engaged.items():
            if self.regulations[key].framework == "GDPR":
                gdpr_cats.extend(c for c in cats if c not in gdpr_cats)
        if gdpr_cats and "uk_gdpr" in self.regulations:
            uk = engaged.setdefault("uk_gdpr", [])
            uk.extend(c for c in gdpr_cats if c not in uk)
        refs = []
        for key, cats in engaged.items():
            reg = self.regulations[key]
            refs.append(
                RegulationRef(
                    framework=reg.framework,
                    provision=reg.provision,
                    title=reg.title,
                    categories=cats,
                    jurisdictions=list(reg.jurisdictions),
                )
            )
        return refs

    def authorities(self, refs: Iterable[RegulationRef]) -> dict[str, list[str]]:
        """Framework → enforcing authorities, for the refs given (order kept)."""
        by_fw: dict[str, list[str]] = {}
        for ref in refs:
            for reg in self.regulations.values():
                if reg.framework == ref.framework and reg.provision == ref.provision:
                    lst = by_fw.setdefault(reg.framework, [])
                    lst.extend(a for a in reg.authorities if a not in lst)
        return by_fw


def jurisdictions_of(refs: Iterable[RegulationRef]) -> list[str]:
    out: list[str] = []
    for ref in refs:
        out.extend(j for j in ref.jurisdictions if j not in out)
    return out


@lru_cache(maxsize=1)
def get_regulations() -> RegulationCatalog:
    raw = load_data("regulations.yaml")
    regs = {
        key: Regulation(
            key=key,
            framework=v["framework"],
            provision=str(v["provision"]),
            title=v.get("title", ""),
            jurisdictions=tuple(v.get("jurisdictions", [])),
            authorities=tuple(v.get("authorities", [])),
            requires=re.compile(v["requires"], re.I) if v.get("requires") else None,
        )
        for key, v in raw["regulations"].items()
    }
    tax = get_taxonomy()
    for cat in tax.categories:
        missing = [k for k in cat.regulations if k not in regs]
        if missing:
            raise ValueError(f"taxonomy category {cat.id} cites unknown regulations {missing}")
    return RegulationCatalog(
        version=str(raw["version"]),
        regulations=regs,
        jurisdiction_names=dict(raw.get("jurisdiction_names", {})),
    )
