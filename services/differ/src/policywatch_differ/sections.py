"""A version as blocks (lines) grouped into a tree of sections by headings.

Markdown from the extractor (and the recorded corpus) puts one paragraph, list item or
table row per line; headings are ATX (``## Title``) or setext (``Title`` over ``====``).
Each block carries its comparison key (see :mod:`normalise`); each section its heading
path and a stable anchor (slug of the normalised heading path), so the same section is
recognised across versions even when its text changes.
"""

from __future__ import annotations

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

    def section_text(self, index: int) -> str:
        return "\n\n".join(
            display_text(self.blocks[b].raw) for b in self.sections[index].blocks if self.blocks[b].key
        )

    @property
    def word_count(self) -> int:
        return sum(len(b.key.split()) for b in self.blocks if b.key)


def parse(text: str, norm: LineNormaliser | None = None) -> Doc:
    pairs = line_keys(text, norm)
    blocks: list[Block] = []
    sections = [Section(0, 0, "", [], "top")]
    stack: list[tuple[int, str]] = []  # (level, heading) of open sections
    n = len(pairs)
    i = 0
    while i < n:
        raw, key = pairs[i]
        level = 0
        m = _ATX.match(raw) if raw.lstrip().startswith("#") else None
        if m:
            level = len(m.group(1))
        elif i + 1 < n and key and not _LIST.match(raw):
            u = _SETEXT.match(pairs[i + 1][0])
            if u:
                level = 1 if u.group(1).startswith("=") else 2
        if _SETEXT.match(raw) or _HR.match(raw):
            i += 1
            continue  # underlines and rules carry no text
        if level and key:
            heading = display_text(raw)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            path = [h for _, h in stack]
            sec = Section(len(sections), level, heading, path, slug([_SLUG.sub(" ", k) for k in _keys(stack)]))
            sections.append(sec)
        cur = sections[-1]
        cur.blocks.append(len(blocks))
        blocks.append(Block(raw, key, cur.index, heading=bool(level and key)))
        i += 1
    _dedupe_anchors(sections)
    return Doc(blocks, sections)


def _keys(stack: list[tuple[int, str]]) -> list[str]:
    return [h.casefold() for _, h in stack]


def _dedupe_anchors(sections: list[Section]) -> None:
    seen: dict[str, int] = {}
    for s in sections:
        c = seen.get(s.anchor, 0)
        seen[s.anchor] = c + 1
        if c:
            s.anchor = f"{s.anchor}~{c + 1}"
