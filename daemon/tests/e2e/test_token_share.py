"""Each token's share of the daemon (round 8, T8-F2): no one token's streams or requests in
progress keep another token out.

The attack: a read-only token (its terminal's EA paired with another token, so every call
under it is refused anyway) opened the daemon's 256 ``/ws`` streams from a few loopback
addresses, 128 each, and the trading bot's ``POST /rpc`` got 503 for as long as they stayed
open: an authenticated stream, like a request in progress, is work the connection budget never
evicts. Now a token holds at most ``[ws] max_streams_per_token`` streams, and its streams and
requests in progress together at most half of ``max_connections``
(``gateway/edge/tokenshare.py``); past either, 429 at once. Each test here answered the bot
503 (or let the attacker hold more) before.

A real daemon on loopback, raw sockets from several ``127.0.0.x`` addresses for the attacker
(the budget's per-address bound is 128: one address cannot reach the whole budget), the bot on
an address of its own. Waits are on what happened (an answer, a request arriving at the EA, a
socket closing), never on time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from ea_bridge import TerminalId
from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.edge.door import DOOR
from gateway.edge.tokenshare import work_bound
from tests.e2e.fixtures import (
    LOGIN,
    SERVER,
    WAIT_S,
    Daemon,
    Issued,
    connected_terminal,
    running_daemon,
)
from tests.e2e.rawhttp import status

pytestmark = pytest.mark.network_edge

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]

#: Where the attacker connects from (each address holds at most 128 connections).
ATTACKERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
#: Where the trading bot (the EA's token) connects from.
BOT = "127.0.0.9"
#: The attacker's own terminal, for the test of held requests (its EA answers slowly).
LOGIN2 = LOGIN + 1
TERMINAL2 = TerminalId(LOGIN2, SERVER)
#: The daemon's defaults (``[server]``, ``[ws]``).
MAX_CONNECTIONS, PER_PEER, STREAMS = 256, 128, 64
ACCOUNT_INFO = b'{"jsonrpc":"2.0","id":1,"method":"account_info"}'


class Progress:
    """Something the test waits for, told by whatever moves it (an answer read, a request
    held at the EA): :meth:`until` wakes at each note and checks its condition again."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def note(self) -> None:
        """Something moved."""
        self._changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds (within :data:`WAIT_S`)."""
        async with asyncio.timeout(WAIT_S):
            while not check():
                self._changed.clear()
                await self._changed.wait()


class SlowReads(EmulatedTerminal):
    """A terminal whose ``account_info`` answers wait until :attr:`release` is set (a busy
    terminal): every request under its token stays in progress at the daemon meanwhile."""

    def __init__(self, *args: Any, progress: Progress, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress
        self.release = asyncio.Event()
        #: ``account_info`` requests that arrived and are held.
        self.held = 0
        self._waiting: set[asyncio.Task[None]] = set()

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method != "account_info":
            super()._answer(conn, request_id, method, params)
            return
        self.held += 1
        self.progress.note()

        async def later() -> None:
            await self.release.wait()
            super(SlowReads, self)._answer(conn, request_id, method, params)

        task = asyncio.get_running_loop().create_task(later())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)


@contextlib.asynccontextmanager
async def slow_terminal(daemon: Daemon, token: str, progress: Progress
                        ) -> AsyncIterator[SlowReads]:
    """A :class:`SlowReads` terminal for :data:`TERMINAL2`, paired with ``token``."""
    terminal = SlowReads(token, port=daemon.bridge.port, progress=progress,
                         settings=EmulatorSettings(login=LOGIN2, server=SERVER,
                                                   symbols=("EURUSD",), tick_rate_hz=1))
    task = asyncio.create_task(terminal.run())
    try:
        await daemon.bridge.wait_for_terminal(TERMINAL2, WAIT_S)
        yield terminal
    finally:
        terminal.release.set()
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- raw HTTP and WebSocket, from a chosen address ------------------------------------------

async def connect(daemon: Daemon, source: str) -> Connection:
    return await asyncio.open_connection("127.0.0.1", daemon.http_port, local_addr=(source, 0))


def upgrade_request(token: str | None) -> bytes:
    """``GET /ws`` asking for a WebSocket, with ``token`` in ``Authorization`` (or none:
    the token then comes in the first message)."""
    key = base64.b64encode(os.urandom(16)).decode()
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{auth}\r\n").encode()


def rpc_request(token: str, body: bytes = ACCOUNT_INFO) -> bytes:
    """A keep-alive ``POST /rpc`` under ``token``."""
    return (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def rest_request(token: str) -> bytes:
    """The REST mirror's ``GET /api/test/status`` under ``token``."""
    return (b"GET /api/test/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + token.encode() + b"\r\n\r\n")


async def response(reader: asyncio.StreamReader) -> bytes:
    """One HTTP response: its head, and its body when it has one (a 101 has none)."""
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")]
        return head + (await reader.readexactly(lengths[0]) if lengths else b"")


def error_of(answer: bytes) -> dict[str, Any]:
    """The JSON-RPC error of a refusal's body."""
    error: dict[str, Any] = orjson.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    return error


async def ask(daemon: Daemon, source: str, request: bytes) -> bytes:
    """``request`` on a connection of its own from ``source``: the answer."""
    reader, writer = await connect(daemon, source)
    try:
        writer.write(request)
        return await response(reader)
    finally:
        writer.close()


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (after whatever it still sends)."""
    async with asyncio.timeout(WAIT_S):
        while await reader.read(65536):
            pass
    return True


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x80 | opcode, 0x80 | size]) if size < 126 \
        else bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def next_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The server's next frame: its opcode and payload."""
    async with asyncio.timeout(WAIT_S):
        first, second = await reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await reader.readexactly(8), "big")
        return first & 0x0F, await reader.readexactly(size)


async def call(conn: Connection, method: str, params: Any = None, rid: int = 1
               ) -> dict[str, Any]:
    """A JSON-RPC call on an open stream: its answer (notifications before it skipped)."""
    reader, writer = conn
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    writer.write(frame(orjson.dumps(message)))
    while True:
        opcode, payload = await next_frame(reader)
        assert opcode == 0x1, (opcode, payload)
        answer: dict[str, Any] = orjson.loads(payload)
        if answer.get("id") == rid:
            return answer


async def close_code(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read to the server's close frame: its code and reason."""
    while True:
        opcode, payload = await next_frame(reader)
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0], payload[2:]


async def end_stream(conn: Connection) -> None:
    """Close a stream and wait until the server has closed the connection: its handler is
    done, and the stream's place given back."""
    reader, writer = conn
    writer.write(frame(struct.pack("!H", 1000), 0x8))
    assert await closed(reader)
    writer.close()


async def stream(daemon: Daemon, source: str, token: str) -> tuple[bytes, Connection]:
    """A ``/ws`` upgrade with ``token`` in its header, from ``source``: the answer (a 101's
    head, or a refusal whole) and the connection."""
    conn = await connect(daemon, source)
    conn[1].write(upgrade_request(token))
    return await response(conn[0]), conn


async def stream_first_message(daemon: Daemon, source: str, token: str
                               ) -> tuple[dict[str, Any], Connection]:
    """A ``/ws`` upgrade without a header, the token in its first message
    (``authenticate``): that message's answer, and the connection."""
    conn = await connect(daemon, source)
    conn[1].write(upgrade_request(None))
    assert status(await response(conn[0])) == 101
    return await call(conn, "authenticate", {"token": token}, rid=0), conn


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


async def the_bot_is_served(daemon: Daemon) -> None:
    """The EA's token, from its own address: its ``POST /rpc`` answered with the account
    (not 503), and a stream of its own opens and answers."""
    answer = await ask(daemon, BOT, rpc_request(daemon.token))
    assert status(answer) == 200, answer
    assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["result"]["login"] == LOGIN
    opened, conn = await stream(daemon, BOT, daemon.token)
    try:
        assert status(opened) == 101, opened
        assert (await call(conn, "version"))["result"] is not None
    finally:
        conn[1].close()


# -- the tests ----------------------------------------------------------------------------------

async def test_a_read_only_tokens_streams_leave_the_ea_tokens_bot_answered(
        tmp_path: Path) -> None:
    """The round-8 attack on the default budget: a read-only token whose terminal's EA is
    paired with the bot's token asks for as many streams as three addresses may open (128
    each). Its first 64 open; every later one is refused before the upgrade: 429
    ``too_many_streams`` in the daemon's error shape, the connection closed. The bot's call
    is answered and its own stream opens; the attacker's streams stay open (refused more,
    not evicted). Before: 256 streams opened, then the attacker's and the bot's connections
    got 503."""
    async with running_daemon(tmp_path) as daemon, connected_terminal(daemon):
        reader = await daemon.issue(scopes=("read",))
        held: list[Connection] = []
        refused: list[bytes] = []
        try:
            for source in ATTACKERS:
                for _ in range(PER_PEER):
                    answer, conn = await stream(daemon, source, reader.token)
                    if status(answer) == 101:
                        held.append(conn)
                        continue
                    refused.append(answer)
                    assert await closed(conn[0])  # no connection kept for it
                    conn[1].close()
            assert (len(held), len(refused)) == (STREAMS, len(ATTACKERS) * PER_PEER - STREAMS)
            assert {status(answer) for answer in refused} == {429}, refused[-1]
            error = error_of(refused[0])
            assert (error["code"], error["data"]["reason"]) == (-32005, "too_many_streams")
            assert b"\r\nRetry-After: 30\r\n" in refused[0]
            await the_bot_is_served(daemon)
            # the attacker's streams were refused more, never ended for anyone (each still
            # answered, as before: every call of this token is refused, its EA is the bot's)
            answer = (await call(held[0], "version"))["error"]
            assert answer["data"]["reason"] == "terminal_mismatch"
            assert daemon.app[DOOR].share.streams[reader.token_id] == STREAMS
        finally:
            close_all(held)


async def test_a_stream_past_the_bound_is_refused_at_its_first_message_too(
        tmp_path: Path) -> None:
    """A token at its bound (the default 64) whose next stream brings the token in its
    first message: that message is answered -32005 ``too_many_streams`` and the socket
    closed with 1013 (another may open later, unlike 1008's refused token); another token's
    stream opens that way; a stream presenting the full token in band is refused and keeps
    its own; once one of the token's streams ends, its place is free again. Before: the
    65th stream was authenticated, and so was the in-band move."""
    async with running_daemon(tmp_path) as daemon, connected_terminal(daemon):
        reader = await daemon.issue(scopes=("read",))
        held: list[Connection] = []
        try:
            for _ in range(STREAMS):
                opened, conn = await stream(daemon, ATTACKERS[0], reader.token)
                held.append(conn)
                assert status(opened) == 101
            answer, conn = await stream_first_message(daemon, ATTACKERS[1], reader.token)
            held.append(conn)
            assert "error" in answer, answer
            assert (answer["error"]["code"], answer["error"]["data"]["reason"]) == (
                -32005, "too_many_streams")
            assert await close_code(conn[0]) == (1013, b"too_many_streams")

            answer, bot = await stream_first_message(daemon, BOT, daemon.token)
            held.append(bot)
            assert answer["result"]["token_id"] == daemon.issued.token_id
            moved = await call(bot, "authenticate", {"token": reader.token})
            assert "error" in moved, moved
            assert (moved["error"]["code"], moved["error"]["data"]["reason"]) == (
                -32005, "too_many_streams")
            # still the bot's: its EA answers it (the reader's token would be refused)
            assert (await call(bot, "account_info"))["result"]["login"] == LOGIN

            await end_stream(held[0])
            opened, conn = await stream(daemon, ATTACKERS[0], reader.token)
            held.append(conn)
            assert status(opened) == 101
        finally:
            close_all(held)


async def test_requests_in_progress_held_by_one_token_leave_the_ea_tokens_bot_answered(
        tmp_path: Path) -> None:
    """One token's calls held open at its terminal (a busy EA), 128 from each of two
    addresses: the whole default budget. Half of the budget is held; the rest are refused at
    once with 429 ``too_many_requests``; the bot's call is answered and its stream opens; the
    held calls are answered once the terminal is. Before: all 256 held, the bot got 503."""
    progress = Progress()
    async with running_daemon(tmp_path, request_timeout_s=WAIT_S * 2
                              ) as daemon, connected_terminal(daemon):
        holder = await daemon.issue(LOGIN2, SERVER, scopes=("read",))
        async with slow_terminal(daemon, holder.token, progress) as terminal:
            conns = [await connect(daemon, source)
                     for source in ATTACKERS[:2] for _ in range(PER_PEER)]
            answers: list[bytes] = []

            async def answered(conn: Connection) -> bytes:
                conn[1].write(rpc_request(holder.token))
                answer = await response(conn[0])
                answers.append(answer)
                progress.note()
                return answer

            calls = [asyncio.create_task(answered(conn)) for conn in conns]
            try:
                await progress.until(lambda: terminal.held + len(answers) == len(conns))
                half = work_bound(MAX_CONNECTIONS)
                assert (terminal.held, len(answers)) == (half, len(conns) - half)
                assert {status(answer) for answer in answers} == {429}
                error = error_of(answers[0])
                assert (error["code"], error["data"]["reason"]) == (-32005,
                                                                    "too_many_requests")
                assert b"\r\nRetry-After: 1\r\n" in answers[0]
                await the_bot_is_served(daemon)
                terminal.release.set()
                done = await asyncio.gather(*calls)
                assert sorted(status(answer) for answer in done) == \
                    [200] * half + [429] * (len(conns) - half)
            finally:
                for task in calls:
                    task.cancel()
                close_all(conns)


async def test_the_rest_mirror_and_streams_count_in_the_same_share(tmp_path: Path) -> None:
    """A budget of 8: a token's share is 4. With 4 of its calls held at its terminal, its
    REST call is refused 429 ``too_many_requests`` and its stream 429 ``too_many_streams``
    (its streams and requests together are the share); the bot's REST call and stream are
    served (and its second stream refused: ``[ws] max_streams_per_token`` is 1 here); once
    the held calls are answered, the REST call is too. Before: the REST call and the
    stream were served, the bot's second stream too."""
    progress = Progress()
    async with running_daemon(tmp_path, max_connections=8, request_timeout_s=WAIT_S * 2,
                              ws={"max_streams_per_token": 1}
                              ) as daemon, connected_terminal(daemon):
        holder: Issued = await daemon.issue(LOGIN2, SERVER, scopes=("read",))
        async with slow_terminal(daemon, holder.token, progress) as terminal:
            share = work_bound(8)
            conns = [await connect(daemon, ATTACKERS[0]) for _ in range(share)]
            for _, writer in conns:
                writer.write(rpc_request(holder.token))
            await progress.until(lambda: terminal.held == share)
            try:
                refused = await ask(daemon, ATTACKERS[1], rest_request(holder.token))
                assert (status(refused), error_of(refused)["data"]["reason"]) == (
                    429, "too_many_requests")
                refused, conn = await stream(daemon, ATTACKERS[1], holder.token)
                conn[1].close()
                assert (status(refused), error_of(refused)["data"]["reason"]) == (
                    429, "too_many_streams")
                assert status(await ask(daemon, BOT, rest_request(daemon.token))) == 200
                opened, bot = await stream(daemon, BOT, daemon.token)
                second, conn = await stream(daemon, BOT, daemon.token)
                bot[1].close()
                conn[1].close()
                assert (status(opened), status(second)) == (101, 429)
                assert error_of(second)["data"]["reason"] == "too_many_streams"
                terminal.release.set()
                for reader, _ in conns:
                    assert status(await response(reader)) == 200
                assert status(await ask(daemon, ATTACKERS[1], rest_request(holder.token))) \
                    == 200
            finally:
                close_all(conns)
