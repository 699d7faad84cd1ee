"""E-mail over SMTP (aiosmtplib): multipart/alternative with text and HTML, unsubscribe headers.

``Message-ID`` is derived from the delivery id, so a message re-sent after a crash carries the
same id and mail clients and servers can recognise the duplicate.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

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

    def build(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> EmailMessage:
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
        msg = self.build(recipient, message, delivery_id=delivery_id)
        try:
            await aiosmtplib.send(
                msg,
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
