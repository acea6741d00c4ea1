"""The client a reverse proxy names: the PROXY protocol's header (v1 and v2), read only from the
proxies a server was told of.

Behind a reverse proxy every connection comes from the proxy's own address, so every bound kept
per address (connections, the fair share's lines of callers with no credential, "forgot
password" asks, keys a console does not know, streams, long-polls) counted one address for
every client at once: one stranger's ten "forgot password" asks an hour, sent through the
documented HAProxy, refused every owner's for the rest of the hour.

A proxy that speaks the PROXY protocol (HAProxy's ``send-proxy-v2``; the specification is
HAProxy's, "The PROXY protocol", versions 1 and 2) writes one header at the start of each
connection it opens, before any byte of the request, naming the client that connection is
for. Why this and not ``X-Forwarded-For``:

- **It names the client of the connection, not only of a request.** The connection budget
  (``guard.py``) counts a connection by the client before any HTTP is read, so
  ``max_connections_per_peer`` and the fair order of evictions hold per client behind the
  proxy too, where a header can only be read once a request has arrived.
- **No client can write a byte of it.** It precedes the request's bytes, and HAProxy keeps a
  connection that carried it to the client it names (never reused for another client's
  requests); a forwarding header is text in the request, which the client writes first and
  every proxy must be configured to append to rather than pass on.
- **It is read once a connection**, not once a request: nothing is added to the device calls'
  hot path.

Only a configured proxy's connection is read for it (:class:`TrustedProxies`), and every
connection from one must begin with it: the specification's own rule (a receiver must not
guess whether the header is there), since a receiver that guessed would let anyone who can
connect from the proxy's address name any client. From any other address the same bytes are
not HTTP and are refused as such.

Sans-I/O: :func:`read_header` reads the header from the bytes a connection has sent so far;
the guard (``guard.GuardedProtocol``) admits the connection as the client it names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_HEADER_BYTES", "ProxyHeader", "ProxyHeaderError", "TrustedProxies",
           "proxy_networks", "read_header"]

#: The 12 bytes a version 2 header starts with (§2.2).
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
#: What a version 1 header starts with (§2.1).
V1_PREFIX: Final = b"PROXY "
#: The longest version 1 header, its CRLF included (§2.1: 107 bytes).
V1_MAX_BYTES: Final = 107
#: The longest version 2 header: its 16 fixed bytes and the most its length field can say.
MAX_HEADER_BYTES: Final = 16 + 0xFFFF
#: Version 2's commands (the low half of byte 13): LOCAL (the proxy's own connection: a
#: health check) and PROXY (a client's).
_LOCAL, _PROXY = 0x0, 0x1
#: Version 2's address families and transports (byte 14) this reads an address from: TCP over
#: IPv4 and over IPv6, each with the source address first.
_TCP4, _TCP6 = 0x11, 0x21


class ProxyHeaderError(ValueError):
    """The bytes a configured proxy's connection began with are not a PROXY protocol header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A header read: whom the connection is for, and how many bytes the header took."""

    #: The client's address as the proxy names it; None: the proxy's own connection (a v2
    #: LOCAL, a v1 ``UNKNOWN``, or an address family that is not TCP over IPv4 or IPv6), which
    #: counts as the proxy's address.
    client: str | None
    #: The header's length: the connection's own bytes (the request's) start after it.
    length: int


def read_header(data: bytes | bytearray) -> ProxyHeader | None:
    """The PROXY header ``data`` starts with (version 1 or 2), or None while more bytes are
    needed to tell.

    Raises:
        ProxyHeaderError: ``data`` does not start with one (an HTTP request sent straight to
            the port from the proxy's address, a proxy not configured to send it), or it is
            malformed.
    """
    if data[:1] == b"\r":
        if len(data) < 16:
            if not V2_SIGNATURE.startswith(bytes(data[:12])):
                raise ProxyHeaderError("not a PROXY protocol header")
            return None
        return _v2(data)
    if data[:1] == b"P":
        return _v1(data)
    if data:
        raise ProxyHeaderError("not a PROXY protocol header")
    return None


def _v2(data: bytes | bytearray) -> ProxyHeader | None:
    """A version 2 header (its first 16 bytes are in ``data``)."""
    if data[:12] != V2_SIGNATURE:
        raise ProxyHeaderError("not a PROXY protocol header")
    version, command = data[12] >> 4, data[12] & 0x0F
    if version != 2 or command not in (_LOCAL, _PROXY):
        raise ProxyHeaderError(f"PROXY protocol version {version}, command {command}: "
                               "not version 2's LOCAL or PROXY")
    length = 16 + int.from_bytes(data[14:16], "big")
    if len(data) < length:
        return None
    family = data[13]
    if command == _LOCAL or family not in (_TCP4, _TCP6):
        return ProxyHeader(None, length)  # the proxy's own (a health check), or no IP client
    size = 4 if family == _TCP4 else 16
    if length < 16 + 2 * size + 4:
        raise ProxyHeaderError("a PROXY protocol v2 header too short for its addresses")
    packed = bytes(data[16:16 + size])
    client = ipaddress.IPv4Address(packed) if size == 4 else ipaddress.IPv6Address(packed)
    return ProxyHeader(str(client), length)


def _v1(data: bytes | bytearray) -> ProxyHeader | None:
    """A version 1 header: ``PROXY TCP4|TCP6 <source> <destination> <sport> <dport>\\r\\n``,
    or ``PROXY UNKNOWN ...\\r\\n``."""
    if not V1_PREFIX.startswith(bytes(data[:6])):
        raise ProxyHeaderError("not a PROXY protocol header")
    end = data.find(b"\r\n", 0, V1_MAX_BYTES)
    if end < 0:
        if len(data) >= V1_MAX_BYTES:
            raise ProxyHeaderError("a PROXY protocol v1 header longer than 107 bytes")
        return None
    fields = bytes(data[:end]).split(b" ")
    if len(fields) >= 2 and fields[1] == b"UNKNOWN":
        return ProxyHeader(None, end + 2)
    if len(fields) != 6 or fields[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("a malformed PROXY protocol v1 header")
    try:
        client = ipaddress.ip_address(fields[2].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ProxyHeaderError("a PROXY protocol v1 header whose source is not an "
                               "address") from None
    if client.version != (4 if fields[1] == b"TCP4" else 6):
        raise ProxyHeaderError("a PROXY protocol v1 header whose source is not of its family")
    return ProxyHeader(str(client), end + 2)


def proxy_networks(values: Iterable[str]) -> tuple[str, ...]:
    """``values`` (addresses or networks, as a setting lists them) as the networks they name,
    written canonically (``10.0.0.5`` -> ``10.0.0.5/32``).

    Raises:
        ValueError: a value names neither an address nor a network (a host name among
            them: the proxy is known by the address it connects from, never by a name a
            resolver could answer differently).
    """
    found = []
    for value in values:
        try:
            found.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (a proxy is named "
                             "by the address it connects from)") from None
    return tuple(found)


class TrustedProxies:
    """The proxies whose connections begin with a PROXY header (a server's setting): whether
    a peer is one of them.

    Asked once a connection, of the peer's address; the answers for the last few thousand
    addresses are kept (a daemon reconnecting costs no parse).
    """

    _REMEMBERED: Final = 4096

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False)
                              for n in proxy_networks(networks))
        self._answers: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, peer: str) -> bool:
        """Whether ``peer`` (an address as the transport gives it; an IPv4-mapped IPv6 one
        counts as its IPv4) is one of the configured proxies."""
        known = self._answers.get(peer)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(peer.partition("%")[0])
        except ValueError:
            found = False  # a UNIX socket's name, "?": not a proxy's address
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            found = any(address in network for network in self.networks)
        if len(self._answers) >= self._REMEMBERED:
            self._answers.clear()
        self._answers[peer] = found
        return found
