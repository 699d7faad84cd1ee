"""Each noise kind of the shared corpus, pinned with a small real-world example."""

from __future__ import annotations

import pytest
from policywatch_differ.normalise import comparison_key, comparison_lines, mask_dates, normalise_line


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # rotating tracking ids inside link targets (Facebook help centre)
        (
            "See [Intellectual property](https://www.facebook.com/help/399224883474207/?helpref=breadcrumb) here",  # noqa: E501
            "See [Intellectual property](https://www.facebook.com/help/399224883474207/?helpref=hc_fnav&ref=x) here",  # noqa: E501
        ),
        # CDN image hashes (Temu)
        (
            "![](https://commimg.us.kwcdn.com/fancy/EV_1YuIo3S/b7aeccd29de04a278fd904b38f29f295.png?q=70) Returns",  # noqa: E501
            "![](https://commimg.us.kwcdn.com/fancy/EV_1YuIo3S/c3d293c8f42841e78dd97207ba1ef81d.png?q=70) Returns",  # noqa: E501
        ),
        # bare URLs with tracking parameters
        (
            "Visit https://example.com/terms?utm_source=mail&fbclid=abc now",
            "Visit https://example.com/terms now",
        ),
        # a wiki's revision id in a URL whose path holds parentheses (Wikimedia's "Retrieved from")
        (
            'Retrieved from "https://foundation.wikimedia.org/w/index.php?title=Policy:DMCA_(%22Act%22)_Policy&oldid=455043"',
            'Retrieved from "https://foundation.wikimedia.org/w/index.php?title=Policy:DMCA_(%22Act%22)_Policy&oldid=551234"',
        ),
        # UUID-like and hash-like tokens in text
        (
            "Request id 3f2b6c1e-9a4d-4e2b-8c1a-2b3c4d5e6f70",
            "Request id 0c9e8f7a-1b2c-4d3e-9f8a-7b6c5d4e3f21",
        ),
        ("session 9f86d081884c7d659a2feaa0c55ad015", "session e3b0c44298fc1c149afbf4c8996fb924"),
        # relative dates (LinkedIn)
        ("Last updated: 2 hours ago", "Last updated: 14 hours ago"),
        ("Posted 13 days ago", "Posted a month ago"),
        # whitespace, typographic quotes and dashes, zero-width characters
        ("We  use\u00a0your data \u2014 “carefully”.", 'We use your data - "carefully".'),
        ("pri\u200bvacy\ufeff policy", "privacy policy"),
        # heading case and markup
        ("## Unmoderated user-generated content", "**Unmoderated User-Generated Content**"),
        # en-GB / en-US variants of the same page
        ("We personalise your licence and behaviour.", "We personalize your license and behavior."),
        # punctuation placement
        ("Pages, or groups (see privacy).", "Pages or groups (see privacy.)"),
        ("information.Nor will we", "information. Nor will we"),
        # footer copyright years
        ("© 2022-2025 Whaleco Inc.", "© 2022-2026 Whaleco Inc."),
        # glued numbering and contractions (Google Maps, Google Shopping)
        ("6.Liability if Controller SCCs Apply.", "6. Liability if Controller SCCs Apply."),
        ("If we will suspend your account", "If we'll suspend your account"),
        # CJK punctuation variants (AliExpress)
        ("1、Narcotics", "1. Narcotics"),
        # code spans written with double backticks or single (Google Play)
        (
            "`` `REQUEST_INSTALL_PACKAGES` `` permission allows apps",
            "`REQUEST_INSTALL_PACKAGES` permission allows apps",
        ),
        # bullet glyphs typed into the text (TikTok Commercial Terms)
        (
            "● TikTok Inc. (US), if you are based in Canada;",
            "* •\u200bTikTok Inc. (US), if you are based in Canada;",
        ),
    ],
)
def test_noise_does_not_change_the_key(before: str, after: str) -> None:
    assert normalise_line(before) == normalise_line(after)


@pytest.mark.parametrize(
    "line",
    [
        "Skip to main content",
        "Accept all cookies",
        "We use cookies to improve your experience. By clicking Accept, you agree to our use of cookies.",
        "×",
        "* * *",
        "=========",
        "| --- | --- |",
        "[Privacy Center](https://www.facebook.com/privacy/center/)",
        "![](https://example.com/logo.png)",
        # The fresh alert sample's page chrome (tests/data/differ/alert_labels.jsonl, dev families):
        "Choose a section to give feedback on",
        "Leave this field blank",
        "You\u2019re invited to try Microsoft 365 for free",
        "iPhone App Help",  # Meta's help-centre app switcher (held-out round-1 alerts)
        # Mintlify's notice to language-model crawlers (X's developer terms)
        "> Documentation Index",
        "> Fetch the complete documentation index at: https://docs.x.com/llms.txt",
        "> Use this file to discover all available pages before exploring further.",
        "Print/export",  # MediaWiki's sidebar and translation banner
        "Translate this page; This page contains changes which are not marked for translation.",
        "\u2318I",  # a keyboard-shortcut hint (X's developer pages)
        "The content you are trying to view is not available for your preferred market language. "
        "You are now seeing content for **_English - United States_**.",
        # language selectors, in English or another language
        "#### View the Terms of Service in other languages: [հայերեն](https://a/hy), [ខ្មែរ](https://a/km), "
        "[فارسی](https://a/fa), [Lao](https://a/lo), [Hmong](https://a/hmn), [Filipino](https://a/fil), "
        "[日本語](https://a/ja), [한국어](https://a/ko), and [English](https://a/en)",
        "Change language or region: България - български Česko - čeština Danmark - dansk "
        "Österreich - Deutsch United Kingdom - English España - español Eesti - eesti Suomi - suomi",
    ],
)
def test_ui_strings_and_navigation_are_not_content(line: str) -> None:
    assert normalise_line(line) == ""


def test_real_wording_changes_the_key() -> None:
    a = "We may share your personal data with advertisers."
    b = "We will not share your personal data with advertisers."
    assert normalise_line(a) != normalise_line(b)
    assert comparison_key(a) != comparison_key(b)
    # numbers and links' text stay
    assert normalise_line("Keep data for 30 days") != normalise_line("Keep data for 90 days")
    # a URL's path stays, parentheses included (only its query and fragment are dropped)
    assert normalise_line("See https://a.example/wiki/Fair_use_(US)?x=1") != normalise_line(
        "See https://a.example/wiki/Fair_use_(UK)?x=1"
    )
    # a sentence about a documentation index is text, not Mintlify's crawler notice
    assert normalise_line("Fetch the complete documentation index at our office.") != ""
    # a sentence that mentions a shortcut key is text, not a shortcut hint
    assert normalise_line("\u2318 is the command key on a Mac.") != ""
    assert normalise_line("see [our Terms](https://a.example/t)") != normalise_line(
        "see [our Policy](https://a.example/t)"
    )


def test_a_sentence_naming_a_few_languages_is_kept() -> None:
    # Fewer than LANGUAGE_SELECTOR_MIN languages, or named in English: document content.
    assert normalise_line("Support is available in English, Español and Français.") != ""
    assert (
        normalise_line("We translate the Terms into Spanish, French, German, Italian, Dutch and Polish.")
        != ""
    )


def test_cookie_policy_sentences_are_kept() -> None:
    long = "We use cookies to " + "understand how you use our services and to measure ads, " * 10
    assert normalise_line(long) != ""


def test_help_centre_widget_is_dropped_whole() -> None:
    assert comparison_lines("Title\n\nCopy link\n\nBody sentence here.") == ["title", "body sentence here"]
    a = "Terms\n=====\n\nCopy link\n\nWhat is the Instagram Service?\n\nHow is Instagram funded?\n\nI have a different question\n\nWelcome to Instagram."  # noqa: E501
    b = "Terms\n=====\n\nCopy link\n\nWhat are my commitments?\n\nI have a different question\n\nWelcome to Instagram."  # noqa: E501
    assert comparison_lines(a) == comparison_lines(b) == ["terms", "welcome to instagram"]
    # A widget in another language (no English closing line) still follows "Copy link".
    c = "Terms\n=====\n\nCopy link\n\nO que são recomendações?\n\nNão quero recomendações\n\nWelcome to Instagram."  # noqa: E501
    assert comparison_lines(c) == ["terms", "welcome to instagram"]
    # …and one served whole in another language, without "Copy link", under an English heading
    # (Facebook's Copyright article, April and June 2026): its closing line is translated.
    closers = ("Tenho outra questão", "Jeg har et andet spørgsmål", "Tengo otra pregunta", "我有其他问题")
    for closer in closers:
        d = f"Copyright\n=========\n\nO que é violação de direitos de autor?\n\nProteger o meu trabalho\n\n{closer}\n\nThese articles provide information."  # noqa: E501
        assert comparison_lines(d) == ["copyright", "these articles provide information"]


def test_absolute_dates_are_masked_for_date_only() -> None:
    assert mask_dates("effective date february 27th 2026") == mask_dates("effective date february 28th 2026")
    assert mask_dates("last updated 2025-12-01") == mask_dates("last updated 2026-01-15")
    assert mask_dates("last updated august 2025") == mask_dates("last updated november 2023")


def test_related_articles_section_is_dropped_up_to_the_next_heading() -> None:
    a = (
        "Intro sentence of the article.\n\nRelated articles\n----------------\n\n"
        "[What is trademark infringement?](https://www.facebook.com/help/1/?helpref=related_articles)\n\n"
        "Facebook removed content as a result of my trademark report. What is sent?\n\n"
        "Next topic\n==========\n\nBody of the next topic."
    )
    b = a.replace("Facebook removed content as a result of my trademark report. What is sent?\n\n", "")
    assert comparison_lines(a) == comparison_lines(b)
    assert comparison_lines(a)[-2:] == ["next topic", "body of the next topic"]


def test_number_glued_to_a_word() -> None:
    assert normalise_line("2.2The terms apply") == normalise_line("2.2 The terms apply")
