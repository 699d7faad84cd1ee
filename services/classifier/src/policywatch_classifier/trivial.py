"""Is a change only dates, spelling or formatting? ("withdrawl" → "withdrawal", "January 6" →
"April 8", "<br><br>" → "<br>"): severity ``none``, like a date-only change (rule S1).

The differ already calls a change ``date_only`` when the document's date line is all that moved;
this sees the same kind of edit inside paragraphs the differ calls reworded. Conservative on
purpose: a missed governance change costs more than a trivial one reported as ``low``, so any
edit that touches a number outside a date, a negation or a modal ("not", "may", "only" …), or
replaces a letter of a word, is not trivial.
"""

from __future__ import annotations

import re

from policywatch_shared.events import ChangeEvent, DiffOp

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
#: Dates and their parts as a word diff cuts them: "January 6, 2026", "6 January", "May 2025",
#: "2026-01-06", a month alone ("May" only with a number: it is also a modal verb), a year alone.
_DATE = re.compile(
    rf"\b(?:{_MONTH}|may(?=\s*\d))\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+(?:19|20)\d{{2}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTH}|may)\b"
    r"|\b(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b(?:19|20)\d{2}\b",
    re.I,
)
_MARKUP = re.compile(r"<br\s*/?>|[_*#|>`~\\]|&nbsp;")
_PUNCTUATION = re.compile(r"[^\w\s]")
#: Words whose change alters meaning however short the edit.
_MEANING = re.compile(
    r"\b(?:not|no|never|none|nor|may|might|must|shall|will|can|cannot|only|all|any|without|except|"
    r"unless|until|before|after|always)\b",
    re.I,
)
MAX_SUFFIX_LETTERS = 2


def _one_letter_dropped(long: str, short: str) -> bool:
    """Is ``short`` ``long`` with one letter taken out?"""
    return len(long) == len(short) + 1 and any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _bare(text: str) -> str:
    text = _PUNCTUATION.sub(" ", _MARKUP.sub(" ", _DATE.sub(" ", text)))
    return "".join(text.split()).casefold()


def trivial_hunk(deleted: str, inserted: str) -> bool:
    """Do the deleted and inserted words of one place of a word diff differ only in dates,
    formatting, or the spelling of a word (an ending of up to two letters, two letters swapped,
    one letter added or dropped; no digit, no meaning word)?"""
    a, b = _bare(deleted), _bare(inserted)
    if a == b:
        return True
    if not a or not b or _MEANING.search(f"{deleted} {inserted}") or re.search(r"\d", a + b):
        return False
    if min(len(a), len(b)) < 4 or max(len(a), len(b)) > 40:
        return False
    short, long = sorted((a, b), key=len)
    if long.startswith(short) and len(long) - len(short) <= MAX_SUFFIX_LETTERS:
        return True  # an ending: "enforce" → "enforces", "advanced" → "advance"
    if len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 2:
        i = next(k for k in range(len(a)) if a[k] != b[k])
        return a[i : i + 2] == b[i : i + 2][::-1]  # two letters swapped: "recieve" → "receive"
    # One letter added or dropped ("withdrawl" → "withdrawal"); not a letter replaced, which
    # makes another word as often as it mends one ("data" → "date", "collect" → "correct").
    return _one_letter_dropped(long, short)


def _hunks(ops: list[DiffOp]) -> list[tuple[str, str]]:
    """(deleted, inserted) text of each run of non-equal operations."""
    out: list[tuple[str, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for op in [*ops, DiffOp(op="equal", text="")]:
        if op.op == "equal":
            if deleted or inserted:
                out.append((" ".join(deleted), " ".join(inserted)))
            deleted, inserted = [], []
        elif op.op == "delete":
            deleted.append(op.text)
        else:
            inserted.append(op.text)
    return out


def is_trivial_change(change: ChangeEvent) -> bool:
    """Every section is a reworded one whose every edit is a date, formatting or spelling fix."""
    if not change.sections:
        return False
    for section in change.sections:
        if section.kind != "modified" or not section.paragraphs:
            return False
        for p in section.paragraphs:
            if p.kind != "reworded" or not p.word_diff:
                return False
            if not all(trivial_hunk(d, i) for d, i in _hunks(list(p.word_diff))):
                return False
    return True
