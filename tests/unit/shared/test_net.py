"""free_port: ports for servers that bind later, kept out of the way of outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

from policywatch_shared import net


def test_ports_come_from_below_the_ephemeral_range_and_are_bindable() -> None:
    low, _ = net.ephemeral_range()
    ports = [net.free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # never handed out twice
    assert all(net.LOWEST <= p < low for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))


def test_a_port_in_use_as_a_connections_source_port_counts_as_taken() -> None:
    # The CI failure: a client's source port equal to the chosen port blocks the server's bind.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        client = socket.create_connection(srv.getsockname())
        accepted, _ = srv.accept()
        source = client.getsockname()[1]
        assert not net._bindable("127.0.0.1", source)
        client.close()  # closed first: its port waits in TIME_WAIT, still taken
        assert not net._bindable("127.0.0.1", source)
        accepted.close()


def test_range_file(tmp_path: Path) -> None:
    f = tmp_path / "range"
    f.write_text("40000\t60999\n")
    assert net.ephemeral_range(f) == (40000, 60999)
    assert net.LOWEST <= net.free_port(range_file=f) < 40000
    assert net.ephemeral_range(tmp_path / "missing") == (32768, 60999)
    f.write_text("10200 60999")  # no room below the range: the kernel picks, from its real range
    port = net.free_port(range_file=f)
    assert port >= net.ephemeral_range()[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
