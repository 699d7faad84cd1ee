"""E-mail over SMTP (aiosmtplib): multipart/alternative with text and HTML, unsubscribe headers.

``Message-ID`` is derived from the delivery id, so a message re-sent after a crash carries the
same id and mail clients and servers can recognise the duplicate.
"""

from __future__ import annotations

import binascii
import secrets
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

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
    ) -> None:
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.use_tls = use_tls
        self.timeout_s = timeout_s
        self._sender = parseaddr(mail_from)[1] or mail_from

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
        msg: EmailMessage | bytes
        if raw is None:
            msg = self.build_message(recipient, message, delivery_id=delivery_id)
        else:
            msg = raw
        try:
            await aiosmtplib.send(
                msg,
                sender=self._sender if raw is not None else None,
                recipients=[parseaddr(recipient.email or "")[1] or (recipient.email or "")]
                if raw is not None
                else None,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                use_tls=self.use_tls,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [getattr(e, "code", 0) for e in exc.recipients]
            permanent = bool(codes) and all(500 <= c < 600 for c in codes)
            raise DeliveryError(
                f"smtp recipient refused ({','.join(map(str, codes))})", permanent=permanent
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx on the message itself is permanent; 4xx (greylisting, full mailbox) is retried.
            raise DeliveryError(
                f"smtp {exc.code}", permanent=500 <= exc.code < 600 and exc.code != 521
            ) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp unavailable: {type(exc).__name__}") from None

    async def close(self) -> None:
        return None
