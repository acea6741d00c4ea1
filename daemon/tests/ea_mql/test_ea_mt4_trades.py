"""The trade calls MetaTrader 4 answers with its own functions, driven through the compiled MT4 EA
and the real daemon, and checked in the kit's trade server (its ``book``: every ticket, open and
history, and how many trade calls the EA made): an SL/TP change (TRADE_ACTION_SLTP, OrderModify),
a pending order removed (TRADE_ACTION_REMOVE, OrderDelete), a close by (TRADE_ACTION_CLOSE_BY,
OrderCloseBy), a stop-limit order (MT4 has none: refused, nothing sent), and a trade call that
fails without an error number (outcome unknown, never done). docs/terminal.md, "MetaTrader 4",
says what each answers. Everything trades BTCUSD, which trades every day of the week."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import TOKEN
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.eakit4 import build_ea4
from daemon.tests.ea_mql.mt4kit import BUY, fixture4
from ea_bridge import Bridge
from gateway.keys import TRADING
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon

#: MT4's closing order and deal of ticket X are X + 2^32 (docs/terminal.md, "History").
CLOSE_BIT = 2**32


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


@pytest.fixture
async def ea(daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> AsyncIterator[CompiledEA]:
    """The MT4 EA connected to ``daemon``."""
    async with CompiledEA(ea4_binary, fixture4(tmp_path)[0], token=daemon.token,
                          port=daemon.bridge.port) as running:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield running


async def book(ea: CompiledEA) -> tuple[dict[int, dict[str, Any]], int]:
    """The kit's trade server: its tickets by number (open ones have ``close_time`` 0) and the
    number of trade calls (OrderSend, OrderClose, OrderModify, OrderDelete, OrderCloseBy) the
    EA has made."""
    seen = len(ea.lines)
    await ea.control("book")
    lines = ea.lines[seen:]
    tickets = [json.loads(x.removeprefix("KIT: ticket ")) for x in lines
               if x.startswith("KIT: ticket ")]
    [calls] = [int(x.split()[-1]) for x in lines if x.startswith("KIT: trade_calls ")]
    return {t["ticket"]: t for t in tickets}, calls


async def ok(daemon: Daemon, method: str, params: Any) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


async def refused(daemon: Daemon, method: str, params: Any) -> dict[str, Any]:
    response = await daemon.call(method, params)
    assert "error" in response, response
    error: dict[str, Any] = response["error"]
    return error


async def test_sltp_sets_and_clears_a_positions_stops(daemon: Daemon, ea: CompiledEA) -> None:
    """modify_position (TRADE_ACTION_SLTP) is OrderModify of the market ticket at its open price:
    the stops change in the server's book, the same stops again are MT4's error 1
    (ERR_NO_RESULT) answered as MT5's 10025 "no changes", 0 clears them as MT5 does, and a
    ticket that is no open position answers MT5's 10036."""
    opened = await ok(daemon, "create_market_buy_order", ["BTCUSD", 0.01])
    ticket = opened["order"]
    tick = await ok(daemon, "symbol_info_tick", ["BTCUSD"])
    sl, tp = round(tick["bid"] * 0.95, 2), round(tick["bid"] * 1.05, 2)
    stops = {"position_id": ticket, "stop_loss": sl, "take_profit": tp}
    done = await ok(daemon, "modify_position", stops)
    assert (done["retcode"], done["retcode_external"]) == (10009, 0), done
    tickets, _ = await book(ea)
    mine = tickets[ticket]
    assert (mine["sl"], mine["tp"], mine["close_time"], mine["open_price"]) == (
        sl, tp, 0, opened["price"])
    [position] = await ok(daemon, "positions_get", {"ticket": ticket})
    assert (position["sl"], position["tp"]) == (sl, tp)
    same = await ok(daemon, "modify_position", stops)
    assert (same["retcode"], same["retcode_external"]) == (10025, 1), same
    await ok(daemon, "modify_position", {"position_id": ticket})
    tickets, _ = await book(ea)
    assert (tickets[ticket]["sl"], tickets[ticket]["tp"]) == (0, 0)
    gone = await refused(daemon, "modify_position", {"position_id": ticket + 1000, "stop_loss": sl})
    assert (gone["code"], gone["data"]["retcode"]) == (-32010, 10036), gone


async def test_remove_deletes_the_pending_order(daemon: Daemon, ea: CompiledEA) -> None:
    """cancel_order (TRADE_ACTION_REMOVE) is OrderDelete: the order leaves the server's open
    tickets for its history, the history shows it cancelled, and removing it again answers
    10013 "invalid request" as MT5 does for an order it does not have (not an EA error)."""
    tick = await ok(daemon, "symbol_info_tick", ["BTCUSD"])
    limit = round(tick["ask"] * 0.9, 2)
    placed = await ok(daemon, "create_limit_buy_order", ["BTCUSD", 0.01, limit])
    order = placed["order"]
    assert placed["retcode"] == 10009, placed
    tickets, _ = await book(ea)
    assert (tickets[order]["type"], tickets[order]["open_price"], tickets[order]["close_time"]) == (
        2, limit, 0)
    removed = await ok(daemon, "cancel_order", [order])
    assert (removed["retcode"], removed["order"]) == (10009, order), removed
    tickets, _ = await book(ea)
    assert tickets[order]["close_time"] > 0 and tickets[order]["type"] == 2
    assert await ok(daemon, "orders_get", {}) == []
    [cancelled] = await ok(daemon, "history_orders_get", {"ticket": order})
    assert (cancelled["state"], cancelled["type"]) == (2, 2)  # ORDER_STATE_CANCELED, buy limit
    again = await refused(daemon, "cancel_order", [order])
    assert (again["code"], again["data"]["retcode"]) == (-32010, 10013), again


async def test_close_by_closes_both_at_the_opposites_open_price(
        daemon: Daemon, ea: CompiledEA) -> None:
    """close_by (TRADE_ACTION_CLOSE_BY) is OrderCloseBy: both tickets close at the opposite's
    open price, so the pair's profit is the difference of the open prices (no spread paid on
    the way out); the result names the position's closing order and deal (ticket + 2^32), the
    volume and the price, as history_deals_get shows them. Closed already, they answer 10036
    (position closed), as MT5 does."""
    buy = (await ok(daemon, "create_market_buy_order", ["BTCUSD", 0.01]))["order"]
    sell = (await ok(daemon, "create_market_sell_order", ["BTCUSD", 0.01]))["order"]
    before, _ = await book(ea)
    bought, sold = before[buy]["open_price"], before[sell]["open_price"]
    closed = await ok(daemon, "close_by", {"position_id": buy, "opposite_position_id": sell})
    assert (closed["retcode"], closed["order"], closed["deal"], closed["volume"],
            closed["price"]) == (10009, buy + CLOSE_BIT, buy + CLOSE_BIT, 0.01, sold), closed
    after, _ = await book(ea)
    assert all(after[t]["close_time"] > 0 and after[t]["close_price"] == sold
               for t in (buy, sell)), after
    assert after[sell]["profit"] == 0
    assert after[buy]["profit"] == pytest.approx((sold - bought) * 0.01, abs=0.006)
    assert await ok(daemon, "positions_total", {}) == 0
    deals = await ok(daemon, "history_deals_get", {"position": buy})
    assert [(d["ticket"], d["entry"], d["price"], d["volume"]) for d in deals] == [
        (buy, 0, bought, 0.01), (closed["deal"], 1, sold, 0.01)]
    again = await refused(daemon, "close_by", {"position_id": buy, "opposite_position_id": sell})
    assert (again["code"], again["data"]["retcode"]) == (-32010, 10036), again


async def test_a_close_by_of_unequal_lots_leaves_the_rest_open(
        daemon: Daemon, ea: CompiledEA) -> None:
    """MT4 closes tickets of different lots by each other: the smaller closes whole, the larger
    that many lots, and its rest stays open under a new ticket (at the same open price); the
    result's volume is what was closed."""
    buy = await ok(daemon, "create_market_buy_order", ["BTCUSD", 0.02])
    sell = (await ok(daemon, "create_market_sell_order", ["BTCUSD", 0.01]))["order"]
    closed = await ok(daemon, "close_by", {"position_id": buy["order"],
                                           "opposite_position_id": sell})
    assert (closed["retcode"], closed["volume"], closed["deal"]) == (
        10009, 0.01, buy["order"] + CLOSE_BIT), closed
    tickets, _ = await book(ea)
    assert (tickets[buy["order"]]["lots"], tickets[sell]["lots"]) == (0.01, 0.01)
    assert tickets[buy["order"]]["close_time"] > 0 and tickets[sell]["close_time"] > 0
    [rest] = [t for t in tickets.values() if t["close_time"] == 0]
    assert (rest["type"], rest["lots"], rest["open_price"]) == (0, 0.01, buy["price"])
    [position] = await ok(daemon, "positions_get", {})
    assert (position["ticket"], position["volume"]) == (rest["ticket"], 0.01)


async def test_stop_limit_orders_are_refused_and_nothing_is_sent(
        daemon: Daemon, ea: CompiledEA) -> None:
    """MT4 has no stop-limit orders: ORDER_TYPE_BUY_STOP_LIMIT and SELL_STOP_LIMIT answer
    retcode 10035 (invalid order type) with the reason, the EA makes no trade call, and the
    server's book is unchanged."""
    before, calls = await book(ea)
    tick = await ok(daemon, "symbol_info_tick", ["BTCUSD"])
    above, below = round(tick["ask"] * 1.05, 2), round(tick["bid"] * 0.95, 2)
    buy = await refused(daemon, "create_stop_limit_buy_order", {
        "symbol": "BTCUSD", "volume": 0.01, "open_price": above,
        "stop_limit_price": round(above * 0.99, 2)})
    assert (buy["code"], buy["data"]["retcode"], buy["data"]["retryable"]) == (
        -32010, 10035, False), buy
    assert "MT4 has no stop-limit orders" in buy["data"]["result"]["comment"], buy
    sell = await ok(daemon, "order_send", {"request": {
        "action": "TRADE_ACTION_PENDING", "type": "ORDER_TYPE_SELL_STOP_LIMIT",
        "symbol": "BTCUSD", "volume": 0.01, "price": below, "stoplimit": round(below * 1.01, 2)}})
    assert (sell["retcode"], sell["order"]) == (10035, 0), sell
    assert "MT4 has no stop-limit orders" in sell["comment"]
    after, calls_after = await book(ea)
    assert (after, calls_after) == (before, calls)
    assert await ok(daemon, "orders_total", {}) == 0


async def test_a_failure_without_an_error_number_is_not_done(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """OrderSend answering -1 with GetLastError() 0 proves nothing either way: the EA answers
    MT4's error 2 (common error) as 10011, outcome unknown, with no ticket, never 10009."""
    b, _ = bridge
    async with CompiledEA(ea4_binary, fixture4(tmp_path)[0], token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("trade_error none")
        sent = await b.call(TERMINAL, "order_send", {"request": {
            "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}}, WAIT_S)
        assert (sent["retcode"], sent["retcode_external"], sent["order"], sent["deal"],
                sent["comment"]) == (10011, 2, 0, 0, "MT4 error 2"), sent
        tickets, calls = await book(ea)
        assert calls == 1 and not [t for t in tickets.values() if t["close_time"] == 0]


async def test_an_executed_order_without_an_error_number_resolves_to_its_position(
        daemon: Daemon, ea: CompiledEA) -> None:
    """The server filled the order and the call still failed without an error number: the
    daemon reports the outcome unknown (-32003 naming 10011) and journals it UNKNOWN with the
    EA's answer, never as done; a reconciliation pass (the one an EA's reconnect starts) finds
    the position by its tag, the EA's record settling nothing, and a retry executes nothing."""
    await ea.control("trade_error none fill")
    error = await refused(daemon, "order_send", {"request": {**BUY, "client_id": "mt4-e0"}})
    assert (error["code"], error["data"]["state"]) == (-32003, "UNKNOWN"), error
    assert "10011" in error["message"], error
    status = await ok(daemon, "order_status", ["mt4-e0"])
    assert (status["state"], status["ticket"], status["result"]["retcode"],
            status["result"]["retcode_external"]) == ("UNKNOWN", None, 10011, 2), status
    [position] = await ok(daemon, "positions_get", {})
    tickets, _ = await book(ea)
    assert [t["ticket"] for t in tickets.values() if t["close_time"] == 0] == [position["ticket"]]
    reconciler, session = daemon.app[TRADING].reconciler, daemon.bridge.session(TERMINAL)
    assert session is not None
    reconciler.session_up(session)
    await reconciler.wait_reconciled(TERMINAL)
    status = await ok(daemon, "order_status", ["mt4-e0"])
    assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", position["ticket"]), status
    again = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "mt4-e0"}})
    assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
    assert await ok(daemon, "positions_total", {}) == 1
