"""Section-aware diff of two versions.

1. Align the *comparison keys* of the blocks of both versions with rapidfuzz
   ``Indel.opcodes`` on line hashes (fast even on 1 MB documents; noise lines have
   empty keys and take no part).
2. A block deleted in one place and inserted identically elsewhere is *moved*.
3. Inside each replaced run, old and new blocks are paired by similarity: a pair is a
   *reworded* paragraph with a word-level diff; the rest are *added* / *removed*.
4. Changes are grouped by section (heading path, anchor) and each section change gets
   its kind: ``added``, ``removed``, ``renamed``, ``moved``, ``structure`` (headings
   only) or ``modified``.

A change whose every difference is an absolute date is ``date_only``; a change with
only moves and heading-level structure is not substantive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from policywatch_shared.events import ChangeStats, DiffOp, ParagraphChange, SectionChange
from rapidfuzz.distance import Indel
from rapidfuzz.fuzz import ratio

from policywatch_differ.normalise import mask_dates, normalise_line
from policywatch_differ.sections import Doc, display_text

#: Minimum similarity (0–100) for an old and a new paragraph to be "the same paragraph reworded".
PAIR_MIN_RATIO = 55.0
#: Above this many candidate comparisons in one replaced run, pair by position only.
PAIR_MAX_WORK = 4000
#: Text kept per before/after field (events stay well under broker message limits).
MAX_TEXT = 4000
MAX_SECTIONS = 200
#: Total text characters of one event's paragraphs and section texts (word counts stay exact).
MAX_EVENT_TEXT = 150_000
MAX_PARAGRAPHS = 60

_WORDS = re.compile(r"\S+\s*")
Opcode = tuple[str, int, int, int, int]


def _opcodes(a: Sequence[str] | Sequence[int], b: Sequence[str] | Sequence[int]) -> list[Opcode]:
    return cast(list[Opcode], Indel.opcodes(a, b).as_list())


@dataclass
class _Para:
    kind: str  # added | removed | reworded | moved
    old: int | None  # block index in old doc
    new: int | None
    heading: bool = False


@dataclass
class DiffResult:
    sections: list[SectionChange] = field(default_factory=list)
    stats: ChangeStats = field(default_factory=ChangeStats)
    summary: str = ""
    significance: float = 0.0
    date_only: bool = False
    substantive: bool = False
    #: Only moves / heading structure changed.
    structure_only: bool = False
    #: Most reworded paragraphs differ only by en-GB/en-US wording: a regional variant was served.
    variant: bool = False
    #: Only short page-chrome fragments changed (see :func:`_chrome_fragment`).
    chrome_only: bool = False


def word_diff(before: str, after: str) -> list[DiffOp]:
    """Word-level diff (tokens keep their trailing space, so joining ops rebuilds each text)."""
    a = _WORDS.findall(before)
    b = _WORDS.findall(after)
    ka = before.casefold().split()  # same tokens as ``a`` (split on whitespace), one C call
    kb = after.casefold().split()
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in _opcodes(ka, kb):
        if tag == "equal":
            _push(ops, "equal", "".join(b[j1:j2]))
            continue
        if i2 > i1:
            _push(ops, "delete", "".join(a[i1:i2]))
        if j2 > j1:
            _push(ops, "insert", "".join(b[j1:j2]))
    return ops


def _push(ops: list[DiffOp], op: str, text: str) -> None:
    if not text:
        return
    if ops and ops[-1].op == op:
        ops[-1].text += text
    elif op == "delete" and ops and ops[-1].op == "insert":
        # Read as "replace X by Y": the deletion goes before the insertion.
        if len(ops) >= 2 and ops[-2].op == "delete":
            ops[-2].text += text
        else:
            ops.insert(len(ops) - 1, DiffOp(op="delete", text=text))
    else:
        ops.append(DiffOp(op=op, text=text))  # type: ignore[arg-type]


def _count(text: str) -> int:
    return len(text.split())


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + " …"


def diff_docs(old: Doc, new: Doc) -> DiffResult:
    ob, oh = old.content()
    nb, nh = new.content()
    paras: list[_Para] = []
    groups: list[tuple[list[int], list[int]]] = []
    pending: tuple[list[int], list[int]] | None = None
    for tag, i1, i2, j1, j2 in _opcodes(oh, nh):
        # Indel yields separate delete/insert runs; adjacent ones form one replaced run.
        if tag == "equal":
            if pending:
                groups.append(pending)
            pending = None
            continue
        if pending is None:
            pending = ([], [])
        pending[0].extend(ob[i1:i2])
        pending[1].extend(nb[j1:j2])
    if pending:
        groups.append(pending)
    if not groups:
        return DiffResult(summary="No change in the text.")

    # Moves: the same key deleted in one place and inserted in another.
    deleted: dict[str, list[int]] = {}
    for dels, _ in groups:
        for i in dels:
            deleted.setdefault(old.keys[i], []).append(i)
    moved_old: set[int] = set()
    moved_new: set[int] = set()
    for _, ins in groups:
        for j in ins:
            cands = deleted.get(new.keys[j])
            if cands:
                i = cands.pop(0)
                moved_old.add(i)
                moved_new.add(j)
                paras.append(_Para("moved", i, j, heading=new.headings[j]))

    date_changes = 0
    other_changes = 0
    for dels, ins in groups:
        dels = [i for i in dels if i not in moved_old]
        ins = [j for j in ins if j not in moved_new]
        if dels and ins and _words(old, dels) == _words(new, ins):
            # The same words re-flowed into other blocks (inline list → bullets): not a change.
            continue
        for oi, nj in _pair(old, new, dels, ins):
            if oi is not None and nj is not None:
                heading = new.headings[nj] or old.headings[oi]
                paras.append(_Para("reworded", oi, nj, heading=heading))
                ko, kn = old.keys[oi], new.keys[nj]
                if (
                    _HAS_DIGIT.search(ko)
                    and _HAS_DIGIT.search(kn)
                    and (mask_dates(ko) == mask_dates(kn) or (_is_date_line(ko) and _is_date_line(kn)))
                ):
                    date_changes += 1
                elif not heading:
                    other_changes += 1
            else:
                side, idx = (old, oi) if oi is not None else (new, nj)
                assert idx is not None
                b_key, b_heading = side.keys[idx], side.headings[idx]
                paras.append(_Para("removed" if oi is not None else "added", oi, nj, heading=b_heading))
                if _is_date_line(b_key):
                    date_changes += 1
                elif not b_heading:
                    other_changes += 1
    # Date-only: every wording difference is an absolute date (headings may have moved around it).
    date_only = date_changes > 0 and other_changes == 0
    return _describe(old, new, paras, date_only)


_DATE_LINE_MAX_WORDS = 10


def _words(doc: Doc, blocks: list[int]) -> list[str]:
    return " ".join(doc.keys[i] for i in blocks).split()


_DATE_WORDS = frozenset(
    "effective date dated last updated update modified revised revision version as of on from since this "
    "page was were is these terms policy notice in force valid published posted "
    # update banners: "We updated our Privacy Policy on <date>. View our previous policy."
    "we have our privacy view previous prior see the changes will take go into effect service use".split()
)


_HAS_DIGIT = re.compile(r"\d")
#: A "label + date" line is short (the slow date regex is not run on paragraphs).
_DATE_LINE_MAX_CHARS = 140


def _is_date_line(key: str) -> bool:
    """A line that is only a date with a label ("effective date: 1 january 2025")."""
    if len(key) > _DATE_LINE_MAX_CHARS or not _HAS_DIGIT.search(key):
        return False
    masked = mask_dates(key)
    if "<date>" not in masked:
        return False
    words = masked.replace("<date>", " ").split()
    return len(words) <= _DATE_LINE_MAX_WORDS and all(w in _DATE_WORDS for w in words)


def _pair(old: Doc, new: Doc, dels: list[int], ins: list[int]) -> list[tuple[int | None, int | None]]:
    """Pair deleted and inserted blocks of one run in order (a monotone greedy match)."""
    if not dels or not ins:
        return [(i, None) for i in dels] + [(None, j) for j in ins]
    if len(dels) * len(ins) > PAIR_MAX_WORK:
        # Near-total rewrite: positional pairing of the common prefix is good enough.
        out: list[tuple[int | None, int | None]] = []
        for i, j in zip(dels, ins, strict=False):
            if ratio(old.keys[i], new.keys[j]) >= PAIR_MIN_RATIO:
                out.append((i, j))
            else:
                out.extend([(i, None), (None, j)])
        n = min(len(dels), len(ins))
        out.extend((i, None) for i in dels[n:])
        out.extend((None, j) for j in ins[n:])
        return out
    out = []
    start = 0
    for i in dels:
        best, best_j = PAIR_MIN_RATIO, -1
        ki = old.keys[i]
        for jj in range(start, len(ins)):
            kj = new.keys[ins[jj]]
            r = ratio(ki, kj, score_cutoff=best)
            if not r and best_j < 0 and _extends(ki, kj):
                r = PAIR_MIN_RATIO  # the weakest pair: any similar paragraph still wins
            if r > best or (r == best and best_j < 0 and r >= PAIR_MIN_RATIO):
                best, best_j = r, jj
        if best_j < 0:
            out.append((i, None))
            continue
        out.extend((None, ins[jj]) for jj in range(start, best_j))
        out.append((i, ins[best_j]))
        start = best_j + 1
    out.extend((None, ins[jj]) for jj in range(start, len(ins)))
    return out


#: Words the shorter of two paragraphs needs for "one holds the other" to pair them.
EXTEND_MIN_WORDS = 5


def _extends(a: str, b: str) -> bool:
    """Does one paragraph hold the other whole ("… viewers under 18." → "… viewers under 18. In
    some cases, we may make exceptions …")? A sentence appended to a short paragraph leaves the
    two too unlike for ``PAIR_MIN_RATIO``, and unpaired they read as a removed passage and a new
    one: a removed disclosure to the classifier."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return short.count(" ") + 1 >= EXTEND_MIN_WORDS and short in long_


class _Budget:
    """Characters of text an event may carry (events stay well under broker message limits)."""

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


def _describe(old: Doc, new: Doc, paras: list[_Para], date_only: bool) -> DiffResult:
    budget = _Budget(MAX_EVENT_TEXT)
    old_anchors = {s.anchor for s in old.sections}
    new_anchors = {s.anchor for s in new.sections}
    # Group paragraph changes by section: new side for additions/rewordings/moves, old for removals.
    # Removals of a section that still exists are listed under it (same anchor).
    new_by_anchor = {s.anchor: s.index for s in new.sections}
    grouped: dict[tuple[str, int], list[_Para]] = {}
    for p in paras:
        if p.new is not None:
            grouped.setdefault(("new", new.block_sections[p.new]), []).append(p)
        else:
            assert p.old is not None
            osec = old.sections[old.block_sections[p.old]]
            nidx = new_by_anchor.get(osec.anchor)
            key = ("new", nidx) if nidx is not None else ("old", osec.index)
            grouped.setdefault(key, []).append(p)
    changes: list[SectionChange] = []
    stats = ChangeStats()
    wording = 0
    v_total = v_left = v_swaps = v_strict = 0  # regional-variant evidence (see variant_edits)
    chrome = 0  # body paragraphs that are page-chrome fragments only
    for (side, sidx), ps in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0] == "old")):
        doc = new if side == "new" else old
        sec = doc.sections[sidx]
        paragraphs: list[ParagraphChange] = []
        wa = wr = 0
        heading_change: _Para | None = None
        body_changes = 0
        body_words = 0
        for p in ps:
            if p.heading and heading_change is None and p.kind == "reworded":
                heading_change = p
            if p.kind == "moved":
                continue
            if not p.heading:
                body_changes += 1
            if p.kind == "reworded":
                assert p.old is not None and p.new is not None
                before = display_text(old.raws[p.old])
                after = display_text(new.raws[p.new])
                ops = word_diff(before, after)
                if normalise_line(before) == normalise_line(after):
                    # Paired by a line the comparison key sees (a code span's backticks, an
                    # emphasis split in two) but the same words: formatting, not wording.
                    a = r = 0
                else:
                    t, left, sw, strict = variant_edits(ops)
                    v_total, v_left, v_swaps = v_total + t, v_left + left, v_swaps + sw
                    v_strict += strict
                    a = sum(_count(o.text) for o in ops if o.op == "insert")
                    r = sum(_count(o.text) for o in ops if o.op == "delete")
                fragment = False
                if len(paragraphs) < MAX_PARAGRAPHS and budget.take(len(before) + 2 * len(after)):
                    paragraphs.append(
                        ParagraphChange(
                            kind="reworded", before=_clip(before), after=_clip(after), word_diff=ops
                        )
                    )
            elif p.kind == "added":
                assert p.new is not None
                after = display_text(new.raws[p.new])
                a, r = _count(after), 0
                fragment = _chrome_fragment(new, p.new)
                if len(paragraphs) < MAX_PARAGRAPHS and budget.take(len(after)):
                    paragraphs.append(ParagraphChange(kind="added", after=_clip(after)))
            else:
                assert p.old is not None
                before = display_text(old.raws[p.old])
                a, r = 0, _count(before)
                fragment = _chrome_fragment(old, p.old)
                if len(paragraphs) < MAX_PARAGRAPHS and budget.take(len(before)):
                    paragraphs.append(ParagraphChange(kind="removed", before=_clip(before)))
            if p.kind != "reworded":
                v_total, v_left, v_strict = v_total + a + r, v_left + a + r, v_strict + a + r
            wa += a
            wr += r
            if fragment:
                chrome += 1
            elif not p.heading:
                body_words += a + r
        kind = _section_kind(
            old, new, side, sec.index, sec.anchor, ps, old_anchors, new_anchors, body_changes
        )
        if body_words or kind == "renamed":
            wording += 1
        ch = SectionChange(
            kind=kind,  # type: ignore[arg-type]
            heading_path=list(sec.path),
            anchor=sec.anchor,
            paragraphs=paragraphs,
            words_added=wa,
            words_removed=wr,
        )
        if kind == "renamed" and heading_change is not None:
            assert heading_change.old is not None and heading_change.new is not None
            ch.old_heading = display_text(old.raws[heading_change.old])
            ch.new_heading = display_text(new.raws[heading_change.new])
        if kind == "added":
            ch.after = _clip(new.section_text(sec.index)) if budget.take(MAX_TEXT) else None
            ch.new_heading = sec.heading or None
        elif kind == "removed":
            ch.before = _clip(old.section_text(sec.index)) if budget.take(MAX_TEXT) else None
            ch.old_heading = sec.heading or None
        changes.append(ch)
        stats.words_added += wa
        stats.words_removed += wr
        stats.sections_added += kind == "added"
        stats.sections_removed += kind == "removed"
        stats.sections_modified += kind == "modified"
        stats.sections_moved += kind == "moved"
        stats.sections_renamed += kind == "renamed"
    stats.sections_touched = len(changes)
    total = max(1, old.word_count, new.word_count)
    changed = stats.words_added + stats.words_removed
    significance = 0.0 if not changed else min(1.0, round(math.sqrt(changed / (2 * total)), 4))
    structure_only = wording == 0 and chrome == 0
    result = DiffResult(
        sections=changes[:MAX_SECTIONS],
        stats=stats,
        significance=significance,
        date_only=date_only and bool(paras),
        structure_only=structure_only,
        variant=(v_swaps >= VARIANT_MIN_SWAPS and v_total - v_left >= VARIANT_MIN_EXPLAINED * v_total)
        or (v_total > 0 and v_strict == 0),
        chrome_only=wording == 0 and chrome > 0,
    )
    result.substantive = not (result.date_only or structure_only or result.variant or result.chrome_only)
    result.summary = summarise(result.sections, date_only=result.date_only, total=len(changes))
    return result


# ----------------------------------------------------------------- noise rules

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
#: en-GB spellings → en-US (suffix rewrites on whole tokens).
_GB_US = [
    (re.compile(r"(is|ys)(e|es|ed|ing|ation|ations)$"), lambda m: m.group(1)[0] + "z" + m.group(2)),
    (re.compile(r"our(s|ed|ing|ite|ites|able)?$"), lambda m: "or" + (m.group(1) or "")),
    (re.compile(r"([^aeiou])tre(s)?$"), lambda m: m.group(1) + "ter" + (m.group(2) or "")),
    (re.compile(r"([aeiou])ll(ed|ing|er|ers)$"), lambda m: m.group(1) + "l" + m.group(2)),
    (re.compile(r"ence$"), lambda m: "ense"),
    (re.compile(r"ogue(s|d)?$"), lambda m: "og" + {"d": "ed", "s": "s"}.get(m.group(1) or "", "")),
]
#: Words regional variants of the same text add, drop or swap ("such as" ↔ "like", "that").
_VARIANT_WORDS = frozenset({"that", "such", "as", "like", "which"})
#: The ones a change may consist of alone and still change nothing ("data that we hold" / "data
#: we hold" / "data which we hold"); dropping "such" or "as" can change a scope.
_FREE_WORDS = frozenset({"that", "which"})
#: A change is a regional variant when the en-GB/en-US rules explain at least this share of
#: its changed words (reworded paragraphs; added/removed ones count as unexplained) and it
#: has at least this many spelling swaps: the first switch to a variant otherwise looks like
#: a rewrite of the whole document (the flapping after it is recognised as ``reverted``).
#: A change of reworded paragraphs only, every changed word explained, needs no swap count.
VARIANT_MIN_EXPLAINED = 0.65
VARIANT_MIN_SWAPS = 10

#: en-GB / en-US usage the two editions of a localised page differ by beyond spelling (Meta
#: edits its en-GB help centre and terms apart from the en-US ones: "fax, post or email" /
#: "fax, mail or email", "a lawyer" / "an attorney", "e.g." / "ex."), and contractions written
#: out ("can't" / "cannot" / "can not", "haven't" / "have not"). Both sides of a reworded
#: paragraph are rewritten to one form (one pass of one pattern) before their words are compared.
_USAGE = re.compile(
    r"\b(?P<us>u\.s\.(?:a\.?)?)|\b(?P<eg>e\.g\.|ex[.:](?=\s|$)|for example\b)|\b(?P<contact>reach out to)\b|"
    r"\b(?P<like>such as)\b|\b(?P<keep>bear)(?= in mind\b)|\b(?P<fill>fill(?:s|ed|ing)?) in\b|"
    r"(?P<zip>\bpost ?codes?\b|\bpostal codes?\b)|\b(?P<negated>can|won|shan)[’']t\b|\b(?P<cannot>cannot)\b|"
    r"(?P<nt>n[’']t)\b|[’'](?P<aux>re|ve|ll|m)\b"
)
#: Strings every match of ``_USAGE`` holds one of.
_USAGE_HINTS = (
    "u.s", "e.g", "ex.", "ex:", "example", "reach out", "such as", "bear", "fill", "post", "cannot",
    "n't", "n’t", "'re", "’re", "'ve", "’ve", "'ll", "’ll", "'m", "’m",
)  # fmt: skip
_USAGE_FORM = {
    "us": "us", "eg": "eg", "contact": "contact", "like": "like", "keep": "keep", "zip": "zip code",
    "cannot": "can not", "nt": " not",
}  # fmt: skip
_CONTRACTED = {
    "can": "can", "won": "will", "shan": "shall", "re": "are", "ve": "have", "ll": "will", "m": "am",
}  # fmt: skip


def _usage_form(m: re.Match[str]) -> str:
    kind = m.lastgroup or ""
    if kind == "us" and m.group(0).startswith("u.s.a"):
        return "usa"
    if kind == "fill":
        return m.group("fill") + " out"
    if kind == "negated":
        return _CONTRACTED[m.group("negated")] + " not"
    if kind == "aux":
        return " " + _CONTRACTED[m.group("aux")]
    return _USAGE_FORM[kind]


#: Word for word: en-GB → en-US vocabulary (and "an" read as "a": "a lawyer" / "an attorney").
_USAGE_WORDS = {
    "post": "mail", "postal": "mailing", "film": "movie", "films": "movies", "lawyer": "attorney",
    "lawyers": "attorneys", "solicitor": "attorney", "solicitors": "attorneys",
    "charity": "nonprofit", "charities": "nonprofits", "whilst": "while", "amongst": "among",
    "towards": "toward", "learnt": "learned", "spelt": "spelled", "enquiry": "inquiry",
    "enquiries": "inquiries", "cheque": "check", "cheques": "checks", "fao": "attn", "mum": "mom",
    "licences": "licenses", "defences": "defenses", "offences": "offenses", "an": "a",
    "centred": "centered",
}  # fmt: skip


_US_MEMO: dict[str, str] = {}  # token → en-US form (a plain dict: the GC does not track it)


def _us(token: str) -> str:
    got = _US_MEMO.get(token)
    if got is None:
        got = token
        for pattern, repl in _GB_US:
            got = pattern.sub(repl, got)
        if len(_US_MEMO) >= 65536:
            _US_MEMO.clear()
        _US_MEMO[token] = got
    return got


def _variant_bag(text: str) -> tuple[dict[str, int], int]:
    """Normalised token counts, and how many tokens had an en-GB spelling."""
    bag: dict[str, int] = {}
    swaps = 0
    for tok in _TOKEN.findall(text.casefold()):
        if tok not in _VARIANT_WORDS:
            us = _us(tok)
            swaps += us != tok
            tok = us
        bag[tok] = bag.get(tok, 0) + 1
    return bag, swaps


def _usage_words(bag: dict[str, int]) -> dict[str, int]:
    """``bag`` with en-GB vocabulary in its en-US form (``_USAGE_WORDS``)."""
    out: dict[str, int] = {}
    for tok, n in bag.items():
        tok = _USAGE_WORDS.get(tok, tok)
        out[tok] = out.get(tok, 0) + n
    return out


#: Words of unchanged text kept on each side of an edit when the changed words are compared:
#: enough for the longest usage pattern ("bear" / "keep" needs "in mind" after it).
CONTEXT_WORDS = 3


def _edits_in_context(ops: list[DiffOp]) -> tuple[str, str]:
    """The old and the new side of each run of edits with ``CONTEXT_WORDS`` unchanged words
    around it ("filling in this" / "filling out this"), runs on lines of their own: the usage
    rules see the words around an edit, and the unchanged words cancel out."""
    old: list[str] = []
    new: list[str] = []
    i = 0
    while i < len(ops):
        if ops[i].op == "equal":
            i += 1
            continue
        j = i
        while j < len(ops) and ops[j].op != "equal":
            j += 1
        lead = ops[i - 1].text.split()[-CONTEXT_WORDS:] if i else []
        tail = ops[j].text.split()[:CONTEXT_WORDS] if j < len(ops) else []
        for side, kind in ((old, "delete"), (new, "insert")):
            edited = " ".join(o.text for o in ops[i:j] if o.op == kind).split()
            side.append(" ".join([*lead, *edited, *tail]))
        i = j
    return "\n".join(old), "\n".join(new)


def _join_compounds(diff: dict[str, int]) -> None:
    """Cancel a word one side writes whole and the other hyphenated or apart ("knockoff" /
    "knock-off", "preempted" / "pre-empted", "coordinate" / "co-ordinate"): the tokens split
    at hyphens, so the whole word is a surplus on one side and its two parts on the other."""
    for word in [w for w, n in diff.items() if len(w) >= 5]:
        for i in range(2, len(word) - 1):
            a, b = word[:i], word[i:]
            n = diff.get(word, 0)
            if n and diff.get(a, 0) * n < 0 and diff.get(b, 0) * n < 0:
                k = min(abs(n), abs(diff[a]), abs(diff[b])) * (1 if n > 0 else -1)
                diff[word] -= k
                diff[a] += k
                diff[b] += k


def variant_edits(ops: list[DiffOp]) -> tuple[int, int, int, int]:
    """(changed tokens, tokens left unexplained, en-GB spellings, tokens left unexplained when
    only "that"/"which" may come and go) of a reworded paragraph.

    Explained edits: en-GB/en-US spelling and usage, punctuation, hyphenation, contractions
    and the words regional variants swap ("such as" / "like", "that") — nothing a reader
    would call new terms."""
    # The changed words as written: how many, and how many in en-GB spelling.
    deleted, swaps_d = _variant_bag(" ".join(o.text for o in ops if o.op == "delete"))
    inserted, swaps_i = _variant_bag(" ".join(o.text for o in ops if o.op == "insert"))
    total = sum(deleted.values()) + sum(inserted.values())
    old_text, new_text = (t.casefold() for t in _edits_in_context(ops))
    if any(hint in t for t in (old_text, new_text) for hint in _USAGE_HINTS):
        # Usage reads the words around an edit ("filling in" / "filling out"): both sides with
        # their unchanged words rewritten (which then cancel out).
        deleted = _variant_bag(_USAGE.sub(_usage_form, old_text))[0]
        inserted = _variant_bag(_USAGE.sub(_usage_form, new_text))[0]
    old, new = _usage_words(deleted), _usage_words(inserted)
    diff = {k: n for k in old.keys() | new.keys() if (n := new.get(k, 0) - old.get(k, 0))}
    _join_compounds(diff)
    left = strict = 0
    for w, n in diff.items():  # dropped or added variant words are explained too
        left += abs(n) if w not in _VARIANT_WORDS else 0
        strict += abs(n) if w not in _FREE_WORDS else 0
    # Capped: written-out contractions ("can't" → "can not") can leave more tokens than changed.
    return total, min(left, total), swaps_d + swaps_i, min(strict, total)


_LIST_OR_TABLE = re.compile(r"^\s*([*+\-|>]|\d+[.)])")
_SENTENCE_PUNCT = re.compile(r"[.:;!?,\d]")
#: Words of a short page-chrome fragment at most.
CHROME_MAX_WORDS = 5


def _chrome_fragment(doc: Doc, idx: int) -> bool:
    """A short plain fragment (no sentence punctuation, not a list item or table row) in a
    place where pages put chrome rather than terms: the untitled top of a document that has
    headings (site header: search suggestions, menus), or right before a heading (a teaser
    or a sub-heading rendered as a paragraph)."""
    raw = doc.raws[idx]
    text = display_text(raw)
    if doc.headings[idx] or _LIST_OR_TABLE.match(raw) or _SENTENCE_PUNCT.search(text):
        return False
    if not 0 < len(text.split()) <= CHROME_MAX_WORDS:
        return False
    at_top = doc.sections[doc.block_sections[idx]].level == 0 and len(doc.sections) > 1
    before_heading = idx + 1 < len(doc.raws) and doc.headings[idx + 1]
    return at_top or before_heading


def _section_kind(
    old: Doc,
    new: Doc,
    side: str,
    sidx: int,
    anchor: str,
    ps: list[_Para],
    old_anchors: set[str],
    new_anchors: set[str],
    body_changes: int,
) -> str:
    kinds = {p.kind for p in ps}
    if kinds == {"moved"}:
        return "moved"
    doc = new if side == "new" else old
    content = [b for b in doc.sections[sidx].blocks if doc.keys[b]]
    if side == "new" and anchor not in old_anchors and sidx > 0:
        added = {p.new for p in ps if p.kind == "added"}
        if content and all(b in added for b in content):
            return "added"
    if side == "old" and anchor not in new_anchors and sidx > 0:
        removed = {p.old for p in ps if p.kind == "removed"}
        if content and all(b in removed for b in content):
            return "removed"
    if any(p.heading and p.kind == "reworded" for p in ps):
        return "renamed"
    if body_changes == 0:
        return "structure"
    return "modified"


def _q(path: list[str]) -> str:
    name = path[-1] if path else "the introduction"
    if len(name) > 60:
        name = name[:57] + "..."
    return f"'{name}'" if path else name


def summarise(sections: list[SectionChange], *, date_only: bool = False, total: int | None = None) -> str:
    """One line in plain English."""
    if date_only:
        return "Only a date changed (e.g. 'last updated')."
    if not sections:
        return "No change in the text."
    phrases: list[str] = []
    for s in sections:
        n = len(s.paragraphs)
        counts = {k: sum(1 for p in s.paragraphs if p.kind == k) for k in ("added", "removed", "reworded")}
        where = _q(s.heading_path)
        if s.kind == "added":
            n = max(1, n - 1) if s.new_heading else n  # the heading is not a paragraph
            phrases.append(f"added section {where} ({n} paragraph{'s' if n != 1 else ''})")
        elif s.kind == "removed":
            phrases.append(f"removed {where}")
        elif s.kind == "moved":
            phrases.append(f"moved {where}")
        elif s.kind == "renamed":
            phrases.append(f"renamed '{s.old_heading}' to '{s.new_heading}'")
        elif s.kind == "structure":
            phrases.append(f"changed headings around {where}")
        else:
            bits = [
                f"{verb} {c} paragraph{'s' if c != 1 else ''}"
                for verb, c in (
                    ("reworded", counts["reworded"]),
                    ("added", counts["added"]),
                    ("removed", counts["removed"]),
                )
                if c
            ]
            phrases.append(f"{' and '.join(bits) or 'changed'} in {where}")
    shown = phrases[:4]
    more = (total or len(sections)) - len(shown)
    text = "; ".join(shown)
    if more > 0:
        text += f"; and {more} more section{'s' if more != 1 else ''}"
    return text[:1].upper() + text[1:] + "."
