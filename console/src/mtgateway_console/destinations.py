"""Where an alert webhook may post: public addresses only, unless the operator allows more.

An owner chooses the webhook's address, and the console posts to it from inside its own
network. Without a rule an owner could make the console post into that network (a database's
port, a cloud metadata service at 169.254.169.254, another service on loopback) and read the
answer's status on the settings page: a server-side request forgery. So, as hosted webhook
senders do, the console posts only to globally routable addresses: a literal address is
checked before the attempt, a name is resolved and every address it gives is checked (the
reason the owner sees names the address), and the HTTP client's resolver drops non-public
addresses again at connection time, so a name that answers differently the second time
(DNS rebinding) still reaches no private address. ``[console] webhook_private_networks =
true`` lifts the rule for a console whose owners are its operator (a receiver on the same
machine or LAN).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

__all__ = ["PublicOnlyResolver", "address_problem", "destination_problem", "embedded_ipv4"]

_SETTING = "[console] webhook_private_networks"


#: IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits: IPv4-mapped
#: (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``, deprecated but still routed by some
#: stacks), IPv4-translated (``::ffff:0:a.b.c.d``, SIIT, RFC 2765/6145, which a translator
#: turns into that IPv4 address) and the well-known NAT64 prefix (RFC 6052), which a NAT64
#: gateway translates to that IPv4 address.
_LAST_32_BITS: Final = (ipaddress.IPv6Network("::ffff:0:0/96"), ipaddress.IPv6Network("::/96"),
                        ipaddress.IPv6Network("::ffff:0:0:0/96"),
                        ipaddress.IPv6Network("64:ff9b::/96"))
#: The local-use NAT64 prefix (RFC 8215): where its IPv4 address sits depends on the prefix
#: length the network chose (RFC 6052 §2.2), so it is refused whole.
_LOCAL_NAT64: Final = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address reaches through (mapped, compatible, NAT64, 6to4's
    ``2002::/16``, Teredo's server and client in ``2001::/32``), or ``None`` for a plain IPv6
    address."""
    if int(ip) > 1 and any(ip in net for net in _LAST_32_BITS):  # not :: nor ::1
        return [ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return None


def address_problem(address: str) -> str:
    """Why the console must not post to ``address`` (an IP literal), or ``""``: loopback,
    private, link-local, shared, reserved and multicast addresses are not public; an IPv6
    address that carries an IPv4 one (:func:`embedded_ipv4`) is judged by that one, since a
    gateway on the way (NAT64, 6to4, Teredo) delivers it there."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return f"{ip} (in the local-use NAT64 prefix) is not a public address"
        if ip.is_site_local:
            # fec0::/10 was deprecated (RFC 3879) but networks that still route it route it
            # inside themselves; Python's is_global does not count it as private
            return f"{ip} (site-local) is not a public address"
        inner = embedded_ipv4(ip)
        if inner is not None:
            for carried in inner:
                if not (carried.is_global and not carried.is_multicast):
                    return f"{ip} reaches {carried}, which is not a public address"
            return ""
    if ip.is_global and not ip.is_multicast:
        return ""
    return f"{ip} is not a public address"


async def destination_problem(host: str, port: int) -> str:
    """Why the console must not post to ``host:port``, or ``""``: the literal address, or
    every address the name resolves to, must be public (the message names the first that is
    not, and the setting that allows it)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM)
        except OSError:
            return "its name does not resolve"
        addresses = [str(info[4][0]) for info in found]
    else:
        addresses = [host]
    for address in addresses:
        problem = address_problem(address)
        if problem:
            return f"{problem}; not posted ({_SETTING} allows it)"
    return ""


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's threaded resolver (or ``inner``), keeping public addresses only, each judged
    as :func:`address_problem` judges a literal (the connection-time half of the rule: what
    the pre-check saw is not trusted to be what the connection gets)."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        public = [r for r in await self._inner.resolve(host, port, family)
                  if not address_problem(r["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()
