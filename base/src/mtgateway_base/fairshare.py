"""How a caller without a credential is counted: by its address, an IPv6 one by its /64.

Both services bound what one caller may hold of what every caller shares. The console's
fair-share rule (``mtgateway_console/fairshare.py``: requests in progress, the password-hashing
pool, the database's lane, the rows kept) counts a caller by its credential, its owner, and,
before it proves anything, its address; the connection budget both processes run
(``guard.ConnectionBudget``) counts connections per address too. Both count an address the
same way, :func:`address_key`, so it lives here, on the ground floor: an IPv6 address counts
by its /64, one subscriber's network, or an attacker with a /64 would be 2^64 callers.
"""

from __future__ import annotations

import functools
import ipaddress

__all__ = ["address_key"]


@functools.lru_cache(maxsize=4096)
def address_key(address: str) -> str:
    """The address a peer counts as: an IPv4 address itself (an IPv4-mapped IPv6 one as its
    IPv4), an IPv6 address its /64 (one subscriber's network: a home or a server is given a
    /64 whole), anything else (a Unix socket's name, ``?``) as it is.

    Remembered for the last few thousand addresses: each request asks two or three times,
    and ``ipaddress`` parses an address in Python, a sizeable part of a console device
    call's work on its loop.
    """
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_loopback:
            return str(ip)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
