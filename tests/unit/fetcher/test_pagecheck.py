"""pagecheck: bot walls, error pages served with 200, near-empty pages, script shells."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import pytest
from policywatch_shared.pagecheck import check_html, check_page, visible_text

POLICY = (
    "Privacy Policy\n" + "We collect personal data to provide the service and share it with processors. " * 30
)
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "vlopses-us-versions.jsonl.xz"


def test_real_policy_is_ok() -> None:
    v = check_page(POLICY, status=200, title="Privacy Policy | Example")
    assert v.ok and v.outcome == "ok" and v.text_length > 1000


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Checking your browser before accessing example.com. Ray ID: 8c1f", "Just a moment..."),
        ("Please verify you are a human to continue.", None),
        ("Our systems have detected unusual traffic from your computer network.", "Sorry..."),
        ("Access denied. You don't have permission to access this page on this server.", "Access Denied"),
        ("Pardon our interruption. Press & hold to confirm you are a human.", None),
    ],
)
def test_bot_walls_served_with_200_are_blocked(text: str, title: str | None) -> None:
    v = check_page(text, status=200, title=title)
    assert v.outcome == "blocked", v


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Sorry, this page isn't available. The link you followed may be broken.", "Instagram"),
        ("Home Blog Careers. We couldn't find that page. Go home.", "404 | Example"),
        ("Oops! Something went wrong. Please try again later.", "Example"),
        ("The page you were looking for does not exist.", "Page not found"),
        (
            "Application error: a client-side exception has occurred while loading www.example.com "
            "(see the browser console for more information).",
            "Human Rights Policy",
        ),
    ],
)
def test_error_pages_served_with_200(text: str, title: str) -> None:
    assert check_page(text, status=200, title=title).outcome == "error_page"


def test_status_decides_when_given() -> None:
    assert check_page(POLICY, status=403).outcome == "blocked"
    assert check_page(POLICY, status=429).outcome == "blocked"
    assert check_page(POLICY, status=404).outcome == "error_page"
    assert check_page(POLICY, status=200).outcome == "ok"


def test_empty_and_near_empty_pages() -> None:
    assert check_page("").outcome == "error_page"
    v = check_page("Privacy Policy")
    assert v.outcome == "error_page" and "near-empty" in (v.reason or "")


def test_long_policy_mentioning_error_phrases_stays_ok() -> None:
    # Real policies say "access denied", "something went wrong" or "isn't available" in their text.
    text = (
        POLICY
        + " If access is denied or something went wrong, or a feature isn't available right now, contact us."
    )
    assert check_page(text, title="Terms of Service").ok


def test_script_shell_is_detected_from_html() -> None:
    html = (
        "<html><head><title>Terms</title></head><body><nav>Home About Help</nav>"
        '<div id="app"><noscript>You need to enable JavaScript to run this app.</noscript></div>'
        '<script>fetch("/api").then(r=>r.json())</script></body></html>'
    )
    v, page = check_html(html)
    assert v.outcome == "error_page" and v.script_shell
    assert "enable JavaScript" not in page.text  # noscript is not visible text for a browser


def test_server_rendered_app_is_not_a_shell() -> None:
    html = f'<html><body><div id="__next"><main><h1>Privacy</h1><p>{POLICY}</p></main></div></body></html>'
    v, _ = check_html(html)
    assert v.ok and not v.script_shell


def test_visible_text_drops_scripts_and_styles() -> None:
    page = visible_text(
        "<html><head><title> A  B </title><style>p{}</style></head><body><p>One</p>"
        "<script>var x = 1;</script><p>Two &amp; three</p></body></html>"
    )
    assert page.title == "A B"
    assert page.text == "One\nTwo & three"
    assert page.script_chars > 0


def test_no_false_positive_on_real_policy_versions() -> None:
    """The first 60 recorded versions of real documents are all ok (the corpus has one empty page)."""
    if not CORPUS.exists():
        pytest.skip(f"shared corpus missing: {CORPUS}")
    flagged = []
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= 60:
                break
            rec = json.loads(line)
            v = check_page(rec["text"])
            if not v.ok and rec["text"].strip():
                flagged.append((rec["service"], rec["document"], v.reason))
    assert flagged == []


SHORT_STATEMENT = (
    "Accessibility statement. We are taking steps to make our website accessible. If you have any "
    "difficulty accessing the information provided by our website, please contact our team. " * 3
)


@pytest.mark.parametrize(
    "title", ["Bench document 500", "Fortune 500 Privacy Notice", "Section 404 Accessibility Notice"]
)
def test_a_number_in_a_short_documents_title_is_not_a_status(title: str) -> None:
    assert check_page(SHORT_STATEMENT, title=title).ok


@pytest.mark.parametrize(
    "title", ["404 | Example", "Error 404", "500 Internal Server Error", "Example - 503", "HTTP Error 502"]
)
def test_a_status_code_as_a_title_segment_is_an_error_page(title: str) -> None:
    assert check_page(SHORT_STATEMENT, title=title).outcome == "error_page"
