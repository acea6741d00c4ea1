"""What a trade server asks of an order that the kit models since the third EA review
(docs/terminal.md, "The third review's findings"): a market order carries its price on a
symbol in Request or Instant execution (D-5), and a filling mode the symbol allows, pending
orders included (D-5). Each test fails on the kit before those changes: the kit took a market
order without a price whatever the symbol's execution, so `mtgateway check --trade`'s orders
without one passed CI (CS-1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S

Bridged = tuple[Bridge, RecordingListener]


def fixture_with(tmp_path: Path, symbol: str, **info: Any) -> Path:
    """The reference fixture with ``symbol``'s ``symbol_info`` fields changed."""
    path, fixture = make_fixture(tmp_path)
    fixture["symbols"][symbol]["info"].update(info)
    path.write_text(json.dumps(fixture), encoding="utf-8")
    return path


async def send(b: Bridge, **request: Any) -> dict[str, Any]:
    result: dict[str, Any] = await b.call(TERMINAL, "order_send", {"request": request}, WAIT_S)
    return result


async def test_instant_execution_needs_the_price(bridge: Bridged, ea_binary: Path,
                                                 tmp_path: Path) -> None:
    """BTCUSD in Instant execution (``trade_exemode`` 1): a market order without ``price`` is
    10015 "Invalid price", from order_check too, as is its close without one; with the
    quote's price both go through. Only "Market Execution" takes a market order without a
    price (the MqlTradeRequest reference, field ``price``)."""
    b, _ = bridge
    path = fixture_with(tmp_path, "BTCUSD", trade_exemode=1)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01, "type_filling": 1}
        refused = await send(b, **buy)
        assert (refused["retcode"], refused["comment"]) == (10015, "Invalid price")
        checked = await b.call(TERMINAL, "order_check", {"request": buy}, WAIT_S)
        assert checked["retcode"] == 10015
        tick = await b.call(TERMINAL, "symbol_info_tick", {"symbol": "BTCUSD"}, WAIT_S)
        opened = await send(b, **buy, price=tick["ask"], deviation=10_000)
        assert opened["retcode"] == 10009, opened
        close = {"action": 1, "type": 1, "symbol": "BTCUSD", "volume": 0.01,
                 "type_filling": 1, "position": opened["order"]}
        assert (await send(b, **close))["retcode"] == 10015
        assert (await send(b, **close, price=tick["bid"], deviation=10_000))["retcode"] == 10009


async def test_a_filling_the_symbol_does_not_allow_is_refused(bridge: Bridged, ea_binary: Path,
                                                              tmp_path: Path) -> None:
    """BTCUSD allows IOC only (``filling_mode`` 2, as the emulator's USOIL): FOK is 10030 for
    a market order and for a pending one; IOC fills, and RETURN places the pending order
    (the emulator's rules, mt5model/rules.py ``check_filling``)."""
    b, _ = bridge
    path = fixture_with(tmp_path, "BTCUSD", filling_mode=2)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}
        assert (await send(b, **buy, type_filling=0))["retcode"] == 10030
        assert (await send(b, **buy, type_filling=1))["retcode"] == 10009
        limit = {"action": 5, "type": 2, "symbol": "BTCUSD", "volume": 0.01, "price": 1000.0}
        assert (await send(b, **limit, type_filling=0))["retcode"] == 10030
        assert (await send(b, **limit, type_filling=2))["retcode"] == 10009


async def test_request_and_instant_execution_fill_market_orders_whatever_their_filling(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """D6-3: "In the Request and Instant execution modes the Fill or Kill policy is always
    used for market orders ... there is no need to specify a fill policy" (the reference's
    SYMBOL_FILLING_MODE). The kit refused a FOK market order on an IOC-only symbol in Instant
    execution (10030) as in Market execution; now any filling fills, as FOK does: all of it
    or nothing (beyond the symbol's liquidity, rejected, never partly filled)."""
    b, _ = bridge
    path, fixture = make_fixture(tmp_path)
    fixture["symbols"]["BTCUSD"]["info"].update(trade_exemode=1, filling_mode=2)
    fixture["symbols"]["BTCUSD"]["liquidity"] = 0.05
    path.write_text(json.dumps(fixture), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        tick = await b.call(TERMINAL, "symbol_info_tick", {"symbol": "BTCUSD"}, WAIT_S)
        buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "price": tick["ask"],
               "deviation": 10_000}
        for filling in (0, 1, 2):
            done = await send(b, **buy, volume=0.01, type_filling=filling)
            assert done["retcode"] == 10009, (filling, done)
        assert (await send(b, **buy, volume=0.1, type_filling=1))["retcode"] == 10006
        limit = {"action": 5, "type": 2, "symbol": "BTCUSD", "volume": 0.01, "price": 1000.0}
        assert (await send(b, **limit, type_filling=0))["retcode"] == 10030
