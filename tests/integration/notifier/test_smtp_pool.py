"""Pooled SMTP connections (issue 7) against a real loopback aiosmtpd: reuse, transparent reconnect
after the server dropped the connection, no immediate re-send when DATA's outcome is unknown, idle
close and close on shutdown."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.channels.email import EmailChannel
from policywatch_notifier.render import Recipient, Rendered, Renderer
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import Tiers

from tests.helpers import wait_until
from tests.integration.notifier.conftest import SmtpSink


class PeerSink(SmtpSink):
    """Records the client port of each accepted message (one port = one connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []
        self.answer_data = ""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        ok = await super().handle_DATA(server, session, envelope)
        return self.answer_data or ok


@pytest.fixture
def sink() -> Iterator[PeerSink]:
    s = PeerSink()
    s.start()
    try:
        yield s
    finally:
        s.stop()


R = Recipient(
    id="s1",
    tier="watcher",
    email="pool@example.com",
    webhook_url=None,
    signing_secret="whsec_" + "A" * 43 + "=",
    unsubscribe_token="t" * 43,
)


TIERS = Tiers.load()


def msg(n: int) -> Rendered:
    renderer = Renderer(public_base_url="http://127.0.0.1:8014")
    return renderer.alert(R, TIERS["watcher"], sample_classified(n=n), delivery_id=f"d{n}")


def channel(sink: SmtpSink, **kw: Any) -> EmailChannel:
    return EmailChannel(host="127.0.0.1", port=sink.port, mail_from="pw@example.com", **kw)


async def test_messages_share_one_connection_and_close_on_shutdown(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=2)
    for i in range(3):
        await ch.send(R, msg(i), delivery_id=f"d{i}")
    assert [m.message_id for m in sink.mails] == ["<d0@policywatch>", "<d1@policywatch>", "<d2@policywatch>"]
    assert len(set(sink.peers)) == 1  # one connection for all three
    assert ch.idle_connections == 1
    await ch.close()
    assert ch.idle_connections == 0


async def test_per_message_connections_when_pool_is_off(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=0)
    for i in range(2):
        await ch.send(R, msg(i), delivery_id=f"d{i}")
    assert len(set(sink.peers)) == 2
    assert ch.idle_connections == 0


async def test_server_restart_reconnects_transparently_and_outage_is_transient(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=2)
    await ch.send(R, msg(0), delivery_id="d0")
    sink.stop()  # drops the pooled connection
    with pytest.raises(DeliveryError) as err:
        await ch.send(R, msg(1), delivery_id="d1")
    assert not err.value.permanent and "smtp unavailable" in str(err.value)
    sink.start()
    await ch.send(R, msg(2), delivery_id="d2")
    sink.stop()
    sink.start()  # the server closed the idle connection: the next send must not fail
    await ch.send(R, msg(3), delivery_id="d3")
    assert [m.message_id for m in sink.mails] == ["<d0@policywatch>", "<d2@policywatch>", "<d3@policywatch>"]
    assert len(set(sink.peers)) == 3
    await ch.close()


async def test_unknown_data_outcome_is_not_resent_at_once(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=2)
    await ch.send(R, msg(0), delivery_id="d0")  # a pooled connection exists
    sink.answer_data = "421 closing"  # the server kept the message but answered an error
    with pytest.raises(DeliveryError) as err:
        await ch.send(R, msg(1), delivery_id="d1")
    assert not err.value.permanent  # retried later by the outbox, with the same Message-ID
    assert [m.message_id for m in sink.mails] == ["<d0@policywatch>", "<d1@policywatch>"]  # sent once
    assert ch.idle_connections == 0  # a failed connection is never put back
    sink.answer_data = ""
    await ch.send(R, msg(2), delivery_id="d2")
    assert len(sink.mails) == 3
    await ch.close()


async def test_rejected_recipient_is_permanent_and_connection_not_reused(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=2)
    bad = dataclasses.replace(R, email="reject-me@example.com")
    for i in (0, 2):  # on a fresh connection, then on a reused one
        with pytest.raises(DeliveryError) as err:
            await ch.send(bad, msg(i), delivery_id=f"d{i}")
        assert err.value.permanent and "550" in str(err.value)
        assert ch.idle_connections == 0
        await ch.send(R, msg(i + 1), delivery_id=f"d{i + 1}")
    assert [m.message_id for m in sink.mails] == ["<d1@policywatch>", "<d3@policywatch>"]
    await ch.close()


async def test_idle_connections_are_closed_after_idle_time(sink: PeerSink) -> None:
    ch = channel(sink, pool_size=2, idle_s=0.2)
    await ch.send(R, msg(0), delivery_id="d0")
    assert ch.idle_connections == 1
    # Bounded wait, not a fixed sleep: a loaded machine may run the idle sweep late.
    await wait_until(lambda: ch.idle_connections == 0, timeout=5)
    await ch.send(R, msg(1), delivery_id="d1")
    assert len(set(sink.peers)) == 2
    await ch.close()
