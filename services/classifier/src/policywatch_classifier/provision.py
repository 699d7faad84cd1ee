"""Provision index: for each category, which platforms' current documents contain such a provision.

Every passage of a document's current version is tagged; per (document, category) the best
passage is kept as the excerpt. Alerts use it for "identified across N platforms" and "how other
platforms handle this" (up to three other platforms' excerpts). Persisted as one JSON object in
the object store (``put_named``), keyed by :data:`INDEX_KEY`.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from policywatch_shared.events import CrossPlatform, ProvisionExample

from policywatch_classifier.tagger import PassageTagger, get_tagger
from policywatch_classifier.text import split_passages

INDEX_KEY = "classifier/provision-index.json"
INDEX_FORMAT = 1
EXCERPT_CHARS = 320


class NamedStore(Protocol):
    async def put_named(
        self, key: str, data: bytes, *, content_type: str = ..., metadata: Any = ...
    ) -> Any: ...
    async def get_bytes(self, key: str) -> bytes: ...


@dataclass
class DocumentEntry:
    platform: str
    document_id: str
    version_id: str | None
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)  # cat -> {excerpt, confidence}


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


#: Passages remembered with their tags. Successive versions of a document share almost all
#: passages, so re-indexing a changed document tags only its new passages (a 60k-character policy
#: went from ~1.4 s to a few ms per change).
TAG_CACHE_SIZE = 20_000


class ProvisionIndex:
    def __init__(self, documents: dict[str, DocumentEntry] | None = None, model_version: str = "") -> None:
        self.documents: dict[str, DocumentEntry] = documents or {}
        self.model_version = model_version
        self._tag_cache: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()

    def _tag_cached(self, tagger: PassageTagger, passages: list[str]) -> list[list[Any]]:
        keys = [(tagger.version, hashlib.sha1(p.encode("utf-8")).hexdigest()) for p in passages]
        missing = [i for i, k in enumerate(keys) if k not in self._tag_cache]
        if missing:
            fresh = tagger.tag([passages[i] for i in missing])
            for i, tags in zip(missing, fresh, strict=True):
                self._tag_cache[keys[i]] = list(tags)
        out = []
        for k in keys:
            self._tag_cache.move_to_end(k)
            out.append(self._tag_cache[k])
        while len(self._tag_cache) > TAG_CACHE_SIZE:
            self._tag_cache.popitem(last=False)
        return out

    # ------------------------------------------------------------------ building
    def index_document(
        self,
        *,
        platform: str,
        document_id: str,
        text: str,
        version_id: str | None = None,
        tagger: PassageTagger | None = None,
        batch: int = 256,
    ) -> DocumentEntry:
        """(Re)index one document's current version; replaces its previous entry."""
        tagger = tagger or get_tagger()
        passages = [p.text for p in split_passages(text, max_chars=1500)]
        best: dict[str, dict[str, Any]] = {}
        for i in range(0, len(passages), batch):
            chunk = passages[i : i + batch]
            for ptext, tags in zip(chunk, self._tag_cached(tagger, chunk), strict=True):
                for t in tags:
                    cur = best.get(t.id)
                    if cur is None or t.confidence > cur["confidence"]:
                        best[t.id] = {"excerpt": _excerpt(ptext), "confidence": t.confidence}
        entry = DocumentEntry(platform, document_id, version_id, best)
        self.documents[document_id] = entry
        self.model_version = tagger.version
        return entry

    def remove_document(self, document_id: str) -> None:
        self.documents.pop(document_id, None)

    # ------------------------------------------------------------------ queries
    def platforms_for(self, category: str) -> list[ProvisionExample]:
        """One example per platform (its most confident document), sorted by platform."""
        per_platform: dict[str, tuple[float, ProvisionExample]] = {}
        for doc in self.documents.values():
            hit = doc.categories.get(category)
            if hit is None:
                continue
            ex = ProvisionExample(platform=doc.platform, document_id=doc.document_id, excerpt=hit["excerpt"])
            cur = per_platform.get(doc.platform)
            if cur is None or hit["confidence"] > cur[0]:
                per_platform[doc.platform] = (hit["confidence"], ex)
        return [per_platform[p][1] for p in sorted(per_platform)]

    def cross_platform(self, category: str, *, exclude_platform: str | None, limit: int = 3) -> CrossPlatform:
        found = self.platforms_for(category)
        others = [e for e in found if e.platform != exclude_platform]
        return CrossPlatform(category=category, platform_count=len(found), examples=others[:limit])

    def other_platforms(self, category: str, platform: str) -> int:
        """How many platforms other than ``platform`` have a provision of ``category``."""
        return sum(1 for e in self.platforms_for(category) if e.platform != platform)

    def categories(self) -> list[str]:
        cats: set[str] = set()
        for doc in self.documents.values():
            cats.update(doc.categories)
        return sorted(cats)

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> bytes:
        payload = {
            "format": INDEX_FORMAT,
            "model_version": self.model_version,
            "documents": {
                k: {
                    "platform": d.platform,
                    "document_id": d.document_id,
                    "version_id": d.version_id,
                    "categories": d.categories,
                }
                for k, d in sorted(self.documents.items())
            },
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> ProvisionIndex:
        raw = json.loads(data)
        docs = {
            k: DocumentEntry(
                v["platform"], v["document_id"], v.get("version_id"), dict(v.get("categories", {}))
            )
            for k, v in raw.get("documents", {}).items()
        }
        return cls(docs, raw.get("model_version", ""))

    async def save(self, store: NamedStore, key: str = INDEX_KEY) -> None:
        await store.put_named(key, self.to_json(), content_type="application/json")

    @classmethod
    async def load(cls, store: NamedStore, key: str = INDEX_KEY) -> ProvisionIndex:
        """Load from the store; an empty index when none was saved yet."""
        try:
            data = await store.get_bytes(key)
        except Exception as exc:
            # Not saved yet (the shared store raises ObjectNotFound) → start empty; anything else
            # (e.g. StorageUnavailable) propagates so the message is retried, not mis-indexed.
            if _is_not_found(exc):
                return cls()
            raise
        return cls.from_json(data)


def _is_not_found(exc: Exception) -> bool:
    try:
        from policywatch_shared.storage import ObjectNotFound
    except ImportError:  # storage module unavailable (partial install): judge by name
        return type(exc).__name__ in ("ObjectNotFound", "FileNotFoundError", "KeyError")
    return isinstance(exc, ObjectNotFound | FileNotFoundError | KeyError)


def build_from_documents(
    docs: Iterable[tuple[str, str, str, str | None]], *, tagger: PassageTagger | None = None
) -> ProvisionIndex:
    """Index (platform, document_id, text, version_id) tuples (e.g. the shared corpus, for demos)."""
    index = ProvisionIndex()
    for platform, document_id, text, version_id in docs:
        index.index_document(
            platform=platform, document_id=document_id, text=text, version_id=version_id, tagger=tagger
        )
    return index
