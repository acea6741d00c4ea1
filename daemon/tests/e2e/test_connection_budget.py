"""Connection budgets over real sockets (issue 8, item 10): parked keep-alive connections and
trickling sockets cannot lock clients out, authenticated connections are the last to make
room, a peer has its own budget, and a bot on aiohttp's default session (up to 100
connections) making 500 concurrent calls is served without a connection error."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal, running_daemon
from tests.e2e.rawhttp import PING, post, status, still_served, working

pytestmark = pytest.mark.network_edge

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]

HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _response(reader: asyncio.StreamReader) -> bytes:
    """One keep-alive response (headers and its Content-Length body)."""
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return head + await reader.readexactly(length)


async def _idle_health(port: int) -> Connection:
    """A keep-alive connection that asked for /health and now sits idle."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEALTH)
    assert status(await _response(reader)) == 200
    return reader, writer


async def _closed(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(WAIT_S):
        return await reader.read() == b""


async def _close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()
        await writer.wait_closed()


async def test_idle_keepalive_connections_make_room(tmp_path: Path) -> None:
    """A full house of idle keep-alive connections (once: 64 sockets re-sending GET /health
    locked every client out) gives up its longest-idle member to a newcomer."""
    async with running_daemon(tmp_path, max_connections=8) as daemon:
        parked = [await _idle_health(daemon.http_port) for _ in range(8)]
        try:
            answer = await daemon.call("ping")
            assert answer["error"]["code"] == -32001  # served (no terminal connected)
            assert await _closed(parked[0][0])  # the longest idle left
            parked[-1][1].write(HEALTH)  # the others are still open and served
            assert status(await _response(parked[-1][0])) == 200
        finally:
            await _close_all(parked)


async def test_trickling_sockets_cannot_deny_service(tmp_path: Path) -> None:
    """300 sockets trickling their headers (the header deadline is far off) on the default
    budget: a client is served at once, each newcomer displacing the oldest trickler."""
    async with running_daemon(tmp_path, header_timeout_s=60.0) as daemon:
        tricklers: list[Connection] = []
        try:
            for _ in range(300):
                reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
                writer.write(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
                tricklers.append((reader, writer))
            answer = await daemon.call("ping")
            assert answer["error"]["code"] == -32001
            assert await _closed(tricklers[0][0])
        finally:
            await _close_all(tricklers)


async def _a_token_holder_leaves_last(tmp_path: Path, request: Callable[[Daemon], bytes]
                                      ) -> None:
    """Four connections at most: a token holder's (``request``, kept alive), idle the
    longest, stays open and served while three newcomers displace the three idle
    unauthenticated ones."""
    async with running_daemon(tmp_path, max_connections=4) as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        writer.write(request(daemon))
        assert status(await _response(reader)) == 200
        others = [await _idle_health(daemon.http_port) for _ in range(3)]
        newcomers = [await _idle_health(daemon.http_port) for _ in range(3)]
        try:
            for old_reader, _ in others:
                assert await _closed(old_reader)
            writer.write(request(daemon))  # idle the longest, yet still open and served
            assert status(await _response(reader)) == 200
        finally:
            await _close_all([(reader, writer), *others, *newcomers])


async def test_authenticated_connections_leave_last(tmp_path: Path) -> None:
    """Newcomers displace idle unauthenticated connections before an idle connection that
    carried a valid token, though that one has been idle the longest; it keeps working."""
    await _a_token_holder_leaves_last(tmp_path, lambda daemon: post(
        b"127.0.0.1", daemon.token).replace(b"Connection: close\r\n", b""))


async def test_a_rest_client_with_a_valid_token_leaves_last(tmp_path: Path) -> None:
    """A REST client (``/api``) that showed a valid token ranks as authenticated: newcomers
    displace the idle unauthenticated connections first, though it has been idle the longest
    (issue 45: the REST door never marked its connection, so a token holder there was
    evicted first, as if it had no token)."""
    await _a_token_holder_leaves_last(tmp_path, lambda daemon: (
        b"GET /api/test/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + daemon.token.encode() + b"\r\n\r\n"))


async def _unauthenticated_body(port: int) -> Connection:
    """A ``/rpc`` request without a token in its handler, its 4000-byte body at one byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                 b"\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n")
    async with asyncio.timeout(WAIT_S):  # the interim answer: the handler is reading
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    writer.write(b"{")
    return reader, writer


async def test_unauthenticated_bodies_cannot_lock_clients_out(tmp_path: Path) -> None:
    """Issue 16 F5: a full house of requests without a token, each still sending its body
    (once counted as working: a valid client got 503), gives up its oldest member to a
    client with a valid token, which is served."""
    async with running_daemon(tmp_path, max_connections=4, body_timeout_s=60.0) as daemon:
        slow = [await _unauthenticated_body(daemon.http_port) for _ in range(4)]
        try:
            answer = await daemon.call("ping")
            assert answer["error"]["code"] == -32001  # served (no terminal connected)
            assert await _closed(slow[0][0])  # the oldest unauthenticated body left
        finally:
            await _close_all(slow)


async def test_websockets_that_never_authenticate_cannot_lock_clients_out(
        tmp_path: Path) -> None:
    """Issue 16 F5: upgraded WebSockets still waiting for their first-message
    ``authenticate`` (once counted as working for their whole life) make room for a client
    with a valid token; an authenticated WebSocket is never evicted for it."""
    async with running_daemon(tmp_path, max_connections=4, ws={"auth_timeout_s": 60.0}
                              ) as daemon, aiohttp.ClientSession() as bare:
        ws_url = f"http://127.0.0.1:{daemon.http_port}/ws"
        authed = await daemon.session.ws_connect(
            ws_url, headers={"Authorization": f"Bearer {daemon.token}"})
        silent = [await bare.ws_connect(ws_url) for _ in range(3)]
        try:
            answer = await daemon.call("ping")
            assert answer["error"]["code"] == -32001
            closed = await silent[0].receive(timeout=WAIT_S)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                   aiohttp.WSMsgType.ERROR)
            await authed.send_json({"jsonrpc": "2.0", "id": 7, "method": "ping"})
            reply = await authed.receive_json(timeout=WAIT_S)
            assert reply["id"] == 7  # the token holder's socket is still served
        finally:
            for ws in (authed, *silent):
                await ws.close()


def _asking_to_switch(daemon: Daemon, form: str) -> bytes:
    """A token holder's whole request that asks to switch protocols, which the daemon does
    not: a ``POST /rpc`` with ``Upgrade: h2c`` (answered 200), or a ``GET /ws`` with no
    ``Sec-WebSocket-Key`` (refused 426)."""
    auth = b"Authorization: Bearer " + daemon.token.encode() + b"\r\n"
    if form == "h2c":
        return post(b"127.0.0.1", daemon.token, extra=b"Upgrade: h2c\r\n").replace(
            b"Connection: close\r\n", b"Connection: Upgrade, HTTP2-Settings\r\n")
    return (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
            + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")


@pytest.mark.parametrize("form", ["h2c", "ws-426"])
async def test_a_request_asking_to_switch_leaves_an_ordinary_connection(
        tmp_path: Path, form: str) -> None:
    """Every connection a token holder's: each asked to switch protocols once (the daemon
    did not), then trickles its next request (a header block left open, or a body short of
    its end), or, refused 426, sits idle. A client is served, each newcomer displacing one
    of them (before, any ``Upgrade:`` took its connection off the guard's watch for good:
    503 for every other client while the trickles or the idle 426s lasted)."""
    async with running_daemon(tmp_path, max_connections=4, header_timeout_s=60.0) as daemon:
        held: list[Connection] = []
        try:
            for number in range(4):
                reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
                held.append((reader, writer))
                writer.write(_asking_to_switch(daemon, form))
                assert status(await _response(reader)) == (200 if form == "h2c" else 426)
                if form == "h2c":
                    writer.write(post(b"127.0.0.1", daemon.token)[:-1] if number % 2
                                 else b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            answer = await daemon.call("ping")
            assert answer["error"]["code"] == -32001  # served (no terminal connected)
            assert await _closed(held[0][0])
        finally:
            await _close_all(held)


async def test_each_peer_has_its_own_budget(tmp_path: Path) -> None:
    """A peer whose connections are all working is refused (503) while another address on
    the same port is still served."""
    async with running_daemon(tmp_path, max_connections=10, max_connections_per_peer=2
                              ) as daemon:
        held = await working(daemon, 2)
        try:
            assert status(await _raw(daemon, "127.0.0.1")) == 503
            assert status(await _raw(daemon, "127.0.0.2")) == 200
            await still_served(held)
        finally:
            for ws in held:
                await ws.close()


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset raises)."""
    sock.settimeout(WAIT_S)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def test_a_refusal_arrives_when_the_request_came_first(tmp_path: Path) -> None:
    """The peer's request is already in the socket when the port accepts it and refuses it
    (the common case once connections are accepted in bursts): the 503 arrives and the
    connection ends with a FIN, not a reset that loses it."""
    async with running_daemon(tmp_path, max_connections=10, max_connections_per_peer=2
                              ) as daemon:
        held = await working(daemon, 2)
        # Connected and sent from the loop's own thread: the port cannot accept meanwhile.
        sock = socket.create_connection(("127.0.0.1", daemon.http_port))
        try:
            sock.sendall(post(b"127.0.0.1", daemon.token))
            assert status(await asyncio.to_thread(_read_to_end, sock)) == 503
            await still_served(held)
        finally:
            sock.close()
            for ws in held:
                await ws.close()


async def _raw(daemon: Daemon, source: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port,
                                                   local_addr=(source, 0))
    try:
        writer.write(post(b"127.0.0.1", daemon.token))
        async with asyncio.timeout(WAIT_S):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_default_aiohttp_session_with_500_concurrent_calls_is_served(
        daemon: Daemon) -> None:
    """Exactly the client a bot would use: ``aiohttp.ClientSession()`` with its default pool
    (100 connections), 500 calls at once. Every call is answered (once, connections past the
    64th were answered 503 and closed before their request was written)."""
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}

    async def call(session: aiohttp.ClientSession) -> int:
        async with session.post(daemon.rpc_url, data=PING, headers=headers) as response:
            body = await response.json()
            assert body["error"]["code"] == -32001, body
            return response.status

    async with aiohttp.ClientSession() as session:
        assert session.connector is not None and session.connector.limit == 100
        statuses = await asyncio.gather(*(call(session) for _ in range(500)))
    assert statuses == [200] * 500


async def test_bare_connections_to_the_bridge_port_are_capped(tmp_path: Path) -> None:
    """200 connections to the EA port that never say hello (1,400 once exhausted the daemon's
    file descriptors): past ``max_pending_handshakes`` each newcomer closes the oldest, long
    before the handshake deadline; an EA still connects and ``/health`` still answers."""
    async with running_daemon(tmp_path, bridge={"max_pending_handshakes": 4,
                                                "handshake_timeout_s": 60.0}) as daemon:
        bare: list[Connection] = []
        try:
            for _ in range(200):
                bare.append(await asyncio.open_connection("127.0.0.1", daemon.bridge.port))
            for reader, _ in bare[:-4]:
                assert await _closed(reader)
            async with connected_terminal(daemon):
                assert daemon.bridge.session(TERMINAL) is not None
            async with daemon.session.get(
                    f"http://127.0.0.1:{daemon.http_port}/health") as response:
                assert response.status == 200
        finally:
            await _close_all(bare)
