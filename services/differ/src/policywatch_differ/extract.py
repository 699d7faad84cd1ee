"""Raw capture → clean structured Markdown of the document alone.

* HTML: hidden elements, scripts, navigation, footers and cookie/consent banners are
  removed (plus the catalog's ``remove`` selectors); with ``select`` selectors their
  elements *are* the document, otherwise readability-lxml finds the main content
  (kept all structure checks on real policies; trafilatura dropped the "last updated"
  line, html2text/inscriptis kept menus — see docs/differ.md); markdownify writes
  ATX headings, lists, tables and link text.
* PDF: pypdf text, page by page (headings are not recoverable in general).
* Markdown / plain text: passed through (recorded histories can be replayed).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence
from typing import Any

import lxml.html
from lxml import etree
from policywatch_shared.events import ExtractionHints

from policywatch_differ.htmlmd import MarkdownCache

#: Removed before extraction when the catalog gives no selectors of its own (and always).
DEFAULT_REMOVE = [
    "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas", "form", "button",
    "nav", "footer", "aside",
    "[hidden]", "[aria-hidden=true]", "[role=navigation]", "[role=banner]", "[role=contentinfo]",
    "[role=dialog]", "[role=alertdialog]",
]  # fmt: skip
_BANNER_ATTR = re.compile(
    r"cookie-?(banner|consent|notice|bar|popup|modal|dialog)|consent|onetrust|truste-|didomi|usercentrics"
    r"|cc-banner|cc-window|skip-?(link|to)|breadcrumb",
    re.I,
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_MANY_BLANKS = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")
_SPACES = re.compile(r"\s+")


class ExtractionError(ValueError):
    """The body could not be turned into text (corrupt PDF, undecodable bytes …)."""


def kind_of(content_type: str | None, body: bytes, url: str | None = None) -> str:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct == "application/pdf" or body[:5] == b"%PDF-" or (url or "").lower().endswith(".pdf"):
        return "pdf"
    if ct in ("text/markdown", "text/x-markdown") or (url or "").lower().endswith(".md"):
        return "markdown"
    if ct == "text/plain":
        return "text"
    if "html" in ct or ct == "application/xhtml+xml":
        return "html"
    head = body[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<div" in head:
        return "html"
    return "text"


def decode(body: bytes, content_type: str | None = None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=")[1].split(";")[0].strip().strip('"')
    for enc in (charset, "utf-8", "cp1252", "latin-1"):
        if not enc:
            continue
        try:
            return body.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace")


def _drop(el: lxml.html.HtmlElement) -> None:
    parent = el.getparent()
    if parent is None:
        return
    # Keep the tail text (it belongs to the parent), drop the element.
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


@functools.lru_cache(maxsize=512)
def _compiled(selector: str) -> Any:
    """The compiled selector (what ``el.cssselect`` builds on every call)."""
    from lxml.cssselect import CSSSelector

    return CSSSelector(selector, translator="html")


def _select(root: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    try:
        return list(_compiled(selector)(root))
    except Exception:  # a bad selector in the catalog must not crash the differ
        return []


#: Elements the banner / hidden-style rules can match (the others have none of these attributes).
_WITH_ATTRS = etree.XPath("//*[@id or @class or @aria-label or @style]")


def clean_tree(root: lxml.html.HtmlElement, remove: Sequence[str] = ()) -> None:
    for sel in [*DEFAULT_REMOVE, *remove]:
        for el in _select(root, sel):
            _drop(el)
    for el in _WITH_ATTRS(root):
        attrs = " ".join(filter(None, (el.get("id"), el.get("class"), el.get("aria-label"))))
        style = el.get("style") or ""
        if (attrs and _BANNER_ATTR.search(attrs) and el.tag not in ("html", "body", "main", "article")) or (
            style and _HIDDEN_STYLE.search(style)
        ):
            _drop(el)


#: Markdown of blocks seen in earlier captures (see :mod:`.htmlmd`): process-wide, bounded.
BLOCKS = MarkdownCache()


def _tidy(md: str) -> str:
    md = _TRAILING.sub("\n", md)
    return _MANY_BLANKS.sub("\n\n", md).strip() + "\n"


def elements_to_markdown(els: Sequence[lxml.html.HtmlElement]) -> str:
    """Markdown of the elements' HTML joined by newlines (modifies ``els``)."""
    return _tidy(BLOCKS.convert(els))


def extract_html(html: str, hints: ExtractionHints | None = None) -> str:
    hints = hints or ExtractionHints()
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    clean_tree(root, hints.remove)
    if hints.select:
        parts = [el for sel in hints.select for el in _select(root, sel)]
        # Nested matches would repeat text: keep the outermost ones.
        keep = [
            el
            for el in parts
            if not any(other is not el and el in other.iterdescendants() for other in parts)
        ]
        if keep:
            return elements_to_markdown(keep)
    main = _select(root, "main") or _select(root, "article") or _select(root, "[role=main]")
    if len(main) == 1:
        return elements_to_markdown(main)
    from readability import Document

    try:
        doc = Document(lxml.html.tostring(root, encoding="unicode"))
        summary = lxml.html.fromstring(doc.summary(html_partial=True))
        title = doc.short_title()
    except Exception:
        summary, title = None, None
    body = root.find("body")
    container = _container_of(root, summary) if summary is not None else None
    md = elements_to_markdown([container if container is not None else (body if body is not None else root)])
    # readability may leave the page's own <h1> outside the content: put the title back.
    if title and title.strip() and not md.lstrip().startswith("# "):
        md = f"# {title.strip()}\n\n{md}"
    return md


def _text(el: lxml.html.HtmlElement) -> str:
    return _SPACES.sub(" ", el.text_content()).strip()


def _container_of(
    root: lxml.html.HtmlElement, summary: lxml.html.HtmlElement
) -> lxml.html.HtmlElement | None:
    """The original element holding readability's article.

    readability finds the main content well but its conditional cleaning drops short
    lists and tables, which policies are full of; so only *where* it found the
    article is used: the deepest original element containing its first and last words.
    """
    text = _text(summary)
    if len(text) < 200:
        return None
    head, tail = text[:80], text[-80:]
    best = None
    for el in root.iter("div", "section", "article", "main", "body", "td"):
        t = _text(el)
        if head in t and tail in t and (best is None or len(t) <= len(best[1])):
            best = (el, t)
    return best[0] if best else None


def extract_pdf(body: bytes) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [(p.extract_text() or "").strip() for p in reader.pages]
    except Exception as exc:
        raise ExtractionError(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(p for p in pages if p)
    return _MANY_BLANKS.sub("\n\n", _TRAILING.sub("\n", text)).strip() + "\n"


def extract(
    body: bytes,
    *,
    content_type: str | None = None,
    url: str | None = None,
    hints: ExtractionHints | None = None,
) -> str:
    """Clean Markdown of one captured body."""
    kind = kind_of(content_type, body, url)
    if kind == "pdf":
        return extract_pdf(body)
    text = decode(body, content_type)
    if kind == "html":
        return extract_html(text, hints)
    return text.replace("\r\n", "\n")


def combine(parts: Sequence[str]) -> str:
    """A document captured from several URLs: its parts in catalog order."""
    return "\n\n".join(p.strip() for p in parts if p.strip()) + "\n"
