"""SSRF protection: refuse private, loopback, link-local and reserved addresses.

Only catalog URLs are fetched, and each host (of the first URL and of every redirect)
is resolved and checked before a request is sent. Tests and the demo allow private
addresses with ``FETCHER_ALLOW_PRIVATE=true`` (or ``--allow-private`` per capture).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The URL points to an address the fetcher must not reach."""


def is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


class AddressGuard:
    def __init__(self, *, allow_private: bool = False) -> None:
        self.allow_private = allow_private

    async def check(self, url: str) -> None:
        """Raise :class:`AddressRefused` unless every address of the URL's host is public."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise AddressRefused(f"scheme {parts.scheme!r} refused")
        host = parts.hostname
        if not host:
            raise AddressRefused("no host")
        if self.allow_private:
            return
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
            except socket.gaierror:
                return  # let the HTTP client report the DNS failure as a network error
            addresses = [str(info[4][0]) for info in infos]
        for ip in addresses:
            if not is_public(ip):
                raise AddressRefused(f"{host} resolves to non-public address {ip} (refused)")
