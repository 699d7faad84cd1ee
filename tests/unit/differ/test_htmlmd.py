"""HTML → Markdown with remembered blocks: always markdownify's output, and bounded."""

from __future__ import annotations

import random

import lxml.html
from policywatch_differ.htmlmd import MarkdownCache, markdownify_plain


def _elements(html: str, selector: str) -> list[lxml.html.HtmlElement]:
    return list(lxml.html.document_fromstring(html).cssselect(selector))


def _plain(html: str, selector: str = "main") -> str:
    """What the extractor did before the cache: markdownify of the serialised elements."""
    els = _elements(html, selector)
    return markdownify_plain("\n".join(lxml.html.tostring(el, encoding="unicode") for el in els))


def _cached(cache: MarkdownCache, html: str, selector: str = "main") -> str:
    return cache.convert(_elements(html, selector))


def _page(blocks: list[str], wrap: tuple[str, str] = ("<main>", "</main>")) -> str:
    return f"<html><body><p>menu</p>{wrap[0]}\n{''.join(blocks)}\n{wrap[1]}</body></html>"


_WORDS = "alpha beta *star* _under_ 1. 2) # - + > | ` [x](y) &amp; &lt; café \u00a0 terms".split(" ")


def _random_block(rnd: random.Random, depth: int = 0) -> str:
    def text() -> str:
        return rnd.choice(["", " ", "\n", " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 6)))])

    def inline() -> str:
        tag = rnd.choice(["a", "b", "em", "code", "span", None, None])
        return f"<{tag} href='h'>{text()}</{tag}>{text()}" if tag else text()

    kind = rnd.randint(0, 9) if depth < 3 else 0
    if kind <= 2:
        return f"<p>{inline()}{inline()}</p>"
    if kind == 3:
        return f"<h{rnd.randint(1, 6)}>{inline()}</h{rnd.randint(1, 6)}>"
    if kind in (4, 5):
        tag = rnd.choice(["ul", "ol"])
        items = "".join(f"<li>{inline()}{_random_block(rnd, depth + 1) if rnd.random() < 0.3 else ''}</li>"
                        for _ in range(rnd.randint(0, 3)))  # fmt: skip
        return f"<{tag}>{items}</{tag}>"
    if kind == 6:
        return f"<pre>\n{text()}\n  {text()}</pre>"
    if kind == 7:
        rows = "".join(f"<tr><td>{inline()}</td><td>{text()}</td></tr>" for _ in range(rnd.randint(0, 3)))
        return f"<table><thead><tr><th>{text()}</th><th>h</th></tr></thead><tbody>{rows}</tbody></table>"
    if kind == 8:
        return f"<blockquote>{_random_block(rnd, depth + 1)}{text()}</blockquote>"
    return f"<div>{_random_block(rnd, depth + 1)}{_random_block(rnd, depth + 1)}</div>" + rnd.choice(
        ["", "\n", " tail ", "<!-- c -->", "<hr>"]
    )


def test_edited_pages_convert_exactly_as_markdownify() -> None:
    rnd = random.Random(2024)
    cache = MarkdownCache()
    wraps = [
        ("<main>", "</main>"),
        ("<main><div>", "</div></main>"),
        ("<main><blockquote>", "</blockquote></main>"),
    ]
    for _ in range(40):
        blocks = [_random_block(rnd) for _ in range(rnd.randint(1, 15))]
        wrap = rnd.choice(wraps)
        for _ in range(5):  # the same page, edited: blocks move, appear, disappear, repeat
            html = _page(blocks, wrap)
            assert _cached(cache, html) == _plain(html)
            edit = rnd.randint(0, 3)
            if edit == 0:
                rnd.shuffle(blocks)
            elif edit == 1:
                blocks.insert(rnd.randint(0, len(blocks)), _random_block(rnd))
            elif edit == 2 and len(blocks) > 1:
                blocks.pop(rnd.randrange(len(blocks)))
            else:
                blocks.append(rnd.choice(blocks))
    assert cache.hits > cache.misses > 0  # the remembered blocks were used


def test_a_block_is_remembered_with_its_context() -> None:
    cache = MarkdownCache()
    items = "<ul><li>one</li><li>two</li></ul>"
    # markdownify ends a list followed by a paragraph with one more newline than one followed by a list.
    pages = [_page([items, "<p>after</p>"]), _page([items, "<ol><li>x</li></ol>"]), _page([items])]
    for html in pages + pages:  # the second round comes from the cache
        assert _cached(cache, html) == _plain(html)
    assert cache.hits >= 4
    # Inside a table cell paragraphs are inline: the same <p> converts differently there.
    para = "<p>Same paragraph.</p>"
    top, cell = _page([para, "<hr>", para]), f"<table><tr><td>{para}<hr>{para}</td></tr></table>"
    assert _cached(cache, top) == _cached(cache, top) == _plain(top)
    assert _cached(cache, cell, "td") == _plain(cell, "td") != _plain(top)


def test_runs_of_remembered_blocks_keep_markdownify_spacing() -> None:
    cache = MarkdownCache()
    blocks = ["<h2>Title</h2>", "\n\n", "<p>First.</p>", " ", "<ul><li>a</li></ul>", "<p>Second.</p>",
              "<pre>x\n y</pre>"]  # fmt: skip
    html = _page(blocks)
    first = _cached(cache, html)
    again = _cached(cache, html)  # everything remembered: one run
    assert first == again == _plain(html)
    changed = _page([*blocks[:3], "<p>New.</p>", *blocks[3:]])
    assert _cached(cache, changed) == _plain(changed)


def test_numbered_items_are_not_remembered_out_of_place() -> None:
    cache = MarkdownCache()
    items = ["<li>Alpha.</li>", "<li>Beta.</li>", "<li>Gamma.</li>"]
    for html in (_page([f"<ol>{''.join(items)}</ol>"]), _page([f"<ol><li>New.</li>{''.join(items)}</ol>"])):
        assert _cached(cache, html) == _cached(cache, html) == _plain(html)
    assert "2. Alpha." in _plain(html)


def test_markers_in_the_page_are_not_trusted() -> None:
    cache = MarkdownCache()
    html = _page(['<p data-pwmd-get="0">Mine.</p>', "<p>Other.</p>"])
    _cached(cache, _page(["<p>Other.</p>"]))
    assert _cached(cache, html) == _plain(html)


def test_the_cache_is_bounded() -> None:
    cache = MarkdownCache(size=3)
    html = _page([f"<p>Paragraph {i}.</p>" for i in range(10)])
    assert _cached(cache, html) == _plain(html)
    assert len(cache) == 3
    assert _cached(cache, html) == _plain(html) and len(cache) == 3
    off = MarkdownCache(size=0)
    assert _cached(off, html) == _plain(html) and len(off) == 0


def test_a_list_stays_remembered_when_a_section_is_appended_after_it() -> None:
    cache = MarkdownCache()
    intro, items = "<p>Intro.</p>", "<ol>" + "".join(f"<li>Clause {i}.</li>" for i in range(30)) + "</ol>"
    before = _page([intro, items])
    after = _page([intro, items, "<h2>New section</h2>", "<p>New text.</p>"])
    assert _cached(cache, before) == _plain(before)
    misses = cache.misses
    # markdownify ends the list with one more newline now: the same entry, newline added back.
    assert _cached(cache, after) == _plain(after) != _plain(before) + "## New section\n\nNew text.\n\n"
    assert cache.misses - misses == 2  # only the heading and the paragraph were converted
    assert _cached(cache, before) == _plain(before)  # and back: the newline is not kept
