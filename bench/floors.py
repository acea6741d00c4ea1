"""The floors every ratio is taken against, started by the same run as the daemon.

* TCP floor: an asyncio ``Protocol`` that echoes newline-delimited messages, measured with a
  blocking-socket client sending a ~200-byte NDJSON message and waiting for its echo. It is
  the cost of a loopback round trip plus one event-loop wake-up: nothing can do less.
* HTTP floor: the smallest aiohttp server that does what ``/rpc`` does at the HTTP level
  (``POST``, read the body, answer a fixed ~90-byte JSON body). Measured with the same
  clients as the daemon (wrk and aiohttp), so the ratio isolates what the gateway adds:
  auth, JSON-RPC dispatch, the EA round trip.
* Hop floor (informational, not a target's denominator): the HTTP floor plus the one thing
  the gateway's architecture adds, a round trip to another process over a kept-open TCP
  connection (an echo server placed where the emulated terminal runs) before answering.
  The daemon against *this* floor is what our code costs; this floor against the HTTP
  floor is what the EA hop costs whatever the code.
* Fan-out floor (for tick latency): the smallest relay with the daemon's shape. A TCP port
  takes newline-delimited tick rows from a tick source (``bench.fanout.FloorSource``, the
  bench EA's stand-in); each row is parsed once, wrapped in a ``tick`` notification encoded
  once, and sent to every WebSocket client with aiohttp's ``send_frame`` (as the
  performance spec's fan-out measurement does). Its ``/ws`` answers the first message of a
  client (the subscribe request) with a result and then streams. No auth, no hub, no
  conflation: what is left of the daemon's latency above it is our code.

All run on uvloop when it is installed, as the daemon does. Run as a child process::

    python -m bench.floors tcp PORT
    python -m bench.floors http PORT
    python -m bench.floors hop PORT UPSTREAM_PORT   # UPSTREAM_PORT: a ``tcp`` floor
    python -m bench.floors fanout PORT TICK_PORT
"""

from __future__ import annotations

import asyncio
import collections
import signal
import socket
import sys
import time
from typing import Any, Final

__all__ = ["HTTP_FLOOR_BODY", "TCP_MESSAGE", "tcp_echo_rtts"]

#: ~200 bytes of NDJSON, the size of a small JSON-RPC request.
TCP_MESSAGE: Final = (b'{"jsonrpc":"2.0","id":12345,"method":"symbol_info_tick","params":'
                      b'{"symbol":"EURUSD"},"pad":"' + b"x" * 100 + b'"}\n')
#: ~90 bytes, the size of a small JSON-RPC answer.
HTTP_FLOOR_BODY: Final = (b'{"jsonrpc":"2.0","result":{"bid":1.15210,"ask":1.15212,'
                          b'"time_msc":1763650000123},"id":1}')


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._transport.write(data)


async def _serve_tcp(port: int, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Echo, "127.0.0.1", port)
    async with server:
        await stop.wait()


async def _serve_http(port: int, stop: asyncio.Event) -> None:
    from aiohttp import web

    async def rpc(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=HTTP_FLOOR_BODY, content_type="application/json")

    await _serve_app(port, stop, rpc)


async def _serve_app(port: int, stop: asyncio.Event, rpc: Any,
                     gets: dict[str, Any] | None = None) -> None:
    from aiohttp import web

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    if rpc is not None:
        app.router.add_post("/rpc", rpc)
    app.router.add_get("/health", health)
    for path, handler in (gets or {}).items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class _Upstream(asyncio.Protocol):
    """One kept-open connection to the echo server; replies come back in request order, so
    a FIFO of futures pairs them (the echo preserves the newline-delimited messages)."""

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        lines = self._buffer.count(b"\n")
        if lines:
            self._buffer = self._buffer[self._buffer.rindex(b"\n") + 1:]
            for _ in range(lines):
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    async def round_trip(self, message: bytes) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._transport.write(message)
        await waiter


async def _serve_hop(port: int, upstream_port: int, stop: asyncio.Event) -> None:
    from aiohttp import web

    loop = asyncio.get_running_loop()
    _, upstream = await loop.create_connection(_Upstream, "127.0.0.1", upstream_port)
    sock = upstream._transport.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def rpc(request: web.Request) -> web.Response:
        await request.read()
        await upstream.round_trip(TCP_MESSAGE)
        return web.Response(body=HTTP_FLOOR_BODY, content_type="application/json")

    await _serve_app(port, stop, rpc)


async def _serve_fanout(port: int, tick_port: int, stop: asyncio.Event) -> None:
    import orjson
    from aiohttp import WSMsgType, web

    clients: set[web.WebSocketResponse] = set()
    loop = asyncio.get_running_loop()

    async def fan(frames: list[bytes]) -> None:
        for frame in frames:
            for ws in list(clients):
                await ws.send_frame(frame, WSMsgType.TEXT)

    class Source(asyncio.Protocol):
        def __init__(self) -> None:
            self._buffer = b""
            self._seq = 0

        def data_received(self, data: bytes) -> None:
            *lines, self._buffer = (self._buffer + data).split(b"\n")
            frames = []
            for line in lines:
                self._seq += 1
                params = orjson.loads(line)
                params["seq"] = self._seq
                frames.append(orjson.dumps({"jsonrpc": "2.0", "method": "tick",
                                            "params": params}))
            if frames:
                loop.create_task(fan(frames))

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=65536)
        await ws.prepare(request)
        first = await ws.receive()
        if first.type is WSMsgType.TEXT:
            rid = orjson.loads(first.data).get("id")
            await ws.send_str(orjson.dumps({"jsonrpc": "2.0", "result": "s1", "id": rid}).decode())
            clients.add(ws)
            try:
                async for _ in ws:
                    pass
            finally:
                clients.discard(ws)
        return ws

    source = await loop.create_server(Source, "127.0.0.1", tick_port)
    try:
        await _serve_app(port, stop, None, {"/ws": ws_handler})
    finally:
        source.close()


def tcp_echo_rtts(port: int, count: int, warmup: int = 200) -> list[int]:
    """Sequential round trips to the echo server from a blocking socket, in nanoseconds."""
    samples: list[int] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        size = len(TCP_MESSAGE)
        for i in range(warmup + count):
            started = time.perf_counter_ns()
            sock.sendall(TCP_MESSAGE)
            got = 0
            while got < size:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("echo server closed")
                got += len(chunk)
            if i >= warmup:
                samples.append(time.perf_counter_ns() - started)
    return samples


def main(argv: list[str]) -> int:
    kind, port = argv[0], int(argv[1])

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if kind == "tcp":
            await _serve_tcp(port, stop)
        elif kind == "hop":
            await _serve_hop(port, int(argv[2]), stop)
        elif kind == "fanout":
            await _serve_fanout(port, int(argv[2]), stop)
        else:
            await _serve_http(port, stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
