"""The kit's terminal as the fault and rule tests of the MQL5 EA set it up and watch it: the
reference terminal with a position already open (:func:`with_open_position`), a history call
held while a ping overtakes it (:func:`held_then_answered`, asked again while it answers
-32008: :func:`loaded`; the same with the EA's clocks moved on instead of waited for:
:func:`answered_in_ea_time`), the ticks of one symbol that are not on disk
(:func:`ticks_not_on_disk`), what the kit reports (:func:`kit_lines`, :func:`history_waits`,
:func:`spied`), and the trade events a bridge listener recorded (:func:`trades`).

The terminal-fault tests, the terminal-rule tests and the MT4 EA's rule tests share these, so
they live here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ea_bridge import Bridge, EAError
from tests.bridgekit import RecordingListener
from tests.e2e.conftest import TERMINAL, WAIT_S
from tests.ea_mql.conftest import make_fixture, reference_terminal
from tests.ea_mql.eakit import CompiledEA


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
