"""Comparison key: what two captures must share to be the same version.

The stored version keeps the clean text; only the *comparison* ignores noise. Each
line is normalised on its own (so a per-document cache of normalised lines makes
re-normalising an almost identical capture nearly free):

* link and image targets (rotating tracking ids, session tokens, CDN hashes) are
  dropped — link text stays, images go entirely;
* bare URLs lose their query string and fragment;
* UUID-like and hash-like tokens become ``<tok>``, relative dates (``13 days ago``)
  become ``<reldate>``;
* typographic quotes and dashes become ASCII, zero-width and invisible characters
  vanish, whitespace collapses, markdown emphasis / list markers / setext underlines
  go, case is folded (heading case changes are not changes of the terms);
* cookie banners and UI strings ("Skip to content", "Close", "Copy link" …) are
  dropped, as are lines that are nothing but punctuation.

``date_key`` additionally masks absolute dates, so a change that only moves a
"Last updated" date is recognised as ``date_only``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable

# --------------------------------------------------------------------------- characters

_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2061\u2062\u2063",
    ),
    None,
)
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',  # noqa: E501
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",  # noqa: E501
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u3000": " ", "\t": " ",
        "\u2026": "...", "\u3001": ". ", "\uff0c": ",", "\uff1a": ":", "\uff1b": ";", "\uff08": "(",
        "\uff09": ")", "\uff0d": "-", "\u3002": ".", "\uff0e": ".",
    }
)  # fmt: skip
_COMMON = [
    ("\u2019", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2014", "-"),
    ("\u2013", "-"),
    ("\u00a0", " "),
]
_TRANSLATE.update(_INVISIBLE)  # type: ignore[arg-type]

# --------------------------------------------------------------------------- patterns

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
# [text](target "title") — targets may contain balanced parentheses one level deep.
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$")
#: A bare URL, its query and fragment dropped (tracking ids, revision ids such as MediaWiki's
#: ``oldid=``); a path may hold balanced parentheses ("…_Act_(%22DMCA%22)_Policy").
_BARE_URL = re.compile(
    r"\b((?:https?://|www\.)(?:[^\s?#<>\"'()\]]|\([^\s()<>\"']*\))+)"
    r"(?:[?#](?:[^\s<>\"'()\]]|\([^\s()<>\"']*\))*)?",
    re.I,
)
_UUID = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I)
_NUMWORDS = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|several|over a|about an?)"
_UNITS = r"(?:sec(?:ond)?s?|min(?:ute)?s?|h(?:ou)?rs?|days?|weeks?|months?|years?|yrs?|mos?)"
_RELDATE = re.compile(
    rf"\b(?:{_NUMWORDS}\s+{_UNITS}\s+ago|{_NUMWORDS}\s*{_UNITS}\s+ago|just now|moments? ago"
    rf"|yesterday|today|last (?:week|month|year)|(?:updated|edited|posted) (?:in the )?(?:last|past) \w+"
    rf"|in (?:the )?(?:last|past) {_NUMWORDS}\s+{_UNITS})\b",
    re.I,
)
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ABSDATE = re.compile(
    rf"\b(?:{_MONTHS}\s+\d{{1,2}}(?:\s?(?:st|nd|rd|th))?,?\s+\d{{4}}|\d{{1,2}}(?:\s?(?:st|nd|rd|th))?\s+(?:of\s+)?{_MONTHS},?\s+\d{{4}}"
    rf"|{_MONTHS},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}})\b"
    r"(?:\s+(?:pdt|pst|edt|est|cet|cest|utc|gmt))?",
    re.I,
)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)|(?<=\S)(\*{1,3}|_{1,3}|~~)")
# "6.Liability" and "6. Liability" are the same numbered item.
_LIST_MARK = re.compile(r"^(?:[*+\-]\s+|\d{1,3}[.)](?:\s+|(?=[^\W\d_]))|[a-z][.)]\s+)", re.I)
# Bullet glyphs typed into the text ("● TikTok Inc." / "* •TikTok Inc."): a list mark too.
_BULLETS = re.compile(r"^(?:[\u2022\u25cf\u25aa\u25e6\u2023\u2219\u25a0\u25a1\u25ba\u27a2\u00b7]\s*)+")
# The lookahead (a word then an apostrophe, or "cannot") holds wherever an alternative can match:
# it only spares trying the alternatives at every word of the line.
_CONTRACTION = re.compile(r"\b(?=\w++'|cannot)(?:(can)'t|(won)'t|(\w+)n't|(\w+)'(ll|re|ve)|(i)'m|(cannot))\b")
_EXPAND = {"ll": "will", "re": "are", "ve": "have"}


def _expand(m: re.Match[str]) -> str:
    can, won, nt, stem, suffix, _i, cannot = m.groups()
    if can or cannot:
        return "can not"
    if won:
        return "will not"
    if nt:
        return nt + " not"
    if stem:
        return f"{stem} {_EXPAND[suffix]}"
    return "i am"


_HEADING_MARK = re.compile(r"^#{1,6}\s+|\s+#+\s*$")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_PUNCT_ONLY = re.compile(r"^[\W_]*$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_SPACE = re.compile(r"\s+")

#: UI strings that are never part of a document (compared after normalisation).
UI_STRINGS = frozenset(
    {
        "close", "x", "skip to content", "skip to main content", "skip to navigation", "skip navigation",
        "back to top", "go to top", "top", "menu", "open menu", "close menu", "toggle navigation", "search",
        "copied", "link copied", "share", "print", "print this page", "print page",
        "download pdf", "download", "previous", "next", "read more", "show more", "show less", "see more",
        "expand all", "collapse all", "expand", "collapse", "was this helpful?", "was this page helpful?",
        "yes", "no", "helpful", "not helpful", "thanks for your feedback", "thank you for your feedback",
        "table of contents", "contents", "on this page", "in this article",
        "loading", "loading...", "sign in", "log in", "sign up", "accept", "accept all", "reject all",
        "accept cookies", "accept all cookies", "reject", "decline", "manage cookies", "cookie settings",
        "manage preferences", "save preferences", "allow all", "allow all cookies", "only necessary",
        "got it", "ok", "dismiss", "english", "english (us)", "english (uk)", "select language", "language",
        "home", "help center", "help centre", "help", "feedback", "send feedback", "more", "less",
        "\u2715", "\u00d7", "opens in a new window", "opens in a new tab", "(opens in a new tab)",
        "listen", "play", "pause", "stop", "was it helpful?", "was it helpful", "yesno", "yes no",
        # Seventeenth session, from the fresh alert sample's dev-family alerts (alert_labels.jsonl):
        "choose a section to give feedback on", "leave this field blank", "unlock now",
        "archived versions", "view archived version", "view archived versions",
        "you are invited to try microsoft 365 for free",
        # Eighteenth session, from the held-out round-1 alerts: Meta's help-centre app switcher.
        "computer help", "iphone app help", "android app help", "mobile browser help", "ipad app help",
        "facebook lite app help", "instagram lite app help", "jump to",
        # MediaWiki's sidebar and translation banner (Wikimedia's policies are wiki pages).
        "print/export", "in other projects", "what links here", "related changes", "permanent link",
        "page information", "cite this page", "get shortened url", "download qr code", "download as pdf",
        "printable version", "wikidata item", "upload file", "special pages", "translate this page",
        "translate this page; this page contains changes which are not marked for translation.",
        # Mintlify's notice to language-model crawlers, which X's developer-docs pages gain and
        # lose: "> Documentation Index" / "> Fetch the complete documentation index at: URL" /
        # "> Use this file to discover …" (the URL line: ``_LLMS_INDEX``).
        "documentation index", "use this file to discover all available pages before exploring further.",
    }
)  # fmt: skip
_LLMS_INDEX = "fetch the complete documentation index at "
#: A line naming this many languages by their own names is a language selector.
LANGUAGE_SELECTOR_MIN = 6
_LANGUAGE_NAMES = frozenset(
    {
        "english", "español", "espanol", "deutsch", "français", "francais", "italiano", "português",
        "portugues", "nederlands", "polski", "türkçe", "turkce", "русский", "українська", "日本語", "한국어",
        "中文", "العربية", "עברית", "हिन्दी", "ไทย", "tiếng việt", "bahasa indonesia", "bahasa melayu",
        "filipino", "svenska", "dansk", "norsk", "suomi", "čeština", "magyar", "română", "ελληνικά",
        "български", "hrvatski", "slovenčina", "slovenščina", "српски", "eesti", "latviešu", "lietuvių",
        "فارسی", "اردو", "বাংলা", "ਪੰਜਾਬੀ", "தமிழ்", "తెలుగు", "मराठी", "հայերեն", "ខ្មែរ", "ລາວ", "hmong",
        "kiswahili", "català", "galego", "euskara", "íslenska", "gaeilge",
    }
)  # fmt: skip
_LANGUAGE_NAME = re.compile("|".join(sorted(map(re.escape, _LANGUAGE_NAMES), key=len, reverse=True)))
#: "The content you are trying to view is not available for your preferred market language."
_LANGUAGE_FALLBACK = re.compile(r"not available (?:in|for) your (?:preferred )?(?:market )?language")
_COOKIE_BANNER = re.compile(
    r"(we (and our partners )?use cookies|this (web)?site uses cookies|by (clicking|continuing|using)[^.]{0,80}"  # noqa: E501
    r"(accept|agree)[^.]{0,40}cookies|accept (all )?cookies|cookie (settings|preferences|consent)|"
    r"manage (your )?(cookie )?preferences)",
    re.I,
)
_PUNCT = re.compile(r"[,;:!?\"()\[\]{}]|\.(?!\d)|(?<!\w)-|-(?!\w)")
# Punctuation → space (_PUNCT), and a space between a number and a glued word ("2.2The"):
# a second pass, run only where a digit touches a letter (as one alternation of _PUNCT, the
# zero-width match was tried at every position; punctuation → space moves nothing).
_NUMBER_WORD = re.compile(r"\d(?=[^\W\d_])")
_NUMBER_WORD_GAP = re.compile(r"(?<=\d)(?=[^\W\d_])")
_UI_KEYS = frozenset(" ".join(_PUNCT.sub(" ", u.replace("'", "")).split()) for u in UI_STRINGS)
#: A keyboard-shortcut hint alone on a line ("⌘I", X's developer pages): a tooltip, not text.
_SHORTCUT_KEYS = "⌘⌥⇧⌃"
_SHORTCUT = re.compile(rf"^[{_SHORTCUT_KEYS}]+ ?\S{{1,3}}$")
#: Banner-like lines are only dropped when short: a cookie policy discusses cookies at length.
COOKIE_LINE_MAX = 400


#: Last line of a help-centre "quick answers" widget (rotating suggestions above it). Meta's help
#: centre sometimes serves the widget in another language inside an English article: these are
#: the translations its recorded pages carry (comparison keys: lowercase, no punctuation), found
#: as the line before the article's first sentence where other captures have the English one.
WIDGET_END = frozenset(
    {"i have a different question", "tenho uma pergunta diferente", "tenho uma questão diferente",
     "tenho outra questão", "tengo otra pregunta", "tengo una pregunta diferente",
     "jag har en annan fråga", "jeg har et andet spørgsmål", "ich habe eine andere frage",
     "ik heb een andere vraag", "ho una domanda diversa", "jai une autre question", "mam inne pytanie",
     "ho unaltra domanda", "jai une question différente", "tenho outra pergunta", "saya ada soalan lain",
     "minulla on toinen kysymys", "tha ceist eadar-dhealaichte agam", "我有其他问题"}
)  # fmt: skip
#: First line of such a widget (Meta's help centre): the suggestions follow it.
WIDGET_START = frozenset({"copy link"})
WIDGET_LINE_MAX = 90
_WIDGET_KEYS = WIDGET_START | WIDGET_END
# en-GB and en-US variants of the same page alternate (personalised / personalized …).
_SPELL_SUFFIX = [
    ("isations", "izations"), ("isation", "ization"), ("ising", "izing"), ("ised", "ized"), ("ises", "izes"),
    ("iser", "izer"), ("isers", "izers"), ("ise", "ize"), ("yse", "yze"), ("ysed", "yzed"), ("ysing", "yzing"),  # noqa: E501
    ("our", "or"), ("ours", "ors"), ("oured", "ored"), ("ouring", "oring"), ("ourable", "orable"),
    ("ourite", "orite"),
]  # fmt: skip
_SPELL_WORDS = {
    "centre": "center", "centres": "centers", "licence": "license", "licences": "licenses",
    "defence": "defense", "offence": "offense", "programme": "program", "programmes": "programs",
    "catalogue": "catalog", "dialogue": "dialog", "judgement": "judgment", "enrolment": "enrollment",
    "enrol": "enroll", "fulfil": "fulfill", "fulfilment": "fulfillment", "instalment": "installment",
    "cancelled": "canceled", "cancelling": "canceling", "labelled": "labeled", "labelling": "labeling",
    "modelling": "modeling", "travelled": "traveled", "travelling": "traveling", "totalled": "totaled",
    "counselling": "counseling", "fuelled": "fueled", "signalled": "signaled",
}  # fmt: skip
_SPELL_SORTED = sorted(_SPELL_SUFFIX, key=lambda p: -len(p[0]))
# A word of 3+ letters with an en-GB ending, or one of the words above. (The lookahead: both
# need 5+ letters, and checking that first spares short words the whole alternation.)
_ALPHA_WORD = re.compile(
    r"\b(?=[a-z]{5})(?:[a-z]{3,}(?:is(?:e|es|ed|ing|ations?|ers?)|ys(?:e|ed|ing)|our(?:s|ed|ing|able|ite|ites)?)|"
    + "|".join(_SPELL_WORDS)
    + r")\b"
)
_RELDATE_HINT = re.compile(r"\b(?:ago|yesterday|today|now|last|past)\b")


@functools.lru_cache(maxsize=65536)
def _american(word: str) -> str:
    got = _SPELL_WORDS.get(word)
    if got:
        return got
    for suffix, repl in _SPELL_SORTED:
        # A stem of at least 3 letters: "your", "four", "rise", "wise" stay as they are.
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def _spell(m: re.Match[str]) -> str:
    return _american(m.group(0))


_LINK_ONLY = re.compile(r"^(?:[*+\-]\s+|\d{1,3}[.)]\s+)?\[[^\]]{0,120}\]\([^)]*\)$")
_DANGLING_LINK = re.compile(r"\]\([^)\s]*\)")
_COPYRIGHT_YEARS = re.compile(r"((?:©|\(c\)|copyright)\s*)\d{4}(?:\s*-\s*\d{4})?", re.I)


def clean_chars(text: str) -> str:
    """Typographic quotes/dashes to ASCII, invisible characters removed, tabs and odd spaces to spaces."""
    return text.translate(_TRANSLATE)


_WORDISH = re.compile(r"[A-Za-z0-9_\-]{16,}")
_HEX_ONLY = re.compile(r"[0-9a-fA-F\-]+")
_UNDERSCORE_EMPH = re.compile(r"(?<!\w)_+|_+(?!\w)")


def _token(m: re.Match[str]) -> str:
    w = m.group(0)
    if _UUID.fullmatch(w):
        return "<tok>"
    has_digit = any(c.isdigit() for c in w)
    has_alpha = any(c.isalpha() for c in w)
    if has_digit and has_alpha and (_HEX_ONLY.fullmatch(w) or len(w) >= 24):
        return "<tok>"
    return w


def normalise_line(line: str) -> str:
    """Comparison form of one line of markdown ('' when the line carries no document content)."""
    s = line
    if not s.isascii():
        # str.replace is much faster than translate: handle the common characters first.
        for a, b in _COMMON:
            if a in s:
                s = s.replace(a, b)
        if not s.isascii():
            s = s.translate(_TRANSLATE)
    s = s.strip()
    if not s:
        return ""
    if (s[0] == "[" and _REF_DEF.match(s)) or (s[0] in "|:-" and _TABLE_RULE.match(s)):
        return ""
    if "](" in s:
        # A line that is one short link is navigation (breadcrumbs, related articles, TOC).
        if _LINK_ONLY.match(s):
            return ""
        s = _IMAGE.sub(" ", s)
        s = _LINK.sub(r"\1", s)
        s = _DANGLING_LINK.sub(" ", s)  # links whose text spans lines
    if "http" in s or "www." in s:
        s = _BARE_URL.sub(r"\1", s)
    if "\\" in s:
        s = _ESCAPE.sub(r"\1", s)
    if s and s[0] == "#":
        s = s.lstrip("#").lstrip()
    if s and s[-1] == "#":
        s = s.rstrip("#").rstrip()
    s = _WORDISH.sub(_token, s)
    if "©" in s or "opyright" in s or "(c)" in s:
        s = _COPYRIGHT_YEARS.sub(r"\1<year>", s)
    s = s.replace("*", "").replace("~~", "").replace("`", "")  # emphasis and code-span marks
    if "_" in s:
        s = _UNDERSCORE_EMPH.sub("", s)
    s = s.strip(" >")
    s = _LIST_MARK.sub("", s)
    if not s.isascii():
        s = _BULLETS.sub("", s)
    s = s.replace("|", " ").casefold()
    if ("ago" in s or "day" in s or "now" in s or "last" in s or "past" in s) and _RELDATE_HINT.search(s):
        s = _RELDATE.sub("<reldate>", s)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    s = _ALPHA_WORD.sub(_spell, s)
    if "'" in s or "cannot" in s:
        s = _CONTRACTION.sub(_expand, s)  # "we'll" = "we will"
    # Punctuation placement (serial commas, "privacy)." / "privacy.)", quotes, a missing space
    # after a full stop or a number: "2.2The") does not change the terms: words and numbers only.
    s = _PUNCT.sub(" ", s.replace("'", ""))
    if _NUMBER_WORD.search(s):
        s = _NUMBER_WORD_GAP.sub(" ", s)
    s = " ".join(s.split())
    if not s or _PUNCT_ONLY.match(s) or s in _UI_KEYS or (s[0] in _SHORTCUT_KEYS and _SHORTCUT.match(s)):
        return ""
    if "cookie" in s and len(s) <= COOKIE_LINE_MAX and _COOKIE_BANNER.search(s):
        return ""
    if "language" in s and _LANGUAGE_FALLBACK.search(s):
        return ""
    if s.startswith(_LLMS_INDEX) and "llms" in s:
        return ""
    if not s.isascii() and len(set(_LANGUAGE_NAME.findall(s))) >= LANGUAGE_SELECTOR_MIN:
        return ""  # "View the Terms in other languages: հայերեն, ខ្មែរ, …", "Change language or region"
    return s


def mask_dates(norm_line: str) -> str:
    """Absolute dates masked (for ``date_only`` detection)."""
    return _ABSDATE.sub("<date>", norm_line)


class LineNormaliser:
    """:func:`normalise_line` with a rolling cache: lines of the previous text are reused.

    Consecutive captures of a document share almost every line, so keeping only the
    previous text's lines makes normalisation cost proportional to what changed. Lines
    the previous text dropped are kept a while longer (bounded): a document that flaps
    between two versions brings them back.
    """

    #: Dropped lines kept at least (and at most this or the current text's line count).
    OLDER_MIN = 2048

    def __init__(self) -> None:
        self._prev: dict[str, str] = {}
        self._cur: dict[str, str] = {}
        self._older: dict[str, str] = {}
        #: The engine's memo of the document's last text: (sha256 of the text, its version key,
        #: its English-word share or None). Both are functions of the text alone, so a capture
        #: whose text is the same again (unchanged) skips its normalisation and share.
        self.memo: tuple[bytes, str, float | None] | None = None

    def __call__(self, line: str) -> str:
        got = self._cur.get(line)
        if got is None:
            got = self._prev.get(line)
            if got is None:
                got = normalise_line(line)
            self._cur[line] = got
        return got

    def roll(self) -> None:
        """Call after each text: its lines become the cache for the next one."""
        self._prev, self._cur = self._cur, {}

    def keys(self, lines: list[str]) -> list[str]:
        """Keys of ``lines`` (then rolls): set and map operations run in C, only new lines in Python."""
        prev = self._prev
        uniq = set(lines)
        common = uniq.intersection(prev)
        cur = dict(zip(common, map(prev.__getitem__, common), strict=True))
        if len(common) < len(uniq):
            older = self._older
            for line in uniq.difference(common):
                got = older.get(line)
                cur[line] = normalise_line(line) if got is None else got
        if len(common) < len(prev):
            self._keep_older(prev, common, len(uniq))
        self._prev, self._cur = cur, {}
        return list(map(cur.__getitem__, lines))

    def _keep_older(self, prev: dict[str, str], common: set[str], size: int) -> None:
        older = self._older
        for line in prev.keys() - common:
            older[line] = prev[line]
        excess = len(older) - max(self.OLDER_MIN, size)
        if excess > 0:  # drop the longest-kept ones (dicts keep insertion order)
            for line in list(itertools.islice(older, excess)):
                del older[line]


def line_keys(text: str, norm: LineNormaliser | None = None) -> list[tuple[str, str]]:
    """``(raw line, comparison key)`` for every non-blank line; key '' = not document content.

    Help-centre widgets (a run of short rotating suggestions closed by "I have a different
    question", or following "Copy link") and "Related articles" sections are blanked whole.
    """
    n = norm or LineNormaliser()
    lines = list(filter(str.strip, text.splitlines()))
    keys = n.keys(lines)
    out = list(zip(lines, keys, strict=True))
    # Set operations in C decide whether the (Python) structural passes are needed at all.
    if not _WIDGET_KEYS.isdisjoint(keys):
        _drop_widgets(out)
    if not RELATED_HEADINGS.isdisjoint(keys):
        _drop_related_sections(out)
    return out


def _drop_widgets(out: list[tuple[str, str]]) -> None:
    in_widget = False
    for i, (line, k) in enumerate(out):
        if k in WIDGET_END:
            _drop_widget(out, i)
            out[i] = (line, "")
            in_widget = False
            continue
        if in_widget:
            if k and len(k) <= WIDGET_LINE_MAX and not _is_sentence(line):
                out[i] = (line, "")
                continue
            in_widget = False
        if k in WIDGET_START:
            out[i] = (line, "")
            in_widget = True


#: Headings of help-centre link lists whose entries rotate ("Related articles" …).
RELATED_HEADINGS = frozenset(
    {"related articles", "popular articles", "other ways to get help", "related topics", "more resources",
     "recommended articles", "related content", "you may also like"}
)  # fmt: skip
_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def _is_heading(out: list[tuple[str, str]], i: int) -> bool:
    raw = out[i][0]
    if raw.lstrip().startswith("#"):
        return True
    return i + 1 < len(out) and bool(_UNDERLINE.match(out[i + 1][0])) and not _UNDERLINE.match(raw)


def _drop_related_sections(out: list[tuple[str, str]]) -> None:
    """Blank a "Related articles"-like section up to the next heading."""
    i, n = 0, len(out)
    while i < n:
        raw, key = out[i]
        if (
            (not key or key in RELATED_HEADINGS)
            and len(raw) < 60
            and raw.strip(" #*_").casefold() in RELATED_HEADINGS
        ):
            out[i] = (raw, "")
            j = i + 1
            while j < n and not (out[j][1] and _is_heading(out, j)):
                out[j] = (out[j][0], "")
                j += 1
            i = j
        else:
            i += 1


def comparison_lines(text: str, norm: LineNormaliser | None = None) -> list[str]:
    """The non-empty normalised lines of ``text``, in order (what version identity hashes)."""
    return [k for _, k in line_keys(text, norm) if k]


def _is_sentence(raw: str) -> bool:
    return raw.rstrip().rstrip("*_)\"'\u201d").endswith((".", ":", ";", "!"))


def _drop_widget(out: list[tuple[str, str]], end: int) -> None:
    """Blank the run of short suggestion lines that precedes a widget's closing line."""
    i = end - 1
    while i >= 0:
        raw, k = out[i]
        if not k or len(k) > WIDGET_LINE_MAX or _is_sentence(raw):
            break  # a dropped UI line ("Copy link"), an underline or a sentence bounds the run
        out[i] = (raw, "")
        i -= 1


def key_of_lines(lines: Iterable[str]) -> str:
    """Version identity: sha256 of the normalised lines."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def comparison_key(text: str) -> str:
    return key_of_lines(comparison_lines(text))
