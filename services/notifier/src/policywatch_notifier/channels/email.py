"""E-mail over SMTP (aiosmtplib): multipart/alternative with text and HTML, unsubscribe headers.

``Message-ID`` is derived from the delivery id, so a message re-sent after a crash carries the
same id and mail clients and servers can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import secrets
import time
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.typing import SMTPStatus

from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.render import Recipient, Rendered


class EmailChannel:
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        use_tls: bool = False,
        timeout_s: float = 20.0,
        pool_size: int = 4,
        idle_s: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.use_tls = use_tls
        self.timeout_s = timeout_s
        self._sender = _envelope(mail_from)
        # Persistent connections (issue 7): connect + EHLO + QUIT per message was most of the
        # e-mail channel's CPU. Idle ones, most recent last, with when they went idle.
        self.pool_size = pool_size
        self.idle_s = idle_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._reaper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def build_bytes(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> bytes | None:
        """The message as wire bytes: the same headers and parts as :meth:`build_message`, written
        directly (CRLF, quoted-printable UTF-8 parts). ``EmailMessage`` parsed and re-folded every
        header and picked each part's encoding by trial: most of the e-mail channel's CPU
        (issue 7). None when an address is not ASCII (that needs SMTPUTF8: the slow path)."""
        if not recipient.email:
            raise DeliveryError("subscriber has no e-mail address", permanent=True)
        fixed = (self.mail_from, recipient.email, message.unsubscribe_url)
        if not all(v.isascii() and "\r" not in v and "\n" not in v for v in fixed):
            return None  # non-ASCII address (SMTPUTF8) or a line break: the EmailMessage path decides
        subject = message.subject.replace("\r", " ").replace("\n", " ")
        subject_h = Header(subject, "us-ascii" if subject.isascii() else "utf-8", header_name="Subject")
        subject_line = subject_h.encode(linesep="\r\n")
        boundary = "=_pw_" + secrets.token_hex(12)  # "=_" never occurs in quoted-printable
        head = (
            f"From: {self.mail_from}\r\n"
            f"To: {recipient.email}\r\n"
            f"Subject: {subject_line}\r\n"
            f"Date: {formatdate(localtime=False)}\r\n"
            f"Message-ID: <{delivery_id}@policywatch>\r\n"
            f"X-Policywatch-Delivery: {delivery_id}\r\n"
            f"List-Unsubscribe: <{message.unsubscribe_url}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
            "\r\n"
        )
        out = [head.encode("ascii")]
        for subtype, body in (("plain", message.text), ("html", message.html)):
            out.append(
                f"--{boundary}\r\n"
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
            )
            data = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
            out.append(binascii.b2a_qp(data, istext=True))
            out.append(b"\r\n")
        out.append(f"--{boundary}--\r\n".encode("ascii"))
        return b"".join(out)

    def build(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> EmailMessage:
        """The message as sent, parsed back (tests and tools)."""
        raw = self.build_bytes(recipient, message, delivery_id=delivery_id)
        if raw is None:
            return self.build_message(recipient, message, delivery_id=delivery_id)
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def build_message(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> EmailMessage:
        if not recipient.email:
            raise DeliveryError("subscriber has no e-mail address", permanent=True)
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = recipient.email
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{delivery_id}@policywatch>"
        msg["X-Policywatch-Delivery"] = delivery_id
        msg["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(message.text)
        msg.add_alternative(message.html, subtype="html")
        return msg

    async def send(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> None:
        raw = self.build_bytes(recipient, message, delivery_id=delivery_id)
        try:
            if raw is None or self.pool_size <= 0:
                await self._send_once(recipient, message, raw, delivery_id=delivery_id)
            else:
                rcpt = _envelope(recipient.email or "")
                await self._send_pooled(rcpt, raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [getattr(e, "code", 0) for e in exc.recipients]
            raise _refused(codes) from None
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise _refused([exc.code]) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx on the message itself is permanent; 4xx (greylisting, full mailbox) is retried.
            raise DeliveryError(
                f"smtp {exc.code}", permanent=500 <= exc.code < 600 and exc.code != 521
            ) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp unavailable: {type(exc).__name__}") from None

    async def _send_once(
        self, recipient: Recipient, message: Rendered, raw: bytes | None, *, delivery_id: str
    ) -> None:
        """One connection for this message (non-ASCII addresses, or ``pool_size=0``)."""
        msg: EmailMessage | bytes
        msg = self.build_message(recipient, message, delivery_id=delivery_id) if raw is None else raw
        await aiosmtplib.send(
            msg,
            sender=self._sender if raw is not None else None,
            recipients=[_envelope(recipient.email or "")] if raw is not None else None,
            **self._server(),
        )

    async def _send_pooled(self, rcpt: str, raw: bytes) -> None:
        """MAIL, RCPT, DATA on a pooled connection (no RSET/NOOP before reuse: issue 7's CPU).

        A reused connection that fails before DATA (the server closed it while idle: a reset, EOF
        or a 421) is replaced by a fresh one and the message tried once more: nothing of this
        message reached the server, so it cannot arrive twice. A failure during DATA leaves the
        outcome unknown: it is reported as before (the outbox retries later, same Message-ID)."""
        for attempt in (0, 1):
            conn, reused = await self._acquire()
            ok = False
            in_data = False
            try:
                options = [f"size={len(raw)}"] if conn.supports_extension("size") else None
                if conn.is_ehlo_or_helo_needed:  # a fresh connection: let aiosmtplib greet
                    await conn.mail(self._sender, options=options, timeout=self.timeout_s)
                    await conn.rcpt(rcpt, timeout=self.timeout_s)
                else:  # same commands and checks, addresses quoted once (parsing them cost CPU)
                    opts = [o.encode("ascii") for o in options or ()]
                    resp = await conn.execute_command(
                        b"MAIL", b"FROM:" + _quoted(self._sender), *opts, timeout=self.timeout_s
                    )
                    if resp.code != SMTPStatus.completed:
                        raise aiosmtplib.SMTPSenderRefused(resp.code, resp.message, self._sender)
                    resp = await conn.execute_command(b"RCPT", b"TO:" + _quoted(rcpt), timeout=self.timeout_s)
                    if resp.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                        raise aiosmtplib.SMTPRecipientRefused(resp.code, resp.message, rcpt)
                in_data = True
                await conn.data(raw, timeout=self.timeout_s)
                ok = True
                return
            except (OSError, TimeoutError, aiosmtplib.SMTPException) as exc:
                stale = isinstance(exc, (ConnectionError, OSError, aiosmtplib.SMTPServerDisconnected)) or (
                    isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421
                )
                if reused and attempt == 0 and not in_data and stale:
                    continue  # the pooled connection was dead: once more on a fresh one
                raise
            finally:
                # A connection is put back only after a clean transaction (no envelope left open).
                self._release(conn, ok=ok)

    async def _acquire(self) -> tuple[aiosmtplib.SMTP, bool]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to their loop (tests run several)
            self._idle, self._reaper, self._loop = [], None, loop
        now = time.monotonic()
        while self._idle:
            conn, since = self._idle.pop()  # most recently used first: the likeliest alive
            if conn.is_connected and now - since < self.idle_s:
                return conn, True
            conn.close()
        conn = aiosmtplib.SMTP(**self._server())
        await conn.connect()
        return conn, False

    def _server(self) -> dict[str, Any]:
        """Where and how to connect: the same for a pooled connection and a one-off send."""
        return {
            "hostname": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "start_tls": self.start_tls,
            "use_tls": self.use_tls,
            "timeout": self.timeout_s,
        }

    def _release(self, conn: aiosmtplib.SMTP, *, ok: bool) -> None:
        if not ok or not conn.is_connected or len(self._idle) >= self.pool_size:
            conn.close()
            return
        self._idle.append((conn, time.monotonic()))
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(self.idle_s, self._reap)

    def _reap(self) -> None:
        """Close connections idle for ``idle_s`` (servers drop idle clients; keep no stale ones)."""
        self._reaper = None
        now = time.monotonic()
        keep = []
        for conn, since in self._idle:
            if now - since >= self.idle_s:
                conn.close()
            else:
                keep.append((conn, since))
        self._idle = keep
        if keep:
            wait = max(0.05, self.idle_s - (now - min(since for _, since in keep)))
            self._reaper = asyncio.get_running_loop().call_later(wait, self._reap)

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def close(self) -> None:
        """QUIT every idle connection (shutdown: the dispatcher has stopped, none is in use)."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            try:
                await asyncio.wait_for(conn.quit(), timeout=2.0)
            except (OSError, TimeoutError, aiosmtplib.SMTPException):
                pass
            finally:
                conn.close()


@functools.lru_cache(maxsize=4096)
def _quoted(address: str) -> bytes:
    """``<address>`` as aiosmtplib's MAIL/RCPT write it (validated: no line breaks or controls)."""
    return quote_address(address).encode("ascii")


@functools.lru_cache(maxsize=4096)
def _envelope(address: str) -> str:
    """The bare address of a header address (parseaddr's parser ran on every send: few recipients)."""
    return parseaddr(address)[1] or address


def _refused(codes: list[int]) -> DeliveryError:
    permanent = bool(codes) and all(500 <= c < 600 for c in codes)
    return DeliveryError(f"smtp recipient refused ({','.join(map(str, codes))})", permanent=permanent)
