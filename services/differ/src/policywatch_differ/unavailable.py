"""Is this text the document, or something served in its place?

The fetcher already judges pages (``policywatch_shared.pagecheck``), but the differ
checks again on the *extracted* text — a capture may say ``ok`` and still be a bot
wall, an error page, a near-empty shell — and adds one check only it can make: the
page switched language against the document's live version (a regional variant served
by mistake, recorded and then replaced).
"""

from __future__ import annotations

import re

from policywatch_shared.pagecheck import SHORT_PAGE_CHARS, check_page

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_EN = frozenset(
    "the of and to a in is that for you your we our or be are with this as on by may not it if any "
    "from at use have will can information which such these all other has their us".split()
)
SAMPLE_CHARS = 3_000
#: The live version is English if at least this share of its words are English stopwords…
EN_MIN = 0.25
#: …and a capture whose share falls below this fraction of it is in another language.
EN_DROP = 0.4


#: Error phrases the shared page check does not know, trusted only on short texts.
_EXTRA_ERRORS = re.compile(
    r"no longer exists|failed to load|(article|page) you are looking for|back to home ?page|"
    r"content (isn'?t|is not) available|we'?re sorry,? (but )?(this|the) page|refresh the page|"
    r"not available in your (location|country|region)",  # geo-blocked (WhatsApp)
    re.I,
)
EXTRA_SHORT = 3000
#: Longer texts than this always pass ``check_page`` when no status or title is given.
CHECK_PAGE_MAX = 4 * SHORT_PAGE_CHARS


#: An error message that appears *inside* a long capture (one part of a combined page failed),
#: matched on comparison keys (lowercase, no punctuation) of short lines new in this capture.
_INLINE_ERROR = re.compile(
    r"^(sorry )?(this page (isnt|is not) available|page not found|something went wrong|"
    r"(this )?content (isnt|is not) available|application error|the link you followed may be broken|"
    r"(this )?(information|content|page) (isnt|is not) available in your (location|country|region)|"
    r".{0,40}(no longer exists|failed to load))"
)
INLINE_ERROR_MAX = 120
#: A web framework's crash message (Next.js; Shein's Human Rights Policy, 30 April 2026): longer
#: than ``INLINE_ERROR_MAX`` because it names the site, and never a document's own sentence.
_APP_CRASH = re.compile(r"^application error a (client|server)[ -]?side exception has occurred")


def inline_error(new_keys: list[str], old_keys: set[str]) -> str | None:
    """A short error line that the live version does not have (a partly failed capture)."""
    for k in new_keys:
        if k not in old_keys and (
            (len(k) <= INLINE_ERROR_MAX and _INLINE_ERROR.match(k)) or _APP_CRASH.match(k)
        ):
            return f"error_page: error message inside the page ({k!r})"
    return None


def english_share(text: str) -> float:
    # A sample from the middle: headers and menus at the top are often in the UI language.
    mid = max(0, len(text) // 2 - SAMPLE_CHARS // 2)
    words = _WORD.findall(text[mid : mid + SAMPLE_CHARS].casefold())
    if len(words) < 50:
        return 0.0
    return sum(1 for w in words if w in _EN) / len(words)


def unavailable_reason(
    text: str,
    *,
    previous: str | None = None,
    previous_share: float | None = None,
    share: float | None = None,
) -> str | None:
    """Why ``text`` is not the document (``None`` when it is); ``share``: ``english_share(text)``
    if the caller already has it."""
    # Without status and title the shared check only judges short texts (phrases are trusted on
    # short pages only): skip it on long ones, it would normalise the whole text for nothing.
    if len(text) < CHECK_PAGE_MAX:
        verdict = check_page(text)
        if not verdict.ok:
            return f"{verdict.outcome}: {verdict.reason}"
    if len(text) < EXTRA_SHORT and (m := _EXTRA_ERRORS.search(text)):
        return f"error_page: error page ({m.group(0)!r})"
    if previous is not None or previous_share is not None:
        before = previous_share if previous_share is not None else english_share(previous or "")
        if before >= EN_MIN:
            now = share if share is not None else english_share(text)
            if now < before * EN_DROP:
                return f"served in another language (English words {now:.0%}, was {before:.0%})"
    return None
