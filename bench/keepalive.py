"""A lean HTTP/1.1 client for the closed loop: keep-alive connections, one request at a time.

Why: in ``bench.authority``'s closed loop the simulated daemons share the machine's cores
with the consoles they measure, and stand for machines elsewhere. aiohttp's client, which they
used alone until 2026-11-26, costs the bench process most of a call's client-side CPU, and
every core-second it takes is one the consoles and PostgreSQL do not get; its loop, busy with
a thousand daemons' requests and answers at once, was also 0.3-0.9 s late at its p99, time
counted into every call it measured. This client sends the same requests (aiohttp's own
default headers, the same device proofs, keep-alive connections reused call after call) with
a parser in C (llhttp through httptools, the daemon's ``/rpc`` edge's) and no per-request
objects beyond the bytes; ``--client aiohttp`` keeps the old client for comparison, and each
row says which one measured it. The same trade the daemon's ``/rpc`` figures make by driving
it with wrk rather than a Python client.

Only what the closed loop needs: ``http://`` URLs, a body given whole, an answer read whole
(``Content-Length`` or chunked, as llhttp parses it). A connection the console closed is
opened again before the next request; one lost while a request is on it fails that request
(a proof is single-use, so it is not sent twice).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Final, cast
from urllib.parse import urlsplit

import aiohttp
import httptools

__all__ = ["KeepAliveClient", "request_bytes"]

#: The headers aiohttp's client adds to every request it sends (``ClientSession``'s
#: defaults), so the console parses the same heads as from a daemon.
_DEFAULT_HEADERS: Final = (b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
                           b"User-Agent: Python/%d.%d aiohttp/%s\r\n"
                           % (*sys.version_info[:2], aiohttp.__version__.encode()))


def request_bytes(method: str, host: str, path: str, body: bytes,
                  headers: dict[str, str]) -> bytes:
    """One request as aiohttp's client writes it, in its order: the request line, ``Host``,
    ``headers``, its default headers, and ``Content-Length`` for a body (a POST always has
    one)."""
    head = [b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), path.encode(),
                                                host.encode())]
    head.extend(b"%s: %s\r\n" % (name.encode(), value.encode())
                for name, value in headers.items())
    head.append(_DEFAULT_HEADERS)
    if body or method == "POST":
        head.append(b"Content-Length: %d\r\n" % len(body))
    head.append(b"\r\n")
    return b"".join(head) + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request written, its answer parsed by llhttp."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._body = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport's subclasses; they have its methods
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"the console's answer is not HTTP: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        answer = (self._parser.get_status_code(), bytes(self._body))
        self._body.clear()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)
        if not self._parser.should_keep_alive() and self.transport is not None:
            self.closed = True  # the next request opens another, not after connection_lost
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the console closed the connection"))

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write one request; the future of its (status, body)."""
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter


class KeepAliveClient:
    """One simulated daemon's connections, one per console URL, each reused call after call
    (a daemon's client keeps its connection while it keeps calling)."""

    def __init__(self) -> None:
        self._connections: dict[str, _Connection] = {}
        self._targets: dict[str, tuple[str, int, str]] = {}

    async def request(self, method: str, url: str, path: str, body: bytes,
                      headers: dict[str, str]) -> tuple[int, bytes]:
        """``method`` ``url + path`` with ``body`` and ``headers``: (status, body)."""
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            if parts.scheme != "http" or parts.hostname is None or parts.port is None:
                raise ValueError(f"{url!r}: an http://host:port URL")
            target = self._targets[url] = (parts.hostname, parts.port, parts.netloc)
        connection = self._connections.get(url)
        if connection is None or connection.closed:
            _, connection = await asyncio.get_running_loop().create_connection(
                _Connection, target[0], target[1])
            self._connections[url] = connection
        return await connection.send(request_bytes(method, target[2], path, body, headers))

    def close(self) -> None:
        """Close every connection."""
        for connection in self._connections.values():
            if connection.transport is not None:
                connection.transport.close()
        self._connections.clear()
