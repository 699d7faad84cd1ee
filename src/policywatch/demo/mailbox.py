"""A real SMTP server on 127.0.0.1 that stores every message it accepts in a Maildir.

Used by ``policywatch demo`` (the alerts a subscriber would read) and by the end-to-end
tests (count, parse and de-duplicate what was delivered). Messages are plain ``.eml``
files under ``<dir>/new/``: open them with any mail client or ``less``.

It accepts any sender, recipient and AUTH credentials (no TLS on loopback), like a
developer mail catcher.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from policywatch_shared.net import free_port


@dataclass
class StoredMessage:
    """A received message, parsed."""

    path: Path
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    def header(self, name: str) -> str | None:
        value = self.message.get(name)
        return None if value is None else str(value)

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""  # type: ignore[no-any-return]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.box.refuse:
            return "451 4.3.0 Mailbox temporarily unavailable"
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        # Record the envelope (who it was really sent to) as headers of the stored copy.
        prefix = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        self.box._store(prefix + content)
        return "250 Message accepted for delivery"


def _accept_any(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    # A mail catcher: any LOGIN/PLAIN credentials are fine.
    return AuthResult(success=True, auth_data=data if isinstance(data, LoginPassword) else None)


class Mailbox:
    """SMTP server + Maildir. ``with Mailbox(dir) as box: ... box.messages()``."""

    def __init__(self, directory: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port or free_port(host)
        self._maildir = mailbox.Maildir(self.directory, create=True)
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        #: When True the server answers 451 to DATA (a mail server that is "down" but reachable).
        self.refuse = False

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> Self:
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            authenticator=_accept_any,
            auth_require_tls=False,
            auth_exclude_mechanism=["CRAM-MD5"],
            decode_data=False,
            data_size_limit=20 * 1024 * 1024,
            ready_timeout=10,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ storage
    def _store(self, raw: bytes) -> None:
        with self._lock:
            self._maildir.add(raw)

    def paths(self) -> list[Path]:
        with self._lock:
            files = [p for sub in ("new", "cur") for p in (self.directory / sub).glob("*") if p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def count(self) -> int:
        return len(self.paths())

    def messages(self) -> list[StoredMessage]:
        out = []
        for path in self.paths():
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(
                StoredMessage(
                    path=path,
                    mail_from=str(msg.get("X-Envelope-From", "")),
                    rcpt_tos=[a.strip() for a in str(msg.get("X-Envelope-To", "")).split(",") if a.strip()],
                    message=msg,
                )
            )
        return out

    def for_recipient(self, address: str) -> list[StoredMessage]:
        address = address.lower()
        return [m for m in self.messages() if address in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float) -> list[StoredMessage]:
        """Wait until at least ``count`` messages arrived (bounded); returns all of them."""
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages()

    def clear(self) -> None:
        for path in self.paths():
            path.unlink(missing_ok=True)
