"""The client a reverse proxy names (``mtgateway_base.proxyheader``) and the guard that admits a
configured proxy's connection as that client (``mtgateway_base.guard``).

Round 8 found every client behind the documented HAProxy counted as the proxy's address, so
one client's "forgot password" asks refused everyone's (T8-F3). The parser reads the PROXY
protocol's header (v1 text, v2 binary) as HAProxy writes it; the guard reads it only from a
configured proxy, requires it there, and counts the connection as the client it names (the
connection budget's per-address bound and its order of evictions, and what the application
reads as the peer). The real ``ConnectionBudget`` and ``GuardedProtocol`` on transports that
record what they are told (the interface the event loop's give the guard).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import struct
from typing import Any

import pytest
from aiohttp import web

from mtgateway_base.guard import (
    ConnectionBudget,
    ConnectionLimits,
    GuardedProtocol,
    GuardedSite,
    Refusals,
)
from mtgateway_base.proxyheader import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    TrustedProxies,
    proxy_networks,
    read_header,
)

REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
PROXY = "127.0.0.1"


def v2(client: str, *, command: int = 0x1, tlvs: bytes = b"") -> bytes:
    """A version 2 header as HAProxy's ``send-proxy-v2`` writes it, for TCP from ``client``
    (its destination 127.0.0.1 or ::1, ports 40000 and 8720), with ``tlvs`` after the
    addresses."""
    address = ipaddress.ip_address(client)
    if address.version == 4:
        family = 0x11
        addresses = address.packed + ipaddress.IPv4Address("127.0.0.1").packed
    else:
        family = 0x21
        addresses = address.packed + ipaddress.IPv6Address("::1").packed
    payload = addresses + struct.pack("!HH", 40000, 8720) + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(payload)) \
        + payload


#: HAProxy's health check with ``send-proxy-v2``: LOCAL, no address (read from a run of
#: Debian's HAProxy 2.6).
LOCAL = V2_SIGNATURE + b"\x20\x00\x00\x00"


# -- the header --------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "client"), [
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8720\r\n", "203.0.113.7"),
    (b"PROXY TCP6 2001:db8::7 ::1 40000 8720\r\n", "2001:db8::7"),
    (b"PROXY UNKNOWN\r\n", None),
    (b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", None),
    (v2("203.0.113.7"), "203.0.113.7"),
    (v2("2001:db8::7"), "2001:db8::7"),
    (v2("203.0.113.7", tlvs=b"\x04\x00\x03abc"), "203.0.113.7"),  # a TLV after them
    (LOCAL, None),
    (v2("203.0.113.7", command=0x0), None),  # LOCAL with addresses: the proxy's own still
    (V2_SIGNATURE + b"\x21\x31\x00\xd8" + bytes(216), None),  # from a UNIX socket
], ids=["v1-tcp4", "v1-tcp6", "v1-unknown", "v1-unknown-addresses", "v2-tcp4", "v2-tcp6",
        "v2-tlv", "v2-local", "v2-local-addresses", "v2-unix"])
def test_a_header_names_its_client_and_its_length(data: bytes, client: str | None) -> None:
    """Each form HAProxy writes names the client (none: the proxy's own connection) and
    says where the connection's own bytes begin; read from every prefix, it asks for more."""
    assert read_header(data + REQUEST) == ProxyHeader(client, len(data))
    for cut in range(len(data)):
        assert read_header(data[:cut]) is None, cut


@pytest.mark.parametrize("data", [
    REQUEST,  # an HTTP request sent straight from the proxy's address
    b"\r\nGET / HTTP/1.1\r\n",  # one with a leading empty line
    b"PROXY TCP4 203.0.113.7\r\n",
    b"PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n",
    b"PROXY TCP4 2001:db8::7 127.0.0.1 1 2\r\n",  # not of its family
    b"PROXY UDP4 203.0.113.7 127.0.0.1 1 2\r\n",
    b"PROXY TCP4 " + b"1" * 120,  # no CRLF within 107 bytes
    V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),  # version 1 in a v2 header
    V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),  # command 2
    V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4),  # too short for its addresses
], ids=["http", "crlf-http", "v1-short", "v1-not-an-address", "v1-family", "v1-udp",
        "v1-too-long", "v2-version", "v2-command", "v2-too-short"])
def test_what_is_not_a_header_is_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        read_header(data)


def test_proxies_are_named_by_address_or_network() -> None:
    """A setting lists addresses and networks, written canonically; a host name is refused
    (a proxy is known by the address it connects from, never by a resolver's answer)."""
    assert proxy_networks([" 10.0.0.5", "10.1.0.0/16", "::1", "fd00::/8"]) == (
        "10.0.0.5/32", "10.1.0.0/16", "::1/128", "fd00::/8")
    with pytest.raises(ValueError, match="balancer.example.com"):
        proxy_networks(["balancer.example.com"])
    proxies = TrustedProxies(["10.0.0.5", "fd00::/8"])
    assert [proxies.trusts(peer) for peer in ("10.0.0.5", "::ffff:10.0.0.5", "fd00::1",
                                              "10.0.0.6", "127.0.0.1", "?")] \
        == [True, True, True, False, False, False]
    assert proxies.trusts("10.0.0.5")  # (answered again from what it remembered)
    assert not TrustedProxies([])


# -- the guard ---------------------------------------------------------------------------------

class Inner(asyncio.Protocol):
    """The application's protocol behind the guard: what it was given."""

    def __init__(self) -> None:
        self.made = False
        self.received = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made = True

    def data_received(self, data: bytes) -> None:
        self.received += data


class ClosingTransport(asyncio.Transport):
    """A transport that records writes and closes, and says when it is closed."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer
        self.written: list[bytes] = []
        self.closed = False
        self.closing = asyncio.Event()
        self._protocol: asyncio.BaseProtocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40000) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True
        self.closing.set()

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol


UNPROXIED = b"400 proxy header expected"


def _budget(*, per_peer: int = 2, header_timeout_s: float = 60) -> ConnectionBudget:
    return ConnectionBudget(
        ConnectionLimits(max_connections=8, header_timeout_s=header_timeout_s,
                         max_connections_per_peer=per_peer),
        Refusals(misdirected=b"421", busy=b"503", unproxied=UNPROXIED),
        proxies=TrustedProxies([PROXY]))


def _open(budget: ConnectionBudget, peer: str, *chunks: bytes
          ) -> tuple[GuardedProtocol, ClosingTransport, Inner]:
    inner, transport = Inner(), ClosingTransport(peer)
    conn = GuardedProtocol(inner, budget)
    conn.connection_made(transport)
    for chunk in chunks:
        conn.data_received(chunk)
    return conn, transport, inner


async def test_a_configured_proxys_connection_counts_as_the_client_its_header_names() -> None:
    """Two clients' connections through one proxy, two each, within a bound of two per
    address: each is admitted as its client (its header read in pieces), its application
    given the connection's own bytes only; a client's third takes the place of its own
    idle one, not the other client's (before: every connection was the proxy's, and the
    proxy's third took the place of whichever was idle longest)."""
    budget = _budget(per_peer=2)
    header = v2("203.0.113.7")
    first = _open(budget, PROXY, header[:5], header[5:20], header[20:] + REQUEST)
    second = _open(budget, PROXY, v2("203.0.113.7") + REQUEST)
    others = [_open(budget, PROXY, b"PROXY TCP4 198.51.100.9 127.0.0.1 40000 8720\r\n",
                    REQUEST) for _ in range(2)]
    assert budget.active == 4
    for conn, transport, inner in (first, second, *others):
        assert conn.proxy == PROXY and conn.peer in ("203.0.113.7", "198.51.100.9")
        assert inner.made and inner.received == REQUEST and not transport.closed
    for conn, _, _ in (first, second, *others):
        conn.request_started()
        conn.request_finished()  # idle, first the first
    third = _open(budget, PROXY, v2("203.0.113.7"))
    assert third[0].peer == "203.0.113.7" and third[2].made
    assert first[1].closed and not second[1].closed
    assert not any(transport.closed for _, transport, _ in others)


async def test_a_configured_proxys_own_connection_counts_as_the_proxy() -> None:
    """A health check's LOCAL header names no client: the connection is the proxy's."""
    conn, transport, inner = _open(_budget(), PROXY, LOCAL + REQUEST)
    assert (conn.peer, conn.proxy, inner.received) == (PROXY, PROXY, REQUEST)


async def test_a_configured_proxys_connection_without_a_header_is_refused() -> None:
    """A request sent straight from the proxy's address is answered the serving process's
    400 and closed, never admitted nor given to the application: whoever can connect from
    there would otherwise be counted as whomever it liked, or as the proxy itself."""
    budget = _budget()
    conn, transport, inner = _open(budget, PROXY, REQUEST)
    assert transport.written == [UNPROXIED] and transport.closed
    assert budget.active == 0 and not inner.made and conn.proxy is None


async def test_a_configured_proxy_that_sends_no_header_in_time_is_closed() -> None:
    budget = _budget(header_timeout_s=0.05)
    conn, transport, inner = _open(budget, PROXY, LOCAL[:7])
    await asyncio.wait_for(transport.closing.wait(), 5)
    assert budget.active == 0 and not inner.made


async def test_a_header_from_an_address_that_is_no_proxy_is_not_read() -> None:
    """Anyone else's connection is its peer's, whatever it sends: a PROXY header from it is
    bytes of its request (not HTTP: the application refuses them)."""
    named = b"PROXY TCP4 198.51.100.9 127.0.0.1 40000 8720\r\n"
    conn, transport, inner = _open(_budget(), "127.0.0.5", named + REQUEST)
    assert (conn.peer, conn.proxy) == ("127.0.0.5", None)
    assert inner.made and inner.received == named + REQUEST


async def test_a_port_behind_proxies_serves_plain_http() -> None:
    """The header comes before a TLS handshake: a port whose proxies send it does not take
    TLS itself (the proxy ends it)."""
    runner = web.AppRunner(web.Application())
    await runner.setup()
    try:
        with pytest.raises(ValueError, match="TLS ends at the proxy"):
            GuardedSite(runner, "127.0.0.1", 0, _budget(),
                        ssl_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
    finally:
        await runner.cleanup()
