"""A burst of connections is accepted within a few loop passes, on both loops (issue 32
item 3).

uvloop's libuv accepts one connection per readiness event of the listening socket; on a loop
busy with a thousand connections' callbacks that was one accept per pass, and connections
waited 10-26 s in the kernel's accept queue (docs/history/performance-notes.md, "the 2 x 1,000
tail").
asyncio's loop accepts up to the backlog per pass. The guard's site accepts until the kernel
has nothing more (EAGAIN) on any loop.

The burst is connected from the loop's own thread, so every connection waits in the accept
queue before the loop runs; then the loop is given a fixed number of passes (``sleep(0)``),
and the console's connection budget says how many it admitted.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import CONNECTIONS, create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from tests.testkit import until

pytestmark = pytest.mark.network_edge

BURST = 200
#: Loop passes the burst is given: accepted, then each connection's transport made.
PASSES = 10


async def test_a_burst_of_connections_is_accepted_in_a_few_loop_passes(tmp_path: Path) -> None:
    app = create_console_app(ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(
        port=0, max_connections=4 * BURST, max_connections_per_peer=4 * BURST)),
        mailer=RecordingMailer())
    runner, port = await start_console(app, "127.0.0.1", 0)
    burst: list[socket.socket] = []
    try:
        for _ in range(BURST):  # handshaken by the kernel, none accepted yet
            burst.append(socket.create_connection(("127.0.0.1", port)))
        budget = app[CONNECTIONS]
        assert budget.active == 0
        for _ in range(PASSES):
            await asyncio.sleep(0)
        assert budget.active == BURST
        last = burst[-1]  # and the last one is served
        last.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        last.settimeout(10)
        answer = await asyncio.to_thread(last.recv, 65536)
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        for sock in burst:
            sock.close()
        await runner.cleanup()


async def test_each_connection_is_served_without_delay_and_released_when_its_client_leaves(
        tmp_path: Path) -> None:
    """What a connection's set-up no longer does itself is still done: its socket has
    TCP_NODELAY (set by the loop's TCP transport, asyncio's or uvloop's; neither the accept
    nor the edge sets it), the edge knows its guard (told by the site's factory), and a
    connection the client closes after its device call gives its place back."""
    app = create_console_app(ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(
        port=0)), mailer=RecordingMailer())
    runner, port = await start_console(app, "127.0.0.1", 0)
    budget = app[CONNECTIONS]
    clients: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            clients.append((reader, writer))
        guards = budget.connections()
        assert len(guards) == 3 and budget.active == 3
        for guard in guards:
            assert guard.transport is not None
            sock = guard.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert getattr(guard.inner, "guard", None) is guard, guard.inner  # the edge's
            assert guard.peer == "127.0.0.1"
        for _, writer in clients:
            writer.close()
        await until(lambda: budget.active == 0)  # the closes reach the loop in its next passes
        assert budget.connections() == []
    finally:
        for _, writer in clients:
            writer.close()
        await runner.cleanup()
