"""The closed loop's lean client (``bench/keepalive.py``) against real servers on loopback.

It stands in for aiohttp's client in ``bench.authority``'s closed loop, so what it must keep
is what the console sees: the same request heads as aiohttp's client writes, one connection
reused call after call, answers read whole (by length or chunked), a connection the server
closed opened again, and a request whose connection is lost failing rather than sent twice
(a device proof is single-use). And the bodies it sends carry a box key only where a daemon
makes one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.authority import filled
from bench.consoles import Provisioned
from bench.keepalive import KeepAliveClient

pytestmark = pytest.mark.network_edge

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _raw_server(handler: Handler) -> AsyncIterator[str]:
    """A server running ``handler`` per connection; every connection closed at the end."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        writers.clear()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


async def test_it_writes_the_same_request_as_aiohttps_client() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                seen.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    headers = {"X-MTGW-Device": "dev_a", "Content-Type": "application/json"}
    async for url in _raw_server(handler):
        async with aiohttp.ClientSession() as session:
            for method, body in (("POST", b'{"a": 1}'), ("GET", b"")):
                async with session.request(method, url + "/v1/x", data=body or None,
                                           headers=headers) as response:
                    assert await response.read() == b"ok"
        client = KeepAliveClient()
        try:
            for method, body in (("POST", b'{"a": 1}'), ("GET", b"")):
                assert await client.request(method, url, "/v1/x", body, headers) == (200, b"ok")
        finally:
            client.close()
    assert len(seen) == 4
    assert seen[2:] == seen[:2], seen


async def test_one_connection_serves_every_call_and_answers_are_read_whole() -> None:
    peers: set[tuple[str, int]] = set()

    async def answer(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        if request.path == "/chunked":  # no length: chunked, in two pieces
            response = web.StreamResponse(status=201)
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b"first ")
            await response.write(b"second")
            await response.write_eof()
            return response
        return web.Response(status=200, body=(await request.read())[::-1])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = KeepAliveClient()
    try:
        url = f"http://127.0.0.1:{port}"
        for i in range(5):
            assert await client.request("POST", url, "/echo", b"abc%d" % i, {}) == \
                (200, b"%dcba" % i)
        assert await client.request("GET", url, "/chunked", b"", {}) == (201, b"first second")
        assert len(peers) == 1, peers  # keep-alive: one connection for all six
    finally:
        client.close()
        await runner.cleanup()


async def test_a_connection_the_server_closed_is_opened_again() -> None:
    connections = [0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        await _read_request(reader)  # one answer, then the server closes
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
        await writer.drain()
        writer.close()

    client = KeepAliveClient()
    try:
        async for url in _raw_server(handler):
            for _ in range(3):
                assert await client.request("GET", url, "/", b"", {}) == (200, b"bye")
    finally:
        client.close()
    assert connections == [3]


async def test_a_request_whose_connection_is_lost_fails_and_is_not_sent_again() -> None:
    requests = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await _read_request(reader))
        writer.close()  # no answer

    client = KeepAliveClient()
    try:
        async for url in _raw_server(handler):
            with pytest.raises(ConnectionError):
                await client.request("POST", url, "/v1/terminals/report", b"{}", {})
    finally:
        client.close()
    assert len(requests) == 1


def _daemon() -> Provisioned:
    return Provisioned(key=Ed25519PrivateKey.generate(), device_id="dev_" + "a" * 26,
                       token="mtgw_unused", token_hint="hint", token_id="tok_a", login=1)


def test_a_box_key_is_made_only_for_a_call_that_asks_for_records() -> None:
    daemon = _daemon()
    report = b'{"terminals": []}'
    assert filled(report, daemon) is report  # nothing to fill: sent as it is
    status = b'{"nonce": "{nonce}"}'
    once, again = filled(status, daemon), filled(status, daemon)
    assert b"{nonce}" not in once and once != again  # a fresh nonce each call
    lookup = b'{"nonce": "{nonce}", "box_key": "{box}"}'
    body = filled(lookup, daemon)
    assert b"{box}" not in body and b"{nonce}" not in body
    key = body.split(b'"box_key": "')[1].split(b'"')[0]
    assert len(base64.urlsafe_b64decode(key + b"=" * (-len(key) % 4))) == 32  # X25519
