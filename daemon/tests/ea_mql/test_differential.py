"""The same requests to the emulator and to the compiled EA on the same fixture (the EA's
fixture is made from an emulator with the same settings and seed): every answer and every
trade event must have the same field names and JSON types. Values differ (time moves, the
fake broker is simpler); the shape a bot codes against must not."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import FIXTURE_MS, SYMBOLS, TICK_RATE_HZ, reference_terminal
from daemon.tests.ea_mql.eakit import CompiledEA, write_fixture
from ea_bridge import Bridge, EAError, HeartbeatSettings
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.bridgekit import RecordingListener, StaticVerifier
from tests.e2e.clocks import SteppedClock
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, WAIT_S

TOKEN = "mtgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBBBBB"


def shape(value: Any) -> Any:
    """Field names and JSON types, recursively. A list of objects or rows is the shape of its
    first item; a list of scalars (a row, ``version``) keeps each position's type."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], dict | list):
            return [shape(value[0])]
        return [shape(v) for v in value]
    return "null" if value is None else type(value).__name__


def requests(now: int) -> list[tuple[str, dict[str, Any]]]:
    buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01, "type_filling": 1}
    limit = {"action": 5, "type": 2, "symbol": "BTCUSD", "volume": 0.01, "price": 1000.0,
             "type_filling": 2}
    window = {"date_from": now - 86_400, "date_to": now + 86_400}
    return [
        ("ping", {}), ("version", {}), ("terminal_info", {}), ("account_info", {}),
        ("server_time", {}), ("symbols_total", {}), ("symbols_get", {}),
        ("symbols_get", {"group": "*USD*"}),
        *[("symbol_info", {"symbol": s}) for s in SYMBOLS],
        *[("symbol_info_tick", {"symbol": s}) for s in SYMBOLS],
        ("symbol_select", {"symbol": "USDJPY", "enable": True}),
        ("copy_rates_from_pos", {"symbol": "BTCUSD", "timeframe": 1, "start_pos": 0, "count": 5}),
        ("copy_rates_from", {"symbol": "BTCUSD", "timeframe": 16385, "date_from": now,
                             "count": 2}),
        ("copy_rates_range", {"symbol": "EURUSD", "timeframe": 5, "date_from": now - 7200,
                              "date_to": now}),
        ("copy_ticks_from", {"symbol": "BTCUSD", "date_from": now - 60, "count": 5,
                             "flags": -1}),
        ("copy_ticks_range", {"symbol": "BTCUSD", "date_from": now - 60, "date_to": now,
                              "flags": 1}),
        ("orders_total", {}), ("positions_total", {}),
        ("history_deals_total", window), ("history_deals_get", window),
        ("order_calc_margin", {"action": 0, "symbol": "BTCUSD", "volume": 0.1,
                               "price": 100_000.0}),
        ("order_calc_profit", {"action": 1, "symbol": "BTCUSD", "volume": 0.1,
                               "price_open": 100_000.0, "price_close": 99_000.0}),
        ("order_check", {"request": buy}),
        ("order_send", {"request": buy}),
        ("order_send", {"request": limit}),
        ("orders_get", {}), ("orders_get", {"symbol": "BTCUSD"}),
        ("positions_get", {}), ("positions_get", {"group": "BTC*"}),
        ("history_orders_total", window), ("history_orders_get", window),
        ("history_deals_get", window),
        ("symbol_info", {"symbol": "NOPE"}), ("no_such_method", {}),
    ]


async def answers(bridge: Bridge, now: int) -> list[Any]:
    out: list[Any] = []
    for method, params in requests(now):
        try:
            out.append(shape(await bridge.call(TERMINAL, method, params, WAIT_S)))
        except EAError as exc:
            out.append({"error": exc.code})
    return out


@contextlib.asynccontextmanager
async def bridge_with(listener: RecordingListener) -> AsyncIterator[Bridge]:
    bridge = Bridge(StaticVerifier({TOKEN: (TERMINAL, "tok-1")}), listener, port=0,
                    heartbeat=HeartbeatSettings(1.0, 3.0))
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.close()


def trade_shapes(listener: RecordingListener) -> dict[str, Any]:
    """One shape per trade event type (the first of each)."""
    seen: dict[str, Any] = {}
    for _, name, payload, _ in listener.events:
        if name == "trade":
            seen.setdefault(payload["type"], shape(payload))
    return seen


async def test_emulator_and_compiled_ea_answer_with_the_same_shapes(
        ea_binary: Path, tmp_path: Path) -> None:
    reference = reference_terminal()
    fixture = tmp_path / "terminal.json"
    fx = write_fixture(fixture, reference)
    now = fx["now_ms"] // 1000
    emulated_events, compiled_events = RecordingListener(), RecordingListener()
    async with bridge_with(emulated_events) as a, bridge_with(compiled_events) as b:
        emulator = EmulatedTerminal(TOKEN, port=a.port, settings=EmulatorSettings(
            login=LOGIN, server=SERVER, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ),
            utc_clock_ms=SteppedClock(FIXTURE_MS))  # the fixture's time (reference_terminal)
        task = asyncio.create_task(emulator.run())
        try:
            async with CompiledEA(ea_binary, fixture, token=TOKEN, port=b.port):
                await a.wait_for_terminal(TERMINAL, WAIT_S)
                await b.wait_for_terminal(TERMINAL, WAIT_S)
                from_emulator = await answers(a, now)
                from_ea = await answers(b, now)
                for want in (emulated_events, compiled_events):
                    await want.wait_for(lambda w=want: {"order_added", "deal_added",
                                                        "position_opened"}
                                        <= set(trade_shapes(w)))
        finally:
            await emulator.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for (method, params), mine, theirs in zip(requests(now), from_ea, from_emulator,
                                              strict=True):
        assert mine == theirs, (method, params)
    emulated, compiled = trade_shapes(emulated_events), trade_shapes(compiled_events)
    for kind in ("order_added", "deal_added", "position_opened"):
        assert compiled[kind] == emulated[kind], kind


def test_shape_sees_a_renamed_field_and_a_changed_type() -> None:
    """The comparison itself: names, int versus float, and nested rows all count."""
    base = {"rows": [[1, 1.5, "x"]], "ok": True}
    assert shape(base) == shape({"rows": [[2, 2.5, "y"]], "ok": False})
    assert shape(base) != shape({"rows": [[1, 1, "x"]], "ok": True})
    assert shape(base) != shape({"row": [[1, 1.5, "x"]], "ok": True})
    assert shape({"a": None}) != shape({"a": 0})


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
