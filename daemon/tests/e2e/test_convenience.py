"""The MetaApi-named convenience trade methods through the real daemon and emulated terminal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import WAIT_S, Daemon, connected_terminal
from tests.e2e.terminals import HoldingTerminal

#: A Saturday, 12:00 UTC: FX closed, crypto open.
SATURDAY_MS = int(datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
async def terminal(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    async with connected_terminal(daemon, symbols=("EURUSD", "USDJPY", "USOIL"),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as t:
        yield t


async def ok(daemon: Daemon, method: str, params: Any) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


async def _tick(daemon: Daemon, symbol: str = "EURUSD") -> dict[str, Any]:
    tick: dict[str, Any] = await ok(daemon, "symbol_info_tick", [symbol])
    return tick


async def test_market_orders_with_stops_and_filling_from_the_symbol(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """Market buy/sell with SL/TP execute; USOIL (IOC only) gets IOC without being told."""
    tick = await _tick(daemon)
    buy = await ok(daemon, "create_market_buy_order", {
        "symbol": "EURUSD", "volume": 0.1, "stop_loss": round(tick["bid"] - 0.01, 5),
        "take_profit": round(tick["bid"] + 0.01, 5), "comment": "mine", "client_id": "b1"})
    assert (buy["retcode_name"], buy["client_id"]) == ("TRADE_RETCODE_DONE", "b1")
    oil = await ok(daemon, "create_market_sell_order", ["USOIL", 0.1])
    assert (oil["retcode"], oil["request"]["type_filling"]) == (10009, 1)
    positions = {p["ticket"]: p for p in terminal.broker.positions_get()}
    assert positions[buy["order"]]["comment"] == "mine"
    assert positions[buy["order"]]["sl"] == round(tick["bid"] - 0.01, 5)
    assert positions[oil["order"]]["type"] == 1


async def test_rejection_is_an_error_with_retcode(daemon: Daemon,
                                                  terminal: EmulatedTerminal) -> None:
    """A broker refusal is -32010 with retcode, retcode_name, retryable and client_id."""
    error = (await daemon.call("create_market_buy_order",
                               {"symbol": "EURUSD", "volume": 0.015, "client_id": "bad"}))["error"]
    assert error["code"] == -32010
    data = error["data"]
    assert (data["retcode"], data["retcode_name"], data["retryable"], data["client_id"]) == (
        10014, "TRADE_RETCODE_INVALID_VOLUME", False, "bad")
    assert "10014 TRADE_RETCODE_INVALID_VOLUME" in error["message"]
    status = (await daemon.call("order_status", {"client_id": "bad"}))["result"]
    assert status["state"] == "REJECTED"


async def test_market_closed_is_retryable(daemon: Daemon) -> None:
    """On a Saturday an FX order is -32010 10018 MARKET_CLOSED with retryable true."""
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(SATURDAY_MS)):
        error = (await daemon.call("create_market_buy_order", ["EURUSD", 0.1]))["error"]
    assert (error["code"], error["data"]["retcode"], error["data"]["retryable"]) == (
        -32010, 10018, True)


async def test_idempotent_like_order_send(daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """The same client_id twice opens one position; the second answer is deduplicated."""
    params = {"symbol": "EURUSD", "volume": 0.1, "client_id": "once"}
    first = await ok(daemon, "create_market_buy_order", params)
    again = await ok(daemon, "create_market_buy_order", params)
    assert again == {**first, "deduplicated": True}
    assert terminal.broker.positions_total() == 1
    other = (await daemon.call("create_market_sell_order", params))["error"]
    assert other["code"] == -32011


async def test_pending_orders_modify_and_cancel(daemon: Daemon,
                                                terminal: EmulatedTerminal) -> None:
    """Limit, stop and stop-limit variants place the six pending types; modify and cancel."""
    tick = await _tick(daemon)
    bid, ask = tick["bid"], tick["ask"]
    below, above = round(bid - 0.005, 5), round(ask + 0.005, 5)
    placed = [
        await ok(daemon, "create_limit_buy_order", ["EURUSD", 0.1, below]),
        await ok(daemon, "create_limit_sell_order", ["EURUSD", 0.1, above]),
        await ok(daemon, "create_stop_buy_order", ["EURUSD", 0.1, above]),
        await ok(daemon, "create_stop_sell_order", ["EURUSD", 0.1, below]),
        await ok(daemon, "create_stop_limit_buy_order",
                 {"symbol": "EURUSD", "volume": 0.1, "open_price": above,
                  "stop_limit_price": round(above - 0.001, 5)}),
        await ok(daemon, "create_stop_limit_sell_order",
                 {"symbol": "EURUSD", "volume": 0.1, "open_price": below,
                  "stop_limit_price": round(below + 0.001, 5)}),
    ]
    assert {p["retcode"] for p in placed} == {10009}
    types = {o["ticket"]: o["type"] for o in terminal.broker.orders_get()}
    assert [types[p["order"]] for p in placed] == [2, 3, 4, 5, 6, 7]
    limit = placed[0]["order"]
    new_price = round(below - 0.001, 5)
    await ok(daemon, "modify_order", {"order_id": limit, "open_price": new_price,
                                      "stop_loss": round(new_price - 0.01, 5)})
    [order] = terminal.broker.orders_get(ticket=limit)
    assert (order["price_open"], order["sl"]) == (new_price, round(new_price - 0.01, 5))
    await ok(daemon, "cancel_order", [limit])
    assert terminal.broker.orders_get(ticket=limit) == []
    missing = (await daemon.call("cancel_order", [limit]))["error"]
    assert (missing["code"], missing["data"]["retcode"]) == (-32010, 10013)


async def test_position_modify_and_close_variants(daemon: Daemon,
                                                  terminal: EmulatedTerminal) -> None:
    """modify_position, close_position_partially, close_position (replayed on retry)."""
    opened = await ok(daemon, "create_market_buy_order", ["EURUSD", 0.3])
    ticket = opened["order"]
    tick = await _tick(daemon)
    sl = round(tick["bid"] - 0.01, 5)
    await ok(daemon, "modify_position", {"position_id": ticket, "stop_loss": sl})
    assert terminal.broker.positions_get(ticket=ticket)[0]["sl"] == sl
    await ok(daemon, "close_position_partially", {"position_id": ticket, "volume": 0.1})
    assert terminal.broker.positions_get(ticket=ticket)[0]["volume"] == 0.2
    closed = await ok(daemon, "close_position", {"position_id": ticket, "client_id": "c1"})
    assert (closed["volume"], terminal.broker.positions_total()) == (0.2, 0)
    again = await ok(daemon, "close_position", {"position_id": ticket, "client_id": "c1"})
    assert again == {**closed, "deduplicated": True}
    gone = (await daemon.call("close_position", {"position_id": ticket}))["error"]
    assert gone["code"] == -32006


async def test_close_by_and_close_positions_by_symbol(daemon: Daemon,
                                                      terminal: EmulatedTerminal) -> None:
    """close_by nets two opposite positions; close_positions_by_symbol closes one symbol's."""
    buy = await ok(daemon, "create_market_buy_order", ["EURUSD", 0.1])
    sell = await ok(daemon, "create_market_sell_order", ["EURUSD", 0.1])
    await ok(daemon, "close_by", {"position_id": buy["order"],
                                  "opposite_position_id": sell["order"]})
    assert terminal.broker.positions_total() == 0
    for _ in range(3):
        await ok(daemon, "create_market_buy_order", ["EURUSD", 0.1])
    yen = await ok(daemon, "create_market_buy_order", ["USDJPY", 0.1])
    closed = await ok(daemon, "close_positions_by_symbol", {"symbol": "EURUSD",
                                                            "client_id": "all-eur"})
    assert [r["retcode"] for r in closed["results"]] == [10009] * 3
    assert [p["ticket"] for p in terminal.broker.positions_get()] == [yen["order"]]
    assert len({r["client_id"] for r in closed["results"]}) == 3
    again = await ok(daemon, "close_positions_by_symbol", {"symbol": "EURUSD",
                                                           "client_id": "all-eur"})
    assert again == {"results": []} and terminal.broker.positions_total() == 1


async def test_convenience_methods_are_refused_in_a_batch(daemon: Daemon) -> None:
    """Like order_send, a convenience trade inside a batch is -32600 and runs nothing."""
    body = [{"jsonrpc": "2.0", "id": 1, "method": "create_market_buy_order",
             "params": ["EURUSD", 0.1]}]
    async with daemon.session.post(daemon.rpc_url, json=body,
                                   headers={"Authorization": f"Bearer {daemon.token}"}) as r:
        [answer] = await r.json()
    assert answer["error"]["code"] == -32600


@pytest.mark.parametrize("method, extra", [("close_position_partially", {"volume": 0.02}),
                                           ("close_position", {})])
async def test_a_close_retried_while_in_flight_waits_and_shares_its_outcome(
        daemon: Daemon, method: str, extra: dict[str, Any]) -> None:
    """Issue 16 F4: the same close sent again while the first is held waits for it and answers
    its outcome (deduplicated: true); exactly one close reaches the terminal. It used to answer
    -32003 "SENT ... use a new client_id" at once, inviting a duplicate close."""
    async with connected_terminal(daemon, HoldingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, HoldingTerminal)
        opened = await ok(daemon, "create_market_buy_order", {"symbol": "EURUSD",
                                                               "volume": 0.1})
        terminal.hold = True
        params = {"position_id": opened["order"], "client_id": "cl1", **extra}
        first = asyncio.create_task(daemon.call(method, params))
        await asyncio.wait_for(terminal.held.wait(), WAIT_S)
        second = asyncio.create_task(daemon.call(method, params, rid=2))
        ping = await daemon.call("ping", rid=3)  # answered while both closes wait
        assert "result" in ping and not second.done()
        terminal.release.set()
        one, two = (await first)["result"], (await second)["result"]
        assert (one["retcode"], one["deduplicated"]) == (10009, False)
        assert two == {**one, "deduplicated": True}
        assert terminal.order_sends == 2  # the opening buy and one close
