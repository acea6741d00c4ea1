"""The money path under faults (issue 8, "Orders"): concurrent duplicates of one ``client_id``
on an account whose risk policy calls the terminal, a send with no EA or an EA that drops
between the symbol lookup and the send, and what the audit trail records for each.

Everything runs over real sockets: the daemon on port 0, the emulated terminal or the scripted
EA of ``tests/bridgekit.py`` on the bridge, the journal a real SQLite file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from typing import Any

import pytest

from ea_bridge.connection import Welcomed
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.keys import TRADING
from gateway.trading.journal import params_hash
from mtgateway_console.service import AccountRegistration
from tests.bridgekit import ScriptedEA
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, TERMINAL, WAIT_S, Daemon

#: BTCUSD trades every day of the week in the emulator (the crypto symbol), so these tests do
#: not depend on the weekday.
BUY_BTC: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                           "symbol": "BTCUSD", "volume": 0.01}


@pytest.fixture
async def limited(daemon: Daemon, emulator: EmulatedTerminal) -> AsyncIterator[EmulatedTerminal]:
    """The account registered with a risk policy whose ``risk_pct`` (2 %) makes every opening
    order call the terminal (tick, order_calc_profit, account_info) before it is journaled."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Risk test", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        allowed_symbols=("BTCUSD",), max_lot_size=Decimal("0.05"), risk_pct=Decimal("0.02")))
    await daemon.cache.refresh_once()
    yield emulator


async def _send(daemon: Daemon, request: dict[str, Any], rid: int = 1) -> dict[str, Any]:
    return await daemon.call("order_send", {"request": request}, rid=rid)


def _rows(daemon: Daemon, client_id: str) -> list[tuple[str, ...]]:
    """The journal's rows for ``client_id`` as another process reading the file sees them."""
    with closing(sqlite3.connect(daemon.app[TRADING].journal.path)) as db:
        return db.execute("SELECT state FROM orders WHERE client_id=?", (client_id,)).fetchall()


def _audit(daemon: Daemon, client_id: str) -> list[str]:
    return [a.event for a in daemon.app[TRADING].journal.audit() if a.client_id == client_id]


async def test_concurrent_duplicates_on_a_risk_limited_account_share_one_outcome(
        daemon: Daemon, limited: EmulatedTerminal) -> None:
    """Eight simultaneous sends of one client_id, each of which would await the terminal for
    the risk check: one order executes, and every caller gets its result (no -32603)."""
    tick = (await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]
    request = {**BUY_BTC, "sl": round(tick["bid"] - 1_000, 2), "client_id": "dup-risk"}
    answers = await asyncio.gather(*(_send(daemon, request, rid=i) for i in range(8)))
    assert all("result" in a for a in answers), [a.get("error") for a in answers]
    results = [a["result"] for a in answers]
    assert sorted(r["deduplicated"] for r in results) == [False] + [True] * 7
    assert {r["order"] for r in results} == {results[0]["order"]} and results[0]["order"] > 0
    assert {r["retcode_name"] for r in results} == {"TRADE_RETCODE_DONE"}
    assert limited.broker.positions_total() == 1


async def test_concurrent_duplicates_share_a_refusal_too(
        daemon: Daemon, limited: EmulatedTerminal) -> None:
    """A refusal by the risk policy is the one outcome of every concurrent duplicate, and
    leaves the client_id unused (nothing journaled)."""
    tick = (await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]
    request = {**BUY_BTC, "sl": round(tick["bid"] - 30_000, 2), "client_id": "dup-refused"}
    answers = await asyncio.gather(*(_send(daemon, request, rid=i) for i in range(4)))
    assert [(a["error"]["code"], a["error"]["data"]["rule"]) for a in answers] == [
        (-32012, "risk_pct")] * 4
    assert _rows(daemon, "dup-refused") == [] and limited.broker.positions_total() == 0


async def test_send_with_no_ea_is_offline_and_leaves_the_client_id_free(
        daemon: Daemon) -> None:
    """No EA and an explicit filling mode: -32001 before any lookup, no row, no `sent`
    in the audit; the same client_id trades once a terminal connects."""
    request = {**BUY_BTC, "type_filling": "ORDER_FILLING_IOC", "client_id": "no-ea"}
    error = (await _send(daemon, request))["error"]
    assert error["code"] == -32001
    assert _rows(daemon, "no-ea") == []
    assert "sent" not in _audit(daemon, "no-ea")
    assert (await daemon.call("order_status", ["no-ea"]))["error"]["code"] == -32006
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    try:
        assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
        call = asyncio.create_task(_send(daemon, request))
        sent = await ea.next_request()
        if sent.method == "symbol_info":  # looked up even with a filling mode (cached)
            ea.respond(sent.id, {"name": "BTCUSD", "filling_mode": 1})
            sent = await ea.next_request()
        assert sent.method == "order_send"
        ea.respond(sent.id, {"retcode": 10009, "order": 77, "deal": 78, "volume": 0.01,
                             "price": 1.0, "bid": 1.0, "ask": 1.0, "comment": "",
                             "request_id": 1, "retcode_external": 0,
                             "request": sent.params["request"]})
        result = (await call)["result"]
        assert (result["order"], result["deduplicated"]) == (77, False)
    finally:
        await ea.close()


async def test_ea_dropping_between_lookup_and_send_releases_the_row(daemon: Daemon) -> None:
    """The EA answers the filling-mode lookup and says bye in the same write: the order never
    leaves, so the answer is -32001, the row is released (not left SENT), the audit's last word
    on it is the release, and the client_id may be used again."""
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    try:
        assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
        request = {**BUY_BTC, "client_id": "dropped"}
        call = asyncio.create_task(_send(daemon, request))
        lookup = await ea.next_request()
        assert lookup.method == "symbol_info"
        ea.conn.send_response(lookup.id, {"name": "BTCUSD", "filling_mode": 1})
        ea.conn.send_bye("shutting_down", "terminal closing")
        ea.flush()  # the answer and the bye in one write: the daemon reads both at once
        error = (await call)["error"]
    finally:
        await ea.close()
    assert error["code"] == -32001
    assert _rows(daemon, "dropped") == []
    events = _audit(daemon, "dropped")
    assert events[0] == "request" and events[-1].startswith("released:"), events
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    again = (await _send(daemon, request))["error"]
    assert again["code"] == -32001  # offline again, not -32003: the id was not wedged


async def test_audit_records_the_ticket_and_the_params_hash(
        daemon: Daemon, limited: EmulatedTerminal) -> None:
    """Every audit line of an order carries the hash of its parameters; the outcome line
    carries the ticket the terminal gave it."""
    tick = (await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]
    request = {**BUY_BTC, "sl": round(tick["bid"] - 1_000, 2), "client_id": "audited"}
    result = (await _send(daemon, request))["result"]
    lines = [a for a in daemon.app[TRADING].journal.audit() if a.client_id == "audited"]
    assert [a.event for a in lines] == ["request", "sent", "outcome"]
    body = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01, "sl": request["sl"]}
    assert {a.params_hash for a in lines} == {params_hash(body)}
    assert (lines[0].ticket, lines[-1].ticket) == (None, result["order"])


async def test_retries_of_one_order_add_audit_lines_by_orders_of_magnitude(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """Issue 16 F15: 120 retries of an executed client_id (and 12 conflicting ones) add a
    line at the 1st, 10th and 100th deduplication (and the 1st and 10th conflict), not one
    per retry; every retry still answers the first outcome."""
    request = {**BUY_BTC, "client_id": "looping"}
    first = (await _send(daemon, request))["result"]
    for _ in range(120):
        again = (await _send(daemon, request))["result"]
        assert again == {**first, "deduplicated": True}
    for _ in range(12):
        error = (await _send(daemon, {**request, "volume": 0.02}))["error"]
        assert error["code"] == -32011
    assert _audit(daemon, "looping") == [
        "request", "sent", "outcome", "deduplicated", "deduplicated:10", "deduplicated:100",
        "conflict", "conflict:10"]


# -- gateway_status says why trading is refused ------------------------------------------------


async def _trading(daemon: Daemon, token: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = (await daemon.call("gateway_status", token=token))["result"]
    return dict(status["trading"])


async def test_gateway_status_says_why_trading_is_refused(daemon: Daemon) -> None:
    """No terminal, a read-only token, a stale record and a reconciliation pass each appear
    by the reason word their order_send error would carry; none of them once cleared."""
    assert await _trading(daemon) == {"allowed": False, "refused_because": ["terminal_offline"],
                                      "paper": False}
    reader = await daemon.issue(scopes=("read",))
    assert (await _trading(daemon, reader.token))["refused_because"] == [
        "scope", "terminal_offline"]

    # An order whose answer is lost, then a reconnect: the pass holds new trades.
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
    try:
        assert await _trading(daemon) == {"allowed": True, "refused_because": [], "paper": False}
        call = asyncio.create_task(_send(daemon, {**BUY_BTC, "type_filling": "ORDER_FILLING_IOC",
                                                  "client_id": "lost"}))
        request = await ea.next_request()
        if request.method == "symbol_info":
            ea.respond(request.id, {"name": "BTCUSD", "filling_mode": 2})
            request = await ea.next_request()
        assert request.method == "order_send"
        ea.abort()
        assert (await call)["error"]["code"] == -32003
    finally:
        await ea.close()
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    try:
        assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
        first = await ea.next_request()  # the pass has started
        assert daemon.app[TRADING].reconciler.reconciling(TERMINAL)
        assert (await _trading(daemon))["refused_because"] == ["reconciling"]
        ea.error(first.id, -1, "not now")  # the pass ends (interrupted)
        await daemon.app[TRADING].reconciler.wait_reconciled(TERMINAL)
        assert await _trading(daemon) == {"allowed": True, "refused_because": [], "paper": False}

        daemon.clock.advance(300 + 61)  # one refresh interval plus the slack: stale
        assert (await _trading(daemon))["refused_because"] == ["auth_stale"]
        error = (await _send(daemon, {**BUY_BTC, "client_id": "while-stale"}))["error"]
        assert error["data"]["reason"] == "auth_stale"
    finally:
        await ea.close()


async def test_gateway_status_names_a_policy_without_automated_trading(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Manual", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        auto_trade_enabled=False))
    await daemon.cache.refresh_once()
    assert await _trading(daemon) == {"allowed": False,
                                      "refused_because": ["auto_trade_enabled"], "paper": False}
    error = (await _send(daemon, {**BUY_BTC, "client_id": "manual"}))["error"]
    assert (error["code"], error["data"]["rule"]) == (-32012, "auto_trade_enabled")


# -- a journal write that fails before the order leaves --------------------------------------


async def test_journal_locked_before_the_send_is_retryable_with_the_same_client_id(
        daemon: Daemon) -> None:
    """Another process holds the journal's write lock while the symbol is looked up, so the
    row cannot be marked SENT (after SQLite's 5 s busy timeout): nothing is sent, the answer
    is -32014 `journal_unavailable` (not -32603), and once the lock is gone the same client_id
    trades (it is not wedged in RECEIVED)."""
    ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
    try:
        assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
        request = {**BUY_BTC, "client_id": "journal-busy"}
        call = asyncio.create_task(_send(daemon, request))
        lookup = await ea.next_request()
        assert lookup.method == "symbol_info"
        with closing(sqlite3.connect(daemon.app[TRADING].journal.path, timeout=0,
                                     isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # holds the write lock
            ea.respond(lookup.id, {"name": "BTCUSD", "filling_mode": 2})
            error = (await call)["error"]
            other.execute("ROLLBACK")
        assert (error["code"], error["data"]) == (-32014, {"reason": "journal_unavailable"})
        assert "not sent" in error["message"]

        call = asyncio.create_task(_send(daemon, request))
        sent = await ea.next_request()
        if sent.method == "symbol_info":  # the filling mode is cached; a lookup is allowed
            ea.respond(sent.id, {"name": "BTCUSD", "filling_mode": 2})
            sent = await ea.next_request()
        assert sent.method == "order_send"
        ea.respond(sent.id, {"retcode": 10009, "order": 91, "deal": 92, "volume": 0.01,
                             "price": 1.0, "bid": 1.0, "ask": 1.0, "comment": "",
                             "request_id": 1, "retcode_external": 0,
                             "request": sent.params["request"]})
        result = (await call)["result"]
        assert (result["order"], result["deduplicated"]) == (91, False)
    finally:
        await ea.close()
    events = _audit(daemon, "journal-busy")
    assert events[:2] == ["request", "abandoned:not_sent"] and events[-1] == "outcome", events
