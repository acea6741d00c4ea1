"""The floors every ratio is taken against, started by the same run as the daemon.

* TCP floor: an asyncio ``Protocol`` that echoes newline-delimited messages, measured with a
  blocking-socket client sending a ~200-byte NDJSON message and waiting for its echo. It is
  the cost of a loopback round trip plus one event-loop wake-up: nothing can do less.
* HTTP floor: the smallest aiohttp server that does what ``/rpc`` does at the HTTP level
  (``POST``, read the body, answer a fixed ~90-byte JSON body). Measured with the same
  clients as the daemon (wrk and aiohttp), so the ratio isolates what the gateway adds:
  auth, JSON-RPC dispatch, the EA round trip.

Both run on uvloop when it is installed, as the daemon does. Run as a child process::

    python -m bench.floors tcp PORT
    python -m bench.floors http PORT
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from typing import Final

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

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/rpc", rpc)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


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
        await (_serve_tcp if kind == "tcp" else _serve_http)(port, stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
