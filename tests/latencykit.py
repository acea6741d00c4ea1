"""A TCP proxy on loopback that delays every byte a server sends by a fixed time: a database one
network round trip away, on one machine.

:class:`LatencyProxy` runs its own event loop on its own thread, so a test whose loop blocked on
a synchronous call through it (the fault the test exists to catch) sees the call slow, not
deadlocked. Each chunk the server sends is written to the client ``delay_s`` after it arrived,
in order (a pipe with latency, not a throttle); the client's bytes pass at once.

:meth:`LatencyProxy.delay` raises the delay from then on (never lowers it: a chunk written
sooner than one before it would overtake it), so a test sets up its server at no latency and
pays the round trips only where it watches.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Final

__all__ = ["LatencyProxy"]

_CHUNK: Final = 65536


class LatencyProxy:
    """``127.0.0.1:<port>`` forwarding to ``127.0.0.1:<target_port>``; a context manager."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port, self.delay_s = target_port, delay_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="latency-proxy")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def delay(self, delay_s: float) -> None:
        """Delay what the server sends by ``delay_s`` from now on (at least the delay before:
        later chunks keep their order)."""
        if delay_s < self.delay_s:
            raise ValueError(f"the delay only rises ({self.delay_s} s now, {delay_s} s asked)")
        self.delay_s = delay_s  # one float, read by the proxy's thread at each chunk

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    delayed: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(_CHUNK):
                if delayed and (delay_s := self.delay_s):
                    # written delay_s after it arrived: later chunks keep their order
                    loop.call_later(delay_s, self._write, writer, data)
                else:
                    writer.write(data)
        except OSError:
            pass
        finally:
            loop.call_later(self.delay_s if delayed else 0.0, writer.close)

    @staticmethod
    def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        if not writer.is_closing():
            writer.write(data)

    async def _serve(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers.add(server_w)
        await asyncio.gather(self._pipe(client_r, server_w, False),
                             self._pipe(server_r, client_w, True))

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        started: Future[int] = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._server is not None:
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
