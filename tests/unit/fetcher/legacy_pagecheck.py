"""The html.parser page check as it was before lexbor (Nov 2026): the reference the new one is
compared with (identity test, ``bench/fetcher_pagecheck.py``). Not used by the services."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from policywatch_shared.pagecheck import (
    _APP_ROOT,
    _BLOCK,
    _SHELL,
    _SKIP,
    SHELL_MAX_CHARS,
    PageText,
    PageVerdict,
    _verdict,
)

_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def check_page(text: str, *, status: int | None = None, title: str | None = None) -> PageVerdict:
    return _verdict(_norm(text), _norm(title or ""), status)


class _TextParser(HTMLParser):
    def __init__(self, *, keep_noscript: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip = 0
        self._in_title = False
        self._skip_tags = _SKIP - {"noscript"} if keep_noscript else _SKIP
        self.script_bytes = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._skip_tags:
            self._skip += 1
            self._in_script = tag == "script"
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._skip_tags:
            self._skip = max(0, self._skip - 1)
            self._in_script = False
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._skip:
            if self._in_script:
                self.script_bytes += len(data)
        else:
            self.parts.append(data)


def visible_text(html: str, *, keep_noscript: bool = False) -> PageText:
    parser = _TextParser(keep_noscript=keep_noscript)
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    title = _norm("".join(parser.title_parts)) or None
    lines = (_SPACE.sub(" ", line).strip() for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    return PageText(title=title, text=text, script_chars=parser.script_bytes)


def is_script_shell(html: str, page: PageText | None = None) -> bool:
    page = page or visible_text(html)
    if len(page.text) > SHELL_MAX_CHARS:
        return False
    if _APP_ROOT.search(html):
        return True
    noscript = visible_text(html, keep_noscript=True).text
    return len(noscript) > len(page.text) and bool(_SHELL.search(noscript))


def check_html(html: str, *, status: int | None = None) -> tuple[PageVerdict, PageText]:
    page = visible_text(html)
    verdict = check_page(page.text, status=status, title=page.title)
    if verdict.outcome != "blocked" and (status is None or status < 400) and is_script_shell(html, page):
        verdict = PageVerdict(
            "error_page", "script shell (needs JavaScript)", verdict.text_length, script_shell=True
        )
    return verdict, page
