"""The lexbor page check gives the verdicts of the html.parser one it replaced.

Verdict = (outcome, reason, text_length, script_shell, title). Compared on the fixture
pages (walls, error pages, shells), markup corner cases, and real policy versions rendered
by the demo site. ``bench/fetcher_pagecheck.py`` runs the same comparison on every version.
"""

from __future__ import annotations

import json
import lzma
import re

import pytest
from policywatch_shared import pagecheck
from policywatch_shared.pagecheck import check_html, visible_text

from policywatch.demo.corpus import corpus_path
from tests.unit.fetcher import legacy_pagecheck as legacy

CORPUS = corpus_path()  # ../shared beside the repository, or POLICYWATCH_SHARED_DIR


def verdict(check: object, html: str) -> tuple[object, ...]:
    v, page = check(html)  # type: ignore[operator]
    return (v.outcome, v.reason, v.text_length, v.script_shell, page.title)


class _Site:  # the demo chrome only lists documents for its navigation
    def documents_list(self) -> list[object]:
        return []


def fixture_pages() -> dict[str, str]:
    from policywatch.demo import site as demo
    from tests.integration.fetcher import site as fx

    doc = demo.SiteDocument("acme/terms", "Terms", "Acme", [fx.POLICY.replace("<", "\n\n<")])
    return {
        "fixture bot wall": fx.BOT_WALL,
        "fixture error 200": fx.ERROR_200,
        "fixture js shell": fx.JS_SHELL,
        "fixture policy v1": fx.CHROME.format(title="Privacy Policy", body=fx.policy(1)),
        "fixture policy v2": fx.CHROME.format(title="Privacy Policy", body=fx.policy(2)),
        "fixture hanging page": "<!doctype html><html><body><p>Loading",
        "demo bot wall": demo.BOT_WALL.format(ray="8c1f2a"),
        "demo error 200": demo._chrome(_Site(), None, demo.ERROR_200, title="Page not found"),  # type: ignore[arg-type]
        "demo document": demo._chrome(_Site(), doc, demo._article(doc), title="Terms | Acme"),  # type: ignore[arg-type]
        "demo invalid utf-8": demo._chrome(
            _Site(), doc, "<!-- caf\ufffd \ufffdq\ufffd -->" + demo._article(doc), title="Terms"
        ).replace("Help</a>", "Help \ufffd \ufffdt\ufffd</a>"),  # type: ignore[arg-type]
        "demo hanging page": "<!doctype html><html><head><title>Loading</title></head><body><p>Loading",
    }


CORNER_CASES = [
    "<p>a<b>b</b>c</p><P CLASS=x>D</P>e<br>f<BR/>g<hr>h",
    "<div>x &amp; y &nbsp;z &copy 2024 &#169; &#x41; &bogus; &lt;p&gt;</div>",
    "<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>after<thead>x</thead><track>y",
    "<ul><li>one<li>two</ul><ol><li>three</li></ol><dl><dt>t<dd>d</dl>",
    "<pre>\n  code\n  more</pre><blockquote>q</blockquote>",
    "<p>x<!-- <p>comment</p> -->y</p><![CDATA[ cdata ]]>z<?php echo 1 ?>w",
    '<a title="<p>x</p>" href="#">link</a>text<img alt="<div>">',
    "<script>var s = '<p>not text</p>';</script><style>p{}</style>visible<template><p>t</p></template>",
    "<svg><title>Icon</title><text>svgtext</text></svg>after<iframe>frame</iframe><object>obj</object>",
    "<html><head><title>Terms</title></head><body><h1>T</h1><h2>U</h2><h6>V</h6>x</body></html>",
    "<section><article><main><header>h</header><nav>n</nav><footer>f</footer></main></article></section>",
    "text before html<html><body>in body</body></html>text after",
    "<div>a</div >b<div\n>c</div\t>d<span>a</span><span>b</span> <em>c</em>",
    "<p>unclosed <b>bold <i>italic</p>next<p>x</p></p></div>y",
    "<textarea>ta</textarea><select><option>o1<option>o2</select><button>btn</button>",
    "<noscript>enable js</noscript>after",
    '<div id="app"><noscript>You need to enable JavaScript to run this app.</noscript></div>',
    "<html><head><title>T</title></head><body><div id=root></div><noscript><p>Please enable JavaScript "
    "to view this site.</p></noscript><script>" + "x=1;" * 500 + "</script></body></html>",
    "<h1>Loading...</h1>",
    "<title>A  B </title><title>C</title>x<p>x</p><p>\n\n  </p><p>y</p>",
    "<div>Price: 5 < 6 and 7 > 3</div><p>a<3</p>",
    "<P>UPPER</P><DIV>Case</DIV><BR>x<SCRIPT>var x</SCRIPT>y",
    "",
    "plain text only",
    "<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>",
    "<head><noscript><img src=x></noscript><title>T</title></head><body><p>px</p></body>",
    "<html><head><title>404 | Example</title></head><body><p>We couldn't find that page.</p></body></html>",
]


@pytest.mark.parametrize("name", sorted(fixture_pages()))
def test_fixture_pages_same_verdict(name: str) -> None:
    html = fixture_pages()[name]
    assert verdict(check_html, html) == verdict(legacy.check_html, html)
    assert visible_text(html).text == legacy.visible_text(html).text


@pytest.mark.parametrize("html", CORNER_CASES)
def test_corner_cases_same_text_and_verdict(html: str) -> None:
    assert verdict(check_html, html) == verdict(legacy.check_html, html)
    new, old = visible_text(html), legacy.visible_text(html)
    assert (new.title, new.text) == (old.title, old.text)


def test_where_html5_parsing_differs_the_new_verdict_is_the_browsers() -> None:
    # No </head> (valid HTML): html.parser skipped the whole page as "head" and called it empty.
    html = "<html><head><title>T</title><body><p>" + "A real policy paragraph. " * 10 + "</p>"
    assert legacy.check_html(html)[0].outcome == "error_page"
    assert check_html(html)[0].ok
    # A hidden <noscript> holding a block between two inline words: a browser running
    # scripts shows "ab", html.parser had "a b" (its newline for the hidden <div>).
    assert visible_text("<p>a<noscript><div>ns</div></noscript>b</p>").text == "ab"


def test_broken_input_never_raises() -> None:
    # Lone surrogates (an exotic charset decoded leniently), NUL, unterminated markup.
    for html in ("<p>a\ud800b</p>", "<p>x\x00y", "<div", "</", "<!--", "<script>", "<title>T"):
        check_html(html)


def test_block_tag_trie_is_the_block_set() -> None:
    names = re.compile(pagecheck._BLOCK_NAMES + "$", re.IGNORECASE)
    assert {n for n in pagecheck._BLOCK if names.match(n)} == pagecheck._BLOCK
    for other in ("span", "thead", "track", "dl", "param", "details", "b", "bdi", "header2", "h7", "mainx"):
        assert not names.match(other), other


def test_rendered_corpus_versions_same_verdict() -> None:
    """Every 100th recorded version, rendered as the demo site serves it (chrome, cookie banner)."""
    if not CORPUS.exists():
        pytest.skip(f"shared corpus missing: {CORPUS}")
    from policywatch.demo import site as demo

    diffs = []
    n = 0
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 100:
                continue
            rec = json.loads(line)
            doc = demo.SiteDocument("x/y", rec["document"], rec["service"], [rec["text"]])
            html = demo._chrome(_Site(), doc, demo._article(doc), title=f"{doc.title} | {doc.platform_name}")  # type: ignore[arg-type]
            n += 1
            if verdict(check_html, html) != verdict(legacy.check_html, html):
                diffs.append((rec["service"], rec["document"], rec["recorded_at"]))
    assert n >= 20 and diffs == []


def test_every_whitespace_but_the_space_is_unprintable() -> None:
    # The fast whitespace normalisation relies on it (pagecheck._lines).
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert " " in spaces and all(not c.isprintable() for c in spaces if c != " ")
    assert all(re.fullmatch(r"\s", c) for c in spaces)  # str.split and \s agree


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a",
        " a  b\n\n c\t\td \xa0 e\u202ff\u2009g\u3000h\x0bi\x1cj\x85k\u2028l \r\n m ",
        "one two\nthree four",
        "x" + " " * 1000 + "y",
        "\xa0\xa0lead and trail\u202f",
        "tab\tonly",
        "line\n\n\n  \n  next\n",
        "caf\u00e9 na\u00efve \u201cquoted\u201d \U0001f600 emoji",
    ],
)
def test_whitespace_normalisation_equals_the_regex(text: str) -> None:
    assert pagecheck._norm(text) == legacy._norm(text)
    lines = (re.sub(r"\s+", " ", line).strip() for line in text.split("\n"))
    assert pagecheck._lines(text) == "\n".join(line for line in lines if line)
