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
from dataclasses import dataclass

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
class Section:
    index: int
    level: int  # 0 = the untitled top of the document
    heading: str
    path: list[str]
    anchor: str
    blocks: tuple[int, ...] = ()  # indices into the Doc's blocks (heading included)


@dataclass(slots=True)
class Doc:
    """A parsed version. Block ``i`` is ``(raws[i], keys[i], block_sections[i], headings[i])``.

    Tuples of strings, ints and bools rather than one object per line: the garbage collector
    stops tracking such tuples, so the parsed versions kept in memory (millions of lines) do
    not make every full collection (and so the service) slow.
    """

    raws: tuple[str, ...]
    keys: tuple[str, ...]  # comparison keys; '' = not content (UI string, image, navigation)
    block_sections: tuple[int, ...]  # index into ``sections``
    headings: tuple[bool, ...]
    sections: list[Section]
    _words: int = -1
    _content: tuple[int, ...] | None = None
    _hashes: tuple[int, ...] | None = None

    def content(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Indices of the blocks with a key, and their key hashes (cached: a version is diffed twice)."""
        if self._content is None or self._hashes is None:
            self._content = tuple([i for i, k in enumerate(self.keys) if k])
            self._hashes = tuple(map(hash, filter(None, self.keys)))
        return self._content, self._hashes

    def section_text(self, index: int) -> str:
        raws, keys = self.raws, self.keys
        return "\n\n".join(display_text(raws[b]) for b in self.sections[index].blocks if keys[b])

    @property
    def word_count(self) -> int:
        if self._words < 0:
            keys = [k for k in self.keys if k]
            self._words = " ".join(keys).count(" ") + 1 if keys else 0
        return self._words


def parse(text: str, norm: LineNormaliser | None = None) -> Doc:
    return parse_pairs(line_keys(text, norm))


def _marks(raws: list[str], keys: list[str], firsts: list[str]) -> list[tuple[int, int]]:
    """The lines that are not plain blocks: ``(index, heading level)``, level 0 = a rule or an
    underline (no text). Only lines starting with ``= - * _ #`` or followed by one starting
    with ``=`` or ``-`` can be either: the others are never looked at one by one."""
    n = len(raws)
    nexts = [*firsts[1:], "x"] if firsts else []  # "x": the last line has no next
    out: list[tuple[int, int]] = []
    for i in [i for i, (f, g) in enumerate(zip(firsts, nexts, strict=True)) if f in "=-*_#" or g in "=-"]:
        raw, first = raws[i], firsts[i]
        if first in "=-*_" and (_SETEXT.match(raw) or _HR.match(raw)):
            out.append((i, 0))  # underlines and rules carry no text
            continue
        level = 0
        if keys[i]:
            if first == "#":
                m = _ATX.match(raw)
                if m:
                    level = len(m.group(1))
            elif i + 1 < n and nexts[i] in "=-" and not _LIST.match(raw):
                u = _SETEXT.match(raws[i + 1])
                if u:
                    level = 1 if u.group(1).startswith("=") else 2
        if level:
            out.append((i, level))
    return out


def parse_pairs(pairs: list[tuple[str, str]]) -> Doc:
    """Build the section tree from ``(raw line, key)`` pairs (see :func:`normalise.line_keys`)."""
    all_raws = [r for r, _ in pairs]
    all_keys = [k for _, k in pairs]
    firsts = [r.lstrip()[:1] for r in all_raws]
    raws: list[str] = []
    keys: list[str] = []
    secs: list[int] = []
    heads: list[bool] = []
    sections = [Section(0, 0, "", [], "top")]
    members: list[list[int]] = [[]]  # block indices of each section
    # The open sections: their levels, headings and slugs.
    levels: list[int] = []
    heads_open: list[str] = []
    slugs: list[str] = []
    cur_index = 0

    def plain(a: int, b: int) -> None:
        """Lines a..b-1: blocks of the current section (in bulk: most lines are)."""
        if b > a:
            start = len(raws)
            raws.extend(all_raws[a:b])
            keys.extend(all_keys[a:b])
            secs.extend([cur_index] * (b - a))
            heads.extend([False] * (b - a))
            members[-1].extend(range(start, start + b - a))

    pos = 0
    for i, level in _marks(all_raws, all_keys, firsts):
        plain(pos, i)
        pos = i + 1
        if not level:
            continue
        raw, key = all_raws[i], all_keys[i]
        heading = display_text(raw)
        while levels and levels[-1] >= level:
            levels.pop()
            heads_open.pop()
            slugs.pop()
        levels.append(level)
        heads_open.append(heading)
        slugs.append(_SLUG.sub("-", key).strip("-")[:60] or "section")
        sec = Section(len(sections), level, heading, list(heads_open), "/".join(slugs))
        sections.append(sec)
        members.append([len(raws)])
        cur_index = sec.index
        raws.append(raw)
        keys.append(key)
        secs.append(cur_index)
        heads.append(True)
    plain(pos, len(all_raws))
    for sec, idx in zip(sections, members, strict=True):
        sec.blocks = tuple(idx)
    _dedupe_anchors(sections)
    return Doc(tuple(raws), tuple(keys), tuple(secs), tuple(heads), sections)


def _dedupe_anchors(sections: list[Section]) -> None:
    seen: dict[str, int] = {}
    for s in sections:
        c = seen.get(s.anchor, 0)
        seen[s.anchor] = c + 1
        if c:
            s.anchor = f"{s.anchor}~{c + 1}"
