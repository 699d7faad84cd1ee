"""Extraction: HTML → clean Markdown (selectors honoured), PDF → text, Markdown passthrough."""

from __future__ import annotations

import random
import re

import lxml.html
from lxml.cssselect import CSSSelector
from policywatch_differ.extract import DEFAULT_REMOVE, _banner, _drop, _tidy, clean_tree, extract, kind_of
from policywatch_shared.events import ExtractionHints

HTML = b"""<html><head><title>Privacy Policy - Example</title><script>track()</script>
<style>.x{}</style></head><body>
<a class="skip-link" href="#main">Skip to content</a>
<header role="banner"><nav><a href="/">Home</a> <a href="/about">About us</a></nav></header>
<div id="onetrust-banner-sdk">We use cookies. <button>Accept all</button></div>
<div class="content"><h1>Privacy Policy</h1><p>Last updated: January 7, 2026</p>
<h2>How we use your information</h2>
<p>We use your data to <a href="https://x.example/?utm_source=a">provide</a> the service and to keep it safe,
secure and working as you expect it to, in every country where we operate.</p>
<ul><li>Account data</li><li>Usage data</li></ul>
<table><tr><th>Cookie</th><th>Purpose</th></tr><tr><td>sid</td><td>session</td></tr></table>
<div style="display:none">hidden text</div>
<p hidden>also hidden</p>
<h2>Children's Privacy</h2><p>We do not knowingly collect data from children under 13.</p></div>
<div class="promo">Download our app!</div>
<footer>Copyright 2026 Example Inc.</footer></body></html>"""


def test_html_to_clean_markdown() -> None:
    md = extract(HTML, content_type="text/html; charset=utf-8")
    assert md.startswith("# Privacy Policy\n")
    assert "## How we use your information" in md
    assert "* Account data" in md and "* Usage data" in md
    assert "| sid | session |" in md
    assert "[provide](https://x.example/?utm_source=a)" in md
    for gone in (
        "track()",
        "Skip to content",
        "Home",
        "Accept all",
        "hidden text",
        "also hidden",
        "Copyright 2026",
    ):
        assert gone not in md, gone


def test_keep_and_remove_selectors() -> None:
    hints = ExtractionHints(select=["div.content"], remove=["table", "ul"])
    md = extract(HTML, content_type="text/html", hints=hints)
    assert md.startswith("# Privacy Policy")
    assert "Account data" not in md and "| sid |" not in md
    assert "Download our app" not in md
    assert "We do not knowingly collect data from children under 13." in md


def test_bad_selector_does_not_crash() -> None:
    md = extract(HTML, content_type="text/html", hints=ExtractionHints(select=["div[["], remove=["::nope"]))
    assert "How we use your information" in md


def test_markdown_and_text_pass_through() -> None:
    text = "# Terms\n\nYou agree.\n"
    assert extract(text.encode(), content_type="text/markdown") == text
    assert extract(b"plain\r\ntext\n", content_type="text/plain") == "plain\ntext\n"
    assert kind_of(None, b"# Title\n\nbody") == "text"


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with ``text`` in Helvetica (valid xref)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_pdf_to_text() -> None:
    body = _pdf("We retain personal data for 30 days.")
    assert kind_of("application/pdf", body) == "pdf"
    assert "We retain personal data for 30 days." in extract(body, content_type="application/pdf")


def _clean_one_by_one(root: lxml.html.HtmlElement, remove: list[str]) -> None:
    """The cleaning as first written: one scan per selector, in order, then the banner rules."""
    for sel in [*DEFAULT_REMOVE, *remove]:
        try:
            found = list(CSSSelector(sel, translator="html")(root))
        except Exception:
            found = []
        for el in found:
            _drop(el)
    for el in root.xpath("//*[@id or @class or @aria-label or @style]"):
        if _banner(el):
            _drop(el)


def test_cleaning_in_one_walk_removes_what_one_scan_per_selector_removed() -> None:
    rnd = random.Random(7)
    tags = ["div", "p", "nav", "span", "footer", "aside", "section", "script", "button", "a", "li"]
    attrs = ["", " hidden", ' aria-hidden="true"', ' class="cookie-banner x"', ' class="a b"', ' id="y"']
    attrs += [' style="display: none"', ' role="dialog"', ' class="breadcrumb"', ' data-x="1"']
    attrs += [' class="x\tb"']
    removes = [[], ["nav", ".cookie-banner"], [".a", "#y", "[data-x]", "SPAN"], ["div > p", ".a"], ["*"]]
    removes += [["span.a", "[data-x=1]", "p:empty", ".b"], ["[class~=b]", "[id^=y]", "bad[[", "li"]]

    def node(depth: int) -> str:
        if depth > 3 or rnd.random() < 0.3:
            return rnd.choice(["text ", "", " tail", "<!-- c -->"])
        tag, inner = rnd.choice(tags), node(depth + 1) + node(depth + 1)
        return f"<{tag}{rnd.choice(attrs)}>{inner}</{tag}>{rnd.choice(['', 't'])}{node(depth + 1)}"

    changed = 0
    for i in range(600):
        html = f"<html><body>{node(0)}{node(0)}</body></html>"
        remove = removes[i % len(removes)]
        ref, new = lxml.html.document_fromstring(html), lxml.html.document_fromstring(html)
        _clean_one_by_one(ref, remove)
        clean_tree(new, remove)
        assert lxml.html.tostring(new) == lxml.html.tostring(ref), (html, remove)
        changed += lxml.html.tostring(ref) != lxml.html.tostring(lxml.html.document_fromstring(html))
    assert changed > 400  # the pages did have things to remove


def test_tidy_is_the_two_regexes() -> None:
    trailing, blanks = re.compile(r"[ \t]+\n"), re.compile(r"\n{3,}")
    rnd = random.Random(3)
    for _ in range(20_000):
        md = "".join(rnd.choice(" \t\nab\r\x0b") for _ in range(rnd.randint(0, 30)))
        assert _tidy(md) == blanks.sub("\n\n", trailing.sub("\n", md)).strip() + "\n"


def _cf(email: str, key: int = 0x5A) -> str:
    """Cloudflare's encoding of an address (what its edge writes into the page)."""
    return f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in email)


def test_cloudflare_obfuscated_emails_are_decoded() -> None:
    # What a plain HTTP fetch of a Cloudflare-fronted page sees; a browser decodes it by script.
    html = (
        "<html><body><main><h1>Terms</h1>"
        f'<p>Email: <a href="/cdn-cgi/l/email-protection#{_cf("copyright@x.com")}">'
        "[email&#160;protected]</a></p>"
        f'<p>Write to <a href="/cdn-cgi/l/email-protection"><span class="__cf_email__" '
        f'data-cfemail="{_cf("dpo@example.org", 0x13)}">[email&#160;protected]</span></a> today.</p>'
        '<p>Broken: <a href="/cdn-cgi/l/email-protection#zz">[email&#160;protected]</a></p>'
        "</main></body></html>"
    )
    md = extract(html.encode(), content_type="text/html")
    assert "Email: [copyright@x.com](mailto:copyright@x.com)" in md
    assert "Write to [dpo@example.org](mailto:dpo@example.org) today." in md
    assert "Broken: [[email\xa0protected]](/cdn-cgi/l/email-protection#zz)" in md  # left as it was
