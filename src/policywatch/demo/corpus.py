"""Real policy histories for the demo site.

From ``../shared/corpus/vlopses-us-versions.jsonl.xz`` when it is there (Open Terms
Archive, collection vlopses-us), otherwise from the small set of real excerpts shipped
in ``policywatch/demo/data/``. Both are ODC-BY 1.0: "Open Terms Archive Core Team and
Open Terms Archive contributors".

``technical`` records are skipped: they mark a change of Open Terms Archive's
extraction rules, not of the published terms, so the site keeps serving the previous
text for them.
"""

from __future__ import annotations

import json
import lzma
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ATTRIBUTION = "Open Terms Archive Core Team and Open Terms Archive contributors (ODC-BY 1.0)"
DATA_DIR = Path(__file__).with_name("data")
BUNDLED = DATA_DIR / "excerpts.jsonl"


def shared_dir() -> Path:
    """``../shared`` next to the repository (override with POLICYWATCH_SHARED_DIR)."""
    env = os.environ.get("POLICYWATCH_SHARED_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "corpus"
        if (parent / "pyproject.toml").exists() and candidate.is_dir():
            return candidate.parent
    return Path.cwd().parent / "shared"


def corpus_path() -> Path:
    return shared_dir() / "corpus" / "vlopses-us-versions.jsonl.xz"


#: Corpus document type -> catalog DocumentType value.
DOCUMENT_TYPES = {
    "Terms of Service": "terms_of_service",
    "Privacy Policy": "privacy_policy",
    "Community Guidelines": "community_guidelines",
    "Acceptable Use Policy": "acceptable_use_policy",
    "Trackers Policy": "cookie_policy",
    "Copyright Claims Policy": "copyright_policy",
    "Developer Terms": "developer_terms",
    "Commercial Terms": "commercial_terms",
    "General Conditions of Sale": "commercial_terms",
    "Law Enforcement Guidelines": "trust_and_safety",
    "Data Processor Agreement": "data_processing_agreement",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass(frozen=True)
class Pick:
    """A document chosen for the demo: what it shows, and how the site serves it."""

    service: str
    document: str
    js: bool = False  # rendered client-side: the fetcher needs Chromium
    note: str = ""


#: Twelve documents of nine platforms: real rewrites, small rewordings, and the noise
#: real monitoring meets (rotating image ids, tracking parameters, daily "effective
#: date" bumps, a text flapping between two versions).
DEMO_PICKS: list[Pick] = [
    Pick("Facebook", "Terms of Service", note="noise first, then large real rewrites"),
    Pick("Facebook", "Live Policy", note="flaps between two versions"),
    Pick("Instagram", "Terms of Service"),
    Pick("TikTok", "Privacy Policy", js=True, note="rendered by JavaScript"),
    Pick("LinkedIn", "Privacy Policy"),
    Pick("WhatsApp", "Terms of Service"),
    Pick("Google Play", "Terms of Service", note="real clause changes"),
    Pick("YouTube", "Terms of Service", note="tracking parameters in links"),
    Pick("X", "Privacy Policy"),
    Pick("Wikipedia", "Community Guidelines", note="image sizes and utm parameters"),
    Pick("Temu", "General Conditions of Sale", note="rotating image ids"),
    Pick("Stripchat", "Acceptable Use Policy", note="effective date bumped daily"),
]

#: Small documents shipped with the project (``data/excerpts.jsonl``) for machines without ../shared.
BUNDLED_PICKS: list[Pick] = [
    Pick("Facebook", "Live Policy", note="flaps between two versions"),
    Pick("WhatsApp", "Trackers Policy", js=True, note="rendered by JavaScript"),
    Pick("Google Play", "Copyright Claims Policy"),
    Pick("Stripchat", "Acceptable Use Policy", note="effective date bumped daily"),
]


@dataclass
class Version:
    recorded_at: str
    kind: str
    commit: str
    text: str


@dataclass
class CorpusDocument:
    service: str
    document: str
    versions: list[Version] = field(default_factory=list)
    js: bool = False

    @property
    def platform(self) -> str:
        return slug(self.service).replace("_", "-")

    @property
    def document_type(self) -> str:
        return DOCUMENT_TYPES.get(self.document, "other")

    @property
    def document_id(self) -> str:
        """Catalog id: ``platform/type``, or ``platform/title`` when the type is 'other' or taken."""
        return f"{self.platform}/{slug(self.document)}"

    @property
    def title(self) -> str:
        return f"{self.service} {self.document}"


def _iter_records(path: Path) -> Iterator[dict[str, str]]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_documents(
    picks: Iterable[Pick], *, path: Path | None = None, max_versions: int = 5
) -> list[CorpusDocument]:
    """Histories of ``picks`` (first record + up to ``max_versions - 1`` later ones), in pick order."""
    picks = list(picks)
    wanted = {(p.service, p.document): p for p in picks}
    found: dict[tuple[str, str], CorpusDocument] = {}
    for rec in _iter_records(path or corpus_path()):
        key = (rec["service"], rec["document"])
        pick = wanted.get(key)
        if pick is None or rec.get("kind") == "technical":
            continue
        doc = found.setdefault(key, CorpusDocument(pick.service, pick.document, js=pick.js))
        if len(doc.versions) < max_versions:
            doc.versions.append(Version(rec["recorded_at"], rec.get("kind", ""), rec["commit"], rec["text"]))
    return [found[(p.service, p.document)] for p in picks if (p.service, p.document) in found]


def demo_documents(max_versions: int = 5) -> tuple[list[CorpusDocument], str]:
    """The demo's documents and where they came from."""
    path = corpus_path()
    if path.exists():
        return load_documents(DEMO_PICKS, path=path, max_versions=max_versions), str(path)
    return load_documents(BUNDLED_PICKS, path=BUNDLED, max_versions=max_versions), str(BUNDLED)


def iter_corpus(path: Path | None = None) -> Iterator[CorpusDocument]:
    """Every document of the shared corpus with its non-technical versions (bench)."""
    current: CorpusDocument | None = None
    for rec in _iter_records(path or corpus_path()):
        if rec.get("kind") == "technical":
            continue
        key = (rec["service"], rec["document"])
        if current is None or (current.service, current.document) != key:
            if current is not None:
                yield current
            current = CorpusDocument(*key)
        current.versions.append(Version(rec["recorded_at"], rec.get("kind", ""), rec["commit"], rec["text"]))
    if current is not None:
        yield current
