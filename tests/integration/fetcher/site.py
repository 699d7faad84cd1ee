"""Fixture website for the fetcher, served on 127.0.0.1 in a background thread.

Every behaviour the fetcher must handle: static pages (ETag + Last-Modified, 304 on
If-None-Match), a JavaScript-rendered page, a multi-page document, redirects and a
redirect loop, slow and hanging responses, 429 with Retry-After, intermittent 500s,
error pages and bot walls served with 200, a very large page, non-UTF-8 encodings, a
PDF, a page whose ETag never changes although its body does, and robots.txt rules.
Used by the integration tests and ``bench/fetcher_throughput.py``.
"""

from __future__ import annotations

import hashlib
import html
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

POLICY = """<h1>Privacy Policy</h1>
<p>Last updated: 1 March 2026. This Privacy Policy explains how Example Corp collects, uses and shares
personal data when you use our services.</p>
<h2>1. Data we collect</h2><p>We collect account information, content you provide, usage data, device
information and approximate location derived from your IP address.</p>
<h2>2. How we use data</h2><p>We use personal data to provide and improve the services, to keep them safe,
to communicate with you and, where you consent, to personalise advertising.</p>
<h2>3. Sharing</h2><p>We share personal data with service providers under contract, with affiliates, and
when the law requires it. We do not sell personal data.</p>
<h2>4. Your rights</h2><p>You may access, correct, delete or export your personal data and object to
certain processing by contacting privacy@example.com.</p>"""

CHROME = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><header><nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/careers">Careers</a></nav></header>
<main id="content">{body}</main>
<footer><p>&copy; 2026 Example Corp. <a href="/about">About</a></p></footer></body></html>"""

BOT_WALL = """<!doctype html><html><head><title>Just a moment...</title></head><body>
<h1>Checking your browser before accessing example.com.</h1>
<p>Please verify you are a human. Complete the CAPTCHA to continue.</p><p>Ray ID: 8c1f2a</p></body></html>"""

ERROR_200 = CHROME.format(
    title="Page not found",
    body="<h1>Sorry, this page isn't available.</h1><p>The link you followed may be broken, "
    "or the page may have been removed.</p>",
)

JS_SHELL = """<!doctype html><html><head><meta charset="utf-8"><title>Terms</title></head><body>
<div id="app"><noscript>You need to enable JavaScript to run this app.</noscript></div>
<script>
fetch("/api/terms.json").then(r => r.json()).then(d => {
  setTimeout(() => { document.getElementById("app").innerHTML = d.html; }, 30);
});
</script></body></html>"""

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def policy(version: int = 1) -> str:
    extra = f"<h2>5. Changes (v{version})</h2><p>Version {version} of this policy.</p>" if version > 1 else ""
    return POLICY + extra


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately: without TCP_NODELAY, Nagle + delayed ACK add 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(
        self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        with site.lock:
            site.hits[path] += 1
            hits = site.hits[path]
            version = site.version
        page = CHROME.format(title="Privacy Policy | Example", body=policy(version)).encode()
        if path == "/robots.txt":
            return self._send(200, site.robots.encode(), "text/plain")
        if path in ("/static/privacy", "/static/terms"):
            etag = '"' + hashlib.sha256(page).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", ETag=etag)
            return self._send(200, page, ETag=etag, Last_Modified="Sun, 01 Mar 2026 10:00:00 GMT")
        if path == "/same-etag":
            # The ETag never changes although the body does, and the server ignores If-None-Match.
            return self._send(200, page, ETag='"always-the-same"')
        if path == "/js/terms":
            return self._send(200, JS_SHELL.encode())
        if path == "/locale":
            # Which language the client asked for, by header and (when scripts run) by navigator.
            asked = html.escape(self.headers.get("Accept-Language") or "none")
            body = (
                f"<h1>Terms</h1><p>Accept-Language: {asked}.</p><p id='nav'>navigator: none.</p>"
                "<script>document.getElementById('nav').textContent = "
                "'navigator: ' + navigator.language + '.';</script>" + POLICY
            )
            return self._send(200, CHROME.format(title="Terms", body=body).encode())
        if path == "/api/terms.json":
            return self._send(200, json.dumps({"html": policy(version)}).encode(), "application/json")
        if path in ("/multi/1", "/multi/2"):
            n = path[-1]
            body = f"<h1>Terms, part {n}</h1>" + POLICY.replace("Privacy Policy", f"Terms part {n}")
            return self._send(200, CHROME.format(title=f"Terms part {n}", body=body).encode())
        if path == "/redirect":
            return self._send(301, b"", Location="/static/privacy")
        if path == "/redirect-loop":
            return self._send(302, b"", Location=f"/redirect-loop?hop={hits}")
        if path == "/slow":
            time.sleep(site.slow_s)
            return self._send(200, page)
        if path == "/hang":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                self.wfile.write(b"<!doctype html><html><body><p>Loading")
                self.wfile.flush()
                site.stopping.wait(30)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if path == "/ratelimited":
            if hits % 2 == 1:
                return self._send(429, b"<h1>Too Many Requests</h1>", Retry_After="1")
            return self._send(200, page)
        if path == "/flaky":
            if hits % 2 == 1:
                return self._send(500, b"<h1>Internal Server Error</h1>")
            return self._send(200, page)
        if path == "/error-200":
            return self._send(200, ERROR_200.encode())
        if path == "/bot-wall":
            return self._send(200, BOT_WALL.encode())
        if path == "/forbidden-wall":
            return self._send(403, BOT_WALL.encode())
        if path == "/gone":
            return self._send(404, b"<h1>Not Found</h1>")
        if path == "/empty":
            return self._send(200, CHROME.format(title="Privacy", body="").encode())
        if path == "/huge":
            return self._huge()
        if path == "/latin1":
            body = CHROME.format(
                title="Conditions générales",
                body=policy(version).replace(
                    "Privacy Policy", "Politique de confidentialité — données à caractère personnel"
                ),
            )
            body = body.replace('<meta charset="utf-8">', "")
            return self._send(
                200, body.encode("iso-8859-1", errors="replace"), "text/html; charset=iso-8859-1"
            )
        if path == "/invalid-utf8":
            raw = page.replace(b"<footer>", b"<footer>caf\xe9 \x92q\x92 \xc3\x28 \xff ")
            return self._send(200, raw)
        if path == "/doc.pdf":
            return self._send(200, PDF, "application/pdf")
        if path == "/fake.pdf":
            return self._send(200, ERROR_200.encode(), "application/pdf")
        if path.startswith("/private/"):
            return self._send(200, page)
        return self._send(404, b"<h1>Not found</h1>")

    def _huge(self) -> None:
        size = self.server.site.huge_bytes
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if not self.server.site.huge_chunked:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = (POLICY * 40).encode()
        sent = 0
        try:
            while sent < size and not self.server.site.stopping.is_set():
                part = chunk[: size - sent]
                self.wfile.write(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: FixtureSite


class FixtureSite:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.version = 1
        self.slow_s = 0.3
        self.huge_bytes = 5 * 1024 * 1024
        self.huge_chunked = True
        self.robots = "User-agent: *\nDisallow: /private/\nDisallow: /*.secret$\nAllow: /\n"
        self.stopping = threading.Event()
        self.server = _Server((host, port), _Handler)
        self.server.site = self
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fixture-site")

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> FixtureSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
