"""The kit's terminal as the fault and rule tests of the MQL5 EA set it up and watch it: the
reference terminal with a position already open (:func:`with_open_position`), a history call
held while a ping overtakes it (:func:`held_then_answered`, asked again while it answers
-32008: :func:`loaded`; the same with the EA's clocks moved on instead of waited for:
:func:`answered_in_ea_time`), the ticks of one symbol that are not on disk
(:func:`ticks_not_on_disk`), what the kit reports (:func:`kit_lines`, :func:`history_waits`,
:func:`spied`), the trade events a bridge listener recorded (:func:`trades`), a gateway that
runs the handshake and then does what a test says (:func:`fake_gateway`), one that reads a
large answer slowly (:class:`SlowReader`) and the EA's send budget passing meanwhile
(:func:`budget_passes_while_sending`).

The terminal-fault tests, the terminal-rule tests and the MT4 EA's rule tests share these, so
they live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture, reference_terminal
from daemon.tests.ea_mql.eakit import CompiledEA
from ea_bridge import Bridge, EAError, HeartbeatSettings
from ea_bridge.connection import AuthReceived, BridgeConnection, HelloReceived
from tests.bridgekit import RecordingListener, daemon_proof
from tests.e2e.fixtures import TERMINAL, WAIT_S


def trades(listener: RecordingListener, kind: str | None = None) -> list[dict[str, Any]]:
    """The trade events ``listener`` recorded (of type ``kind`` only, if given)."""
    return [p for _, n, p, _ in listener.events
            if n == "trade" and (kind is None or p["type"] == kind)]


async def held_then_answered(b: Bridge, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` and, while it is held, a ping: the ping is answered first (an EA that
    copied history that is not local would be stuck in the copy and answer the ping after)."""
    held = asyncio.create_task(b.call(TERMINAL, method, params, WAIT_S))
    await asyncio.sleep(0)  # the request goes out before the ping
    assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}
    assert not held.done(), "the history call was answered before a later ping"
    return await held


async def loaded(b: Bridge, method: str, params: dict[str, Any], tries: int = 10) -> Any:
    """:func:`held_then_answered`, then asked again (``tries`` calls in all) while the EA
    answers -32008: the history is still loading after its ``HistoryWaitMs`` (4 s). Only the
    first call must be held: once the history is there, a call is answered at once."""
    try:
        return await held_then_answered(b, method, params)
    except EAError as exc:
        if exc.code != -32008:
            raise
    for _ in range(tries - 2):
        try:
            return await b.call(TERMINAL, method, params, WAIT_S)
        except EAError as exc:
            if exc.code != -32008:
                raise
    return await b.call(TERMINAL, method, params, WAIT_S)


async def answered_in_ea_time(b: Bridge, ea: CompiledEA, method: str, params: dict[str, Any],
                              until: Callable[[Any], bool] = lambda _: True,
                              step_ms: int = 1000, most_ms: int = 60_000,
                              held: bool = True) -> Any:
    """Ask ``method`` until an answer satisfies ``until``, moving the EA's clocks on by
    ``step_ms`` (the kit's ``advance``) each time its answer is still to come, -32008 or
    unsatisfying: the terminal's modelled durations (a synchronization, the helper's settle
    time, the EA's ``HistoryWaitMs``) pass as they would, without the test waiting them out.
    Before each step a ping is answered, the gateway's word the EA's heartbeat needs (a step
    is that long a silence to it); ``held``: the first call is still held when that first
    ping is answered, as in :func:`held_then_answered` (an EA stuck in a copy could not). A
    step of 1 s lets the helper look at least once a second of its clock (every 250 ms on a
    terminal), so a wrong judgment of what it sees between two landings is not skipped over.

    Raises:
        AssertionError: still no such answer after ``most_ms`` of the EA's clock.
    """
    moved = 0
    pending = asyncio.create_task(b.call(TERMINAL, method, params, WAIT_S))
    try:
        await asyncio.sleep(0)  # the request goes out before the ping
        assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}
        assert not (held and pending.done()), "the history call was answered before a later ping"
        while True:
            if pending.done():
                try:
                    got = pending.result()
                except EAError as exc:
                    if exc.code != -32008:
                        raise
                else:
                    if until(got):
                        return got
                pending = asyncio.create_task(b.call(TERMINAL, method, params, WAIT_S))
            assert moved < most_ms, f"no answer to {method} in {most_ms} ms of the EA's clock"
            await ea.control(f"advance {step_ms}")
            moved += step_ms
            await asyncio.sleep(0)  # a call asked again goes out before the ping
            assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}
    finally:
        pending.cancel()


async def kit_lines(ea: CompiledEA, command: str, prefix: str) -> list[str]:
    """What the kit prints for a control ``command``, the lines starting ``KIT: <prefix> ``."""
    seen = len(ea.lines)
    await ea.control(command)
    head = f"KIT: {prefix} "
    return [x[len(head):] for x in ea.lines[seen:] if x.startswith(head)]


async def history_waits(ea: CompiledEA) -> int:
    """How many copies made the EA itself wait for history (the kit counts them)."""
    [n] = await kit_lines(ea, "history_waits", "history_waits")
    return int(n)


async def spied(ea: CompiledEA) -> dict[str, int]:
    """The helper's tick spies (mode 0) by symbol, with the timeframe each runs on."""
    out: dict[str, int] = {}
    for line in await kit_lines(ea, "indicators", "indicator"):
        _, name, symbol, period, mode, *_ = line.split()
        if name == "MTGateway\\Helper" and mode == "0":
            out[symbol] = int(period)
    return out


def ticks_not_on_disk(tmp_path: Path, **switches: Any
                      ) -> tuple[Path, dict[str, Any], dict[str, Any], list[int]]:
    """A fixture whose BTCUSD ticks are on disk for the last minute only (``switches``: the
    synchronization's, the kit's others); its path and content, the ``copy_ticks_range``
    query for ten to two minutes ago, and the ``time_msc`` of the ticks it must answer."""
    now_ms = reference_terminal().server_time_ms()
    path, fx = make_fixture(tmp_path, ticks_local_from_ms=now_ms - 60_000, **switches)
    now_ms = fx["now_ms"]
    query = {"symbol": "BTCUSD", "date_from": (now_ms - 600_000) / 1000,
             "date_to": (now_ms - 120_000) / 1000, "flags": -1}
    want = [t[0] for t in fx["symbols"]["BTCUSD"]["ticks"]
            if now_ms - 600_000 <= t[0] <= now_ms - 120_000]
    assert want
    return path, fx, query, want


def with_open_position(volume: float = 0.02) -> tuple[Any, int]:
    """The reference terminal with a BTCUSD buy already open; returns it and the ticket."""
    terminal = reference_terminal()
    sent = terminal._method_table()["order_send"](request={
        "action": 1, "type": 0, "symbol": "BTCUSD", "volume": volume})
    assert sent["retcode"] == 10009, sent
    return terminal, int(sent["order"])


#: The security policy's heartbeat (ping every 5 s, dead after 15 s): a fake gateway's own
#: unless a test says otherwise.
POLICY_HEARTBEAT = HeartbeatSettings()


@contextlib.asynccontextmanager
async def fake_gateway(after_auth: Callable[[BridgeConnection, asyncio.StreamReader,
                                               asyncio.StreamWriter], Coroutine[Any, Any, None]],
                       rcvbuf: int = 0, *, token: str = TOKEN,
                       heartbeat: HeartbeatSettings = POLICY_HEARTBEAT,
                       ) -> AsyncIterator[tuple[int, list[int]]]:
    """A gateway that runs the handshake (proving ``token``; its welcome says ``heartbeat``),
    then hands the connection to ``after_auth``; yields its port and the count of connections
    (in a list, so it updates)."""
    connections = [0]
    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        conn = BridgeConnection(clock=time.monotonic, heartbeat=heartbeat)
        while not conn.should_close:
            data = await reader.read(65536)
            if not data:
                break
            conn.receive_data(data)
            for event in conn.events_received():
                if isinstance(event, HelloReceived):
                    nonce = secrets.token_hex(32)
                    conn.send_challenge(nonce, 0, daemon_proof(token, event.hello, nonce))
                elif isinstance(event, AuthReceived):
                    await after_auth(conn, reader, writer)
                    return
            writer.write(conn.data_to_send())
        writer.close()

    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(serve, sock=sock)
    try:
        yield sock.getsockname()[1], connections
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


class SlowReader:
    """A :func:`fake_gateway` session that asks for ``symbol``'s info (a large answer, when the
    fixture gives it a long description) and reads it 4 KiB every 100 ms, counting in
    ``taken`` what it read: the EA's send is never stuck for long, and never done quickly."""

    def __init__(self, symbol: str = "USDJPY") -> None:
        self.symbol, self.taken = symbol, 0
        self._more = asyncio.Event()

    async def __call__(self, conn: BridgeConnection, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        conn.accept("trickle")
        conn.send_request("symbol_info", {"symbol": self.symbol})
        writer.write(conn.data_to_send())
        while data := await reader.read(4096):
            self.taken += len(data)
            self._more.set()
            await asyncio.sleep(0.1)

    async def takes(self, count: int) -> None:
        """Wait until ``count`` more bytes are read (from any connection)."""
        goal = self.taken + count
        async with asyncio.timeout(WAIT_S):
            while self.taken < goal:
                self._more.clear()
                await self._more.wait()


async def budget_passes_while_sending(ea: CompiledEA, gateway: SlowReader,
                                      budget_ms: int = 5000) -> None:
    """Once the EA waits in its send to a :class:`SlowReader`, move its clock on a second at a
    time (the kit's ``advance``), each step once the gateway has taken more of the frame,
    until ``budget_ms`` and a second more have passed: an EA that gives each short write a
    fresh timeout, or that times only the silences between two takes, is still sending then.
    """
    await ea.wait_for(lambda lines: any(x.startswith("KIT: send waiting") for x in lines))
    assert not any("lost while sending" in c for c in ea.chart)
    for _ in range(budget_ms // 1000 + 1):
        await gateway.takes(8192)
        await ea.control("advance 1000")


async def slow_reader_cannot_hold_the_ea(binary: Path, fixture: tuple[Path, dict[str, Any]],
                                         dropped: str) -> None:
    """Either EA (``binary``, with its ``fixture``: the path and the data written there) meets
    a :class:`SlowReader` asking for a 1 MB answer through a 16 KiB send buffer: once its send
    budget has passed (:func:`budget_passes_while_sending`), its chart says ``dropped`` and it
    connects again. The MQL5 and MQL4 EAs' tests of the one rule, written once."""
    path, fx = fixture
    fx["symbols"]["USDJPY"]["info"]["description"] = "x" * 1_000_000
    path.write_text(json.dumps(fx), encoding="utf-8")
    gateway = SlowReader()
    async with fake_gateway(gateway, rcvbuf=4096) as (port, connections), \
            CompiledEA(binary, path, token=TOKEN, port=port,
                       quirks={"MQLSHIM_SNDBUF": "16384"}) as ea:
        await budget_passes_while_sending(ea, gateway)
        await ea.wait_for_chart(dropped)
        await ea.wait_for(lambda _: connections[0] >= 2)
