"""HTTP/1.1 to the daemon written by hand, byte for byte, on a plain socket: the requests an
HTTP client library would normalise or refuse to send (no Host, a foreign Host, a withheld
body), and connections left at work on purpose.

The HTTP-rule tests and the connection-budget tests send the same requests, so they live here.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.fixtures import WAIT_S, Daemon

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


async def working(daemon: Daemon, count: int, token: str | None = None
                  ) -> list[aiohttp.ClientWebSocketResponse]:
    """``count`` connections of a token holder (``token``, else the daemon's first) at
    work: authenticated WebSockets (work for their whole life, never evicted). A request
    whose body is withheld once served for this and no longer does: a request still arriving
    is never protected, whoever's connection it is on. One token's work is at most half the
    budget (``gateway/edge/tokenshare.py``): a whole budget at work takes two tokens."""
    ws_url = f"http://127.0.0.1:{daemon.http_port}/ws"
    return [await daemon.session.ws_connect(
        ws_url, headers={"Authorization": f"Bearer {token or daemon.token}"})
        for _ in range(count)]


async def still_served(working: list[aiohttp.ClientWebSocketResponse]) -> None:
    """Each of :func:`working`'s WebSockets is still answered (none was evicted), then
    closed."""
    for number, ws in enumerate(working):
        await ws.send_json({"jsonrpc": "2.0", "id": number, "method": "ping"})
        assert (await ws.receive_json(timeout=WAIT_S))["id"] == number
        await ws.close()


def status(response: bytes) -> int:
    """The status code of a raw response."""
    return int(response.split(b" ", 2)[1])
