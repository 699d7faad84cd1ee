"""The governance taxonomy (``data/taxonomy.yaml``): stable category ids with descriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    description: str
    regulations: tuple[str, ...] = field(default_factory=tuple)
    exposure: str = "medium"

    @property
    def in_sentence(self) -> str:
        """The name inside a sentence ("removed its disclosure on first-party collection and use"):
        an acronym or a proper name keeps its capitals ("AI training", "Do Not Track and opt-out
        signals"; lower-casing the whole name wrote "ai training")."""
        words = self.name.split()
        if words[0].isupper() or any(w[:1].isupper() for w in words[1:]):
            return self.name
        return self.name[:1].lower() + self.name[1:]


@dataclass(frozen=True)
class Taxonomy:
    version: str
    categories: tuple[Category, ...]

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def get(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def __contains__(self, category_id: object) -> bool:
        return any(c.id == category_id for c in self.categories)


def category_name(category_id: str) -> str:
    """A category's name inside a sentence (``Category.in_sentence``); an unknown id as it is."""
    tax = get_taxonomy()
    return tax.get(category_id).in_sentence if category_id in tax else category_id


def load_data(name: str) -> Any:
    """Parse a YAML data file shipped in ``policywatch_classifier/data``."""
    text = resources.files("policywatch_classifier").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def get_taxonomy() -> Taxonomy:
    raw = load_data("taxonomy.yaml")
    cats = tuple(
        Category(
            id=c["id"],
            name=c["name"],
            description=" ".join(str(c["description"]).split()),
            regulations=tuple(c.get("regulations", [])),
            exposure=c.get("exposure", "medium"),
        )
        for c in raw["categories"]
    )
    ids = [c.id for c in cats]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate category id in taxonomy.yaml")
    return Taxonomy(version=str(raw["version"]), categories=cats)
