"""The shared corpus's documents as training text: latest versions and their paragraphs.

The corpus (``../shared/corpus/vlopses-us-versions.jsonl.xz``, Open Terms Archive, ODC-BY) is read,
never copied: the repository stores only ids (``passage_key``) and labels of its paragraphs.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from policywatch_classifier.text import block_passage, iter_blocks

CORPUS_FILE = Path("corpus") / "vlopses-us-versions.jsonl.xz"

#: Platforms that share policy text are one family: they are always on the same side of a split,
#: and a model scoring one never trains on another's text.
FAMILY = {
    "Google Maps": "Google",
    "Google Play": "Google",
    "Google Shopping": "Google",
    "YouTube": "Google",
    "Facebook": "Meta",
    "Instagram": "Meta",
    "WhatsApp": "Meta",
    "XNXX": "XVideos",
}


def family_of(service: str) -> str:
    """The platform family of ``service`` (itself when it shares text with no other)."""
    return FAMILY.get(service, service)


def corpus_rows(shared: Path, keep: Callable[[str], bool] = lambda head: True) -> Iterator[dict[str, str]]:
    """Rows of the shared corpus in file order (sorted by service, document, time); ``keep`` sees a
    line's first 300 characters, so rows not wanted are not parsed."""
    with lzma.open(shared / CORPUS_FILE, "rt", encoding="utf-8") as fh:
        for raw in fh:
            if keep(raw[:300]):
                yield json.loads(raw)


def latest_texts(shared: Path, services: set[str] | None = None) -> dict[tuple[str, str], str]:
    """Text of each (service, document)'s latest version, for ``services`` or all platforms."""
    keep = (
        (lambda head: True)
        if services is None
        else (lambda head: any(f'"service": "{s}"' in head for s in services))
    )
    latest: dict[tuple[str, str], str] = {}
    for row in corpus_rows(shared, keep):
        if services is None or row["service"] in services:
            latest[(row["service"], row["document"])] = row["text"]  # rows are sorted by time
    return latest


def latest_paragraphs(shared: Path, services: set[str] | None = None) -> Iterator[tuple[str, str]]:
    """(service, passage) for every passage of the latest versions of ``services``' (or all
    platforms') documents, in (service, document) order; a passage two documents share comes twice."""
    for (service, _), text in sorted(latest_texts(shared, services).items()):
        for start, end in iter_blocks(text):
            passage = block_passage(text[start:end])
            if passage is not None:
                yield service, passage


def latest_passages(shared: Path, services: set[str] | None = None) -> Iterator[tuple[str, str]]:
    """``latest_paragraphs`` without repeats: each distinct passage once, with the first service
    that publishes it."""
    seen: set[str] = set()
    for service, passage in latest_paragraphs(shared, services):
        if passage not in seen:
            seen.add(passage)
            yield service, passage


def passages_by_family(
    shared: Path,
    services: set[str],
    exclude: Collection[str] = (),
    keep: Callable[[str], bool] = lambda passage: True,
) -> dict[str, list[tuple[str, str]]]:
    """Family -> (service, passage) of each distinct passage of ``services``' latest documents
    that ``keep`` accepts and is not in ``exclude`` (passages already labelled)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for service, passage in latest_passages(shared, services):
        if passage not in exclude and keep(passage):
            out.setdefault(family_of(service), []).append((service, passage))
    return out


def passage_key(text: str) -> str:
    """A corpus paragraph is stored by the first 16 hex digits of its cleaned text's SHA-1."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
