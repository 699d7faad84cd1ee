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
from typing import Any, NamedTuple

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
_SPACES = re.compile(r"\s+")


#: lxml.html's parser, without its element classes: their lookup is a Python call for every
#: element the code touches (~900 per capture); serialisation and the tree are the same.
_PARSER = etree.HTMLParser()
#: ``HtmlElement.text_content()`` for plain elements.
_STRING = etree.XPath("string()", smart_strings=False)


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


#: Cloudflare's email obfuscation: the address, XOR-ed with the first byte, hex-encoded in a
#: ``data-cfemail`` attribute or after ``#`` in a link to ``_CF_PATH``; a browser's script decodes
#: it, a plain HTTP fetch sees "[email protected]". Decoded here so that both fetch paths give the
#: same text and a changed address stays visible (X's terms, September 2025).
_CF_PATH = "/cdn-cgi/l/email-protection"
_CF_LINK = _CF_PATH + "#"


def _cf_decode(code: str) -> str | None:
    try:
        raw = bytes.fromhex(code)
    except ValueError:
        return None
    if len(raw) < 2:
        return None
    text = bytes(b ^ raw[0] for b in raw[1:]).decode("utf-8", "replace")
    return text if "@" in text else None


def decode_cf_emails(root: lxml.html.HtmlElement) -> None:
    """Replace Cloudflare-obfuscated addresses by the addresses (see ``_CF_PATH``): the element
    carrying the code shows the address, and the protection link around it becomes ``mailto:``."""
    for el in list(root.iter("a", "span")):
        code = el.get("data-cfemail")
        if code is None:
            href = el.get("href") or ""
            if _CF_LINK not in href or el.find(".//*[@data-cfemail]") is not None:
                continue  # not obfuscated, or a link around an obfuscated span: the span decides
            code = href.split(_CF_LINK, 1)[1]
        if (email := _cf_decode(code)) is None:
            continue
        link = el if el.tag == "a" else el.getparent()
        if link is not None and _CF_PATH in (link.get("href") or ""):
            link.set("href", f"mailto:{email}")
        for child in list(el):
            el.remove(child)
        el.text = email


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


#: A selector made of a tag name, classes, ids and attribute tests only: what it matches
#: does not change when other elements are removed (no combinators, no pseudo-classes).
_SIMPLE_SELECTOR = re.compile(
    r"(?:[A-Za-z*][\w-]*)?(?:[.#][A-Za-z_-][\w-]*|\[[\w-]+(?:[~|^$*]?=[^\]\\]*)?\])*"
)
_NOT_BANNERS = frozenset({"html", "body", "main", "article"})


class _Rule(NamedTuple):
    """A simple selector: the attributes it needs, then its exact test (None: the name suffices)."""

    attrs: tuple[str, ...]
    test: Any


class _Plan(NamedTuple):
    by_tag: dict[str, list[_Rule]]  # rules of selectors naming an element
    by_attr: dict[str, list[_Rule]]  # rules of name-less selectors, by their first attribute
    bare: bool  # a bare ``*``: every element
    rest: tuple[str, ...]  # selectors run one by one afterwards, as before


def _needed(tree: Any) -> tuple[str | None, list[str]]:
    """(element name or None, attributes that must be present) of a parsed simple selector."""
    from cssselect import parser

    if isinstance(tree, parser.Element):
        return (tree.element.lower() if tree.element and tree.element != "*" else None), []
    if isinstance(tree, parser.Class):
        tag, attrs = _needed(tree.selector)
        return tag, [*attrs, "class"]
    if isinstance(tree, parser.Hash):
        tag, attrs = _needed(tree.selector)
        return tag, [*attrs, "id"]
    if isinstance(tree, parser.Attrib) and tree.namespace is None:
        tag, attrs = _needed(tree.selector)
        return tag, [*attrs, str(tree.attrib).lower()]
    raise ValueError(repr(tree))


@functools.lru_cache(maxsize=256)
def _removal_plan(remove: tuple[str, ...]) -> _Plan:
    """The defaults and the catalog's leading simple selectors, tested in one walk of the tree.

    Each selector used to be its own scan (26 XPath scans of a 60 KB page cost more than
    the rest of the cleaning; a union or an ``or`` of predicates scans as slowly). A simple
    selector matches the same elements on the original tree as after the earlier removals,
    except elements inside an already removed subtree (dropping those again touches only the
    detached subtree), and dropping in document order moves tail texts to the same places.
    Its exact test is still cssselect's XPath, tried only on elements that have the name and
    attributes it needs. A selector with combinators or pseudo-classes (``p + p``,
    ``:empty``) may see earlier removals: it and every selector after it run one by one."""
    from cssselect import HTMLTranslator, parse

    translator = HTMLTranslator()  # what CSSSelector(translator="html") uses
    selectors = [*DEFAULT_REMOVE, *remove]
    by_tag: dict[str, list[_Rule]] = {}
    by_attr: dict[str, list[_Rule]] = {}
    bare = False
    for i, sel in enumerate(selectors):
        try:
            if not _SIMPLE_SELECTOR.fullmatch(sel.strip()):
                raise ValueError(sel)
            (parsed,) = parse(sel)
            expr = translator.xpath(parsed.parsed_tree)
            if expr.path or parsed.pseudo_element:
                raise ValueError(sel)
            tag, attrs = _needed(parsed.parsed_tree)
        except Exception:  # not simple, or a bad selector (_select ignores it)
            return _Plan(by_tag, by_attr, bare, tuple(selectors[i:]))
        test = etree.XPath(f"self::*[{expr.condition}]") if expr.condition else None
        rule = _Rule(tuple(dict.fromkeys(attrs)), test)
        if tag is not None:
            by_tag.setdefault(tag, []).append(rule)
        elif rule.attrs:
            by_attr.setdefault(rule.attrs[0], []).append(rule)
        else:
            bare = True
    return _Plan(by_tag, by_attr, bare, ())


def _matches(el: lxml.html.HtmlElement, rules: list[_Rule]) -> bool:
    for rule in rules:
        if all(el.get(a) is not None for a in rule.attrs) and (rule.test is None or rule.test(el)):
            return True
    return False


def _banner(el: lxml.html.HtmlElement) -> bool:
    """A cookie/consent banner, skip link, breadcrumb or hidden element (by its attributes)."""
    attrs = " ".join(filter(None, (el.get("id"), el.get("class"), el.get("aria-label"))))
    style = el.get("style") or ""
    return bool(
        (attrs and _BANNER_ATTR.search(attrs) and el.tag not in _NOT_BANNERS)
        or (style and _HIDDEN_STYLE.search(style))
    )


def clean_tree(root: lxml.html.HtmlElement, remove: Sequence[str] = ()) -> None:
    plan = _removal_plan(tuple(remove))
    by_tag, by_attr = plan.by_tag, plan.by_attr
    # The banner rules only look at attributes: with no order-sensitive selector they join
    # the same walk (what they match inside a removed subtree is already gone).
    banners = not plan.rest
    drop = []
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            continue
        rules = by_tag.get(tag)
        if plan.bare or (rules is not None and _matches(el, rules)):
            drop.append(el)
            continue
        attrib = el.attrib
        if not attrib:
            continue
        if any((rules := by_attr.get(name)) is not None and _matches(el, rules) for name in attrib) or (
            banners and _banner(el)
        ):
            drop.append(el)
    for el in drop:
        _drop(el)
    if banners:
        return
    for sel in plan.rest:
        for el in _select(root, sel):
            _drop(el)
    for el in _WITH_ATTRS(root):
        if _banner(el):
            _drop(el)


#: Markdown of blocks seen in earlier captures (see :mod:`.htmlmd`): process-wide, bounded.
BLOCKS = MarkdownCache()


def _tidy(md: str) -> str:
    # A substring test is a fast scan; the regexes try a match at every character.
    if " \n" in md or "\t\n" in md:  # = re.sub(r"[ \t]+\n", "\n", md): every line but the last
        lines = md.split("\n")
        md = "\n".join([line.rstrip(" \t") for line in lines[:-1]] + lines[-1:])
    if "\n\n\n" in md:
        md = _MANY_BLANKS.sub("\n\n", md)
    return md.strip() + "\n"


def elements_to_markdown(els: Sequence[lxml.html.HtmlElement]) -> str:
    """Markdown of the elements' HTML joined by newlines (modifies ``els``)."""
    return _tidy(BLOCKS.convert(els))


def extract_html(html: str, hints: ExtractionHints | None = None) -> str:
    hints = hints or ExtractionHints()
    try:
        root = lxml.html.document_fromstring(html, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return ""
    clean_tree(root, hints.remove)
    if "cfemail" in html or _CF_LINK in html:
        decode_cf_emails(root)
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
    return _SPACES.sub(" ", _STRING(el)).strip()


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
    return _tidy(text)


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
