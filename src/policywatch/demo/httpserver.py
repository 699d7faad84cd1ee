"""A small threaded HTTP server that runs in the background (demo site, webhook receiver).

The standard library server is enough here: loopback only, a few hundred requests per
second at most, and it makes hostile behaviours (a body that never ends, a 50 MB
stream) easy to write as plain blocking code in a handler thread.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from policywatch_shared.net import free_port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many concurrent fetches (bench) must not be refused by a short accept backlog.
    request_queue_size = 256


class BackgroundHTTPServer:
    """Serve ``handler_class`` on 127.0.0.1 in a daemon thread; ``stop()`` ends it.

    ``handler_class`` receives the owning object as ``self.server.owner``.
    """

    handler_class: type[BaseHTTPRequestHandler]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Set when stopping, so handlers that stream forever can end.
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self.stopping.clear()
        httpd = _Server((self.host, self.port), self.handler_class)
        httpd.owner = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler that does not print a line per request."""

    protocol_version = "HTTP/1.1"
    server_version = "policywatch-demo/1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""
