"""Is this page the document, or something served in its place?

The costliest noise in policy monitoring is a capture that is *not* the document:
a bot wall or CAPTCHA, a soft-404 ("this page isn't available") served with 200, a
script shell whose text only a browser would see, an empty body. Publishing such a
capture as a new version alerts every subscriber twice (gone, then back).

:func:`check_page` judges the *visible text* of a page (and optionally its HTTP status
and title). Phrases are only trusted on short pages or in the title: real policies
mention "access denied" or "this page isn't available" in their body, and a wall or
error page is short. :func:`visible_text` turns HTML into that text (lexbor, via selectolax).

The fetcher uses it on every capture; the differ may use it again on extracted text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["ok", "blocked", "error_page"]

#: Below this many visible characters a page is "near-empty" (the shortest real
#: documents of the reference corpus, e.g. an imprint, have ~290).
MIN_TEXT_CHARS = 120
#: Phrases are only trusted on pages shorter than this (walls and error pages are short).
SHORT_PAGE_CHARS = 2500

_BLOCKED_PATTERNS = [
    r"just a moment\.{0,3}",
    r"checking (if the site connection is secure|your browser)",
    r"verify (that )?you are (a )?human",
    r"verifying you are human",
    r"are you a robot\??",
    r"complete the (security check|captcha)",
    r"\bcaptcha\b",
    r"unusual traffic from your (computer )?network",
    r"access (to this page has been )?denied",
    r"you don'?t have permission to access",
    r"request (has been )?blocked",
    r"attention required!? \| cloudflare",
    r"ddos protection by",
    r"please enable cookies",
    r"enable javascript and cookies to continue",
    r"pardon our interruption",
    r"press (&|and) hold",
    r"ray id:",
    r"bot (detection|protection)",
    r"px-captcha",
    r"incapsula incident",
    r"error 1020",
    r"automated (access|queries|requests)",
]
_ERROR_PATTERNS = [
    r"page (was )?not found",
    r"this page (isn'?t|is not|isn’t) available",
    r"(isn'?t|is not|isn’t) available (right now|in your (country|region))",
    r"the link you followed may be broken",
    r"page (you (were|are) looking for|you requested) (does not|doesn'?t|could not|cannot|can'?t)",
    r"(could not|couldn'?t|can'?t|cannot) (be )?find (this|that|the) page",
    r"page (may have been|has been) (removed|moved|deleted)",
    r"something went wrong",
    r"an error (has )?occurred",
    r"application error: a (client|server)-side exception has occurred",
    r"internal server error",
    r"service (temporarily )?unavailable",
    r"temporarily unavailable",
    r"bad gateway",
    r"gateway time-?out",
    r"under maintenance",
    r"no longer available",
    r"oops[!.]",
]
_SCRIPT_SHELL_PATTERNS = [
    r"you need to enable javascript",
    r"(please )?enable javascript( to (run|view|use|continue))?",
    r"javascript (is )?(required|disabled)",
    r"this (app|site|page) (requires|needs) javascript",
    r"loading\.{0,3}$",
]

_BLOCKED = re.compile("|".join(_BLOCKED_PATTERNS), re.IGNORECASE)
_ERROR = re.compile("|".join(_ERROR_PATTERNS), re.IGNORECASE)
_SHELL = re.compile("|".join(_SCRIPT_SHELL_PATTERNS), re.IGNORECASE | re.MULTILINE)
#: Status codes in a title ("404 | Example", "Error 503", "500 Internal Server Error") mean an
#: error page, but only as a title segment of their own or next to error words: "Bench document
#: 500" or "Fortune 500 Privacy Notice" are documents. In a body codes may be anything.
_CODE_IN_TITLE = (
    r"(?:^|[|\-–—:·•!])\s*(?:(?:error|http|status)\s*){0,2}(?:40[0-9]|410|50[0-4])\s*"
    r"(?:$|[|\-–—:·•!.]|error|not found|forbidden|gone|unavailable|internal|server|bad|page)"
)
_ERROR_TITLE = re.compile(_CODE_IN_TITLE + "|" + "|".join(_ERROR_PATTERNS), re.IGNORECASE)

#: Statuses that mean "blocked" whatever the body says.
_BLOCKED_STATUSES = {401, 403, 407, 429, 451}


@dataclass(frozen=True)
class PageVerdict:
    """What a page is. ``outcome`` maps onto ``CaptureOutcome`` values."""

    outcome: Verdict
    reason: str | None = None
    text_length: int = 0
    #: True when the text looks like a client-side app shell (a browser may see the document).
    script_shell: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _norm(text: str) -> str:
    """``re.sub(r"\\s+", " ", text).strip()``, in C (``str.split`` splits on the same characters)."""
    return " ".join(text.split())


def check_page(text: str, *, status: int | None = None, title: str | None = None) -> PageVerdict:
    """Judge a page from its visible text, HTTP status and title.

    * ``blocked``: a bot wall, CAPTCHA or access-denied page (status 401/403/429/451, or
      wall phrases in the title or in a short page), even when served with 200;
    * ``error_page``: a soft-404 / unavailable / server-error page served with 200, an empty
      or near-empty document, or a script shell whose text only a browser would see;
    * ``ok`` otherwise.
    """
    return _verdict(_norm(text), _norm(title or ""), status)


def _verdict(body: str, head: str, status: int | None) -> PageVerdict:
    """:func:`check_page` on whitespace-normalised text and title."""
    length = len(body)
    short = length < SHORT_PAGE_CHARS

    if status is not None and status in _BLOCKED_STATUSES:
        return PageVerdict("blocked", f"HTTP {status}", length)
    if head and (m := _BLOCKED.search(head)):
        return PageVerdict("blocked", f"bot wall (title: {m.group(0)!r})", length)
    if short and (m := _BLOCKED.search(body)):
        return PageVerdict("blocked", f"bot wall ({m.group(0)!r})", length)
    if status is not None and status >= 400:
        return PageVerdict("error_page", f"HTTP {status}", length)
    if head and (m := _ERROR_TITLE.search(head)) and short:
        return PageVerdict("error_page", f"error page (title: {m.group(0)!r})", length)
    if short and (m := _ERROR.search(body)) and length < SHORT_PAGE_CHARS // 2:
        return PageVerdict("error_page", f"error page ({m.group(0)!r})", length)
    if length < MIN_TEXT_CHARS:
        shell = bool(_SHELL.search(body)) or length == 0
        what = "script shell" if shell and length else "empty" if not length else "near-empty"
        return PageVerdict("error_page", f"{what} document ({length} chars)", length, script_shell=shell)
    if short and _SHELL.search(body) and length < 400:
        return PageVerdict("error_page", "script shell (needs JavaScript)", length, script_shell=True)
    return PageVerdict("ok", None, length)


# --------------------------------------------------------------------------- HTML → text

_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "hr",
    "blockquote",
    "pre",
    "dd",
    "dt",
}
#: The "<" of every start or end tag of a block element (the name ends where the tokenizer ends
#: it). The names of _BLOCK as a trie: twice as fast as their plain alternation (tested equal).
_BLOCK_NAMES = (
    r"(?:p(?:re)?|d(?:iv|d|t)|section|article|main|h(?:eader|r|[1-6])|footer|nav|li|ul|ol"
    r"|t(?:able|[rdh])|b(?:r|lockquote))"
)
_BLOCK_TAG = re.compile(r"<(?=/?" + _BLOCK_NAMES + r"[\t\n\r\f />\x00])", re.IGNORECASE)
_SKIP_TAGS = sorted(_SKIP)
_SKIP_TAGS_KEEP_NOSCRIPT = sorted(_SKIP - {"noscript"})


@dataclass(frozen=True)
class PageText:
    title: str | None
    text: str
    #: Characters of inline script: a big script and little text is an app shell.
    script_chars: int = 0


#: Whitespace met in page text besides the space (&nbsp;, narrow no-break space, tab).
_COMMON_SPACES = ("\xa0", "\u202f", "\t")


def _lines(raw: str) -> str:
    """Lines of ``raw`` with whitespace runs collapsed, stripped, empty lines dropped.

    Fast path (most pages): strip the lines, turn common whitespace into spaces and double
    spaces into one; that is the answer when no run is left and no other whitespace (every
    whitespace character but the space is unprintable). C string methods only: 2-3x faster
    than splitting every line into words, which remains the fallback.
    """
    text = "\n".join(filter(None, map(str.strip, raw.split("\n"))))
    fast = text
    for ch in _COMMON_SPACES:  # replace() returns the string itself when ch is absent
        fast = fast.replace(ch, " ")
    fast = fast.replace("  ", " ")
    # Lines end in non-whitespace after strip(), so squeezing inside them is enough.
    if "  " not in fast and fast.replace("\n", " ").isprintable():
        return fast
    return "\n".join(filter(None, map(" ".join, map(str.split, text.split("\n")))))


def visible_text(html: str, *, keep_noscript: bool = False) -> PageText:
    """Title and visible text of an HTML page (scripts, styles and templates dropped).

    Parsed with lexbor (an HTML5 parser in C, ~10x faster than ``html.parser``). Block
    elements separate lines: a newline is put before each of their tags in the source,
    so inline markup ("<b>x</b>y") joins words exactly as before. ``keep_noscript``
    parses ``<noscript>`` content as markup (a browser without scripting shows it);
    otherwise it is one text node, dropped with the element.
    """
    from selectolax.lexbor import LexborHTMLParser  # lazy: the differ imports check_page only

    tree = LexborHTMLParser(_BLOCK_TAG.sub("\n<", html), scripting=not keep_noscript)
    # Every <title> (also an SVG icon's), as html.parser saw them.
    title = _norm("".join(n.text() for n in tree.css("title"))) or None
    script_chars = sum(len(n.text()) for n in tree.css("script"))
    tree.strip_tags(_SKIP_TAGS_KEEP_NOSCRIPT if keep_noscript else _SKIP_TAGS)
    root = tree.root
    return PageText(
        title=title, text=_lines(root.text() if root is not None else ""), script_chars=script_chars
    )


#: A page with at most this much visible text and a "needs JavaScript" hint is a script shell.
SHELL_MAX_CHARS = 1500
_APP_ROOT = re.compile(
    r"<(div|main)\b[^>]*\bid=[\"']?(app|root|__next|__nuxt|main-app)[\"']?[^>]*>\s*(<noscript\b|</\1>)",
    re.IGNORECASE,
)


def is_script_shell(html: str, page: PageText | None = None) -> bool:
    """A client-side app shell: little visible text, and a noscript hint or an empty app root."""
    page = page or visible_text(html)
    if len(page.text) > SHELL_MAX_CHARS:
        return False
    if _APP_ROOT.search(html):
        return True
    noscript = visible_text(html, keep_noscript=True).text
    return len(noscript) > len(page.text) and bool(_SHELL.search(noscript))


def check_html(html: str, *, status: int | None = None) -> tuple[PageVerdict, PageText]:
    """:func:`check_page` on an HTML page, plus script-shell detection (the text only a browser sees)."""
    page = visible_text(html)
    # page.text is normalised already but for its line breaks; the title entirely.
    verdict = _verdict(page.text.replace("\n", " "), page.title or "", status)
    if verdict.outcome != "blocked" and (status is None or status < 400) and is_script_shell(html, page):
        verdict = PageVerdict(
            "error_page", "script shell (needs JavaScript)", verdict.text_length, script_shell=True
        )
    return verdict, page
