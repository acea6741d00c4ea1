"""HTTP/1.1 to the daemon written by hand, byte for byte, on a plain socket: the requests an
HTTP client library would normalise or refuse to send (no Host, a foreign Host, a withheld
body), and a request left in progress on purpose.

The HTTP-rule tests and the connection-budget tests send the same requests, so they live here.
"""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import WAIT_S, Daemon

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


async def raw_http(port: int, request: bytes, *, read: bool = True) -> bytes:
    """Send raw bytes (headers aiohttp's client would normalise) and read until close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        if not read:
            return b""
        async with asyncio.timeout(WAIT_S):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


def post(host: bytes | None, token: str, body: bytes = PING, extra: bytes = b"") -> bytes:
    """A ``POST /rpc`` with ``host`` as its Host header (none if ``None``) and ``extra``
    headers, ``Connection: close``."""
    host_line = b"Host: " + host + b"\r\n" if host is not None else b""
    return (b"POST /rpc HTTP/1.1\r\n" + host_line + b"Authorization: Bearer " + token.encode()
            + b"\r\nContent-Type: application/json\r\nConnection: close\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


async def start_request(daemon: Daemon) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection of a token holder with a ``/rpc`` request in progress: headers sent, the
    body withheld.

    The connection first carries one whole request with the token (kept alive), so it is a
    token holder's (only such work is never evicted, issue 16 F5). ``Expect: 100-continue``
    makes the daemon say when the second request reached the application: the interim answer
    is written in the same loop step that enters the handler, so once it is read the
    connection counts as working. Finish it by writing :data:`PING`.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
    writer.write(post(b"127.0.0.1", daemon.token).replace(b"Connection: close\r\n", b""))
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
    assert status(head) == 200
    request = post(b"127.0.0.1", daemon.token, extra=b"Expect: 100-continue\r\n")
    writer.write(request[:-len(PING)])
    async with asyncio.timeout(WAIT_S):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    return reader, writer


def status(response: bytes) -> int:
    """The status code of a raw response."""
    return int(response.split(b" ", 2)[1])
