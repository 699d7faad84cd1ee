"""HTML → Markdown with markdownify, remembering the Markdown of blocks seen before.

Converting a 60 k-character policy page costs 10–20 ms of markdownify (an HTML parser and
a tree walk in Python), and consecutive captures of a page share almost every block. So
the Markdown of each child of the content's container (paragraph, heading, list, table …)
is remembered, keyed by what markdownify's conversion of it depends on:

* the block's own HTML (two independent hashes of its serialisation),
* the names of its ancestors (list depth, ``pre``, inline contexts),
* for a list, nothing more: a list followed by a paragraph ends with one extra newline
  (markdownify's ``convert_list``), so its Markdown is remembered without it and the newline
  added back when the list is followed by something else than a list (a section appended
  after a closing list used to convert the whole list again).

Before the page is converted, a remembered block is replaced by an *empty element of the
same name* carrying a marker; the converter answers the marker with the remembered
Markdown. The rules that look at neighbours (whitespace next to block elements, the list
rule above) only look at their names, which are unchanged, so the output is exactly
markdownify's. Elements whose conversion looks at their parent or siblings (``li``, table
rows and cells, images, videos) are never remembered themselves (their container is).
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import lxml.html
import markdownify
from bs4 import Tag
from lxml import etree

#: markdownify options of the extractor.
OPTIONS: dict[str, Any] = {
    "heading_style": "ATX",
    "bullets": "*",
    "strip": ["img"],
    "escape_misc": False,
}
#: Blocks remembered (least recently used dropped first); ``DIFFER_MARKDOWN_CACHE_BLOCKS`` sets
#: the service's. ~680 bytes each; a real policy page has ~190 blocks (shared corpus, first
#: versions). 20,000 thrashed with 1,000 documents cycled: every capture converted its whole page.
CACHE_BLOCKS = 60_000
_GET = "data-pwmd-get"
_PUT = "data-pwmd-put"
#: Conversions that look at the element's parent or siblings.
_CONTEXTUAL = frozenset(
    {"li", "tr", "td", "th", "thead", "tbody", "tfoot", "img", "video", "source", "picture"}
)
#: Void elements for BeautifulSoup's html.parser but not for lxml's serialiser: their
#: serialisation would nest differently when re-parsed, so pages with them are converted whole.
_VOID_MISMATCH = ("bgsound", "nextid", "keygen", "image", "command", "spacer", "menuitem")
_serialise = etree.tostring
# (An attribute step, not a predicate: libxml2 evaluates it ~6x faster, same answer.)
_MARKED = etree.XPath(f"boolean(descendant-or-self::*/@{_GET} | descendant-or-self::*/@{_PUT})")
_TABLE_PARTS = frozenset({"table", "thead", "tbody", "tfoot", "tr"})
#: The only blocks whose conversion looks at their next sibling (a list followed by a
#: paragraph ends with one more newline than one followed by a list or by nothing).
_LISTS = frozenset({"ul", "ol"})


# markdownify's own rules (its type stubs lag behind the module).
_Converter0: Any = markdownify.MarkdownConverter
_should_remove_whitespace_outside: Any = getattr(markdownify, "should_remove_whitespace_outside")  # noqa: B009


def _outside_block(name: str) -> bool:
    return bool(_should_remove_whitespace_outside(Tag(name=name)))


#: Block elements: whitespace between two of them is dropped, so a run of them converts to
#: its members' Markdown joined the way markdownify joins children (see :func:`_join`).
_BLOCK_CANDIDATES = (
    "p", "blockquote", "article", "div", "section", "ol", "ul", "dl", "table", "pre", "h1", "h2", "h3",
    "h4", "h5", "h6", "li", "dt", "dd", "thead", "tbody", "tfoot", "tr", "td", "th", "hr", "header",
    "figure", "main", "nav", "aside", "form", "address", "details",
)  # fmt: skip
_BLOCK = frozenset(n for n in _BLOCK_CANDIDATES if _outside_block(n))


def _content(text: str) -> bool:
    """The Markdown has text besides its leading and trailing newlines."""
    return bool(text.strip("\n"))


def _join(texts: list[str]) -> str:
    """Children's Markdown joined as markdownify's ``process_tag`` joins them (outside <pre>):
    the newlines between two children collapse to at most two. Exact for children with content
    (:func:`_content`): the result starts with the first one's newlines, ends with the last one's.
    (``re_extract_newlines`` splits such a text into leading newlines, content, trailing newlines.)"""
    parts: list[str] = []
    pending = -1  # the previous child's trailing newlines (-1: no previous child)
    for text in texts:
        content = text.strip("\n")
        start = text.index(content)
        # Between two children: the larger newline run, at most 2 (either may be empty).
        gap = start if pending < 0 else min(2, max(pending, start)) if pending and start else pending + start
        parts.append("\n" * gap)
        parts.append(content)
        pending = len(text) - start - len(content)
    parts.append("\n" * max(pending, 0))
    return "".join(parts)


class _FastTag(Tag):
    """``find_parent(name)`` without BeautifulSoup's generic matcher (markdownify asks it of
    every element: is it inside a ``pre``?). Same answer: the nearest ancestor of that name."""

    def find_parent(self, name: Any = None, attrs: Any = None, **kwargs: Any) -> Any:
        if isinstance(name, str) and not attrs and not kwargs:
            p = self.parent
            while p is not None:
                if p.name == name:
                    return p
                p = p.parent
            return None
        return super().find_parent(name, attrs or {}, **kwargs)


class _Converter(_Converter0):  # type: ignore[misc]
    """markdownify's converter; with ``got``/``fresh``, it answers placeholders from ``got``
    and records the Markdown of the marked blocks in ``fresh``."""

    def __init__(self) -> None:
        super().__init__(
            bs4_options={"features": "html.parser", "element_classes": {Tag: _FastTag}}, **OPTIONS
        )
        self.got: list[str] | None = None
        self.fresh: dict[int, str] | None = None

    def process_tag(self, node: Any, parent_tags: Any = None) -> str:
        attrs = node.attrs
        if attrs and self.got is not None and self.fresh is not None:
            get = attrs.get(_GET)
            if get is not None:
                return self.got[int(get)]
            put = attrs.get(_PUT)
            if put is not None:
                text: str = super().process_tag(node, parent_tags)
                self.fresh[int(put)] = text
                return text
        out: str = super().process_tag(node, parent_tags)
        return out


_LOCAL = threading.local()


def _converter(got: list[str] | None = None, fresh: dict[int, str] | None = None) -> _Converter:
    """This thread's converter (building one per page cost ~0.3 ms: options, and markdownify
    caches its conversion functions per instance); it keeps no state between conversions."""
    conv: _Converter | None = getattr(_LOCAL, "converter", None)
    if conv is None:
        conv = _LOCAL.converter = _Converter()
    conv.got, conv.fresh = got, fresh
    return conv


def markdownify_plain(html: str) -> str:
    """markdownify with the extractor's options (no cache)."""
    out: str = _converter().convert(html)
    return out


def _fan_out(el: lxml.html.HtmlElement) -> tuple[lxml.html.HtmlElement, tuple[str, ...]]:
    """Down a chain of single wrappers (``div > div > …``) to the element whose children are
    the blocks; with the names of the elements on the way."""
    names = ["[document]", el.tag]
    node = el
    while len(node) == 1 and not (node.text or "").strip():
        child = node[0]
        if not isinstance(child.tag, str) or child.tag in _CONTEXTUAL or (child.tail or "").strip():
            break
        node = child
        names.append(node.tag)
    return node, tuple(names)


def _next_name(el: lxml.html.HtmlElement) -> str | None:
    """What markdownify's "next block content sibling" is: a tag name, "#text" or None."""
    if (el.tail or "").strip():
        return "#text"
    nxt = el.getnext()
    while nxt is not None:
        if isinstance(nxt.tag, str):
            return str(nxt.tag)
        if (nxt.tail or "").strip():  # a comment or processing instruction, then text
            return "#text"
        nxt = nxt.getnext()
    return None


def _before_paragraph(el: lxml.html.HtmlElement) -> bool:
    """markdownify's ``convert_list`` ends this (top-level) list with one more newline."""
    nxt = _next_name(el)
    return nxt is not None and nxt not in _LISTS


#: Key of a remembered block: ancestor names, whether it is a list outside ``li`` (its
#: Markdown is stored without the "before paragraph" newline), two hashes of its HTML.
_Key = tuple[tuple[str, ...], bool, int, int]


class MarkdownCache:
    """Converts elements to Markdown, remembering the Markdown of their blocks (bounded LRU)."""

    def __init__(self, size: int = CACHE_BLOCKS) -> None:
        self.size = size
        self._md: OrderedDict[_Key, str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._md)

    def resize(self, size: int) -> None:
        """Keep at most ``size`` blocks from now on (the least recently used go first)."""
        self.size = size
        while len(self._md) > max(size, 0):
            self._md.popitem(last=False)

    def convert(self, els: Sequence[lxml.html.HtmlElement]) -> str:
        """markdownify of ``"\n".join(tostring(el) for el in els)``, exactly. Modifies ``els``."""
        if self.size <= 0 or any(
            next(el.iter(*_VOID_MISMATCH), None) is not None
            or _MARKED(el)  # the page's own attributes must not be taken for markers
            for el in els
        ):
            return markdownify_plain(self._html(els))
        got: list[str] = []
        keys: list[tuple[_Key, bool]] = []
        for el in els:
            node, ancestry = _fan_out(el)
            if node.tag in _TABLE_PARTS:  # row conversions search the whole table
                continue
            self._mark(node, ancestry, got, keys)
        fresh: dict[int, str] = {}
        conv = _converter(got, fresh)
        try:
            out: str = conv.convert(self._html(els))
        finally:
            conv.got = conv.fresh = None
        md = self._md
        for i, text in fresh.items():
            key, before_paragraph = keys[i]
            if before_paragraph:  # stored without convert_list's extra newline
                text = text[:-1]
            md[key] = text
        while len(md) > self.size:
            md.popitem(last=False)
        return out

    def _mark(
        self,
        node: lxml.html.HtmlElement,
        ancestry: tuple[str, ...],
        got: list[str],
        keys: list[tuple[_Key, bool]],
    ) -> None:
        """Replace remembered children by placeholders (a run of block siblings by one), mark
        the others so their Markdown is remembered."""
        md = self._md
        # Inside <pre> markdownify does not collapse newlines between children: no runs there.
        runs = "pre" not in ancestry
        # In a list item a list's Markdown is stripped (it never looks at its next sibling).
        top_lists = "li" not in ancestry
        run: list[lxml.html.HtmlElement] = []
        texts: list[str] = []
        start = 0  # index of run[0] among node's children
        spans: list[tuple[int, int]] = []  # children to delete once the walk is over

        def flush() -> None:
            if not run:
                return
            first, tail = run[0], run[-1].tail
            first.clear()  # same name, no content: neighbours see what they saw
            first.tail = tail
            if len(run) > 1:  # members are consecutive children (anything else ends a run)
                spans.append((start + 1, start + len(run)))
            first.set(_GET, str(len(got)))
            got.append(texts[0] if len(texts) == 1 else _join(texts))
            run.clear()
            texts.clear()

        hits = 0
        for i, child in enumerate(list(node)):
            if not isinstance(child.tag, str) or child.tag in _CONTEXTUAL:
                flush()
                continue
            # The key only has to tell apart what converts differently: the HTML serialiser
            # straight to UTF-8 (lxml.html.tostring adds a decode, an encode and a regex pass).
            # Two independent hashes (SipHash, keyed per process, and CRC-32): 96 bits, the
            # cost of one (a blake2b object per block cost as much as the serialisation).
            html = _serialise(child, method="html", encoding="utf-8", with_tail=False)
            is_list = top_lists and child.tag in _LISTS
            before_paragraph = is_list and _before_paragraph(child)
            key = (ancestry, is_list, hash(html), zlib.crc32(html))
            text = md.get(key)
            if text is None:
                flush()
                child.set(_PUT, str(len(keys)))
                keys.append((key, before_paragraph))
                self.misses += 1
                continue
            md.move_to_end(key)
            hits += 1
            if before_paragraph:
                text += "\n"
            joins = runs and child.tag in _BLOCK and _content(text)
            if not joins:
                flush()
            if not run:
                start = i
            run.append(child)
            texts.append(text)
            if not joins or (child.tail or "").strip():
                flush()  # text after it (or a child that cannot join a run) ends the run
        flush()
        self.hits += hits
        for first, stop in reversed(spans):  # one slice deletion per run (tails go with them)
            del node[first:stop]

    @staticmethod
    def _html(els: Sequence[lxml.html.HtmlElement]) -> str:
        return "\n".join(lxml.html.tostring(el, encoding="unicode") for el in els)
