"""A fault-injecting TCP proxy for the EA bridge: the link between daemon and terminal, broken
on purpose, frame by frame.

Why frame-aware: the failures that matter for trading safety happen at message boundaries --
an ``order_send`` request cut after a few bytes, its answer lost, delayed past the deadline,
or delivered twice. So the proxy splits each direction into the bridge's length-prefixed frames
(``framing.py``) and applies an *armed* :class:`Fault` to the first frame, in its direction,
whose bytes contain the fault's ``match`` (e.g. ``b'"order_send"'``):

* ``cut``: forward the first ``cut_bytes`` bytes of the frame, then reset both sockets;
* ``delay``: hold the frame ``delay_s`` seconds (everything behind it waits, as in TCP);
* ``silence``: forward nothing more in either direction, sockets left open (only the
  heartbeat can tell);
* ``reset``: drop the frame and reset both sockets;
* ``duplicate``: forward the frame twice.

A fault fires once. :meth:`FaultProxy.squat` stands for the daemon's port taken by another
process while the daemon is away: the links in place are reset, and every new connection (the
EA reconnecting) is served by a handler instead of the daemon until the squat ends. The proxy
ships with the bridge, like the emulated terminal, because the
chaos command (``python -m bench.chaos``) and the tests drive the real daemon and the real
emulator through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from .framing import HEADER_BYTES

__all__ = ["DIRECTIONS", "KINDS", "Direction", "Fault", "FaultProxy", "Kind", "Squatter"]

#: What serves a connection while the port is squatted: the EA's reader and writer.
Squatter = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

Kind = Literal["cut", "delay", "silence", "reset", "duplicate"]
Direction = Literal["to_ea", "to_daemon"]
KINDS: tuple[Kind, ...] = ("cut", "delay", "silence", "reset", "duplicate")
DIRECTIONS: tuple[Direction, ...] = ("to_ea", "to_daemon")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault, fired on the first frame of ``direction`` containing ``match``."""

    kind: Kind
    direction: Direction
    match: bytes = b""
    cut_bytes: int = 0
    delay_s: float = 0.0


class _Link:
    """One proxied connection: two pumps sharing a fate."""

    def __init__(self, proxy: FaultProxy, ea: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 daemon: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.ea_reader, self.ea_writer = ea
        self.daemon_reader, self.daemon_writer = daemon
        self.silent = False

    def reset(self) -> None:
        for writer in (self.ea_writer, self.daemon_writer):
            writer.transport.abort()

    async def run(self) -> None:
        pumps = [asyncio.create_task(self._pump(self.ea_reader, self.daemon_writer, "to_daemon")),
                 asyncio.create_task(self._pump(self.daemon_reader, self.ea_writer, "to_ea"))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await pump
            if not self.silent:
                self.reset()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: Direction) -> None:
        buffer = bytearray()
        while True:
            try:
                data = await reader.read(65536)
            except (OSError, ConnectionError):
                return
            if not data:
                return
            if self.silent:
                continue
            buffer += data
            while len(buffer) >= HEADER_BYTES:
                size = HEADER_BYTES + int.from_bytes(buffer[:HEADER_BYTES], "big")
                if len(buffer) < size:
                    break
                frame = bytes(buffer[:size])
                del buffer[:size]
                if not await self._forward(frame, writer, direction):
                    return

    async def _forward(self, frame: bytes, writer: asyncio.StreamWriter,
                       direction: Direction) -> bool:
        """Forward one frame, applying an armed fault; False when the link is over."""
        fault = self.proxy.take(direction, frame)
        if fault is None:
            writer.write(frame)
        elif fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
            writer.write(frame)
        elif fault.kind == "duplicate":
            writer.write(frame + frame)
        elif fault.kind == "cut":
            writer.write(frame[: max(0, min(fault.cut_bytes, len(frame) - 1))])
            with contextlib.suppress(OSError, ConnectionError):
                await writer.drain()
            self.reset()
            return False
        elif fault.kind == "reset":
            self.reset()
            return False
        else:  # silence
            self.silent = True
            return True
        with contextlib.suppress(OSError, ConnectionError):
            await writer.drain()
        return True


class FaultProxy:
    """Listens on loopback, forwards each connection to ``upstream``, breaking it on demand.

    Args:
        upstream_port: the daemon's bridge port (on 127.0.0.1).
        on_fault: called with each fault as it fires (for reports).
    """

    def __init__(self, upstream_port: int, *,
                 on_fault: Callable[[Fault], None] | None = None) -> None:
        self.upstream_port = upstream_port
        self._armed: list[Fault] = []
        self._on_fault = on_fault
        self._server: asyncio.Server | None = None
        self._squatter: Squatter | None = None
        self._squatting: set[asyncio.Task[None]] = set()
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    def arm(self, fault: Fault) -> None:
        """Fire ``fault`` on the next matching frame (faults fire in the order armed)."""
        self._armed.append(fault)

    def disarm(self) -> list[Fault]:
        """Drop the faults that have not fired; return them."""
        left, self._armed = self._armed, []
        return left

    def take(self, direction: Direction, frame: bytes) -> Fault | None:
        """The first armed fault for this frame, removed (it fires once)."""
        for index, fault in enumerate(self._armed):
            if fault.direction == direction and fault.match in frame:
                del self._armed[index]
                if self._on_fault is not None:
                    self._on_fault(fault)
                return fault
        return None

    def squat(self, squatter: Squatter | None) -> None:
        """While ``squatter`` is set, reset the links in place and serve every new connection
        with it instead of the daemon (another process holds the port); ``None`` ends it."""
        self._squatter = squatter
        if squatter is not None:
            for link in list(self._links):
                link.reset()

    async def start(self) -> int:
        """Listen on 127.0.0.1, port 0; the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and end every link."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.reset()  # the pumps see their sockets end and return
        for task in self._squatting:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._squatting, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        squatter = self._squatter
        if squatter is not None:
            task = asyncio.current_task()
            assert task is not None
            self._squatting.add(task)
            try:
                await squatter(reader, writer)
            finally:
                writer.transport.abort()
                self._squatting.discard(task)
            return
        try:
            upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        link = _Link(self, (reader, writer), upstream)
        self._tasks.add(task)
        self._links.add(link)
        try:
            await link.run()
        finally:
            link.reset()
            self._links.discard(link)
            self._tasks.discard(task)
