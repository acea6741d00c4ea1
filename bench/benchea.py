"""A bench EA: speaks the real bridge protocol and pushes ticks at a set rate, stamped.

Why not the emulated terminal: its ticks carry ``time_msc``, the *broker's* clock, which says
nothing about when the EA sent them. This EA puts ``time.monotonic_ns()`` (CLOCK_MONOTONIC,
system-wide on Linux, so it compares across processes) into each row's ``volume`` field,
which the daemon passes through to the subscriber unchanged. The stamp is taken when the row
is built, immediately before the frame is encoded and written, so a subscriber's
``monotonic_ns() - volume`` is the honest EA-send → subscriber-has-it latency: the EA's
encode and write, the bridge hop, the daemon's decode and fan-out, the WebSocket hop, and
the subscriber's orjson parse.

It authenticates with the same mutual handshake as a real EA (``EAConnection``), answers the
daemon's heartbeats, and answers any request with METHOD_NOT_FOUND (the fan-out daemon is
never asked anything by the bench).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Final, Protocol

from ea_bridge.connection import EAConnection, Refused, RequestReceived, Welcomed
from ea_bridge.messages import EVENT_TICKS, PROTOCOL_VERSION, Hello
from mtgateway.credential import TokenKeys

__all__ = ["BenchEA", "TickSource", "connect_bench_ea", "push_ticks"]

#: Rows per event at most (a real EA sends one event per symbol per 20 ms timer).
_MAX_ROWS: Final = 500
#: Pause pushing while this much is waiting in our own write buffer (the daemon is behind).
_HIGH_WATER: Final = 1 << 20


class BenchEA(asyncio.Protocol):
    """One EA connection; :attr:`ready` is set once the daemon has welcomed it."""

    def __init__(self, token: str, login: int, server: str) -> None:
        keys = TokenKeys.of(token)
        hello = Hello(PROTOCOL_VERSION, "MT5", 4755, "bench-1.0", login, server,
                      "Bench Broker", "Bench MetaTrader 5", token_hint=keys.hint,
                      ea_nonce=secrets.token_hex(32))
        self.conn = EAConnection(hello, keys, clock=time.monotonic)
        self.ready = asyncio.Event()
        self.refused: str | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._flush()
        self._tick_timer()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Welcomed):
                self.ready.set()
            elif isinstance(event, Refused):
                self.refused = event.reason
                self.ready.set()
            elif isinstance(event, RequestReceived):
                self.conn.send_error(event.request.id, -32601, "not served by the bench EA")
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None
        self.ready.set()

    def _tick_timer(self) -> None:
        self.conn.on_timer()
        self._flush()
        if self.transport is not None:
            self._timer = asyncio.get_running_loop().call_later(0.5, self._tick_timer)

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def push(self, symbol: str, count: int) -> None:
        """Send one ``ticks`` event of ``count`` rows, each stamped with monotonic_ns."""
        wall_ms = time.time_ns() // 1_000_000
        stamp = time.monotonic_ns()
        rows = [[wall_ms, 1.25, 1.25002, 0.0, stamp, 6, 0.0] for _ in range(count)]
        self.conn.send_event(EVENT_TICKS, {"symbol": symbol, "rows": rows})
        self._flush()

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        if self.transport is not None:
            self.conn.send_bye("shutting_down", "bench done")
            self._flush()
            self.transport.close()


async def connect_bench_ea(port: int, token: str, login: int, server: str,
                           timeout_s: float = 10.0) -> BenchEA:
    """Connect and complete the handshake (retrying while the daemon starts).

    Raises:
        RuntimeError: refused, or not welcomed within ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, ea = await loop.create_connection(lambda: BenchEA(token, login, server),
                                                 "127.0.0.1", port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
        await ea.ready.wait()
    if ea.refused is not None or ea.transport is None:
        raise RuntimeError(f"bench EA refused: {ea.refused or 'connection lost'}")
    return ea


class TickSource(Protocol):
    """What :func:`push_ticks` drives: the bench EA, or the fan-out floor's tick source."""

    @property
    def transport(self) -> asyncio.Transport | None: ...

    def push(self, symbol: str, count: int) -> None: ...

    def backlog(self) -> int: ...


async def push_ticks(ea: TickSource, symbol: str, rate_hz: float, duration_s: float) -> int:
    """Push ticks at ``rate_hz`` for ``duration_s``: due rows go out as one event per wake-up
    (one row per event at low rates, like a real EA). Returns the ticks sent."""
    sent = 0
    start = time.monotonic()
    period = 1 / rate_hz
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= duration_s or ea.transport is None:
            return sent
        due = min(int(elapsed * rate_hz) + 1 - sent, _MAX_ROWS)
        if due > 0 and ea.backlog() < _HIGH_WATER:
            ea.push(symbol, due)
            sent += due
        next_at = start + (sent) * period
        await asyncio.sleep(max(0.0, min(next_at - time.monotonic(), 0.001 if rate_hz > 1000
                                         else period)))
