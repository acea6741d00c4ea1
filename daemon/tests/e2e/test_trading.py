"""Trading through the real daemon: order_send/order_check/order_status with their safety nets.

Two kinds of terminal play the EA: the emulated terminal (a well-behaved broker, its clock moved
to a Wednesday afternoon so the markets are open whatever day the suite runs) and the scripted
EA of ``tests/bridgekit.py`` for the misbehaving cases (an answer lost mid-trade, a reconnect
with the position present, a broker answer that leaves the outcome unknown). Journal retention is
checked on a journal file written beforehand with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.connection import Welcomed
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.app import JOURNAL_DB_NAME
from gateway.keys import TRADING
from gateway.trading.journal import OrderJournal, params_hash
from tests.bridgekit import ScriptedEA
from tests.e2e.fixtures import (
    LOGIN,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    connected_terminal,
    running_daemon,
)
from tests.testkit import FakeClock

#: A Wednesday, 14:00 UTC: every emulated market is in session.
_MARKET_OPEN_MS = int(datetime(2026, 11, 18, 14, 0, tzinfo=UTC).timestamp() * 1000)

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


@pytest.fixture
async def tagging(tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon whose user consented to the comment tag (``trading.comment_tag``): an order
    without a comment carries ``g:<client_id>``, which reconciliation can find."""
    async with running_daemon(tmp_path, trading={"comment_tag": True}) as running:
        yield running


@pytest.fixture
async def broker(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    """The emulated terminal, clock moved to an open market, with EURUSD and USOIL."""
    started_ns = time.monotonic_ns()

    def open_market_ms() -> int:
        return _MARKET_OPEN_MS + (time.monotonic_ns() - started_ns) // 1_000_000

    async with connected_terminal(daemon, symbols=("EURUSD", "USOIL"),
                                  utc_clock_ms=open_market_ms) as terminal:
        yield terminal


async def _send(daemon: Daemon, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return await daemon.call("order_send", {"request": request}, **kw)


async def _status(daemon: Daemon, client_id: str) -> dict[str, Any]:
    response = await daemon.call("order_status", {"client_id": client_id})
    answer: dict[str, Any] = response.get("result") or response["error"]
    return answer


# -- with the emulated terminal ------------------------------------------------------------------


async def test_order_send_executes_and_stamps_the_order(daemon: Daemon,
                                                        broker: EmulatedTerminal) -> None:
    """A buy by enum names executes once, sent as written: the package's magic 0 and an
    empty comment when the request gives neither (issue 33: it was 871000 and g:<client_id>);
    a request's own magic and comment go as given."""
    result = (await _send(daemon, {**BUY, "client_id": "buy-1"}))["result"]
    assert (result["retcode"], result["retcode_name"]) == (10009, "TRADE_RETCODE_DONE")
    assert (result["client_id"], result["deduplicated"]) == ("buy-1", False)
    assert result["order"] > 0 and result["volume"] == 0.1
    [position] = broker.broker.positions_get()
    assert (position["comment"], position["magic"]) == ("", 0)
    assert (result["request"]["comment"], result["request"]["magic"]) == ("", 0)
    status = await _status(daemon, "buy-1")
    assert (status["state"], status["ticket"], status["retcode_name"]) == (
        "ACCEPTED", result["order"], "TRADE_RETCODE_DONE")
    own = (await _send(daemon, {**BUY, "magic": 234000, "comment": "python script open",
                                "client_id": "buy-2"}))["result"]
    [mine] = broker.broker.positions_get(ticket=own["order"])
    assert (mine["comment"], mine["magic"]) == ("python script open", 234000)


async def test_the_tag_is_stamped_only_with_consent(tagging: Daemon) -> None:
    """With trading.comment_tag, an order without a comment carries g:<client_id>; a comment
    the request gives is still kept as written."""
    async with connected_terminal(tagging, symbols=("EURUSD",),
                                  utc_clock_ms=lambda: _MARKET_OPEN_MS) as terminal:
        tagged = (await _send(tagging, {**BUY, "client_id": "tag-me"}))["result"]
        own = (await _send(tagging, {**BUY, "comment": "mine", "client_id": "not-me"}))["result"]
        comments = {p["ticket"]: (p["comment"], p["magic"])
                    for p in terminal.broker.positions_get()}
        assert comments == {tagged["order"]: ("g:tag-me", 0), own["order"]: ("mine", 0)}


async def test_positional_params_work_too(daemon: Daemon, broker: EmulatedTerminal) -> None:
    """order_send([request]) is the same call as order_send(request=...)."""
    result = (await daemon.call("order_send", [{**BUY, "type": 1}]))["result"]
    assert result["retcode"] == 10009 and broker.broker.positions_get()[0]["type"] == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,24}", result["client_id"])  # made by the daemon


async def test_same_client_id_is_not_sent_twice(daemon: Daemon, broker: EmulatedTerminal) -> None:
    """A retry (enum ints instead of names: the same params) returns the stored outcome."""
    first = (await _send(daemon, {**BUY, "client_id": "retry-me"}))["result"]
    again = (await _send(daemon, {"action": 1, "type": 0, "symbol": "EURUSD", "volume": 0.1,
                                  "client_id": "retry-me"}))["result"]
    assert again == {**first, "deduplicated": True}
    assert broker.broker.positions_total() == 1


async def test_same_client_id_other_params_conflicts(daemon: Daemon,
                                                     broker: EmulatedTerminal) -> None:
    """Reusing a client_id with a different volume is -32011 and sends nothing."""
    await _send(daemon, {**BUY, "client_id": "once"})
    error = (await _send(daemon, {**BUY, "volume": 0.2, "client_id": "once"}))["error"]
    assert (error["code"], error["data"]) == (-32011, {"client_id": "once"})
    assert broker.broker.positions_total() == 1


async def test_broker_rejection_is_a_result(daemon: Daemon, broker: EmulatedTerminal) -> None:
    """A volume the symbol refuses is a result with retcode 10014, journaled as REJECTED."""
    # 0.015 lots is off the 0.01 volume step: the broker refuses it (the policy would not).
    result = (await _send(daemon, {**BUY, "volume": 0.015, "client_id": "too-big"}))["result"]
    assert (result["retcode"], result["retcode_name"]) == (10014,
                                                           "TRADE_RETCODE_INVALID_VOLUME")
    assert (await _status(daemon, "too-big"))["state"] == "REJECTED"
    assert broker.broker.positions_total() == 0


async def test_filling_mode_is_picked_from_the_symbol(daemon: Daemon,
                                                      broker: EmulatedTerminal) -> None:
    """Without type_filling, USOIL (IOC only) gets IOC and EURUSD gets FOK; a forced FOK on
    USOIL is the broker's INVALID_FILL."""
    oil = {**BUY, "symbol": "USOIL"}
    auto = (await _send(daemon, oil))["result"]
    assert (auto["retcode"], auto["request"]["type_filling"]) == (10009, 1)
    fx = (await _send(daemon, BUY))["result"]
    assert (fx["retcode"], fx["request"]["type_filling"]) == (10009, 0)
    forced = (await _send(daemon, {**oil, "type_filling": "ORDER_FILLING_FOK"}))["result"]
    assert forced["retcode_name"] == "TRADE_RETCODE_INVALID_FILL"


async def test_pending_order_with_iso_expiration(daemon: Daemon,
                                                 broker: EmulatedTerminal) -> None:
    """A buy limit with an ISO expiry is placed with RETURN filling and epoch expiry, and
    answered as a terminal's OrderSend answers it: 10009 DONE with the quote, no deal."""
    tick = (await daemon.call("symbol_info_tick", ["EURUSD"]))["result"]
    result = (await _send(daemon, {
        "action": "TRADE_ACTION_PENDING", "type": "ORDER_TYPE_BUY_LIMIT", "symbol": "EURUSD",
        "volume": 0.1, "price": round(tick["bid"] - 0.01, 5),
        "type_time": "ORDER_TIME_SPECIFIED", "expiration": "2026-11-19T14:00:00+00:00",
        "client_id": "limit-1"}))["result"]
    assert (result["retcode"], result["retcode_name"], result["deal"]) == (
        10009, "TRADE_RETCODE_DONE", 0)
    assert result["order"] > 0 and 0 < result["bid"] < result["ask"], result
    expected_expiry = int(datetime(2026, 11, 19, 14, 0, tzinfo=UTC).timestamp())
    assert (result["request"]["type_filling"], result["request"]["expiration"]) == (
        2, expected_expiry)
    [order] = broker.broker.orders_get()
    assert (order["comment"], order["time_expiration"]) == ("", expected_expiry)


async def test_order_check_reports_with_retcode_name(daemon: Daemon,
                                                     broker: EmulatedTerminal) -> None:
    """order_check answers OrderCheckResult plus retcode_name, and executes nothing."""
    ok = (await daemon.call("order_check", [BUY]))["result"]
    assert (ok["retcode"], ok["retcode_name"]) == (0, "OK") and ok["margin"] > 0
    bad = (await daemon.call("order_check", {"request": {**BUY, "volume": 0.001}}))["result"]
    assert bad["retcode_name"] == "TRADE_RETCODE_INVALID_VOLUME"
    assert broker.broker.positions_total() == 0


async def test_read_only_token_cannot_send(daemon: Daemon, broker: EmulatedTerminal) -> None:
    """order_send with a token lacking the trade scope is -32004 scope; nothing is journaled."""
    reader = await daemon.issue(LOGIN, SERVER, scopes=("read",))
    error = (await _send(daemon, {**BUY, "client_id": "nope"}, token=reader.token))["error"]
    assert (error["code"], error["data"]) == (-32004, {"reason": "scope"})
    assert broker.broker.positions_total() == 0
    assert (await _status(daemon, "nope"))["code"] == -32006


@pytest.mark.parametrize("request_, fragment", [
    ({**BUY, "colour": "red"}, "request.colour"),
    ({**BUY, "volume": -1}, "request.volume"),
    ({**BUY, "volume": "0.1"}, "request.volume"),
    ({**BUY, "type": "ORDER_TYPE_HOLD"}, "request.type"),
    ({**BUY, "type": True}, "request.type"),
    ({**BUY, "comment": "x" * 32}, "request.comment"),
    ({**BUY, "client_id": "has space"}, "request.client_id"),
    ({**BUY, "client_id": "x" * 25}, "request.client_id"),
    ({**BUY, "position": -1}, "request.position"),
    ({**BUY, "volume": 0}, "request.volume"),
    ({**BUY, "action": "TRADE_ACTION_SLTP", "order": -1}, "request.order"),
    ({**BUY, "expiration": "not a time"}, "request.expiration"),
    ({k: v for k, v in BUY.items() if k != "action"}, "request.action"),
])
async def test_invalid_requests_name_the_field(daemon: Daemon, request_: dict[str, Any],
                                               fragment: str) -> None:
    """Each malformed TradeRequest is -32602 naming the field, before any terminal is asked."""
    error = (await _send(daemon, request_))["error"]
    assert error["code"] == -32602 and fragment in error["message"], error


@pytest.mark.parametrize("method, params, fragment", [
    ("order_send", {"request": {**BUY, "action": "TRADE_ACTION_PENDING",
                                "type": "ORDER_TYPE_BUY_LIMIT", "price": 2e9}}, "request.price"),
    ("order_check", {"request": {**BUY, "sl": 2e9}}, "request.sl"),
    ("create_limit_buy_order", {"symbol": "EURUSD", "volume": 0.1, "open_price": 2e9},
     "open_price"),
    ("create_market_buy_order", {"symbol": "EURUSD", "volume": 0.1, "stop_loss": 2e9},
     "stop_loss"),
    ("order_calc_profit", [0, "EURUSD", 0.1, 1.1, 2e9], "price_close"),
    ("order_send", {"request": {**BUY, "volume": 2e6}}, "request.volume"),
    ("create_market_buy_order", {"symbol": "EURUSD", "volume": 2e6}, "volume"),
])
async def test_one_bound_whatever_the_door(daemon: Daemon, method: str, params: Any,
                                           fragment: str) -> None:
    """A 2e9 price (or 2e6 lots) is -32602 at every door that takes one, naming the field:
    order_send used to accept a price the create_* methods refused."""
    error = (await daemon.call(method, params))["error"]
    assert error["code"] == -32602 and fragment in error["message"], error
    assert "1000000000" in error["message"] or "1000000" in error["message"], error


async def test_unknown_client_id_is_not_found(daemon: Daemon) -> None:
    """order_status of an id never used is -32006."""
    assert (await _status(daemon, "never-used"))["code"] == -32006


# -- with a scripted EA: lost answers and reconciliation --------------------------------------


async def _connect(daemon: Daemon) -> ScriptedEA:
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
    return ea


async def _order_request(ea: ScriptedEA) -> Any:
    """The EA's next request after answering the desk's symbol_info look-up, if it makes one
    (the symbol is looked up before anything is journaled, and cached)."""
    request = await ea.next_request()
    if request.method == "symbol_info":
        ea.respond(request.id, {"name": request.params["symbol"], "filling_mode": 1})
        request = await ea.next_request()
    return request


def _journal_state(daemon: Daemon, client_id: str) -> str | None:
    """The row's state as another process reading the journal file would see it."""
    with closing(sqlite3.connect(daemon.app[TRADING].journal.path)) as db:
        row = db.execute("SELECT state FROM orders WHERE client_id=?", (client_id,)).fetchone()
    return None if row is None else str(row[0])


async def _lose_an_order(daemon: Daemon, client_id: str) -> dict[str, Any]:
    """Send an order, check it was journaled SENT before it arrived, then drop the EA."""
    ea = await _connect(daemon)
    call = asyncio.create_task(_send(daemon, {**BUY, "type_filling": 0, "client_id": client_id}))
    request = await _order_request(ea)
    assert request.method == "order_send"
    assert request.params["request"].get("comment") == (
        daemon.app[TRADING].settings.tags.stamp(client_id))
    assert _journal_state(daemon, client_id) == "SENT"
    ea.abort()
    error: dict[str, Any] = (await call)["error"]
    await ea.close()
    return error


async def _answer_reconciliation(ea: ScriptedEA, positions: list[dict[str, Any]]) -> None:
    """Play the terminal's side of one reconciliation pass."""
    clock = await ea.next_request()
    assert clock.method == "server_time"
    now = int(time.time())
    ea.respond(clock.id, {"time": now, "time_msc": now * 1000, "tz_offset_s": 0})
    for method in ("orders_get", "history_orders_get", "history_deals_get", "positions_get"):
        request = await ea.next_request()
        assert request.method == method
        if method.startswith("history"):
            assert request.params["date_from"] <= now - 300 < request.params["date_to"]
        ea.respond(request.id, positions if method == "positions_get" else [])


async def test_lost_answer_is_outcome_unknown_then_reconciled(tagging: Daemon) -> None:
    """An EA dropping mid-trade gives -32003 with the client_id; when an EA (1.0: no record)
    reconnects with the tagged position (the user consented to the tag), new trades wait for
    the pass, then the row resolves with its ticket."""
    daemon = tagging
    error = await _lose_an_order(daemon, "lost-1")
    assert (error["code"], error["data"]) == (-32003, {"client_id": "lost-1",
                                                       "state": "UNKNOWN"})
    assert (await _status(daemon, "lost-1"))["state"] == "UNKNOWN"
    retry = (await _send(daemon, {**BUY, "type_filling": 0, "client_id": "lost-1"}))["error"]
    assert retry["code"] == -32003  # never resent: no EA is even connected

    ea = await _connect(daemon)
    try:
        gate = asyncio.create_task(_send(daemon, {**BUY, "client_id": "during-pass"}))
        clock = await ea.next_request()  # the pass has started: the gate is closed
        refused = (await gate)["error"]
        assert (refused["code"], refused["data"]) == (-32014, {"reason": "reconciling"})
        assert (await _status(daemon, "lost-1"))["state"] == "UNKNOWN"  # reads still served
        ea.conn.send_response(clock.id, {"time": int(time.time()), "time_msc": 0,
                                         "tz_offset_s": 0})
        ea.flush()
        for method in ("orders_get", "history_orders_get", "history_deals_get"):
            request = await ea.next_request()
            assert request.method == method
            ea.respond(request.id, [])
        request = await ea.next_request()
        assert request.method == "positions_get"
        ea.respond(request.id, [{"ticket": 555, "comment": "g:lost-1", "symbol": "EURUSD",
                                 "volume": 0.1, "type": 0},
                                {"ticket": 556, "comment": "g:someone-else"}])
        await daemon.app[TRADING].reconciler.wait_reconciled(TERMINAL)
    finally:
        await ea.close()
    status = await _status(daemon, "lost-1")
    assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", 555)
    again = (await _send(daemon, {**BUY, "type_filling": 0, "client_id": "lost-1"}))["result"]
    assert (again["retcode"], again["order"], again["deduplicated"]) == (10009, 555, True)
    assert again["found_in"] == "positions"


async def test_unfound_order_is_not_found_after_three_passes(daemon: Daemon) -> None:
    """Three reconnects whose terminal has no order of the request resolve it NOT_FOUND."""
    await _lose_an_order(daemon, "gone")
    for passes in (1, 2, 3):
        ea = await _connect(daemon)
        await _answer_reconciliation(ea, [])
        await daemon.app[TRADING].reconciler.wait_reconciled(TERMINAL)
        await ea.close()
        await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
        status = await _status(daemon, "gone")
        assert status["reconcile_passes"] == passes
    assert status["state"] == "RESOLVED_NOT_FOUND"


async def test_concurrent_duplicate_waits_for_the_first(daemon: Daemon) -> None:
    """Two simultaneous sends of one client_id reach the EA once and share the outcome."""
    ea = await _connect(daemon)
    try:
        request = {**BUY, "type_filling": 0, "client_id": "twin"}
        first = asyncio.create_task(_send(daemon, request))
        sent = await _order_request(ea)
        second = asyncio.create_task(_send(daemon, request, rid=2))
        ping = asyncio.create_task(daemon.call("ping", rid=3))
        assert (await ea.next_request()).method == "ping"  # the twin did not reach the EA
        assert not second.done()
        ea.respond(sent.id, {"retcode": 10009, "order": 9, "deal": 10, "volume": 0.1,
                             "price": 1.1, "bid": 1.1, "ask": 1.1, "comment": "",
                             "request_id": 1, "retcode_external": 0,
                             "request": sent.params["request"]})
        one, two = (await first)["result"], (await second)["result"]
        assert (one["deduplicated"], two["deduplicated"]) == (False, True)
        assert one["order"] == two["order"] == 9
        ping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ping
    finally:
        await ea.close()


# -- retcodes that leave the outcome unknown, and journal retention ------------------------------


def _send_result(request: dict[str, Any], retcode: int, order: int = 0) -> dict[str, Any]:
    """An OrderSendResult as the EA would answer it."""
    return {"retcode": retcode, "order": order, "deal": 0, "volume": 0.1 if order else 0.0,
            "price": 0.0, "bid": 1.1, "ask": 1.1, "comment": "", "request_id": 1,
            "retcode_external": 0, "request": request}


async def _answer_send(daemon: Daemon, ea: ScriptedEA, client_id: str,
                       retcode: int) -> dict[str, Any]:
    """Send a buy under ``client_id``, have the EA answer ``retcode``; the RPC response."""
    call = asyncio.create_task(_send(daemon, {**BUY, "type_filling": 0, "client_id": client_id}))
    sent = await _order_request(ea)
    assert sent.method == "order_send"
    assert _journal_state(daemon, client_id) == "SENT"
    ea.respond(sent.id, _send_result(sent.params["request"], retcode))
    return await call


async def _assert_nothing_sent_since(daemon: Daemon, ea: ScriptedEA) -> None:
    """The EA's next request is a ping made now, so no order reached it in between."""
    ping = asyncio.create_task(daemon.call("ping", rid=99))
    assert (await ea.next_request()).method == "ping"
    ping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ping


@pytest.mark.parametrize("retcode, name", [(10011, "TRADE_RETCODE_ERROR"),
                                           (10012, "TRADE_RETCODE_TIMEOUT"),
                                           (10031, "TRADE_RETCODE_CONNECTION")])
async def test_ambiguous_retcode_is_outcome_unknown(daemon: Daemon, retcode: int,
                                                    name: str) -> None:
    """A retcode that does not prove the order failed is -32003 with the lost-answer data, the
    row is UNKNOWN with that retcode, and a retry answers -32003 again without sending."""
    ea = await _connect(daemon)
    try:
        error = (await _answer_send(daemon, ea, "ambiguous", retcode))["error"]
        assert (error["code"], error["data"]) == (-32003, {"client_id": "ambiguous",
                                                           "state": "UNKNOWN"})
        assert f"{retcode} {name}" in error["message"]
        assert _journal_state(daemon, "ambiguous") == "UNKNOWN"
        status = await _status(daemon, "ambiguous")
        assert (status["state"], status["retcode"], status["retcode_name"]) == (
            "UNKNOWN", retcode, name)
        assert status["result"]["retcode"] == retcode
        retry = (await _send(daemon, {**BUY, "type_filling": 0, "client_id": "ambiguous"}))
        assert (retry["error"]["code"], retry["error"]["data"]) == (
            -32003, {"client_id": "ambiguous", "state": "UNKNOWN"})
        await _assert_nothing_sent_since(daemon, ea)
    finally:
        await ea.close()


async def test_ambiguous_retcode_is_resolved_by_reconciliation(tagging: Daemon) -> None:
    """After a 10012, the reconnect pass finds the tagged position (the user consented to the
    tag; the scripted EA keeps no record): the row resolves with its ticket and success
    retcode, and the retry returns that outcome."""
    daemon = tagging
    ea = await _connect(daemon)
    try:
        assert (await _answer_send(daemon, ea, "timed-out", 10012))["error"]["code"] == -32003
    finally:
        await ea.close()
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    ea = await _connect(daemon)
    try:
        await _answer_reconciliation(ea, [{"ticket": 777, "comment": "g:timed-out",
                                           "symbol": "EURUSD", "volume": 0.1, "type": 0}])
        await daemon.app[TRADING].reconciler.wait_reconciled(TERMINAL)
        status = await _status(daemon, "timed-out")
        assert (status["state"], status["ticket"], status["retcode"]) == (
            "RESOLVED_ACCEPTED", 777, 10009)
        again = (await _send(daemon, {**BUY, "type_filling": 0,
                                      "client_id": "timed-out"}))["result"]
        assert (again["order"], again["deduplicated"], again["found_in"]) == (777, True,
                                                                             "positions")
        await _assert_nothing_sent_since(daemon, ea)
    finally:
        await ea.close()


@pytest.mark.parametrize("retcode", [10006, 10028, 10039])
async def test_refusing_retcodes_stay_results(daemon: Daemon, retcode: int) -> None:
    """REJECT, LOCKED and CLOSE_ORDER_EXIST refuse the request itself: a REJECTED result."""
    ea = await _connect(daemon)
    try:
        result = (await _answer_send(daemon, ea, "refused", retcode))["result"]
        assert (result["retcode"], result["deduplicated"]) == (retcode, False)
        assert (await _status(daemon, "refused"))["state"] == "REJECTED"
    finally:
        await ea.close()


async def test_journal_is_pruned_at_daemon_start(tmp_path: Path) -> None:
    """A daemon starting on a journal deletes rejected rows past journal_retention_h (72 h),
    keeping recent ones, any UNKNOWN row however old, and executed ones (no terminal has told
    it yet whether those orders are still open), and notes each deletion in the audit."""
    path = tmp_path / JOURNAL_DB_NAME
    clock = FakeClock(time.time() - 100 * 3600)
    journal = OrderJournal(path, clock=clock)
    journal.open()
    names = ("old-done", "old-accepted", "old-unknown", "recent-done")
    for client_id in names:
        if client_id == "recent-done":
            clock.now = time.time()
        row = journal.receive(token_id="tok_old", client_id=client_id,
                              terminal=f"{LOGIN}@{SERVER}", params_hash=params_hash(BUY),
                              request=BUY)
        row = journal.mark_sent(row, BUY)
        if client_id == "old-unknown":
            journal.mark_unknown(row)
        elif client_id == "old-accepted":
            journal.record_result(row, {"retcode": 10009, "order": 1}, success=True, ticket=1)
        else:
            journal.record_result(row, {"retcode": 10014}, success=False, ticket=None)
    journal.close()
    async with running_daemon(tmp_path) as daemon:
        assert {cid: _journal_state(daemon, cid) for cid in names} == {
            "old-done": None, "old-accepted": "ACCEPTED", "old-unknown": "UNKNOWN",
            "recent-done": "REJECTED"}
        pruned = [a.client_id for a in daemon.app[TRADING].journal.audit() if a.event == "pruned"]
        assert pruned == ["old-done"]


async def test_periodic_prune_keeps_executed_rows_whose_position_is_open(
        daemon: Daemon, broker: EmulatedTerminal) -> None:
    """With the terminal connected, the periodic prune reads its open orders and positions:
    an old executed row whose position is still open stays (its ticket stays claimed, so no
    other order is taken for it), old executed rows whose position was closed go."""
    kept = (await _send(daemon, {**BUY, "client_id": "still-open"}))["result"]
    closed = (await _send(daemon, {**BUY, "client_id": "closed-later"}))["result"]
    [position] = broker.broker.positions_get(ticket=closed["order"])
    close = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_SELL", "symbol": "EURUSD",
             "volume": 0.1, "position": position["ticket"], "client_id": "the-close"}
    assert (await _send(daemon, close))["result"]["retcode"] == 10009
    assert kept["retcode"] == closed["retcode"] == 10009
    reconciler = daemon.app[TRADING].reconciler
    with closing(sqlite3.connect(reconciler.journal.path)) as db, db:  # 100 h ago, on file
        db.execute("UPDATE orders SET updated_at = updated_at - ?", (100 * 3600,))
    tags = await reconciler._open_tags()
    assert kept["order"] in tags[f"{LOGIN}@{SERVER}"]
    assert closed["order"] not in tags[f"{LOGIN}@{SERVER}"]
    assert reconciler._prune(tags) == 2
    assert {cid: _journal_state(daemon, cid) for cid in ("still-open", "closed-later",
                                                          "the-close")} == {
        "still-open": "ACCEPTED", "closed-later": None, "the-close": None}
