"""The demo website: real policy histories served on 127.0.0.1, one recorded version at a time.

Each document is a page at ``/<document_id>`` (e.g. ``/facebook/terms_of_service``):
the recorded markdown rendered to HTML inside the chrome a real site has around a
policy (navigation with a rotating session id, a cookie banner, a footer with a
render time), so extraction is exercised. A document marked ``js`` is a script shell
that fetches and injects its text client-side: only a browser sees it.

Control API (JSON):

* ``GET /_site/state`` — every document: version index, count, mode, URL;
* ``POST /_site/advance`` ``{"documents": [...]}`` (all when omitted) — next recorded version;
* ``POST /_site/mode`` ``{"document": ID, "mode": MODE}`` — serve a hostile behaviour instead.

Hostile behaviours (:data:`MODES`), per document or at fixed URLs ``/hostile/<mode>``:
a bot wall and an error page both served with 200, an endless redirect, a 50 MB page,
invalid UTF-8, a page that never finishes loading, plus plain 500 and 404.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from policywatch.demo.corpus import ATTRIBUTION, CorpusDocument
from policywatch.demo.httpserver import BackgroundHTTPServer, QuietHandler

MODES = (
    "normal",
    "bot_wall",
    "error_200",
    "redirect_loop",
    "huge",
    "invalid_utf8",
    "hang",
    "http_500",
    "not_found",
)
HUGE_BYTES = 50 * 1024 * 1024


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Keep the markup (and its rotating URLs, a real source of noise) but never load a
    # remote image: the demo runs offline and a browser would try.
    token = tokens[idx]
    alt = html.escape(self.renderInlineAsText(token.children or [], options, env))
    src = html.escape(str(token.attrGet("src") or ""))
    return f'<img alt="{alt}" data-src="{src}">'


_md = MarkdownIt("commonmark", {"html": False}).enable("table")
_md.add_render_rule("image", _render_image)


@functools.lru_cache(maxsize=2048)
def render_markdown(text: str) -> str:
    # Cached: the demo and the load benchmark serve the same text many times (1,000 benchmark
    # documents share 200 policy texts), and rendering is the site's whole cost — CPU the
    # services under test would otherwise lose to their stand-in for the internet.
    return _md.render(text)


@dataclass
class SiteDocument:
    """One document the site publishes, with its recorded versions (markdown)."""

    document_id: str
    title: str
    platform_name: str
    versions: list[str]
    recorded_at: list[str] = field(default_factory=list)
    js: bool = False
    index: int = 0
    mode: str = "normal"
    #: Versions published so far (index 0 counts once the site starts).
    published: int = 1

    @classmethod
    def from_corpus(cls, doc: CorpusDocument) -> SiteDocument:
        return cls(
            document_id=doc.document_id,
            title=doc.title,
            platform_name=doc.service,
            versions=[v.text for v in doc.versions],
            recorded_at=[v.recorded_at for v in doc.versions],
            js=doc.js,
        )

    @property
    def text(self) -> str:
        return self.versions[self.index]

    @property
    def etag(self) -> str:
        # Stable while the version is the same, even though the chrome rotates (as on real sites).
        identity = f"{self.document_id}\x1f{self.index}\x1f{self.mode}".encode()
        return '"' + hashlib.sha256(identity).hexdigest()[:20] + '"'

    @property
    def last_modified(self) -> str | None:
        if not self.recorded_at:
            return None
        try:
            return format_datetime(datetime.fromisoformat(self.recorded_at[self.index]), usegmt=True)
        except ValueError:
            return None


_CSS = """body{font-family:sans-serif;margin:0}header,footer{background:#eee;padding:1em}
main{max-width:50em;margin:auto;padding:1em}.cookie-banner{position:fixed;bottom:0;background:#333;color:#fff;
padding:1em;width:100%}"""


def _chrome(site: DemoSite, doc: SiteDocument | None, body: str, *, title: str) -> str:
    """The page around a document: what extraction must throw away."""
    session = secrets.token_hex(8)  # rotates on every request, like tracking ids in real links
    nav = " ".join(
        f'<a href="/{html.escape(d.document_id)}?session={session}">{html.escape(d.title)}</a>'
        for d in site.documents_list()[:6]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<a class="skip-link" href="#content">Skip to content</a>
<header class="site-header"><nav aria-label="Main"><a href="/?session={session}">Home</a> {nav}
<a href="/login?session={session}">Log in</a> <a href="/signup">Sign up</a></nav></header>
<div class="cookie-banner" id="cookie-consent" role="dialog" aria-label="Cookie consent">
<p>We use cookies and similar technologies to personalise content and ads and to analyse our traffic.</p>
<button type="button">Accept all cookies</button> <button type="button">Reject optional cookies</button>
<a href="/cookies?session={session}">Cookie settings</a></div>
<main id="content">{body}</main>
<footer class="site-footer"><p>© 2026 {html.escape(doc.platform_name if doc else "policywatch demo")}.
<a href="/about">About</a> · <a href="/help">Help</a> · <a href="/careers">Careers</a></p>
<p class="rendered">Page generated {time.strftime("%H:%M:%S")} · request {session}</p>
<p class="attribution">Recorded text: {html.escape(ATTRIBUTION)}.</p></footer>
</body></html>"""


def _article(doc: SiteDocument) -> str:
    return f'<article class="policy" id="policy">\n{render_markdown(doc.text)}\n</article>'


BOT_WALL = """<!doctype html><html><head><title>Just a moment...</title></head><body>
<div class="cf-wrapper"><h1>Checking your browser before accessing this site.</h1>
<p>Please verify you are a human. This process is automatic. Your browser will redirect to your
requested content shortly.</p><div class="captcha">Complete the CAPTCHA to continue.</div>
<p>Access denied. Ray ID: {ray}</p></div></body></html>"""

ERROR_200 = """<h1>Sorry, this page isn't available.</h1>
<p>The link you followed may be broken, or the page may have been removed.</p>
<p><a href="/">Go back to the home page</a></p>"""


class _Handler(QuietHandler):
    @property
    def site(self) -> DemoSite:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    # ------------------------------------------------------------------ routing
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query)
        self.site._count(path)
        if path == "/":
            return self._index()
        if path == "/robots.txt":
            return self.send_body(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path == "/_site/state":
            return self._json(200, self.site.state())
        if path.startswith("/hostile/"):
            return self._hostile(path.removeprefix("/hostile/").replace("-", "_"), None, query)
        if path.startswith("/api/documents/") and path.endswith(".json"):
            doc = self.site.get(path.removeprefix("/api/documents/").removesuffix(".json"))
            if doc is None:
                return self._json(404, {"error": "unknown document"})
            snapshot = self.site.snapshot(doc.document_id)
            return self._json(200, {"title": snapshot.title, "html": _article(snapshot)})
        doc = self.site.get(path.lstrip("/"))
        if doc is None:
            return self.send_body(404, b"<h1>Not found</h1>", "text/html; charset=utf-8")
        snapshot = self.site.snapshot(doc.document_id)
        if snapshot.mode != "normal":
            return self._hostile(snapshot.mode, snapshot, query)
        return self._document(snapshot)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            payload: dict[str, Any] = json.loads(self.read_body() or b"{}")
        except json.JSONDecodeError:
            return self._json(400, {"error": "invalid JSON"})
        if path == "/_site/advance":
            return self._json(200, self.site.advance(payload.get("documents")))
        if path == "/_site/mode":
            try:
                self.site.set_mode(str(payload["document"]), str(payload.get("mode", "normal")))
            except (KeyError, ValueError) as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, self.site.state())
        return self._json(404, {"error": "not found"})

    # ------------------------------------------------------------------ pages
    def _json(self, status: int, data: object) -> None:
        self.send_body(status, json.dumps(data).encode(), "application/json")

    def _index(self) -> None:
        items = "".join(
            f'<li><a href="/{html.escape(d.document_id)}">{html.escape(d.title)}</a></li>'
            for d in self.site.documents_list()
        )
        page = _chrome(self.site, None, f"<h1>Policies</h1><ul>{items}</ul>", title="policywatch demo site")
        self.send_body(200, page.encode(), "text/html; charset=utf-8")

    def _document(self, doc: SiteDocument) -> None:
        headers = {"ETag": doc.etag, "Cache-Control": "no-cache"}
        if doc.last_modified:
            headers["Last-Modified"] = doc.last_modified
        if self.headers.get("If-None-Match") == doc.etag:
            self.send_response(304)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if doc.js:
            api = f"/api/documents/{doc.document_id}.json"
            body = (
                '<div id="app"><noscript>You need to enable JavaScript to run this app.</noscript></div>\n'
                f"<script>fetch({json.dumps(api)}).then(r => r.json()).then(d => {{"
                "document.title = d.title; setTimeout(() => {"
                "document.getElementById('app').innerHTML = d.html; }, 50); });</script>"
            )
        else:
            body = _article(doc)
        page = _chrome(self.site, doc, body, title=f"{doc.title} | {doc.platform_name}")
        self.send_body(200, page.encode("utf-8"), "text/html; charset=utf-8", headers)

    def _hostile(self, mode: str, doc: SiteDocument | None, query: dict[str, list[str]]) -> None:
        if mode == "bot_wall":
            page = BOT_WALL.format(ray=secrets.token_hex(8))
            return self.send_body(200, page.encode(), "text/html; charset=utf-8")
        if mode == "error_200":
            page = _chrome(self.site, doc, ERROR_200, title="Page not found")
            return self.send_body(200, page.encode(), "text/html; charset=utf-8")
        if mode == "redirect_loop":
            hop = int((query.get("hop") or ["0"])[0]) + 1
            target = (f"/{doc.document_id}" if doc else "/hostile/redirect-loop") + f"?hop={hop}"
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if mode == "huge":
            return self._huge(doc)
        if mode == "invalid_utf8":
            return self._invalid_utf8(doc)
        if mode == "hang":
            return self._hang()
        if mode == "http_500":
            return self.send_body(500, b"<h1>Internal Server Error</h1>", "text/html; charset=utf-8")
        if mode == "not_found":
            return self.send_body(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
        if doc is not None:
            return self._document(doc)
        return self.send_body(404, b"<h1>Unknown hostile page</h1>", "text/html; charset=utf-8")

    def _huge(self, doc: SiteDocument | None) -> None:
        # A real policy repeated to 50 MB, streamed (a fetcher must stop at its size limit).
        text = _article(doc) if doc else "<p>" + "All work and no play makes Jack a dull boy. " * 20 + "</p>"
        head = b"<!doctype html><html><head><meta charset='utf-8'><title>Huge</title></head><body><main>"
        tail = b"</main></body></html>"
        chunk = text.encode()
        chunk = chunk * max(1, (256 * 1024) // max(1, len(chunk)))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        remaining = HUGE_BYTES - len(head) - len(tail)
        try:
            self.wfile.write(head)
            while remaining > 0 and not self.site.stopping.is_set():
                part = chunk[: min(len(chunk), remaining)]
                self.wfile.write(part)
                remaining -= len(part)
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _invalid_utf8(self, doc: SiteDocument | None) -> None:
        # Declared UTF-8, but with stray Windows-1252 bytes and broken sequences: in the chrome
        # and in a comment inside the document, so the document text itself is unchanged.
        body = _article(doc) if doc else "<article><h1>Terms</h1><p>These terms apply.</p></article>"
        page = _chrome(self.site, doc, "<!-- \x00MARK -->" + body, title="Terms")
        raw = page.encode("utf-8")
        raw = raw.replace(b"\x00MARK", b"caf\xe9 \x92quoted\x92 \xc3\x28 \xff\xfe")
        raw = raw.replace(b"Help</a>", b"Help \x96 \xe9t\xe9</a>", 1)
        self.send_body(200, raw, "text/html; charset=utf-8")

    def _hang(self) -> None:
        # Headers and the start of a body, then nothing: the response never completes.
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            self.wfile.write(b"<!doctype html><html><head><title>Loading</title></head><body><p>Loading")
            self.wfile.flush()
            while not self.site.stopping.wait(0.5):
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass


class DemoSite(BackgroundHTTPServer):
    """The site, in a background thread. Thread-safe controls for the demo and the tests."""

    handler_class = _Handler

    def __init__(
        self, documents: Iterable[SiteDocument | CorpusDocument] = (), host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host, port)
        self._lock = threading.Lock()
        self._docs: dict[str, SiteDocument] = {}
        self.requests: Counter[str] = Counter()
        for d in documents:
            self.add_document(d)

    # ------------------------------------------------------------------ documents
    def add_document(self, doc: SiteDocument | CorpusDocument) -> SiteDocument:
        site_doc = doc if isinstance(doc, SiteDocument) else SiteDocument.from_corpus(doc)
        if not site_doc.versions:
            raise ValueError(f"{site_doc.document_id}: no versions")
        with self._lock:
            self._docs[site_doc.document_id] = site_doc
        return site_doc

    def documents_list(self) -> list[SiteDocument]:
        with self._lock:
            return list(self._docs.values())

    def get(self, document_id: str) -> SiteDocument | None:
        with self._lock:
            return self._docs.get(document_id)

    def snapshot(self, document_id: str) -> SiteDocument:
        """A consistent copy (index and mode read together)."""
        with self._lock:
            d = self._docs[document_id]
            return SiteDocument(
                d.document_id,
                d.title,
                d.platform_name,
                d.versions,
                d.recorded_at,
                d.js,
                d.index,
                d.mode,
                d.published,
            )

    def url(self, document_id: str) -> str:
        return f"{self.base_url}/{document_id}"

    def hostile_url(self, mode: str) -> str:
        return f"{self.base_url}/hostile/{mode.replace('_', '-')}"

    def advance(self, document_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Move documents to their next recorded version; ``changed`` is False at the end of history."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            ids = list(document_ids) if document_ids is not None else list(self._docs)
            for doc_id in ids:
                d = self._docs[doc_id]
                changed = d.index + 1 < len(d.versions)
                if changed:
                    d.index += 1
                    d.published += 1
                out[doc_id] = {"index": d.index, "versions": len(d.versions), "changed": changed}
        return out

    def set_version(self, document_id: str, index: int) -> None:
        with self._lock:
            d = self._docs[document_id]
            if not 0 <= index < len(d.versions):
                raise ValueError(f"{document_id}: no version {index}")
            if index != d.index:
                d.published += 1
            d.index = index

    def append_version(self, document_id: str, text: str, *, publish: bool = True) -> int:
        """Add a version at the end of a document's history (bench, tests); returns its index."""
        with self._lock:
            d = self._docs[document_id]
            d.versions = [*d.versions, text]
            if d.recorded_at:
                d.recorded_at = [*d.recorded_at, datetime.now().astimezone().isoformat()]
            if publish:
                d.index = len(d.versions) - 1
                d.published += 1
            return len(d.versions) - 1

    def set_mode(self, document_id: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            if document_id not in self._docs:
                raise KeyError(document_id)
            self._docs[document_id].mode = mode

    def remaining_steps(self) -> int:
        with self._lock:
            return max((len(d.versions) - 1 - d.index for d in self._docs.values()), default=0)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                d.document_id: {
                    "index": d.index,
                    "versions": len(d.versions),
                    "mode": d.mode,
                    "js": d.js,
                    "url": f"{self.base_url}/{d.document_id}",
                }
                for d in self._docs.values()
            }

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path.lstrip("/")] += 1


def serve_forever(site: DemoSite) -> None:  # pragma: no cover - manual use
    with site:
        print(f"demo site on {site.base_url} ({len(site.documents_list())} documents); Ctrl-C stops")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
