"""Webhooks signed per the Standard Webhooks convention (``standardwebhooks`` package).

Headers ``webhook-id`` (the delivery id: stable across retries, the receiver's idempotency key),
``webhook-timestamp`` and ``webhook-signature`` (HMAC-SHA256 with the subscriber's own secret).
2xx is success; 410 Gone disables the endpoint; anything else is retried.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.render import Recipient, Rendered


def sign(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "policywatch-notifier",
    }


class WebhookChannel:
    name = "webhook"

    def __init__(self, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        # One client for the process: its pool keeps connections alive across deliveries.
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._urls: dict[str, httpx.URL] = {}  # parsed once per endpoint (httpx parses str per request)

    async def send(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> None:
        if not recipient.webhook_url:
            raise DeliveryError("subscriber has no webhook", permanent=True)
        now = datetime.now(UTC)
        body = json.dumps({**message.payload, "timestamp": now.isoformat()}, separators=(",", ":"))
        headers = sign(recipient.signing_secret, delivery_id, now, body)
        try:
            url = self._urls.get(recipient.webhook_url)
            if url is None:
                if len(self._urls) >= 4096:
                    self._urls.clear()
                url = self._urls[recipient.webhook_url] = httpx.URL(recipient.webhook_url)
            resp = await self._client.post(url, content=body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
        if 200 <= resp.status_code < 300:
            return
        if resp.status_code == 410:
            raise DeliveryError("webhook answered 410 Gone: endpoint disabled", gone=True)
        raise DeliveryError(f"webhook answered {resp.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
