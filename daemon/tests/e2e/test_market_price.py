"""Market orders on a symbol in Instant or Request execution, through the real daemon and the
emulated terminal: the broker takes a market deal (an opening or a close) only with its
``price`` ("Market orders of symbols, whose execution type is 'Market Execution' ... do not
require specification of price", the MqlTradeRequest reference) and answers 10015 without one.

The daemon's own trade operations (the MetaApi-named convenience methods and the desk's closes)
and ``order_send``/``order_check`` of a request without a price are priced from the symbol's
current quote (ask to buy, bid to sell), with the caller's slippage as ``deviation`` or, when
none is given, ``max(20, 2 x the quote's spread)`` points. A missing or stale quote is refused
before anything is journaled or sent, unless the terminal says the market is closed, which is
said first (``gateway/trading/gate.py``'s ``ORDER_RULES``); a requote stays the retryable -32010
it was."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal
from mt5model.types import (
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    ErrorCode,
)
from mtgateway_console.service import AccountRegistration
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, Daemon, connected_terminal

#: A Saturday, 12:00 UTC: EURUSD's last quote is Friday's close, hours old.
SATURDAY_MS = int(datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp() * 1000)
POINT = 0.00001  # EURUSD's
INSTANT = {"EURUSD": SYMBOL_TRADE_EXECUTION_INSTANT}


class QuotingTerminal(EmulatedTerminal):
    """The emulated terminal, counting the requests it gets by method (``calls``) and the
    orders (``order_sends``); ``quote`` replaces its answer to
    ``symbol_info_tick`` (a dict: that tick; an ``int``: that error code), and with
    ``move_before_fill`` set, its clock jumps a minute at a time before the next order fills
    until the market has left the order's price (a requote)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()
        self.quote: dict[str, Any] | int | None = None
        self.move_before_fill: SteppedClock | None = None

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        self.calls[method] += 1
        if method == "symbol_info_tick" and isinstance(self.quote, dict):
            conn.send_response(request_id, self.quote)
            return
        if method == "symbol_info_tick" and isinstance(self.quote, int):
            conn.send_error(request_id, self.quote, "no quote for 'EURUSD' yet: select it in "
                            "Market Watch and ask again")
            return
        if method == "order_send":
            clock, self.move_before_fill = self.move_before_fill, None
            if clock is not None:
                asked = params["request"]["price"]
                while self.market.symbol_info_tick("EURUSD")["ask"] == asked:
                    clock.jump_to(clock() + 60_000)
        super()._answer(conn, request_id, method, params)

    @property
    def order_sends(self) -> int:
        return self.calls["order_send"]


@contextlib.asynccontextmanager
async def quoting(daemon: Daemon, execution: dict[str, int] | None = None,
                  clock: SteppedClock | None = None) -> AsyncIterator[QuotingTerminal]:
    """A :class:`QuotingTerminal` of EURUSD (``execution``: Instant) and USDJPY (Market)."""
    async with connected_terminal(daemon, QuotingTerminal, symbols=("EURUSD", "USDJPY"),
                                  utc_clock_ms=clock or SteppedClock(WEDNESDAY_MS),
                                  execution=INSTANT if execution is None else execution) as t:
        assert isinstance(t, QuotingTerminal)
        yield t


async def ok(daemon: Daemon, method: str, params: Any) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


def assert_priced(result: dict[str, Any], deviation: int | None = None) -> None:
    """The deal went with a price (the quote's side) and a deviation, and filled within it."""
    sent = result["request"]
    assert sent["price"] > 0, sent
    if deviation is None:
        assert sent["deviation"] >= 20, sent
    else:
        assert sent["deviation"] == deviation, sent
    assert abs(result["price"] - sent["price"]) <= sent["deviation"] * POINT + 1e-9, result


@pytest.mark.parametrize("mode", [SYMBOL_TRADE_EXECUTION_INSTANT,
                                  SYMBOL_TRADE_EXECUTION_REQUEST], ids=["instant", "request"])
async def test_convenience_methods_open_and_close_on_a_priced_execution_symbol(
        daemon: Daemon, mode: int) -> None:
    """Market buy and sell, a partial close, a close and a close by symbol all execute on a
    symbol in Instant (Request) execution; each deal carried the quote's price and the
    caller's slippage as deviation, or the default. Before the daemon priced them, every one
    answered -32010 10015 INVALID_PRICE."""
    async with quoting(daemon, {"EURUSD": mode}) as terminal:
        buy = await ok(daemon, "create_market_buy_order", ["EURUSD", 0.3])
        assert buy["retcode"] == 10009
        assert_priced(buy)
        sell = await ok(daemon, "create_market_sell_order",
                        {"symbol": "EURUSD", "volume": 0.1, "slippage": 7})
        assert_priced(sell, 7)
        ticket = buy["order"]
        part = await ok(daemon, "close_position_partially",
                        {"position_id": ticket, "volume": 0.1, "slippage": 9})
        assert_priced(part, 9)
        assert terminal.broker.positions_get(ticket=ticket)[0]["volume"] == 0.2
        closed = await ok(daemon, "close_position", {"position_id": ticket})
        assert_priced(closed)
        assert terminal.broker.positions_get(ticket=ticket) == []
        by_symbol = await ok(daemon, "close_positions_by_symbol", {"symbol": "EURUSD"})
        [last] = by_symbol["results"]
        assert_priced(last)
        assert terminal.broker.positions_total() == 0
        # One symbol_info and one server_time (cached), then one quote per deal.
        assert {m: terminal.calls[m] for m in ("order_send", "symbol_info", "server_time",
                                              "symbol_info_tick")} == {
            "order_send": 5, "symbol_info": 1, "server_time": 1, "symbol_info_tick": 5}


async def test_order_send_and_order_check_without_price_are_priced(daemon: Daemon) -> None:
    """order_send and order_check of a market deal without a price (or with 0, the package's
    "none") on an Instant-execution symbol are priced like the convenience methods; a price and
    a deviation the request gives go as written; on a Market-execution symbol nothing is
    added. The MetaTrader5 package would send the first as written and get 10015."""
    buy = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "volume": 0.1}
    async with quoting(daemon) as terminal:
        check = await ok(daemon, "order_check", [{**buy, "symbol": "EURUSD"}])
        assert check["retcode"] == 0 and check["request"]["price"] > 0, check
        sent = await ok(daemon, "order_send", {"request": {
            **buy, "symbol": "EURUSD", "price": 0, "client_id": "priced"}})
        assert sent["retcode"] == 10009
        assert_priced(sent)
        status = await ok(daemon, "order_status", {"client_id": "priced"})
        assert status["request"]["price"] == sent["request"]["price"]
        tick = terminal.market.symbol_info_tick("EURUSD")
        mine = await ok(daemon, "order_send", {"request": {
            **buy, "symbol": "EURUSD", "price": tick["ask"], "deviation": 500}})
        assert (mine["request"]["price"], mine["request"]["deviation"]) == (tick["ask"], 500)
        reads = terminal.calls["symbol_info_tick"], terminal.calls["server_time"]
        await ok(daemon, "order_send", {"request": {**buy, "symbol": "USDJPY",
                                                    "client_id": "market"}})
        assert (terminal.calls["symbol_info_tick"], terminal.calls["server_time"]) == reads
        status = await ok(daemon, "order_status", {"client_id": "market"})
        assert "price" not in status["request"] and "deviation" not in status["request"]


async def test_a_requote_stays_a_retryable_rejection(daemon: Daemon) -> None:
    """The market leaves the price between the quote and the fill, beyond a slippage of 0:
    -32010 10004 REQUOTE, retryable; the same buy under a new client_id then executes."""
    clock = SteppedClock(WEDNESDAY_MS)
    async with quoting(daemon, clock=clock) as terminal:
        terminal.move_before_fill = clock
        error = (await daemon.call("create_market_buy_order", {
            "symbol": "EURUSD", "volume": 0.1, "slippage": 0, "client_id": "rq-1"}))["error"]
        assert (error["code"], error["data"]["retcode"], error["data"]["retryable"]) == (
            -32010, 10004, True), error
        again = await ok(daemon, "create_market_buy_order", {
            "symbol": "EURUSD", "volume": 0.1, "slippage": 20, "client_id": "rq-2"})
        assert again["retcode"] == 10009


@pytest.mark.parametrize("quote", [
    "stale",
    {"time": 0, "time_msc": 0, "bid": 0.0, "ask": 0.0, "last": 0.0, "volume": 0, "flags": 0,
     "volume_real": 0.0},
    int(ErrorCode.HISTORY_NOT_READY),
], ids=["stale", "zeros", "ea_has_none"])
async def test_no_fresh_quote_is_refused_before_anything_is_sent(
        daemon: Daemon, quote: Any) -> None:
    """A quote 11 minutes old while the market is open (the terminal gets no quotes of it),
    an all-zero tick, or the EA's "no quote yet": the convenience method and order_send
    answer -32010 10021 PRICE_OFF (retryable) saying why, nothing reaches the terminal and
    the client_id stays free."""
    async with quoting(daemon, clock=SteppedClock(WEDNESDAY_MS)) as terminal:
        if quote == "stale":
            live = terminal.market.symbol_info_tick("EURUSD")
            terminal.quote = {**live, "time": live["time"] - 660,
                              "time_msc": live["time_msc"] - 660_000}
        else:
            terminal.quote = quote
        error = (await daemon.call("create_market_buy_order", {
            "symbol": "EURUSD", "volume": 0.1, "client_id": "nq"}))["error"]
        data = error["data"]
        assert (error["code"], data["retcode"], data["retcode_name"], data["retryable"],
                data["client_id"]) == (-32010, 10021, "TRADE_RETCODE_PRICE_OFF", True, "nq")
        assert "quote" in error["message"] and "EURUSD" in error["message"], error
        sent = (await daemon.call("order_send", {"request": {
            "action": 1, "type": 1, "symbol": "EURUSD", "volume": 0.1}}))["error"]
        assert (sent["code"], sent["data"]["retcode"]) == (-32010, 10021), sent
        assert terminal.order_sends == 0
        missing = (await daemon.call("order_status", {"client_id": "nq"}))["error"]
        assert missing["code"] == -32006


async def test_a_paper_account_trades_an_instant_execution_symbol(daemon: Daemon) -> None:
    """A paper account's book copies the live symbol's execution (Instant): the convenience
    methods open and close there, priced like a live order, and never reach the terminal."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1"), paper_trade_enabled=True))
    await daemon.cache.refresh_once()
    async with quoting(daemon) as terminal:
        opened = await ok(daemon, "create_market_buy_order", ["EURUSD", 0.1])
        assert (opened["retcode"], opened["paper"]) == (10009, True)
        assert_priced(opened)
        closed = await ok(daemon, "close_position", {"position_id": opened["order"]})
        assert (closed["retcode"], closed["paper"]) == (10009, True)
        assert terminal.order_sends == 0 and terminal.broker.positions_total() == 0


async def test_a_closed_market_is_said_before_the_daemons_pricing(daemon: Daemon) -> None:
    """Issue 88 item 5: Friday's close on a Saturday is too old to price a market order, and
    the market is closed: what is said is the terminal's 10018 MARKET_CLOSED (its own
    ``order_check``, asked before the 10021 is said), as a terminal says a closed market
    whatever the order. ``order_send`` and ``order_check`` answer it as a result, the
    convenience method as -32010 with that retcode; nothing is sent and the client_id stays
    free. Before, each said the daemon's 10021 PRICE_OFF."""
    async with quoting(daemon, clock=SteppedClock(SATURDAY_MS)) as terminal:
        error = (await daemon.call("create_market_buy_order", {
            "symbol": "EURUSD", "volume": 0.1, "client_id": "closed"}))["error"]
        assert (error["code"], error["data"]["retcode"], error["data"]["retryable"]) == (
            -32010, 10018, True), error
        request = {"action": 1, "type": 0, "symbol": "EURUSD", "volume": 0.1}
        sent = await ok(daemon, "order_send", {"request": {**request, "client_id": "closed"}})
        checked = await ok(daemon, "order_check", {"request": request})
        assert [(a["retcode"], a["retcode_name"], a["comment"]) for a in (sent, checked)] == [
            (10018, "TRADE_RETCODE_MARKET_CLOSED", "Market closed")] * 2
        assert (sent["order"], sent["client_id"], sent["deduplicated"]) == (0, "closed", False)
        assert terminal.order_sends == 0
        missing = (await daemon.call("order_status", {"client_id": "closed"}))["error"]
        assert missing["code"] == -32006


async def test_the_servers_clock_is_read_again_for_a_new_ea_session(daemon: Daemon) -> None:
    """The server clock's offset is kept per EA session: after a terminal of Wednesday's clock
    traded, one of Saturday's connects under the same account and its Friday quote is judged
    by its own clock (stale: the market's 10018 said instead of the daemon's 10021, nothing
    sent), not by the first session's (which would have priced it and sent it, and the
    broker answered 10018)."""
    async with quoting(daemon) as terminal:
        await ok(daemon, "create_market_buy_order", ["EURUSD", 0.1])
        assert terminal.calls["server_time"] == 1
    async with quoting(daemon, clock=SteppedClock(SATURDAY_MS)) as terminal:
        error = (await daemon.call("create_market_buy_order", ["EURUSD", 0.1]))["error"]
        assert (error["data"]["retcode"], terminal.calls["server_time"],
                terminal.order_sends) == (10018, 1, 0), error
