"""The conformance tests every terminal must pass, MetaTrader 5 and MetaTrader 4 alike, and the
calls they are written with.

Each test asks for the ``daemon`` and ``terminal`` fixtures; a test module imports the tests
(and names them in its ``__all__``) and pytest runs them there with that module's own
``terminal``: ``test_conformance.py`` against the Python emulator and the compiled MQL5 EA,
``test_conformance_mt4.py`` against the compiled MQL4 EA. Written once here, so a test module
never imports another.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.selfcheck import reads as selfcheck_reads
from tests.e2e.fixtures import LOGIN, Daemon

# the columns mtgateway check holds every terminal to (gateway/selfcheck/reads.py)
TICK_COLUMNS = list(selfcheck_reads.TICK_COLUMNS)
RATE_COLUMNS = list(selfcheck_reads.RATE_COLUMNS)


async def result(daemon: Daemon, method: str, params: Any = None) -> Any:
    """The result of a call that must succeed."""
    response = await daemon.call(method, params)
    assert "result" in response, (method, params, response)
    return response["result"]


async def error(daemon: Daemon, method: str, params: Any = None) -> dict[str, Any]:
    """The error of a call that must fail."""
    response = await daemon.call(method, params)
    assert "error" in response, (method, params, response)
    return dict(response["error"])


async def all_pages(daemon: Daemon, method: str, params: dict[str, Any]) -> list[list[Any]]:
    """Every row of a paged read, following its cursors ``params["limit"]`` rows at a time."""
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
