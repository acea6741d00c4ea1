"""Paper never touches the live book, and a bot on paper is told so: positions and a pending
order opened live stay at the broker when the account goes to paper; a bot reads them on
request (``book: "live"``), and a close, SL/TP change, modification or removal of one sent on
paper is refused with 10017 and a comment naming the live book, never 10036 "Position already
closed" -- while the terminal, which records every request it gets, is sent no order at all.

And ``order_check`` answers what ``order_send`` will under the account's policy (lots,
symbols, automated trading, the kill switch), with the same error, live and on paper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from mtgateway_console.service import AccountRegistration
from mtgateway_console.service.accounts import AccountChanges
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, Daemon, connected_terminal
from tests.e2e.paperkit import BUY, RecordingTerminal, ok, on_paper

DISABLED = 10017  # TRADE_RETCODE_TRADE_DISABLED


@pytest.fixture
async def terminal(daemon: Daemon) -> AsyncIterator[RecordingTerminal]:
    """A recording terminal on a Wednesday (the forex markets open), live."""
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD", "USDJPY"),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as connected:
        assert isinstance(connected, RecordingTerminal)
        yield connected


async def _live_then_paper(daemon: Daemon, terminal: RecordingTerminal
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A live position and a live buy limit, then the account registered on paper: the
    live answers (position, order)."""
    opened = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "live-1"}})
    tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
    limit = await ok(daemon, "order_send", {"request": {
        "action": "TRADE_ACTION_PENDING", "type": "ORDER_TYPE_BUY_LIMIT", "symbol": "EURUSD",
        "volume": 0.1, "price": round(tick["bid"] - 0.01, 5), "client_id": "live-2"}})
    assert (opened["retcode"], limit["retcode"]) == (10009, 10009)
    assert "paper" not in opened and "paper" not in limit
    await on_paper(daemon)
    status = await ok(daemon, "gateway_status")
    assert status["trading"]["paper"] is True
    return opened, limit


async def test_a_live_ticket_sent_on_paper_is_refused_naming_the_live_book(
        daemon: Daemon, terminal: RecordingTerminal) -> None:
    """Every request that acts on a live ticket from paper answers 10017 naming the live
    book, journaled as a refusal; the terminal gets no order, and its position and pending
    order are still open at the broker; the live book is read on request."""
    opened, limit = await _live_then_paper(daemon, terminal)
    position, order = opened["order"], limit["order"]
    sent_before = terminal.methods.count("order_send")

    assert await ok(daemon, "positions_get", {}) == []  # the paper book's
    [live_position] = await ok(daemon, "positions_get", {"book": "live"})
    [live_order] = await ok(daemon, "orders_get", {"book": "live"})
    assert (live_position["ticket"], live_order["ticket"]) == (position, order)
    assert "paper" not in live_position and "paper" not in live_order
    assert await ok(daemon, "positions_get", {"book": "live", "ticket": position}) == \
        [live_position]
    bad = (await daemon.call("positions_get", {"book": "paper"}))["error"]
    assert bad["code"] == -32602

    tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
    close = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_SELL", "symbol": "EURUSD",
             "volume": 0.1, "position": position}
    requests = [
        close,
        {"action": "TRADE_ACTION_SLTP", "symbol": "EURUSD", "position": position,
         "sl": round(tick["bid"] - 0.02, 5)},
        {"action": "TRADE_ACTION_MODIFY", "order": order, "price": round(tick["bid"] - 0.02, 5)},
        {"action": "TRADE_ACTION_REMOVE", "order": order},
    ]
    for n, request in enumerate(requests):
        checked = await ok(daemon, "order_check", [request])
        sent = await ok(daemon, "order_send", {"request": {**request, "client_id": f"p-{n}"}})
        for answer in (checked, sent):
            assert (answer["retcode"], answer["paper"]) == (DISABLED, True), answer
            assert answer["retcode_name"] == "TRADE_RETCODE_TRADE_DISABLED"
            assert "live book" in answer["comment"] and str(request.get(
                "position", request.get("order"))) in answer["comment"], answer["comment"]
        status = await ok(daemon, "order_status", [f"p-{n}"])
        assert (status["state"], status["retcode"]) == ("REJECTED", DISABLED)

    # the convenience close reads the position where it is, and is refused the same way
    refused = (await daemon.call("close_position", {"position_id": position}))["error"]
    assert refused["code"] == -32010
    assert refused["data"]["result"]["retcode"] == DISABLED, refused
    assert "live book" in refused["data"]["result"]["comment"]

    # paper never sent anything to the broker: the live position and order stand
    assert terminal.methods.count("order_send") == sent_before
    assert "order_check" not in terminal.methods
    assert [p["ticket"] for p in terminal.broker.positions_get()] == [position]
    assert [o["ticket"] for o in terminal.broker.orders_get()] == [order]

    # a ticket neither book holds is the paper book's own answer, not the live book's
    nowhere = await ok(daemon, "order_send", {"request": {**close, "position": 987654}})
    assert nowhere["retcode"] != DISABLED and "live book" not in nowhere["comment"]

    # the paper book's own position closes as before
    paper = await ok(daemon, "order_send", {"request": BUY})
    closed = await ok(daemon, "order_send", {"request": {**close, "position": paper["order"]}})
    assert (closed["retcode"], closed["paper"]) == (10009, True)


async def _register(daemon: Daemon, **policy: Any) -> None:
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Checked", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        allowed_symbols=("EURUSD",), max_lot_size=Decimal("0.3"), risk_pct=Decimal("1"),
        **policy))
    await daemon.cache.refresh_once()


async def _same_refusal(daemon: Daemon, request: dict[str, Any], rule: str) -> None:
    """``order_check`` and ``order_send`` of ``request`` both refused: -32012 naming
    ``rule``, the same message and data."""
    checked = (await daemon.call("order_check", [request]))["error"]
    sent = (await daemon.call("order_send", {"request": request}))["error"]
    assert checked == sent, (checked, sent)
    assert checked["code"] == -32012
    assert rule in (checked["data"].get("rule"), checked["data"].get("reason")), checked


async def test_order_check_refuses_what_order_send_refuses_live_and_on_paper(
        daemon: Daemon, terminal: RecordingTerminal) -> None:
    """Above the lot cap, outside the allowed symbols, halted by the owner: the check says
    what the send will, with the same -32012; within the policy the check answers 0; on
    paper the same."""
    await _register(daemon)
    for paper in (False, True):
        if paper:
            [account] = await daemon.authority.accounts.of(OWNER)
            assert await daemon.authority.accounts.update(OWNER, account.id, AccountChanges(
                paper_trade_enabled=True))
            await daemon.cache.refresh_once()
        await _same_refusal(daemon, {**BUY, "volume": 0.4}, "max_lot_size")
        await _same_refusal(daemon, {**BUY, "symbol": "USDJPY"}, "allowed_symbols")
        fine = await ok(daemon, "order_check", [{**BUY, "volume": 0.3}])
        assert fine["retcode"] == 0 and fine.get("paper", False) is paper
    await daemon.authority.halts.halt(OWNER, [(LOGIN, SERVER)], "news spike")
    await daemon.cache.refresh_once()
    await _same_refusal(daemon, BUY, "trading_halted")
    # a refused order reaches nothing: no order_send, and the terminal's checks are the one
    # that passed and, for the live lot cap's check and send, the question whether the market
    # is closed, asked before that refusal is said (gate.py, ORDER_RULES: it is open, so the
    # refusal stands); the symbols' refusal is said before the market, without asking
    assert terminal.methods.count("order_check") == 3 and "order_send" not in terminal.methods


async def test_order_check_refuses_an_opening_order_when_automated_trading_is_off(
        daemon: Daemon, terminal: RecordingTerminal) -> None:
    """With automated trading off, a check of an opening order is refused as its send is;
    a check of a close passes, as its send would."""
    opened = await ok(daemon, "order_send", {"request": BUY})
    await _register(daemon, auto_trade_enabled=False)
    await _same_refusal(daemon, BUY, "auto_trade_enabled")
    close = await ok(daemon, "order_check", [{**BUY, "type": "ORDER_TYPE_SELL",
                                               "position": opened["order"]}])
    assert close["retcode"] == 0
