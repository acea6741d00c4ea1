"""A burst of connections waits in the kernel's accept queue instead of being dropped.

``python -m bench.authority`` with 1,000 daemons on two consoles failed with connections
reset by the consoles: each listening socket had aiohttp's default backlog of 128, the
busy console's accept queue overflowed (the kernel counted 15,428 ListenOverflows in one run),
and a connection whose handshake the kernel had dropped was reset when its request came. The
guard's sites now listen with a backlog of the connection budget, so every connection the
budget would admit can wait to be accepted; these tests open a burst of that size while the
event loop cannot accept (the connects run on the loop's own thread), then have every
connection in it answered.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from pathlib import Path

import pytest

from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import create_console_app, start_console
from tests.e2e.fixtures import running_daemon

pytestmark = pytest.mark.network_edge

#: More than aiohttp's default backlog (128), within the kernel's cap (net.core.somaxconn,
#: 4096 on current Linux).
BURST = 300
#: How long the burst may take to be handshaken by the kernel (loopback: microseconds).
HANDSHAKE_S = 2.0


def _burst(port: int) -> tuple[list[socket.socket], int]:
    """Open ``BURST`` connections at once on this thread (the event loop's: nothing is
    accepted meanwhile); the sockets and how many of them completed the handshake."""
    socks: list[socket.socket] = []
    for _ in range(BURST):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
    pending = list(socks)
    connected = 0
    deadline = time.monotonic() + HANDSHAKE_S
    while pending and (left := deadline - time.monotonic()) > 0:
        # A dropped SYN leaves its socket unwritable until the deadline: waited on only when
        # the backlog is too short, which is the failure this file is about.
        _, writable, _ = select.select([], pending, [], left)
        for sock in writable:
            pending.remove(sock)
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
    return socks, connected


def _close(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()  # a no-op for those the answered streams closed


async def _every_one_answered(socks: list[socket.socket], port: int) -> int:
    """Send ``GET /health`` on each socket; how many were answered 200."""

    async def ask(sock: socket.socket) -> bool:
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            writer.write(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "Connection: close\r\n\r\n".encode())
            return (await reader.readline()).startswith(b"HTTP/1.1 200")
        finally:
            writer.close()

    return sum(await asyncio.gather(*(ask(sock) for sock in socks)))


async def test_the_console_holds_a_burst_the_size_of_its_budget(tmp_path: Path) -> None:
    """Before: 129 of 300 connections completed the handshake (the backlog of 128, plus
    one); the rest waited on SYN retransmissions, or were reset under sustained load."""
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(
        port=0, max_connections=BURST, max_connections_per_peer=BURST))
    runner, port = await start_console(create_console_app(config), "127.0.0.1", 0)
    try:
        socks, connected = _burst(port)
        try:
            assert connected == BURST
            assert await _every_one_answered(socks, port) == BURST
        finally:
            _close(socks)
    finally:
        await runner.cleanup()


async def test_the_daemon_holds_a_burst_the_size_of_its_budget(tmp_path: Path) -> None:
    """The daemon's port is the same site (a bot fleet reconnecting after a restart)."""
    async with running_daemon(tmp_path, max_connections=BURST,
                              max_connections_per_peer=BURST) as daemon:
        socks, connected = _burst(daemon.http_port)
        try:
            assert connected == BURST
            assert await _every_one_answered(socks, daemon.http_port) == BURST
        finally:
            _close(socks)
