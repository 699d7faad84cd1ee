"""What a capture means for a document: the differ's decision, shared by service and replay.

``Differ.observe`` takes the clean text of one capture and the document's history and
returns the outcome: ``unchanged`` or one of the change kinds, with the change event.

* not the document (error page, bot wall, near-empty, other language) → ``unavailable``
  once, never a version;
* same comparison key as the live version → ``unchanged`` (or ``restored`` after an
  outage), no version;
* same key as an *earlier* version → ``reverted`` to it (flapping alerts at most once);
* re-extraction (hints changed) → ``technical``; only an absolute date → ``date_only``;
* otherwise ``modified``, substantive unless only moves / headings changed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from policywatch_shared.events import ChangeEvent, ChangeKind, ChangeStats, make_event_id

from policywatch_differ.change import DiffResult, diff_docs
from policywatch_differ.history import DocumentHistory, HistoryStore, TimelineEntry, VersionRecord
from policywatch_differ.normalise import LineNormaliser, key_of_lines, line_keys
from policywatch_differ.sections import Doc, parse, parse_pairs
from policywatch_differ.unavailable import EN_MIN, english_share, inline_error, unavailable_reason

UNCHANGED = "unchanged"
#: Change kinds a same-day subscriber is alerted about (when substantive).
ALERT_KINDS = {ChangeKind.MODIFIED}


@dataclass
class Observation:
    outcome: str  # a ChangeKind value or "unchanged"
    event: ChangeEvent | None = None
    alert: bool = False
    history: DocumentHistory | None = None


@dataclass
class DocumentInfo:
    document_id: str
    platform: str
    document_type: str


_DOC_TYPES = [
    # Before "guideline": brand guidelines govern the use of logos, not users; law-enforcement
    # guidelines say how authorities get users' data (the demo catalog types them the same way).
    (r"brand|imprint", "other"),
    (r"law enforcement", "trust_and_safety"),
    # How feeds and search rank (DSA Art. 27), rules for live streams, terms of in-app purchases:
    # governance for users, not "other" (whose untagged wording is severity none). "Complaints
    # Policy" stays other: in the corpus it is forms and Wikipedia's list of global bans, a log
    # that grows by a name at a time.
    (r"ranking param", "trust_and_safety"),
    (r"\blive (policy|guidelines)", "community_guidelines"),
    (r"in-app purchase", "commercial_terms"),
    (r"child", "children_privacy_policy"),
    (r"privacy|data (policy|protection)", "privacy_policy"),
    (r"cookie|tracker", "cookie_policy"),
    (r"community|guideline|content (policy|monetis|moderation)", "community_guidelines"),
    (r"acceptable use|restricted use|prohibited", "acceptable_use_policy"),
    (r"\bai\b|artificial intelligence|generative", "ai_terms"),
    (r"data process|dpa|processor", "data_processing_agreement"),
    (r"copyright|intellectual property|trademark", "copyright_policy"),
    (r"developer|api", "developer_terms"),
    (r"commercial|seller|merchant|advertis|business|affiliate|sale", "commercial_terms"),
    (r"terms|conditions|agreement", "terms_of_service"),
    (r"transparency|trust|safety", "trust_and_safety"),
]


_DOC_TYPE_RES = [(re.compile(p), k) for p, k in _DOC_TYPES]


@functools.lru_cache(maxsize=1024)
def guess_document_type(name: str) -> str:
    low = name.casefold()
    for pattern, kind in _DOC_TYPE_RES:
        if pattern.search(low):
            return kind
    return "other"


#: Documents whose line normaliser (their last capture's lines) is kept.
NORMALISER_DOCUMENTS = 1200
#: Earlier versions read (newest first) to tell a flapping page's new mix of old lines.
RECOMBINE_MAX_VERSIONS = 50


class _LRU(OrderedDict[str, Doc]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: Doc) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Differ:
    """Decides outcomes and keeps histories in the object store.

    ``cache_histories`` keeps histories in memory (offline replay: one writer); the
    service loads each history through its :class:`HistoryStore`, which hands out the one
    it last saved only while the stored object is still that one: the store is the source
    of truth when partitions move between instances.
    """

    def __init__(
        self, histories: HistoryStore, *, cache_histories: bool = False, doc_cache: int = 256
    ) -> None:
        self.histories = histories
        self.cache_histories = cache_histories
        self._hist: dict[str, DocumentHistory] = {}
        self._docs = _LRU(doc_cache)  # storage key → parsed version
        self._norms: OrderedDict[str, LineNormaliser] = OrderedDict()
        self._english: dict[str, float] = {}  # storage key → English share of the version
        self.persist = True

    # ------------------------------------------------------------------ state

    async def history(self, info: DocumentInfo) -> DocumentHistory:
        h = self._hist.get(info.document_id) if self.cache_histories else None
        if h is None:
            h = await self.histories.load(info.document_id)
        if h is None:
            h = DocumentHistory(
                document_id=info.document_id, platform=info.platform, document_type=info.document_type
            )
        if self.cache_histories:
            self._hist[info.document_id] = h
        return h

    def _norm(self, document_id: str) -> LineNormaliser:
        n = self._norms.get(document_id)
        if n is None:
            n = self._norms[document_id] = LineNormaliser()
            # Least recently used first out: each holds a document's lines (~150 kB for a 60 k-
            # character policy), so the bound keeps the differ near 200 MB with 1,000 documents.
            while len(self._norms) > NORMALISER_DOCUMENTS:
                self._norms.pop(next(iter(self._norms)))
        else:
            self._norms.move_to_end(document_id)
        return n

    async def _doc(self, v: VersionRecord, document_id: str) -> Doc:
        """The parsed version (texts are content-addressed: a parsed copy never goes stale)."""
        doc = self._docs.get(v.storage_key)
        if doc is None:
            text = await self.histories.get_text(v.storage_key)
            # The document's normaliser: the capture compared with this version reuses its lines.
            doc = parse(text, self._norm(document_id))
            self._docs.put(v.storage_key, doc)
            self._english.setdefault(v.storage_key, english_share(text))
        return doc

    async def _english_share(self, v: VersionRecord, document_id: str) -> float:
        """English-word share of a version (set when it is created or parsed from the store)."""
        share = self._english.get(v.storage_key)
        if share is None:
            # Not parsed yet (every version put in ``_docs`` gets its share): reading and
            # parsing it sets the share, and the diff that may follow needs the parse anyway.
            await self._doc(v, document_id)
            share = self._english[v.storage_key]
        return share

    # ------------------------------------------------------------------ decision

    async def observe(
        self,
        info: DocumentInfo,
        text: str | None,
        *,
        capture_id: str,
        at: datetime,
        technical: bool = False,
        unavailable: str | None = None,
        raw_keys: list[str] | None = None,
        hints_fingerprint: str | None = None,
        trace_id: str | None = None,
        check_available: bool = True,
        history: DocumentHistory | None = None,
    ) -> Observation:
        """Outcome of one capture. ``text`` None with ``unavailable`` set: the capture failed.

        ``history``: the document's history as just loaded by the caller (saves loading it twice).
        """
        h = history if history is not None else await self.history(info)
        seen, event = h.remembered(capture_id) if self.persist else (False, None)
        if seen:  # redelivery: same answer, same event id
            return Observation(event.kind.value if event else UNCHANGED, event, _alert(event), h)
        obs = await self._decide(h, info, text, capture_id, at, technical, unavailable, raw_keys, trace_id,
                                 skip_check=not check_available)  # fmt: skip
        if hints_fingerprint is not None and not technical:
            h.hints_fingerprint = hints_fingerprint
        if obs.event is not None:
            h.timeline.append(
                TimelineEntry(
                    at=at,
                    kind=obs.event.kind.value,
                    capture_id=capture_id,
                    version=(obs.event.to_version.number if obs.event.to_version else None),
                    substantive=obs.event.substantive,
                    summary=obs.event.summary,
                )
            )
        if self.persist:  # replay never redelivers: skip serialising every event twice
            h.remember(capture_id, obs.event)
        if self.persist:
            await self.histories.save(h)
        obs.history = h
        return obs

    async def _decide(
        self,
        h: DocumentHistory,
        info: DocumentInfo,
        text: str | None,
        capture_id: str,
        at: datetime,
        technical: bool,
        unavailable: str | None,
        raw_keys: list[str] | None,
        trace_id: str | None,
        *,
        skip_check: bool = False,
    ) -> Observation:
        cur = h.current_version
        memo: tuple[bytes, str, float | None] | None = None
        digest = b""
        if text is not None:
            digest = hashlib.sha256(text.encode("utf-8")).digest()
            memo = self._norm(info.document_id).memo
            memo = memo if memo is not None and memo[0] == digest else None
        share_now = memo[2] if memo is not None else None  # English share of ``text``
        if text is not None and unavailable is None and not skip_check:
            share = await self._english_share(cur, info.document_id) if cur is not None else None
            if share is not None and share >= EN_MIN and share_now is None:
                share_now = english_share(text)  # what unavailable_reason would compute
            unavailable = unavailable_reason(text, previous_share=share, share=share_now)
        if unavailable is not None or text is None:
            return self._unavailable(h, info, capture_id, at, trace_id, unavailable, cur)

        # The same text as the document's last one (an unchanged capture): its key is known.
        norm = self._norm(info.document_id)
        pairs: list[tuple[str, str]] | None = None
        if memo is not None:
            key = memo[1]
        else:
            pairs = line_keys(text, norm)
            key = key_of_lines([k for _, k in pairs if k])
        norm.memo = (digest, key, share_now)
        earlier = h.by_id(key) if cur is not None else None
        if cur is not None and key != cur.version_id and earlier is None and not technical and not skip_check:
            if pairs is None:
                pairs = line_keys(text, norm)
            old_doc = await self._doc(cur, info.document_id)
            old_keys = set(old_doc.keys)
            partial = inline_error([k for _, k in pairs if k and k not in old_keys], old_keys)
            if partial is not None:
                return self._unavailable(h, info, capture_id, at, trace_id, partial, cur)

        was_unavailable = h.state == "unavailable"
        h.state = "available"
        h.unavailable_since = None
        h.unavailable_reason = None
        if raw_keys:
            h.last_raw_keys = list(raw_keys)

        if cur is None:
            new_doc = parse_pairs(pairs if pairs is not None else line_keys(text, norm))
            share_now = self._remember_share(norm, digest, key, text, share_now)
            v = await self._new_version(
                h, info, text, key, capture_id, at, raw_keys, "first_version", new_doc, share_now
            )
            ev = self._event(
                h, info, capture_id, at, ChangeKind.FIRST_VERSION, trace_id,
                summary=f"First version recorded ({new_doc.word_count} words).", to_version=v,
            )  # fmt: skip
            return Observation(ChangeKind.FIRST_VERSION.value, ev)

        if key == cur.version_id:
            cur.seen(capture_id, at)
            if was_unavailable:
                ev = self._event(
                    h, info, capture_id, at, ChangeKind.RESTORED, trace_id,
                    summary="The document is available again, unchanged.",
                    from_version=cur, to_version=cur, reason="restored unchanged",
                )  # fmt: skip
                return Observation(ChangeKind.RESTORED.value, ev)
            return Observation(UNCHANGED)

        old_doc = await self._doc(cur, info.document_id)
        if earlier is not None and not technical:
            earlier.seen(capture_id, at)
            h.current = earlier.number
            back_doc = await self._doc(earlier, info.document_id)
            d = diff_docs(old_doc, back_doc)
            ev = self._event(
                h, info, capture_id, at, ChangeKind.REVERTED, trace_id,
                summary=f"Reverted to version {earlier.number}: {d.summary}",
                from_version=cur, to_version=earlier, reverted_to=earlier, diff=d,
                reason="identical to an earlier version (flapping)",
            )  # fmt: skip
            return Observation(ChangeKind.REVERTED.value, ev)

        new_doc = parse_pairs(pairs if pairs is not None else line_keys(text, norm))
        d = diff_docs(old_doc, new_doc)
        reason: str | None
        if technical:
            kind, substantive, reason = (
                ChangeKind.TECHNICAL,
                False,
                "re-extraction (extraction rules changed)",
            )
        elif d.date_only:
            kind, substantive, reason = ChangeKind.DATE_ONLY, False, "only an absolute date changed"
        else:
            kind, substantive = ChangeKind.MODIFIED, d.substantive
            reason = "restored with changes" if was_unavailable else None
            if d.structure_only:
                reason = "structure only (moves / headings)"
            elif d.variant:
                reason = "regional variant (en-GB/en-US wording): not a change of terms"
            elif d.chrome_only:
                reason = "page chrome only (short fragments in the header or before a heading)"
            elif substantive and await self._served_before(h, cur, old_doc, new_doc, info.document_id):
                substantive, reason = False, "a new mix of lines served before (flapping)"
        if earlier is not None:  # technical re-extraction back to an earlier text
            earlier.seen(capture_id, at)
            h.current = earlier.number
            v = earlier
        else:
            share_now = self._remember_share(norm, digest, key, text, share_now)
            v = await self._new_version(
                h, info, text, key, capture_id, at, raw_keys, kind.value, new_doc, share_now
            )
        ev = self._event(
            h, info, capture_id, at, kind, trace_id, summary=d.summary, from_version=cur, to_version=v,
            diff=d, substantive=substantive, reason=reason,
        )  # fmt: skip
        return Observation(kind.value, ev, alert=_alert(ev))

    async def _served_before(
        self, h: DocumentHistory, cur: VersionRecord, old_doc: Doc, new_doc: Doc, document_id: str
    ) -> bool:
        """True when a document that has flapped before (returned to an earlier version) now
        serves a new mix of lines it served before: every line the capture adds was in one of
        its earlier versions, and every line it drops was missing from one. Meta's pages
        alternate between their en-GB and en-US editions and sometimes mix them: each mix is a
        new version, yet no line of it is new text and none it drops was always there."""
        if not any(t.kind == ChangeKind.REVERTED.value for t in h.timeline):
            return False
        new_keys, old_keys = set(new_doc.keys), set(old_doc.keys)
        fresh, gone = new_keys - old_keys, old_keys - new_keys
        fresh.discard("")
        gone.discard("")
        if not fresh:
            return False  # removals only: what went may be news
        earlier = [v for v in h.versions if v is not cur]
        for v in reversed(earlier[-RECOMBINE_MAX_VERSIONS:]):
            keys = (await self._doc(v, document_id)).keys
            fresh.difference_update(keys)
            gone.intersection_update(keys)  # left: lines every earlier version had
            if not fresh and not gone:
                return True
        return False

    @staticmethod
    def _remember_share(
        norm: LineNormaliser, digest: bytes, key: str, text: str, share: float | None
    ) -> float:
        """English share of a new version's text, kept in the memo for its next capture."""
        if share is None:
            share = english_share(text)
            norm.memo = (digest, key, share)
        return share

    def _unavailable(
        self,
        h: DocumentHistory,
        info: DocumentInfo,
        capture_id: str,
        at: datetime,
        trace_id: str | None,
        reason: str | None,
        cur: VersionRecord | None,
    ) -> Observation:
        if h.state == "unavailable":
            return Observation(UNCHANGED)
        h.state = "unavailable"
        h.unavailable_since = at
        h.unavailable_reason = reason or "capture failed"
        ev = self._event(
            h, info, capture_id, at, ChangeKind.UNAVAILABLE, trace_id,
            summary=f"The document is unavailable ({h.unavailable_reason}).",
            from_version=cur, reason=h.unavailable_reason,
        )  # fmt: skip
        return Observation(ChangeKind.UNAVAILABLE.value, ev)

    async def _new_version(
        self,
        h: DocumentHistory,
        info: DocumentInfo,
        text: str,
        key: str,
        capture_id: str,
        at: datetime,
        raw_keys: list[str] | None,
        kind: str,
        doc: Doc,
        share: float,
    ) -> VersionRecord:
        storage_key, sha, size = await self.histories.put_text(text, document_id=info.document_id)
        v = VersionRecord(
            version_id=key,
            number=len(h.versions) + 1,
            sha256=sha,
            storage_key=storage_key,
            first_seen=at,
            last_seen=at,
            capture_ids=[capture_id],
            raw_keys=list(raw_keys or []),
            kind=kind,
            size=size,
        )
        h.versions.append(v)
        h.current = v.number
        self._docs.put(storage_key, doc)
        # The text's share (see _remember_share): the next capture needs it without reading the store.
        self._english.setdefault(storage_key, share)
        return v

    def _event(
        self,
        h: DocumentHistory,
        info: DocumentInfo,
        capture_id: str,
        at: datetime,
        kind: ChangeKind,
        trace_id: str | None,
        *,
        summary: str,
        from_version: VersionRecord | None = None,
        to_version: VersionRecord | None = None,
        reverted_to: VersionRecord | None = None,
        diff: DiffResult | None = None,
        substantive: bool = False,
        reason: str | None = None,
    ) -> ChangeEvent:
        extra = {"trace_id": trace_id} if trace_id else {}
        return ChangeEvent(
            event_id=make_event_id("change", info.document_id, capture_id, kind.value),
            platform=info.platform,
            document_type=info.document_type,
            document_id=info.document_id,
            capture_id=capture_id,
            kind=kind,
            substantive=substantive,
            significance=diff.significance if diff else 0.0,
            summary=summary,
            detected_at=at,
            from_version=from_version.ref() if from_version else None,
            to_version=to_version.ref() if to_version else None,
            reverted_to=reverted_to.ref() if reverted_to else None,
            sections=diff.sections if diff else [],
            stats=diff.stats if diff else ChangeStats(),
            reason=reason,
            **extra,
        )


def _alert(event: ChangeEvent | None) -> bool:
    return bool(event and event.kind in ALERT_KINDS and event.substantive)
