"""Extraction: HTML → clean Markdown (selectors honoured), PDF → text, Markdown passthrough."""

from __future__ import annotations

from policywatch_differ.extract import extract, kind_of
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
