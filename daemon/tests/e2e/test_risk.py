"""The account's risk policy, from the authority's account registration to -32012 on /rpc, and
where its refusals stand among the others (``gateway/trading/gate.py``'s ``ORDER_RULES``).

The terminal's calendar is injected (a Wednesday, every market open; a Saturday and a Sunday,
only BTCUSD open), never the day the suite runs on: a closed market is said before the lot cap
and the stop rule, so their refusals of an FX order are said only while its market is open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter

from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.methods import method_table
from mtgateway_console.service import AccountRegistration
from tests.e2e.clocks import SATURDAY_MS, SUNDAY_MS, WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, Daemon, connected_terminal


async def register_limited(daemon: Daemon) -> None:
    """The demo account registered with a policy: BTCUSD only, 0.05 lots, 2 % at risk."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Risk test", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        allowed_symbols=("BTCUSD",), max_lot_size=Decimal("0.05"), risk_pct=Decimal("0.02")))
    await daemon.cache.refresh_once()  # the record now carries the account's policy


@pytest.fixture
async def limited(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    """:func:`register_limited`, with a terminal on a Wednesday's clock."""
    await register_limited(daemon)
    async with connected_terminal(daemon, utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        yield terminal


async def send(daemon: Daemon, **request: Any) -> dict[str, Any]:
    body = {"action": "TRADE_ACTION_DEAL", "symbol": "BTCUSD", "volume": 0.01,
            "type": "ORDER_TYPE_BUY", **request}
    return await daemon.call("order_send", {"request": body})


async def bid(daemon: Daemon) -> float:
    return float((await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]["bid"])


async def test_policy_refusals_name_the_rule_and_send_nothing(
        daemon: Daemon, limited: EmulatedTerminal) -> None:
    """Symbol, lot size and a missing stop are refused with -32012 before the terminal."""
    price = await bid(daemon)
    cases = [({"symbol": "USDJPY"}, "allowed_symbols"),
             ({"volume": 0.06, "sl": price - 100}, "max_lot_size"),
             ({}, "risk_pct")]
    for request, rule in cases:
        error = (await send(daemon, client_id="r1", **request))["error"]
        assert (error["code"], error["data"]["rule"]) == (-32012, rule)
    assert limited.broker.positions_total() == 0
    assert (await daemon.call("order_status", ["r1"]))["error"]["code"] == -32006


async def test_stop_within_the_risk_budget_trades(daemon: Daemon,
                                                  limited: EmulatedTerminal) -> None:
    """A stop whose loss fits 2 % of equity trades; one beyond it is refused."""
    price = await bid(daemon)
    too_far = (await send(daemon, sl=round(price - 30_000, 2)))["error"]  # 0.01 lot: ~300 USD
    assert too_far["data"]["rule"] == "risk_pct"
    ok = (await send(daemon, client_id="r2", sl=round(price - 1_000, 2)))["result"]
    assert ok["retcode_name"] == "TRADE_RETCODE_DONE" and limited.broker.positions_total() == 1


async def test_closing_is_allowed_whatever_the_policy(daemon: Daemon,
                                                      limited: EmulatedTerminal) -> None:
    """Closing a position is never refused by the policy, even above the lot limit."""
    price = await bid(daemon)
    opened = (await send(daemon, volume=0.05, sl=round(price - 1_000, 2)))["result"]
    closed = (await send(daemon, type="ORDER_TYPE_SELL", volume=0.05,
                         position=opened["order"]))["result"]
    assert closed["retcode_name"] == "TRADE_RETCODE_DONE"
    assert limited.broker.positions_total() == 0


BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "volume": 0.01}


async def _check_and_send(daemon: Daemon, request: dict[str, Any]) -> tuple[Any, Any]:
    """``order_check``'s and ``order_send``'s answers to ``request`` (the check's without the
    ``client_id``, which only a send takes): each its result, or its error object."""
    checked = await daemon.call("order_check", {"request": {
        k: v for k, v in request.items() if k != "client_id"}})
    sent = await daemon.call("order_send", {"request": request})
    return checked.get("result", checked.get("error")), sent.get("result", sent.get("error"))


@pytest.mark.parametrize("day_ms", [SATURDAY_MS, SUNDAY_MS], ids=["saturday", "sunday"])
async def test_a_closed_market_is_said_before_the_lot_cap_and_the_stop(
        daemon: Daemon, day_ms: int) -> None:
    """Issue 88 item 5: on a weekend, an order the policy refuses for this order's sake on a
    closed market -- without a stop (``risk_pct``, 10016 as the client says it), above the
    lot cap (``max_lot_size``, 10014) -- is answered 10018 TRADE_RETCODE_MARKET_CLOSED by
    ``order_check`` and ``order_send`` alike, as a terminal answers a closed market whatever
    the order: a result, nothing sent, the ``client_id`` still free. What lasts is said
    before the market: a symbol outside the account's (``allowed_symbols``); and on the open
    BTCUSD the policy's refusals stand. Before, each closed-market order was refused -32012,
    and a bot choosing by ``order_check`` took EURUSD for open."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Weekend", broker="Sim", login=LOGIN, password="", server=SERVER,
        allowed_symbols=("EURUSD", "BTCUSD"), max_lot_size=Decimal("0.05"),
        risk_pct=Decimal("0.02")))
    await daemon.cache.refresh_once()
    async with connected_terminal(daemon, utc_clock_ms=SteppedClock(day_ms)) as terminal:
        assert terminal.market_hours() == {"EURUSD": False, "USDJPY": False, "BTCUSD": True}
        eurusd = (await daemon.call("symbol_info_tick", ["EURUSD"]))["result"]["bid"]
        for request in ({"symbol": "EURUSD"},
                        {"symbol": "EURUSD", "volume": 0.5, "sl": round(eurusd - 0.01, 5)}):
            checked, sent = await _check_and_send(daemon, {**BUY, "client_id": "closed",
                                                           **request})
            assert (checked["retcode"], checked["retcode_name"]) == (
                10018, "TRADE_RETCODE_MARKET_CLOSED"), (request, checked)
            assert (sent["retcode"], sent["retcode_name"], sent["comment"]) == (
                10018, "TRADE_RETCODE_MARKET_CLOSED", checked["comment"]), (request, sent)
            assert (sent["order"], sent["deal"], sent["client_id"], sent["deduplicated"],
                    sent["request"]["symbol"]) == (0, 0, "closed", False, "EURUSD")
            methods = method_table()
            TypeAdapter(methods["order_send"].result).validate_python(sent, strict=False)
            TypeAdapter(methods["order_check"].result).validate_python(checked, strict=False)
        status = await daemon.call("order_status", ["closed"])
        assert status["error"]["code"] == -32006  # nothing journaled: the id stays free
        for request, rule in (({"symbol": "USDJPY", "sl": 100.0}, "allowed_symbols"),
                              ({"symbol": "BTCUSD"}, "risk_pct")):
            checked, sent = await _check_and_send(daemon, {**BUY, **request})
            assert [(a["code"], a["data"]["rule"]) for a in (checked, sent)] == [
                (-32012, rule)] * 2, (request, checked, sent)
        assert terminal.broker.positions_total() == 0
