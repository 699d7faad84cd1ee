"""Text helpers: markdown cleaning, passage and sentence splitting.

Policies arrive as markdown (the differ's clean text). The classifier works on
plain passages, so links keep their label, emphasis markers go, and list bullets
are dropped. Offsets returned by :func:`split_passages` refer to the *raw*
markdown, so an evaluation set can store (document, commit, start, end) and
re-read the passage from the corpus instead of copying it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_AUTOLINK = re.compile(r"<(https?://[^>]+)>")
_EMPH = re.compile(r"(\*\*|__|\*|`)")
_BULLET = re.compile(r"^\s*(?:[*+-]|\d+\.)\s+", re.MULTILINE)
_HEADING_MARK = re.compile(r"^\s*#{1,6}\s*", re.MULTILINE)
_UNDERLINE = re.compile(r"^\s*[=-]{3,}\s*$", re.MULTILINE)
_ESC = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_WS = re.compile(r"\s+")
_BLANK = re.compile(r"\n[ \t]*\n")
_SENT = re.compile(r"(?<=[.!?;:])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9•])")


def clean_markdown(text: str) -> str:
    """Markdown to a single line of plain text (keeps link labels, drops URLs and markers)."""
    # Each pattern is skipped when a character every match needs is absent (a plain ``in`` scan is
    # far cheaper than a regex pass); the result is the same as applying them all.
    if "[" in text:
        text = _LINK.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
    if "--" in text or "==" in text or "-=" in text or "=-" in text:  # any run of 3 holds one
        text = _UNDERLINE.sub(" ", text)
    if "#" in text:
        text = _HEADING_MARK.sub("", text)
    if "*" in text or "+" in text or "-" in text or "." in text:
        text = _BULLET.sub("", text)
    if "*" in text or "_" in text or "`" in text:
        text = _EMPH.sub("", text)
    if "\\" in text:
        text = _ESC.sub(r"\1", text)
    # == _WS.sub(" ", text).strip(): str.split() and re's \s use the same whitespace set.
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Rough sentence split, good enough to quote evidence (keeps abbreviations mostly intact)."""
    parts = [p.strip() for p in _SENT.split(text) if p and p.strip()]
    return parts or ([text.strip()] if text.strip() else [])


@dataclass(frozen=True, slots=True)
class Passage:
    start: int
    end: int
    text: str  # cleaned


def is_heading_block(block: str) -> bool:
    lines = [ln for ln in block.strip().splitlines() if ln.strip()]
    if not lines:
        return True
    if lines[0].lstrip().startswith("#") and len(lines) == 1:
        return True
    return len(lines) == 2 and bool(_UNDERLINE.fullmatch(lines[1]))


def iter_blocks(markdown: str) -> Iterator[tuple[int, int]]:
    """(start, end) of blank-line separated blocks of the raw markdown."""
    pos = 0
    for m in _BLANK.finditer(markdown):
        if m.start() > pos:
            yield pos, m.start()
        pos = m.end()
    if pos < len(markdown):
        yield pos, len(markdown)


def split_passages(markdown: str, *, min_chars: int = 40, max_chars: int = 2000) -> list[Passage]:
    """Paragraph-level passages of a markdown document, with raw offsets.

    Headings and link-only blocks (navigation) are skipped; blocks longer than
    ``max_chars`` are kept whole but truncated in the cleaned text.
    """
    out: list[Passage] = []
    for start, end in iter_blocks(markdown):
        cleaned = block_passage(markdown[start:end], min_chars=min_chars, max_chars=max_chars)
        if cleaned is not None:
            out.append(Passage(start, end, cleaned))
    return out


def block_passage(raw: str, *, min_chars: int = 40, max_chars: int = 2000) -> str | None:
    """The passage text of one raw block (see :func:`split_passages`), ``None`` when skipped."""
    if is_heading_block(raw):
        return None
    cleaned = clean_markdown(raw)
    if len(cleaned) < min_chars or len(cleaned.split()) < 6:
        return None
    return cleaned[:max_chars]


def passage_at(markdown: str, start: int, end: int) -> str:
    """The cleaned passage text at raw offsets (used by the evaluation set)."""
    return clean_markdown(markdown[start:end])
