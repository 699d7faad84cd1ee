"""Delivery channels. Each sends one rendered message to one recipient or raises DeliveryError.

Error messages never contain the recipient's address, URL or secret (they end up in logs,
the ledger and DeliveryOutcome events).
"""

from __future__ import annotations

from typing import Protocol

from policywatch_notifier.render import Recipient, Rendered


class DeliveryError(Exception):
    """A failed attempt. ``permanent``: retrying cannot help; ``gone``: disable the endpoint."""

    def __init__(self, reason: str, *, permanent: bool = False, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or gone
        self.gone = gone


class Channel(Protocol):
    name: str

    async def send(self, recipient: Recipient, message: Rendered, *, delivery_id: str) -> None: ...

    async def close(self) -> None: ...
