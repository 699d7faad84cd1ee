"""A version as blocks (lines) grouped into a tree of sections by headings.

Markdown from the extractor (and the recorded corpus) puts one paragraph, list item or
table row per line; headings are ATX (``## Title``) or setext (``Title`` over ``====``).
Each block carries its comparison key (see :mod:`normalise`); each section its heading
path and a stable anchor (slug of the normalised heading path), so the same section is
recognised across versions even when its text changes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from policywatch_differ.normalise import LineNormaliser, clean_chars, line_keys

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_HR = re.compile(r"^\s{0,3}([*\-_])(\s*\1){2,}\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_SPACE = re.compile(r"\s+")
_SLUG = re.compile(r"[^a-z0-9]+")
_LIST = re.compile(r"^\s*([*+\-]|\d{1,3}[.)])\s+")


@functools.lru_cache(maxsize=65536)
def display_text(raw: str) -> str:
    """A line as a reader sees it: link text without targets, no images, no markup escapes."""
    s = clean_chars(raw)
    if "](" in s:
        s = _IMAGE.sub("", s)
        s = _LINK.sub(r"\1", s)
    if "\\" in s:
        s = _ESCAPE.sub(r"\1", s)
    m = _ATX.match(s)
    if m:
        s = m.group(2)
    s = s.replace("**", "").replace("__", "")
    return _SPACE.sub(" ", s).strip()


def slug(parts: list[str]) -> str:
    return "/".join(_SLUG.sub("-", p.casefold()).strip("-")[:60] or "section" for p in parts) or "top"


@dataclass(slots=True)
class Block:
    raw: str
    key: str  # comparison key; '' = not content (UI string, image, navigation)
    section: int  # index into Doc.sections
    heading: bool = False


@dataclass(slots=True)
class Section:
    index: int
    level: int  # 0 = the untitled top of the document
    heading: str
    path: list[str]
    anchor: str
    blocks: list[int] = field(default_factory=list)  # indices into Doc.blocks (heading included)


@dataclass(slots=True)
class Doc:
    blocks: list[Block]
    sections: list[Section]
    _words: int = -1
    _content: list[int] | None = None
    _hashes: list[int] | None = None

    def content(self) -> tuple[list[int], list[int]]:
        """Indices of the blocks with a key, and their key hashes (cached: a version is diffed twice)."""
        if self._content is None or self._hashes is None:
            self._content = [i for i, b in enumerate(self.blocks) if b.key]
            self._hashes = [hash(self.blocks[i].key) for i in self._content]
        return self._content, self._hashes

    def section_text(self, index: int) -> str:
        return "\n\n".join(
            display_text(self.blocks[b].raw) for b in self.sections[index].blocks if self.blocks[b].key
        )

    @property
    def word_count(self) -> int:
        if self._words < 0:
            keys = [b.key for b in self.blocks if b.key]
            self._words = " ".join(keys).count(" ") + 1 if keys else 0
        return self._words


def parse(text: str, norm: LineNormaliser | None = None) -> Doc:
    return parse_pairs(line_keys(text, norm))


def parse_pairs(pairs: list[tuple[str, str]]) -> Doc:
    """Build the section tree from ``(raw line, key)`` pairs (see :func:`normalise.line_keys`)."""
    blocks: list[Block] = []
    sections = [Section(0, 0, "", [], "top")]
    stack: list[tuple[int, str, str]] = []  # (level, heading, slug) of open sections
    n = len(pairs)
    firsts = [r.lstrip()[:1] for r, _ in pairs]
    for i in range(n):
        raw, key = pairs[i]
        first = firsts[i]
        if first in "=-*_" and (_SETEXT.match(raw) or _HR.match(raw)):
            continue  # underlines and rules carry no text
        level = 0
        if key:
            if first == "#":
                m = _ATX.match(raw)
                if m:
                    level = len(m.group(1))
            elif i + 1 < n and firsts[i + 1] in "=-" and not _LIST.match(raw):
                u = _SETEXT.match(pairs[i + 1][0])
                if u:
                    level = 1 if u.group(1).startswith("=") else 2
        if level:
            heading = display_text(raw)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading, _SLUG.sub("-", key).strip("-")[:60] or "section"))
            sec = Section(
                len(sections), level, heading, [h for _, h, _ in stack], "/".join(s for *_, s in stack)
            )
            sections.append(sec)
        cur = sections[-1]
        cur.blocks.append(len(blocks))
        blocks.append(Block(raw, key, cur.index, heading=bool(level)))
    _dedupe_anchors(sections)
    return Doc(blocks, sections)


def _dedupe_anchors(sections: list[Section]) -> None:
    seen: dict[str, int] = {}
    for s in sections:
        c = seen.get(s.anchor, 0)
        seen[s.anchor] = c + 1
        if c:
            s.anchor = f"{s.anchor}~{c + 1}"
