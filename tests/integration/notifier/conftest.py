"""Real loopback receivers for the notifier's integration tests: an SMTP server (aiosmtpd) and an
HTTP webhook receiver that verifies Standard Webhooks signatures. No mocks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from policywatch_shared.net import free_port
from standardwebhooks import Webhook


@dataclass
class Mail:
    to: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class SmtpSink:
    """aiosmtpd on a loopback port; ``stop()``/``start()`` simulate an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("reject-"):  # a mailbox that does not exist: permanent failure
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self._lock:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            self.mails.append(Mail(list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if address in m.to]


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Loopback HTTP server; each path has a signing secret and a script of status codes to answer."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[int]] = field(default_factory=dict)
    delay_s: float = 0.0
    received: list[Hook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Hook]:
        with self.lock:
            return [h for h in self.received if h.path == path]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    recv = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-request (the kill -9 tests): a real receiver gets no
                # delivery from a cut-off body, so none is recorded (its signature cannot verify).
                self.close_connection = True
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            secret = recv.secrets.get(self.path)
            verified = False
            if secret is not None:
                try:
                    Webhook(secret).verify(body, headers)
                    verified = True
                except Exception:
                    verified = False
            if recv.delay_s:
                time.sleep(recv.delay_s)
            with recv.lock:
                queue = recv.script.get(self.path) or []
                status = queue.pop(0) if queue else 200
                if status == 200:
                    recv.received.append(Hook(self.path, headers, body, verified))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recv.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()
