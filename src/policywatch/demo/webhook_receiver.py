"""A webhook receiver on 127.0.0.1 that verifies Standard Webhooks signatures.

Each subscriber gets its own endpoint ``/hooks/<name>`` and signing secret
(:meth:`WebhookReceiver.register`). A request is accepted (200) only when its
``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` headers verify against
that secret with the ``standardwebhooks`` package; otherwise it is answered 401 and
kept in :attr:`WebhookReceiver.rejected` (a test that forgets to look fails anyway: it
counts accepted deliveries). Accepted payloads are kept in memory and, when a
directory is given, written as JSON files ``<dir>/<name>/<n>-<webhook-id>.json``.

Failures can be scripted per endpoint (``fail(name, [500, 500])``: the next two
deliveries get 500, then normal service) to test retries and disabling (410).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from policywatch.demo.httpserver import BackgroundHTTPServer, QuietHandler

_KEPT_HEADERS = ("webhook-", "content-type", "user-agent")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass
class ReceivedWebhook:
    endpoint: str
    webhook_id: str
    timestamp: str
    payload: Any
    headers: dict[str, str]
    received_at: float = field(default_factory=time.time)
    error: str | None = None


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        receiver: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        body = self.read_body()
        name = path.removeprefix("/hooks/") if path.startswith("/hooks/") else ""
        status, message = receiver._handle(name, body, {k: v for k, v in self.headers.items()})
        self.send_body(status, json.dumps({"status": message}).encode(), "application/json")

    def do_GET(self) -> None:
        receiver: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        if urlsplit(self.path).path == "/healthz":
            return self.send_body(200, b'{"status":"ok"}', "application/json")
        summary = {name: len(items) for name, items in receiver.by_endpoint().items()}
        self.send_body(200, json.dumps(summary).encode(), "application/json")


class WebhookReceiver(BackgroundHTTPServer):
    handler_class = _Handler

    def __init__(self, directory: Path | str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.directory = Path(directory) if directory else None
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self._scripted: dict[str, deque[int]] = defaultdict(deque)
        self._received: list[ReceivedWebhook] = []
        self.rejected: list[ReceivedWebhook] = []
        #: Every delivery attempt per endpoint, accepted or not (retries show here).
        self.attempts: defaultdict[str, int] = defaultdict(int)

    def register(self, name: str, secret: str) -> str:
        """Accept deliveries signed with ``secret`` at ``/hooks/<name>``; returns the URL."""
        if not _NAME.match(name):
            raise ValueError(f"invalid endpoint name {name!r}")
        Webhook(secret)  # fail early on a malformed secret
        with self._lock:
            self._secrets[name] = secret
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def fail(self, name: str, statuses: list[int]) -> None:
        """Answer the next deliveries to ``name`` with these statuses (then accept normally)."""
        with self._lock:
            self._scripted[name].extend(statuses)

    # ------------------------------------------------------------------ reading
    def received(self, name: str | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            return [r for r in self._received if name is None or r.endpoint == name]

    def by_endpoint(self) -> dict[str, list[ReceivedWebhook]]:
        out: dict[str, list[ReceivedWebhook]] = defaultdict(list)
        for r in self.received():
            out[r.endpoint].append(r)
        return dict(out)

    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received()

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self.rejected.clear()
            self.attempts.clear()

    # ------------------------------------------------------------------ handling
    def _handle(self, name: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        lower = {k.lower(): v for k, v in headers.items()}
        record = ReceivedWebhook(
            endpoint=name,
            webhook_id=lower.get("webhook-id", ""),
            timestamp=lower.get("webhook-timestamp", ""),
            payload=None,
            headers={k: v for k, v in lower.items() if k.startswith(_KEPT_HEADERS)},
        )
        with self._lock:
            self.attempts[name] += 1
            secret = self._secrets.get(name)
            scripted = self._scripted[name].popleft() if self._scripted.get(name) else None
        if secret is None:
            record.error = "unknown endpoint"
            return self._reject(record, 404)
        if scripted is not None and scripted >= 300:
            record.error = f"scripted {scripted}"
            return self._reject(record, scripted)
        try:
            record.payload = Webhook(secret).verify(body, lower)
        except (WebhookVerificationError, ValueError) as exc:
            record.error = f"signature: {exc}"
            return self._reject(record, 401)
        with self._lock:
            self._received.append(record)
            n = len(self._received)
        if self.directory is not None:
            folder = self.directory / name
            folder.mkdir(parents=True, exist_ok=True)
            safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", record.webhook_id)[:80]
            (folder / f"{n:05d}-{safe_id}.json").write_text(
                json.dumps({"webhook_id": record.webhook_id, "payload": record.payload}, indent=2)
            )
        return 200, "accepted"

    def _reject(self, record: ReceivedWebhook, status: int) -> tuple[int, str]:
        with self._lock:
            self.rejected.append(record)
        return status, record.error or "rejected"
