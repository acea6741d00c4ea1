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
* Lean hop floor (the denominator of the ``/rpc`` targets): the same hop behind the
  leanest sound HTTP/1.1 edge, an ``asyncio.Protocol`` parsing with httptools (llhttp, the
  parser uvicorn uses) and answering the same ~90-byte body with Content-Length, keep-alive
  and pipelining in order. Like uvicorn's ``httptools_impl``, each complete request runs as
  one task that awaits its hop and writes the answer (the daemon's handler must await the
  EA, so a coroutine per request is the least it can do; tasks resume in the upstream's
  order, so pipelined answers stay in order). It is what one HTTP edge plus one hop to
  another process can do in Python; aiohttp's request machinery costs ~5x such a protocol,
  so the hop floor above hides it.
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
    python -m bench.floors lean PORT UPSTREAM_PORT
    python -m bench.floors fanout PORT TICK_PORT
"""

from __future__ import annotations

import asyncio
import collections
import signal
import socket
import sys
import time
from collections.abc import Callable
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
    a FIFO of callbacks pairs them (the echo preserves the newline-delimited messages)."""

    def __init__(self) -> None:
        self._waiters: collections.deque[Callable[[], None]] = collections.deque()
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        lines = self._buffer.count(b"\n")
        if lines:
            self._buffer = self._buffer[self._buffer.rindex(b"\n") + 1:]
            for _ in range(lines):
                self._waiters.popleft()()

    def send(self, message: bytes, done: Callable[[], None]) -> None:
        """Send ``message``; call ``done`` when its echo is back."""
        self._waiters.append(done)
        self._transport.write(message)

    async def round_trip(self, message: bytes) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done() -> None:
            if not waiter.done():
                waiter.set_result(None)

        self.send(message, done)
        await waiter


async def _serve_hop(port: int, upstream_port: int, stop: asyncio.Event) -> None:
    from aiohttp import web

    upstream = await _connect_upstream(upstream_port)

    async def rpc(request: web.Request) -> web.Response:
        await request.read()
        await upstream.round_trip(TCP_MESSAGE)
        return web.Response(body=HTTP_FLOOR_BODY, content_type="application/json")

    await _serve_app(port, stop, rpc)


#: The lean floor's whole answer: status line, the headers aiohttp's floor sends, the body.
_LEAN_RESPONSE: Final = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(HTTP_FLOOR_BODY)).encode() + b"\r\n\r\n"
                         + HTTP_FLOOR_BODY)
_LEAN_CLOSE: Final = _LEAN_RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
_LEAN_HEALTH: Final = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 2\r\n\r\nok")
_LEAN_BAD: Final = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _LeanHttp(asyncio.Protocol):
    """The lean hop floor's connection: httptools parses, each complete ``POST /rpc`` makes
    one round trip upstream, answers leave in request order (the upstream's FIFO)."""

    def __init__(self, upstream: _Upstream) -> None:
        import httptools

        self._upstream = upstream
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.write(_LEAN_BAD)
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        keep = self._parser.should_keep_alive()
        b"".join(self._body)  # the body is read, as the other floors read it
        # /health (readiness only) takes the hop too, so pipelined answers stay in order
        response = (_LEAN_HEALTH if self._url == b"/health"
                    else _LEAN_RESPONSE if keep else _LEAN_CLOSE)
        self._tasks.add(task := self._loop.create_task(self._serve(response, keep)))
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, response: bytes, keep: bool) -> None:
        await self._upstream.round_trip(TCP_MESSAGE)
        self._answer(response, keep)

    def _answer(self, response: bytes, keep: bool) -> None:
        if self._closed:
            return
        self._transport.write(response)
        if not keep:
            self._transport.close()


async def _connect_upstream(upstream_port: int) -> _Upstream:
    loop = asyncio.get_running_loop()
    _, upstream = await loop.create_connection(_Upstream, "127.0.0.1", upstream_port)
    sock = upstream._transport.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return upstream


async def _serve_lean(port: int, upstream_port: int, stop: asyncio.Event) -> None:
    upstream = await _connect_upstream(upstream_port)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _LeanHttp(upstream), "127.0.0.1", port)
    async with server:
        await stop.wait()


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
        elif kind == "lean":
            await _serve_lean(port, int(argv[2]), stop)
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
