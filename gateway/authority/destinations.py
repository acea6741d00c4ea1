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

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

__all__ = ["PublicOnlyResolver", "address_problem", "destination_problem"]

_SETTING = "[console] webhook_private_networks"


def address_problem(address: str) -> str:
    """Why the console must not post to ``address`` (an IP literal), or ``""``: loopback,
    private, link-local, shared, reserved and multicast addresses are not public; an IPv6
    address mapping an IPv4 one is judged as that one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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
    """aiohttp's threaded resolver, keeping public addresses only (the connection-time half
    of the rule: what the pre-check saw is not trusted to be what the connection gets)."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        public = [r for r in await self._inner.resolve(host, port, family)
                  if not address_problem(r["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()
