"""One conformance suite, two terminals: every test runs against the Python emulator and against
the compiled MQL5 EA (on a fixture made from the same emulator), through the real daemon's /rpc.
What passes for one must pass for the other; a difference is a bug in one of them. What of it
holds on any terminal, not only on this fixture, is also ``mtgateway check``
(gateway/selfcheck), which owners run against their own terminal and test_selfcheck.py runs
against these terminals."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import mtgateway.aio as amt5
from gateway.selfcheck import reads as selfcheck_reads
from gateway.trading.reconcile import ECHO_FIELDS
from tests.client.conftest import base_url
from tests.client.test_aio_client import connected, take
from tests.e2e.conftest import LOGIN, TERMINAL, WAIT_S, Daemon, connected_terminal
from tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ
from tests.ea_mql.eakit import CompiledEA

# the columns mtgateway check holds every terminal to (gateway/selfcheck/reads.py)
TICK_COLUMNS = list(selfcheck_reads.TICK_COLUMNS)
RATE_COLUMNS = list(selfcheck_reads.RATE_COLUMNS)


@pytest.fixture(params=["emulator", "compiled_ea"])
async def terminal(request: pytest.FixtureRequest, daemon: Daemon) -> AsyncIterator[str]:
    """A terminal connected to ``daemon``: the emulator, or the EA on the emulator's fixture."""
    kind: str = request.param
    async with contextlib.AsyncExitStack() as stack:
        if kind == "emulator":
            await stack.enter_async_context(connected_terminal(
                daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ))
        else:
            binary: Path = request.getfixturevalue("ea_binary")
            fixture: Path = request.getfixturevalue("fixture_file")
            await stack.enter_async_context(CompiledEA(binary, fixture, token=daemon.token,
                                                       port=daemon.bridge.port))
            await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield kind


async def result(daemon: Daemon, method: str, params: Any = None) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, (method, params, response)
    return response["result"]


async def error(daemon: Daemon, method: str, params: Any = None) -> dict[str, Any]:
    response = await daemon.call(method, params)
    assert "error" in response, (method, params, response)
    return dict(response["error"])


async def all_pages(daemon: Daemon, method: str, params: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    call = dict(params)
    while True:
        got = await result(daemon, method, call)
        rows.extend(got["rows"])
        if got["next_cursor"] is None:
            return rows
        call = {"cursor": got["next_cursor"], "limit": params["limit"]}


async def test_session_reads(daemon: Daemon, terminal: str) -> None:
    version = await result(daemon, "version")
    assert isinstance(version, list) and len(version) == 3 and isinstance(version[1], int)
    info = await result(daemon, "terminal_info")
    assert info["connected"] is True and info["build"] == version[1]
    clock = await result(daemon, "server_time")
    assert set(clock) == {"time", "time_msc", "tz_offset_s"}
    assert clock["time"] == clock["time_msc"] // 1000
    account = await result(daemon, "account_info")
    assert account["login"] == LOGIN and isinstance(account["balance"], float)
    assert account["currency"] == "USD" and account["trade_expert"] is True


async def test_symbol_reads(daemon: Daemon, terminal: str) -> None:
    assert await result(daemon, "symbols_total") == 3
    jpy = await result(daemon, "symbols_get", {"group": "*JPY*"})
    assert [s["name"] for s in jpy] == ["USDJPY"]
    not_eur = await result(daemon, "symbols_get", {"group": "*,!EUR*"})
    assert sorted(s["name"] for s in not_eur) == ["BTCUSD", "USDJPY"]
    info = await result(daemon, "symbol_info", ["EURUSD"])
    assert info["name"] == "EURUSD" and info["digits"] == 5 and info["point"] == 1e-05
    tick = await result(daemon, "symbol_info_tick", {"symbol": "BTCUSD"})
    assert set(tick) == set(TICK_COLUMNS) and tick["ask"] >= tick["bid"] > 0
    assert await result(daemon, "symbol_select", ["EURUSD", False]) is True
    assert (await result(daemon, "symbol_info", {"symbol": "EURUSD"}))["select"] is False
    assert (await error(daemon, "symbol_info", ["NOPE"]))["code"] == -32006
    assert (await error(daemon, "symbol_info_tick", ["NOPE"]))["code"] == -32006


async def test_tick_history_pages(daemon: Daemon, terminal: str) -> None:
    now = (await result(daemon, "server_time"))["time"]
    query = {"symbol": "BTCUSD", "date_from": now - 600, "date_to": now - 60,
             "flags": "COPY_TICKS_ALL"}
    whole = await result(daemon, "copy_ticks_range", {**query, "limit": 100_000})
    assert whole["columns"] == TICK_COLUMNS and whole["next_cursor"] is None
    assert len(whole["rows"]) > 500
    times = [r[5] for r in whole["rows"]]
    assert times == sorted(times) and now - 600 <= times[0] // 1000
    assert await all_pages(daemon, "copy_ticks_range", {**query, "limit": 200}) == whole["rows"]
    counted = await result(daemon, "copy_ticks_from", {"symbol": "BTCUSD", "date_from": now - 600,
                                                       "count": 123, "flags": -1})
    assert len(counted["rows"]) == 123 and counted["rows"] == whole["rows"][:123]


async def test_rates(daemon: Daemon, terminal: str) -> None:
    now = (await result(daemon, "server_time"))["time"]
    query = {"symbol": "BTCUSD", "timeframe": "TIMEFRAME_M1", "date_from": now - 3 * 3600,
             "date_to": now - 600}
    whole = await result(daemon, "copy_rates_range", {**query, "limit": 100_000})
    assert whole["columns"] == RATE_COLUMNS and 150 <= len(whole["rows"]) <= 171  # ends inclusive
    assert all(r[2] >= max(r[1], r[4]) and r[3] <= min(r[1], r[4]) for r in whole["rows"])
    assert await all_pages(daemon, "copy_rates_range", {**query, "limit": 50}) == whole["rows"]
    back = await result(daemon, "copy_rates_from_pos", ["BTCUSD", "TIMEFRAME_M1", 1, 40])
    assert len(back["rows"]) == 40 and back["rows"][-1][0] > whole["rows"][-1][0]
    hours = await result(daemon, "copy_rates_from", ["BTCUSD", "TIMEFRAME_H1", now, 3])
    assert len(hours["rows"]) == 3 and all(r[0] % 3600 == 0 for r in hours["rows"])


async def test_trading_reads(daemon: Daemon, terminal: str) -> None:
    assert await result(daemon, "orders_total") == 0
    assert await result(daemon, "positions_total") == 0
    assert await result(daemon, "orders_get", {"symbol": "EURUSD"}) == []
    assert await result(daemon, "positions_get", {"group": "*USD*"}) == []
    now = (await result(daemon, "server_time"))["time"]
    deals = await result(daemon, "history_deals_get", [now - 86_400, now + 60])
    assert len(deals) == 1 and deals[0]["type"] == 2  # the initial DEAL_TYPE_BALANCE
    assert await result(daemon, "history_deals_total", [now - 86_400, now + 60]) == 1
    # MT5: ticket= selects the deals of that ORDER; the balance deal belongs to no order
    assert await result(daemon, "history_deals_get", {"ticket": deals[0]["ticket"]}) == []
    assert await result(daemon, "history_orders_total", {"date_from": 0, "date_to": now}) == 0
    margin = await result(daemon, "order_calc_margin", ["ORDER_TYPE_BUY", "BTCUSD", 0.1, 100_000.0])
    assert isinstance(margin, float) and margin > 0
    profit = await result(daemon, "order_calc_profit", {
        "action": 1, "symbol": "BTCUSD", "volume": 0.1, "price_open": 100_000.0,
        "price_close": 99_000.0})
    assert profit == pytest.approx(100.0)


async def test_check_send_and_close(daemon: Daemon, terminal: str) -> None:
    """order_check, then a market buy, its position, and closing it by ticket."""
    buy = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "symbol": "BTCUSD",
           "volume": 0.01}
    check = await result(daemon, "order_check", {"request": buy})
    assert check["retcode"] == 0 and check["margin"] > 0
    sent = await result(daemon, "order_send", {"request": {**buy, "client_id": "conf-1"}})
    assert sent["retcode"] == 10009 and sent["order"] > 0 and sent["volume"] == 0.01
    [deal] = await result(daemon, "history_deals_get", {"ticket": sent["order"]})
    assert deal["order"] == sent["order"] and deal["entry"] == 0
    [order] = await result(daemon, "history_orders_get", {"ticket": sent["order"]})
    assert order["ticket"] == sent["order"] and order["symbol"] == "BTCUSD"
    [position] = await result(daemon, "positions_get", {"symbol": "BTCUSD"})
    assert position["volume"] == 0.01
    assert (position["comment"], position["magic"]) == ("", 0)  # as written: no tag, magic 0
    assert await result(daemon, "positions_total") == 1
    close = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_SELL", "symbol": "BTCUSD",
             "volume": 0.01, "position": position["ticket"], "client_id": "conf-2"}
    closed = await result(daemon, "order_send", {"request": close})
    assert closed["retcode"] == 10009
    assert await result(daemon, "positions_get") == []
    now = (await result(daemon, "server_time"))["time"]
    deals = await result(daemon, "history_deals_get", {"position": position["ticket"]})
    assert [d["entry"] for d in deals] == [0, 1], deals
    assert await result(daemon, "history_deals_total", [now - 60, now + 60]) >= 2


async def test_rejections_are_results(daemon: Daemon, terminal: str) -> None:
    """A broker rejection is a result with its retcode, not an error (MT5 semantics)."""
    bad = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "symbol": "BTCUSD",
           "volume": 1_000.0, "client_id": "too-big"}
    sent = await daemon.call("order_send", {"request": bad})
    answer = sent.get("result") or sent["error"]
    assert answer.get("retcode", answer.get("code")) not in (10009, None), sent


async def test_market_depth(daemon: Daemon, terminal: str) -> None:
    """market_book_get before market_book_add is -32602; after it the book is BookInfo levels
    (sells from the ask up, then buys from the bid down, prices descending); the ``book``
    channel on /ws streams it through the aio client's books() (OnBookEvent in the EA);
    release answers true once, then false; an unknown symbol is -32006."""
    assert (await error(daemon, "market_book_get", {"symbol": "BTCUSD"}))["code"] == -32602
    assert await result(daemon, "market_book_add", {"symbol": "BTCUSD"}) is True
    book = await result(daemon, "market_book_get", {"symbol": "BTCUSD"})
    assert [set(level) for level in book] == [{"type", "price", "volume", "volume_dbl"}] * 10
    assert [level["type"] for level in book] == [1] * 5 + [2] * 5
    prices = [level["price"] for level in book]
    assert prices == sorted(prices, reverse=True) and prices[4] > prices[5]
    assert all(level["volume_dbl"] > 0 and level["volume"] >= 1 for level in book)
    assert await result(daemon, "market_book_release", {"symbol": "BTCUSD"}) is True
    assert await result(daemon, "market_book_release", {"symbol": "BTCUSD"}) is False
    assert (await error(daemon, "market_book_add", {"symbol": "NOPE"}))["code"] == -32006
    async with connected(base_url(daemon), daemon.token) as client:
        books = await take(client.books(["BTCUSD"]), 2)
    assert [b.seq for b in books] == [1, 2]  # type: ignore[union-attr]
    for item in books:
        assert isinstance(item, amt5.StreamBook) and item.symbol == "BTCUSD"
        assert [level.type for level in item.book] == [amt5.BOOK_TYPE_SELL] * 5 + [
            amt5.BOOK_TYPE_BUY] * 5


async def test_the_order_record_of_protocol_1_2(daemon: Daemon, terminal: str) -> None:
    """Protocol 1.2 on the wire (docs/protocol.md, "The order record"): the terminal says EA
    1.2.0; an ``order_send`` under the daemon's ``order_key`` is recorded with the request it
    executed, the same key again is answered from the record without executing, and
    ``trade_results`` answers the keys it holds, unknown ones absent."""
    b = daemon.bridge
    session = await b.wait_for_terminal(TERMINAL, WAIT_S)
    assert session.hello.ea_version == "1.3.0"
    buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}
    key = "cOnF0rm4nce-1_2abcdefg"
    sent = await b.call(TERMINAL, "order_send", {"request": buy, "order_key": key}, WAIT_S)
    assert sent["retcode"] == 10009 and sent["order"] > 0
    assert {k: sent["request"][k] for k in ECHO_FIELDS} == {
        "action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0, "position": 0, "order": 0}
    again = await b.call(TERMINAL, "order_send", {"request": buy, "order_key": key}, WAIT_S)
    assert again == sent
    assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 1
    assert await b.call(TERMINAL, "trade_results",
                        {"order_keys": [key, "not-a-key-it-has-seen"]}, WAIT_S) == {key: sent}
