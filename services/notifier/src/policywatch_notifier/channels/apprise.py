"""Chat and other services (Slack, Teams, Discord, Telegram, …) through Apprise URLs."""

from __future__ import annotations

from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.render import Recipient, Rendered


class AppriseChannel:
    name = "apprise"

    async def send(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> None:
        import apprise  # imported on first use: it loads many plug-ins (~0.5 s at start-up)

        if not recipient.apprise_urls:
            raise DeliveryError("subscriber has no apprise URL", permanent=True)
        ap = apprise.Apprise()
        added = sum(1 for url in recipient.apprise_urls if ap.add(url))
        if not added:
            raise DeliveryError("no valid apprise URL", permanent=True)
        result = await ap.async_notify(
            body=message.markdown, title=message.subject, body_format=apprise.NotifyFormat.MARKDOWN
        )
        # Apprise 2.x returns a result object whose truth value says whether every target succeeded.
        if not bool(result):
            raise DeliveryError("apprise notification failed")

    async def close(self) -> None:
        return None
