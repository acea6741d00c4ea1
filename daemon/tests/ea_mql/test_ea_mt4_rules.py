"""What the MQL4 reference says MetaTrader 4 does that the kit models since the second EA review,
and what the MT4 EA does about it (docs/terminal.md, "The second review's findings"): the trade
server refuses a price or a stop that is not rounded to the symbol's digits (C4-1, D4-1) or
lies between two of its ticks, 0-digit symbols included (C4-3, E-8, D-4, the third review), the
ticket list arrives after the login (E4-6, D4-3), and an EA with OnTick hears the chart symbol's
quotes as they come (E4-3). Each test fails on the EA before those fixes. The "Allow DLL imports"
hint that must stay on the chart (C4-2, D4-4) is
test_ea_mt4.py::test_dll_imports_off_stop_the_ea_with_the_reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import TOKEN
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.eakit4 import build_ea4, write_fixture4
from daemon.tests.ea_mql.mt4kit import coarse_symbol, fixture4, trades
from daemon.tests.ea_mql.terminalkit import with_open_position
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon

POINT = 0.01  # BTCUSD: 2 digits


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


@pytest.fixture
async def ea(daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> AsyncIterator[CompiledEA]:
    async with CompiledEA(ea4_binary, fixture4(tmp_path)[0], token=daemon.token,
                          port=daemon.bridge.port) as running:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield running


async def tickets(ea: CompiledEA) -> dict[int, dict[str, Any]]:
    """The kit's trade server: every ticket by number."""
    seen = len(ea.lines)
    await ea.control("book")
    return {t["ticket"]: t for t in (json.loads(x.removeprefix("KIT: ticket "))
                                     for x in ea.lines[seen:] if x.startswith("KIT: ticket "))}


async def ok(daemon: Daemon, method: str, params: Any) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


def unrounded(x: float) -> float:
    """``x`` as a bot computes it, asserted not to be a 2-digit price already."""
    assert round(x, 2) != x, x
    return x


async def test_prices_and_stops_are_rounded_to_the_symbols_digits(
        daemon: Daemon, ea: CompiledEA) -> None:
    """MT4 refuses an unrounded price (129) or stop (130) that MT5 takes; bots compute stops
    (``price - 100 * point``, a percentage, an ATR multiple) and send the float. The EA rounds
    price, sl, tp and stoplimit to the symbol's digits before every trade call: the market buy,
    the SL/TP change and the pending order all execute, with the rounded prices in the trade
    server's book."""
    tick = await ok(daemon, "symbol_info_tick", ["BTCUSD"])
    sl = unrounded(round(tick["bid"] * 0.95, 2) + POINT / 3)
    tp = unrounded(round(tick["bid"] * 1.05, 2) - POINT / 3)
    sent = await ok(daemon, "order_send", {"request": {
        "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01, "sl": sl, "tp": tp,
        "client_id": "round-1"}})
    assert sent["retcode"] == 10009, sent
    book = await tickets(ea)
    assert (book[sent["order"]]["sl"], book[sent["order"]]["tp"]) == (round(sl, 2), round(tp, 2))
    atr = 37.123456
    new_sl = unrounded(tick["bid"] - 1.5 * atr)
    moved = await ok(daemon, "order_send", {"request": {
        "action": 6, "symbol": "BTCUSD", "position": sent["order"], "sl": new_sl, "tp": tp,
        "client_id": "round-2"}})
    assert moved["retcode"] == 10009, moved
    assert (await tickets(ea))[sent["order"]]["sl"] == round(new_sl, 2)
    limit = unrounded(round(tick["ask"] * 0.9, 2) + POINT / 3)
    limit_sl = unrounded(limit - 100 * POINT - POINT / 7)  # the package example's formula
    placed = await ok(daemon, "order_send", {"request": {
        "action": 5, "type": 2, "symbol": "BTCUSD", "volume": 0.01, "price": limit,
        "sl": limit_sl, "client_id": "round-3"}})
    assert placed["retcode"] == 10009, placed
    order = (await tickets(ea))[placed["order"]]
    assert (order["open_price"], order["sl"]) == (round(limit, 2), round(limit_sl, 2))


async def test_prices_of_a_symbol_in_whole_points_go_on_its_ticks(
        daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """C4-3, E-8, D-4: JP225 is quoted with 0 digits and moves in steps of 5 points, as
    index CFDs are. The old EA "normalized" its stops to 1 digit (SymbolDigits turned 0 into
    1), which MT4 refuses (130), and never to the tick size; the kit's server now refuses a
    price between two ticks as a broker's does. The EA puts price, stops and take-profit on
    the symbol's ticks: the buy, the stop change and the pending order all execute there."""
    path, fixture = fixture4(tmp_path)
    coarse_symbol(fixture, "JP225", like="BTCUSD", tick=5.0)
    path.write_text(json.dumps(fixture), encoding="utf-8")

    def grid(x: float) -> float:
        return float(round(x / 5) * 5)

    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        tick = await ok(daemon, "symbol_info_tick", ["JP225"])
        assert tick["bid"] % 5 == 0
        sl, tp = tick["bid"] * 0.95 + 1.37, tick["bid"] * 1.05 - 0.6
        sent = await ok(daemon, "order_send", {"request": {
            "action": 1, "type": 0, "symbol": "JP225", "volume": 0.01, "sl": sl, "tp": tp,
            "client_id": "coarse-1"}})
        assert sent["retcode"] == 10009, sent
        book = await tickets(ea)
        assert (book[sent["order"]]["sl"], book[sent["order"]]["tp"]) == (grid(sl), grid(tp))
        new_sl = tick["bid"] * 0.97 - 2.2
        moved = await ok(daemon, "order_send", {"request": {
            "action": 6, "symbol": "JP225", "position": sent["order"], "sl": new_sl, "tp": tp,
            "client_id": "coarse-2"}})
        assert moved["retcode"] == 10009, moved
        assert (await tickets(ea))[sent["order"]]["sl"] == grid(new_sl)
        limit = tick["ask"] * 0.9 + 3.1
        placed = await ok(daemon, "order_send", {"request": {
            "action": 5, "type": 2, "symbol": "JP225", "volume": 0.01, "price": limit,
            "sl": limit - 101.3, "client_id": "coarse-3"}})
        assert placed["retcode"] == 10009, placed
        order = (await tickets(ea))[placed["order"]]
        assert (order["open_price"], order["sl"]) == (grid(limit), grid(limit - 101.3))


async def test_tickets_that_arrive_after_the_login_are_not_announced(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """At the terminal's start the account number comes first, the ticket list 500 ms later. A
    ticket open before the EA is learnt silently when the list arrives (the old EA learnt an
    empty list at the login and then announced it as deal_added + position_opened); closed
    from the terminal's window, it is reported closed."""
    b, listener = bridge
    terminal, ticket = with_open_position()
    path = tmp_path / "terminal4.json"
    write_fixture4(path, terminal, logged_in=False, trade_state_ms=500)
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port) as ea:
        await ea.wait_for_chart("waiting for the terminal to log in")
        await ea.control("login")
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: any(n == "terminal" and p["connected"]
                                            for _, n, p, _ in listener.events))
        assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 1
        await ea.control(f"close {ticket}")
        await listener.wait_for(lambda: any(t["type"] == "position_closed"
                                            for t in trades(listener)))
        assert [t["type"] for t in trades(listener)] == ["deal_added", "position_closed"]


async def test_the_chart_symbols_quotes_go_out_on_each_tick(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """With a one-second timer, EURUSD (the chart's symbol) quotes 20 ms apart: OnTick sends
    each as it comes, where a timer-only EA sent one a second."""
    b, listener = bridge
    path, fx = fixture4(tmp_path, live_ticks=900)  # 18 s of quotes from the EA's start
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port, timer_ms=1000) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: sum(s == "EURUSD" for _, s, _ in listener.ticks_seen)
                                >= 10)
        assert await ea.stop() == 0
    [counts] = [x for x in ea.lines if x.startswith("KIT: handled ")]
    assert int(counts.split("tick=")[1]) >= 10, counts
    assert fx["symbols"]["EURUSD"]["live"]
