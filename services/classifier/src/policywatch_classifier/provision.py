"""Provision index: for each category, which platforms' current documents contain such a provision.

Every passage of a document's current version is tagged; per (document, category) the best
passage is kept as the excerpt. Alerts use it for "identified across N platforms" and "how other
platforms handle this" (up to three other platforms' excerpts).

Persisted in the object store as one small JSON object per document under
``{key without .json}/documents/`` (written after each re-index: the cost of a change does not
grow with the number of documents indexed). ``load`` also reads a whole-index object at ``key``
if one is there (how the index was saved before; per-document objects win).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
from policywatch_shared.events import CrossPlatform, ProvisionExample
from policywatch_shared.storage import ObjectNotFound, ObjectStore

from policywatch_classifier.tagger import PassageTagger, get_tagger
from policywatch_classifier.text import block_passage, iter_blocks

log = logging.getLogger("policywatch.classifier")

INDEX_KEY = "classifier/provision-index.json"
INDEX_FORMAT = 1
EXCERPT_CHARS = 320

#: Tags of one passage as kept for re-indexing: (category id, confidence) pairs. Tuples, and the
#: pairs shared through ``_pair``: most passages have no tag (all share the one empty tuple) and
#: confidences have three decimals, so ~27,000 passages of 200 documents need few distinct pairs.
PassageTags = tuple[tuple[str, float], ...]
_HASH_BYTES = 10  # of a passage hash (``passage_hash``: 20 hex digits)
_PAIRS: dict[tuple[str, float], tuple[str, float]] = {}


def _pair(category: str, confidence: float) -> tuple[str, float]:
    """The shared (category, confidence) pair; at most categories × 1,001 of them (3 decimals)."""
    key = (category, confidence)
    return _PAIRS.setdefault(key, key)


def _tags(pairs: Iterable[tuple[str, float]]) -> PassageTags:
    return tuple(_pair(c, float(conf)) for c, conf in pairs)


class PassageTable:
    """A document's passages (hash → tags) in document order, compact: the 20-hex-digit hashes as
    10 bytes each in one bytes object, and one tuple of tags — ~45 bytes a passage instead of ~250
    for a dict of hex strings to lists (~85 passages per real policy, 1,000 documents per process).
    Read-only; ``as_dict`` gives a dict for the look-ups of one re-index."""

    __slots__ = ("_hashes", "_tags")

    def __init__(self, passages: dict[str, PassageTags] | None = None) -> None:
        passages = passages or {}
        # One bytes object, not a numpy "S10" array: those drop trailing zero bytes of an item.
        self._hashes = b"".join(bytes.fromhex(h) for h in passages)
        self._tags: tuple[PassageTags, ...] = tuple(passages.values())
        if len(self._hashes) != _HASH_BYTES * len(self._tags):  # a stored entry of another format
            raise ValueError(f"passage hashes are not {2 * _HASH_BYTES} hex digits each")

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[str]:
        blob = self._hashes
        return (blob[i : i + _HASH_BYTES].hex() for i in range(0, len(blob), _HASH_BYTES))

    def items(self) -> Iterator[tuple[str, PassageTags]]:
        return zip(self, self._tags, strict=True)

    def as_dict(self) -> dict[str, PassageTags]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PassageTable):
            return NotImplemented
        return self._hashes == other._hashes and self._tags == other._tags


@dataclass
class DocumentEntry:
    platform: str
    document_id: str
    version_id: str | None
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)  # cat -> {excerpt, confidence}
    #: passage hash -> its tags, for the version indexed; lets the next version re-tag only the
    #: passages that changed, however many other documents passed through since.
    passages: PassageTable = field(default_factory=PassageTable)
    tagger_version: str = ""
    #: object key of the version text indexed: lets a newer tagger re-index the entry without
    #: waiting for the document's next change (entries saved before it have none).
    storage_key: str | None = None

    def to_dict(self, *, with_passages: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "platform": self.platform,
            "document_id": self.document_id,
            "version_id": self.version_id,
            "categories": self.categories,
        }
        if with_passages:
            out["tagger_version"] = self.tagger_version
            if self.storage_key is not None:
                out["storage_key"] = self.storage_key
            out["passages"] = {h: [[c, conf] for c, conf in tags] for h, tags in self.passages.items()}
        return out

    @classmethod
    def from_dict(cls, v: dict[str, Any]) -> DocumentEntry:
        return cls(
            v["platform"],
            v["document_id"],
            v.get("version_id"),
            dict(v.get("categories", {})),
            PassageTable({h: _tags(tags) for h, tags in v.get("passages", {}).items()}),
            v.get("tagger_version", ""),
            v.get("storage_key"),
        )


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


#: Passages remembered with their tags across documents (documents of one platform share
#: boilerplate). Each document also keeps its own passages' tags (``DocumentEntry.passages``), so
#: re-indexing a changed document tags only its new passages (a 60k-character policy went from
#: ~1.4 s to a few ms per change) even when far more passages than this went through since.
TAG_CACHE_SIZE = 20_000


def passage_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[: 2 * _HASH_BYTES]


PASSAGE_MAX_CHARS = 1500  # cleaned text kept per indexed passage


def _block_digest(raw: str) -> bytes:
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class _BlockMap:
    """Which passage each raw block of a document's indexed version became, so that the next
    version re-cleans only its new blocks (re-splitting and re-cleaning the whole markdown was
    ~13 % of the classifier's CPU per change). In memory only, ~5 KB per document: 16-byte block
    digests (sorted) and, per block, the index of its passage in ``entry.passages`` (-1: none)."""

    entry: DocumentEntry  # the entry it describes: a replaced or reloaded entry invalidates it
    digests: np.ndarray  # dtype S16, sorted
    slots: np.ndarray  # int32, aligned with digests


def document_key(index_key: str, document_id: str) -> str:
    """Object key of one document's entry, beside the snapshot ``index_key``."""
    return f"{documents_prefix(index_key)}{quote(document_id, safe='')}.json"


def documents_prefix(index_key: str) -> str:
    return f"{index_key.removesuffix('.json')}/documents/"


class ProvisionIndex:
    def __init__(self, documents: dict[str, DocumentEntry] | None = None, model_version: str = "") -> None:
        self.documents: dict[str, DocumentEntry] = documents or {}
        self.model_version = model_version
        self._tag_cache: OrderedDict[str, PassageTags] = OrderedDict()
        self._cache_version = ""
        self._blocks: dict[str, _BlockMap] = {}
        #: object key -> stamp of each per-document entry as last read (``load``, ``refresh``)
        self._stamps: dict[str, str] = {}

    def _tag_cached(
        self, tagger: PassageTagger, passages: list[str], known: dict[str, PassageTags]
    ) -> list[tuple[str, PassageTags]]:
        """(hash, tags) per passage: from ``known`` (the document's previous version), the shared
        cache, or the tagger for the rest."""
        if self._cache_version != tagger.version:
            self._tag_cache.clear()
            self._cache_version = tagger.version
        hashes = [passage_hash(p) for p in passages]
        found: dict[str, PassageTags] = {}
        missing: list[int] = []
        for i, h in enumerate(hashes):
            if h in found:
                continue
            tags = known.get(h)
            if tags is None:
                tags = self._tag_cache.get(h)
                if tags is not None:
                    self._tag_cache.move_to_end(h)
            if tags is None:
                missing.append(i)
                found[h] = ()  # placeholder: filled below (duplicates tagged once)
            else:
                found[h] = tags
        if missing:
            fresh = tagger.tag([passages[i] for i in missing])
            for i, ptags in zip(missing, fresh, strict=True):
                tags = _tags((t.id, t.confidence) for t in ptags)
                found[hashes[i]] = tags
                self._tag_cache[hashes[i]] = tags
            while len(self._tag_cache) > TAG_CACHE_SIZE:
                self._tag_cache.popitem(last=False)
        return [(h, found[h]) for h in hashes]

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
        storage_key: str | None = None,
    ) -> DocumentEntry:
        """(Re)index one document's current version; replaces its previous entry."""
        tagger = tagger or get_tagger()
        previous = self.documents.get(document_id)
        known = previous.passages.as_dict() if previous and previous.tagger_version == tagger.version else {}
        spans = list(iter_blocks(text))
        digests = np.array([_block_digest(text[s:e]) for s, e in spans], dtype="S16")
        # Per block: passage index in the previous entry, -1 = not a passage, -2 = new block.
        slots = np.full(len(spans), -2, dtype=np.int32)
        bmap = self._blocks.get(document_id)
        prev_hashes: list[str] = []
        if bmap is not None and previous is bmap.entry and known and len(bmap.digests) and len(spans):
            prev_hashes = list(known)  # the previous entry's passages, in their order
            pos = np.minimum(np.searchsorted(bmap.digests, digests), len(bmap.digests) - 1)
            hit = bmap.digests[pos] == digests
            slots[hit] = bmap.slots[pos[hit]]
        # (block index, passage hash, cleaned text or None when the block is unchanged)
        items: list[tuple[int, str, str | None]] = []
        new_texts: list[str] = []
        for k, (s, e) in enumerate(spans):
            slot = int(slots[k])
            if slot >= 0:
                items.append((k, prev_hashes[slot], None))
            elif slot == -2:
                ptext = block_passage(text[s:e], max_chars=PASSAGE_MAX_CHARS)
                if ptext is not None:
                    items.append((k, passage_hash(ptext), ptext))
                    new_texts.append(ptext)
        fresh: dict[str, PassageTags] = {}
        for i in range(0, len(new_texts), batch):
            chunk = new_texts[i : i + batch]
            fresh.update(self._tag_cached(tagger, chunk, known))
        best: dict[str, tuple[float, int]] = {}  # category -> (confidence, item of the excerpt)
        kept: dict[str, PassageTags] = {}
        for n, (_, h, _) in enumerate(items):
            tags = known[h] if h in known else fresh[h]
            kept[h] = tags
            for cat, confidence in tags:
                cur = best.get(cat)
                if cur is None or confidence > cur[0]:
                    best[cat] = (confidence, n)
        categories: dict[str, dict[str, Any]] = {}
        for cat, (confidence, n) in best.items():
            k, _, ptext = items[n]
            if ptext is None:  # an unchanged block: clean it again for its excerpt only
                s, e = spans[k]
                ptext = block_passage(text[s:e], max_chars=PASSAGE_MAX_CHARS)
                assert ptext is not None
            categories[cat] = {"excerpt": _excerpt(ptext), "confidence": confidence}
        entry = DocumentEntry(
            platform, document_id, version_id, categories, PassageTable(kept), tagger.version, storage_key
        )
        self.documents[document_id] = entry
        self.model_version = tagger.version
        order = {h: n for n, h in enumerate(kept)}
        new_slots = np.full(len(spans), -1, dtype=np.int32)
        for k, h, _ in items:
            new_slots[k] = order[h]
        by_digest = np.argsort(digests, kind="stable")
        self._blocks[document_id] = _BlockMap(entry, digests[by_digest], new_slots[by_digest])
        return entry

    # ------------------------------------------------------------------ queries
    def _best_per_platform(self, category: str) -> dict[str, DocumentEntry]:
        """Per platform, its most confident document for ``category`` (first one on ties)."""
        best: dict[str, tuple[float, DocumentEntry]] = {}
        for doc in self.documents.values():
            hit = doc.categories.get(category)
            if hit is None:
                continue
            cur = best.get(doc.platform)
            if cur is None or hit["confidence"] > cur[0]:
                best[doc.platform] = (hit["confidence"], doc)
        return {p: d for p, (_, d) in best.items()}

    @staticmethod
    def _example(category: str, doc: DocumentEntry) -> ProvisionExample:
        return ProvisionExample(
            platform=doc.platform, document_id=doc.document_id, excerpt=doc.categories[category]["excerpt"]
        )

    def platforms_for(self, category: str) -> list[ProvisionExample]:
        """One example per platform (its most confident document), sorted by platform."""
        best = self._best_per_platform(category)
        return [self._example(category, best[p]) for p in sorted(best)]

    def cross_platform(self, category: str, *, exclude_platform: str | None, limit: int = 3) -> CrossPlatform:
        # Examples are built for the few shown only: with 1,000 documents, building one per
        # document for every category of every change made this the classifier's main cost.
        best = self._best_per_platform(category)
        others = [p for p in sorted(best) if p != exclude_platform][:limit]
        return CrossPlatform(
            category=category,
            platform_count=len(best),
            examples=[self._example(category, best[p]) for p in others],
        )

    def other_platforms(self, category: str, platform: str) -> int:
        """How many platforms other than ``platform`` have a provision of ``category``."""
        return sum(1 for p in self._best_per_platform(category) if p != platform)

    def stale(self, tagger_version: str) -> tuple[list[str], int]:
        """Documents whose entry another tagger wrote and that name their version text (so can be
        re-indexed now), and how many such entries name none (re-indexed at their next change)."""
        old = [d for d, e in self.documents.items() if e.tagger_version != tagger_version]
        with_text = [d for d in old if self.documents[d].storage_key is not None]
        return with_text, len(old) - len(with_text)

    def categories(self) -> list[str]:
        cats: set[str] = set()
        for doc in self.documents.values():
            cats.update(doc.categories)
        return sorted(cats)

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> bytes:
        """The whole index without the per-passage tags (snapshot / ``provisions --save`` file)."""
        payload = {
            "format": INDEX_FORMAT,
            "model_version": self.model_version,
            "documents": {k: d.to_dict() for k, d in sorted(self.documents.items())},
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> ProvisionIndex:
        raw = json.loads(data)
        docs = {k: DocumentEntry.from_dict(v) for k, v in raw.get("documents", {}).items()}
        return cls(docs, raw.get("model_version", ""))

    async def save_document(self, store: ObjectStore, document_id: str, key: str = INDEX_KEY) -> None:
        """Persist one document's entry (with its passages' tags): what the service does per change."""
        entry = self.documents[document_id]
        data = json.dumps(entry.to_dict(with_passages=True), ensure_ascii=False, sort_keys=True)
        doc_key = document_key(key, document_id)
        await store.put_named(doc_key, data.encode("utf-8"), content_type="application/json")
        # Recorded so that ``refresh`` does not read this process's own write back: in
        # bench/system_load.py (1,000 documents) re-reading them under the change lock raised the
        # classifier's CPU from 19.6 to 25.5 s and its p50 latency from 0.8 to 6.1 s. Should
        # another replica rewrite it in between — both handling the document during a rebalance —
        # its entry is taken in at the document's next write.
        stamp = await store.stamp(doc_key)
        if stamp is not None:
            self._stamps[doc_key] = stamp

    @classmethod
    async def load(cls, store: ObjectStore, key: str = INDEX_KEY) -> ProvisionIndex:
        """The whole-index object (if any) overlaid with the per-document entries; empty when
        nothing was saved. Storage outages propagate: the message is retried, not mis-indexed."""
        try:
            index = cls.from_json(await store.get_bytes(key))
        except ObjectNotFound:
            index = cls()
        await index.refresh(store, key)
        for entry in index.documents.values():
            index.model_version = index.model_version or entry.tagger_version
        return index

    async def refresh(self, store: ObjectStore, key: str = INDEX_KEY) -> list[str]:
        """Re-read the per-document entries rewritten since the last ``load``/``refresh`` (by other
        replicas: each handles its own partitions' documents) and return the document ids whose
        entry changed. One listing finds them (``list_stamps``), so an idle index costs no reads."""
        changed: list[str] = []
        for doc_key, stamp in (await store.list_stamps(documents_prefix(key))).items():
            if self._stamps.get(doc_key) == stamp:
                continue
            entry = await read_entry(store, doc_key)
            self._stamps[doc_key] = stamp  # a damaged entry is reported once, not every refresh
            # An equal entry (this process's own save, when its stamp was not recorded) keeps the
            # object in place, so the document's block map (``_blocks``) stays valid.
            if entry is not None and self.documents.get(entry.document_id) != entry:
                self.documents[entry.document_id] = entry
                changed.append(entry.document_id)
        return changed


async def read_entry(store: ObjectStore, doc_key: str) -> DocumentEntry | None:
    """The saved entry at ``doc_key``; None when it is missing or unreadable (logged)."""
    try:
        return DocumentEntry.from_dict(json.loads(await store.get_bytes(doc_key)))
    except (ValueError, KeyError, TypeError) as exc:
        # A damaged entry must not stop the service: the document is re-indexed (in full) at its
        # next change.
        log.warning("provision index entry %s unreadable (%s); skipped", doc_key, exc)
    except ObjectNotFound:  # removed since it was listed
        pass
    return None


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
