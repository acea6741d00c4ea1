"""Paper trading: a paper_trade_enabled account's orders fill in the daemon's paper book,
priced by the connected terminal's live ticks, and never reach the terminal -- proven by a
terminal that records every request it gets."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.connection import EAConnection
from ea_bridge.messages import EVENT_TERMINAL, EVENT_TICKS, EVENT_TRADE
from gateway.keys import REPORTER, TRADING
from mtgateway_base.wire.records import SignedRecord
from mtgateway_base.wire.reports import REPORT_INTERVAL_S
from mtgateway_console.service import AccountRegistration
from mtgateway_console.service.accounts import AccountChanges
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import (
    LOGIN,
    OWNER,
    OWNER_PASSWORD,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    connected_terminal,
    running_daemon,
)
from tests.e2e.paperkit import BUY, RecordingTerminal, ok, on_paper
from tests.e2e.terminals import HoldingTerminal
from tests.e2e.wskit import Client, connect


@pytest.fixture
async def paper(daemon: Daemon) -> AsyncIterator[RecordingTerminal]:
    """The terminal's account registered with paper_trade_enabled, and a recording terminal."""
    await on_paper(daemon)
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD", "USDJPY"),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, RecordingTerminal)
        yield terminal


async def test_orders_fill_in_the_paper_book_and_never_reach_the_terminal(
        daemon: Daemon, paper: RecordingTerminal) -> None:
    """Buy, check, close: every answer says paper, the fills are live prices, and the
    terminal got reads only -- no order_send, no order_check, no position of its own."""
    live_balance = paper.broker.account_info()["balance"]
    check = await ok(daemon, "order_check", [BUY])
    assert (check["retcode"], check["paper"]) == (0, True)
    opened = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "p-1"}})
    assert (opened["retcode"], opened["paper"], opened["client_id"]) == (10009, True, "p-1")
    # Priced by the terminal's live ticks: the fill is an ask the terminal quoted.
    now = paper.server_time_ms()
    asks = {t.ask for t in paper.market.ticks_between("EURUSD", now - 600_000, now)}
    assert opened["price"] in asks
    [position] = await ok(daemon, "positions_get", {})
    assert (position["ticket"], position["paper"], position["volume"]) == (
        opened["order"], True, 0.1)
    assert await ok(daemon, "positions_total") == 1
    closed = await ok(daemon, "close_position", {"position_id": position["ticket"]})
    assert (closed["retcode"], closed["paper"]) == (10009, True)
    deals = await ok(daemon, "history_deals_get", {"position": position["ticket"]})
    assert [d["entry"] for d in deals] == [0, 1] and all(d["paper"] for d in deals)
    account = await ok(daemon, "account_info")
    assert account["paper"] is True
    assert account["balance"] == round(live_balance + deals[1]["profit"], 2)
    # The terminal itself: no order ever reached it, its account is untouched.
    assert not {"order_send", "order_check"} & set(paper.methods)
    assert paper.broker.positions_total() == 0
    assert paper.broker.history_deals_get(position=position["ticket"]) == []
    assert paper.broker.account_info()["balance"] == live_balance
    assert "symbol_info" in paper.methods  # market data still comes from the terminal


async def test_paper_orders_keep_idempotency_and_broker_answers(
        daemon: Daemon, paper: RecordingTerminal) -> None:
    """A retry replays the paper outcome; the engine's refusals are MT5 retcodes; a pending
    order rests in the paper book; an unknown symbol is the terminal's own -32006."""
    first = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "same"}})
    again = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "same"}})
    assert again == {**first, "deduplicated": True}
    bad = await ok(daemon, "order_send", {"request": {**BUY, "volume": 0.015}})
    assert (bad["retcode"], bad["paper"]) == (10014, True)
    tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
    limit = await ok(daemon, "create_limit_buy_order",
                     ["EURUSD", 0.1, round(tick["bid"] - 0.01, 5)])
    [order] = await ok(daemon, "orders_get", {})
    assert (order["ticket"], order["paper"], limit["retcode"]) == (limit["order"], True, 10009)
    unknown = (await daemon.call("order_send", {"request": {**BUY, "symbol": "NOPE"}}))["error"]
    assert unknown["code"] == -32006
    assert "order_send" not in paper.methods and paper.broker.orders_total() == 0


class BadRowTerminal(RecordingTerminal):
    """Streams, once armed, a ticks event with malformed rows among good ones, then a trade
    and a terminal event that break their fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.armed = False
        self.sent = asyncio.Event()

    def _stream(self, conn: EAConnection) -> None:
        if self.armed and not self.sent.is_set():
            now = self.server_time_ms()
            conn.send_event(EVENT_TICKS, {"symbol": "EURUSD", "rows": [
                [now, None, 1.1001, 0.0, 0, 6, 0.0],          # bid: not a number
                [now, 1.1, 1.1001, 0.0, 0, 6],                # a field short
                [now, 1.1, 1.1001, 0.0, 0, 6, 0.0]]})         # a good row
            conn.send_event(EVENT_TRADE, {"type": "deal_added", "time_msc": "soon", "deal": {}})
            conn.send_event(EVENT_TERMINAL, {"connected": "yes", "trade_allowed": True})
            self.sent.set()
        super()._stream(conn)


async def test_malformed_rows_from_the_ea_are_dropped_and_the_session_survives(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 17: a tick row the paper book cannot read used to raise out of the bridge and end
    the EA session. Now each malformed tick, trade or terminal row is dropped and logged with
    the field it broke; the session, the paper book and the good rows go on."""
    await on_paper(daemon)
    async with connected_terminal(daemon, BadRowTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, BadRowTerminal)
        opened = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "row-1"}})
        assert opened["paper"] is True  # the paper book exists and reads EURUSD ticks
        session = daemon.bridge.session(TERMINAL)
        assert session is not None
        terminal.armed = True
        await asyncio.wait_for(terminal.sent.wait(), WAIT_S)
        # Answered by the terminal after it sent the bad rows: the daemon has read them.
        assert (await ok(daemon, "symbol_info_tick", ["EURUSD"]))["bid"] > 0
        after = daemon.bridge.session(TERMINAL)
        assert after is not None and after.session_id == session.session_id
        [position] = await ok(daemon, "positions_get", {})
        assert position["ticket"] == opened["order"]
    logged = caplog.text
    assert "2 malformed tick row(s) of EURUSD dropped" in logged
    assert "bid: expected a number, got None" in logged
    assert "malformed trade event dropped" in logged and "time_msc: expected an integer" in logged
    assert "malformed terminal event dropped" in logged and "connected: expected true or false" \
        in logged


class SetClock:
    """Epoch ms UTC that stands still until the test moves it (prices stand still too)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


async def test_a_paper_order_is_risk_sized_against_the_paper_account(daemon: Daemon) -> None:
    """Issue 17: risk_pct caps the loss at the stop at 1 % of the *paper* account's equity.
    The live account holds a position whose price moved, so its equity differs; an order whose
    loss at the stop lies between 1 % of each equity is decided by the paper equity (it used to
    be decided by the live one), and the risk reads never touch the live account."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("0.01"), paper_trade_enabled=True))
    await daemon.cache.refresh_once()
    clock = SetClock(WEDNESDAY_MS)
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                  tick_rate_hz=1, utc_clock_ms=clock) as terminal:
        assert isinstance(terminal, RecordingTerminal)
        paper_equity = (await ok(daemon, "account_info"))["equity"]  # the book starts here
        # A manual trade in the terminal itself, then an hour of market: live equity moves.
        live = terminal.broker.order_send({"action": 1, "symbol": "EURUSD", "volume": 5.0,
                                           "type": 0, "type_filling": 0})
        assert live["retcode"] == 10009
        clock.ms += 3_600_000
        live_equity = terminal.broker.account_info()["equity"]
        assert abs(live_equity - paper_equity) > 50, (live_equity, paper_equity)
        tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
        loss = (live_equity + paper_equity) / 2 * 0.01  # between the two limits
        sl = round(tick["ask"] - loss / 100_000, 5)  # 1 lot: 100 000 EUR a point of price
        terminal.methods.clear()
        answer = await daemon.call("order_send", {"request": {
            **BUY, "volume": 1.0, "sl": sl, "client_id": "sized"}})
        if paper_equity > live_equity:
            assert answer["result"]["paper"] is True, answer
        else:
            assert (answer["error"]["code"], answer["error"]["data"]["rule"]) == (
                -32012, "risk_pct"), answer
        assert "account_info" not in terminal.methods  # the equity came from the paper book
        assert "order_calc_profit" not in terminal.methods


async def _paper_daemon_trade(data_dir: Path, trade: bool) -> tuple[list[Any], Any]:
    """A daemon on ``data_dir`` with the account on paper and an emulated terminal; buys once
    when ``trade``; its paper positions and account."""
    async with running_daemon(data_dir) as daemon:
        await on_paper(daemon)
        async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
            if trade:
                await ok(daemon, "order_send", {"request": {**BUY, "client_id": "kept"}})
                await ok(daemon, "create_limit_buy_order", {"symbol": "EURUSD", "volume": 0.2,
                                                            "open_price": 0.5})
            return await ok(daemon, "positions_get", {}), await ok(daemon, "account_info")


async def test_the_paper_book_survives_a_restart(tmp_path: Path) -> None:
    """Issue 17: the paper book persists in the data dir (a private file) and a daemon started
    on it again shows the same positions, pending orders and account."""
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    positions, account = await _paper_daemon_trade(first_dir, trade=True)
    [position] = positions
    saved = first_dir / "paper" / f"{LOGIN}@{SERVER}.json"
    # the book, and its numbering beside it (daemon/tests/e2e/test_paper_numbers.py)
    assert sorted(p.name for p in (first_dir / "paper").iterdir()) == [
        saved.name, f"{LOGIN}@{SERVER}.numbers.json"]
    for kept in (first_dir / "paper").iterdir():
        assert kept.stat().st_mode & 0o077 == 0  # the owner's alone
    for private in (second_dir, second_dir / "paper"):
        private.mkdir(mode=0o700)
        private.chmod(0o700)
    shutil.copy2(saved, second_dir / "paper" / saved.name)  # the same book, a new daemon
    again, account_again = await _paper_daemon_trade(second_dir, trade=False)
    assert [(p["ticket"], p["volume"], p["price_open"], p["paper"]) for p in again] == [
        (position["ticket"], 0.1, position["price_open"], True)]
    assert (account_again["balance"], account_again["paper"]) == (account["balance"], True)


async def test_an_unreadable_paper_book_is_refused_not_replaced(tmp_path: Path) -> None:
    """A damaged book file is never started afresh over (the paper positions would be lost):
    the call fails naming the file, and the file is left as it was."""
    paper_dir = tmp_path / "paper"
    paper_dir.mkdir(mode=0o700)
    paper_dir.chmod(0o700)
    damaged = paper_dir / f"{LOGIN}@{SERVER}.json"
    damaged.write_bytes(b"{not json")
    damaged.chmod(0o600)
    async with running_daemon(tmp_path) as daemon:
        await daemon.authority.accounts.register(OWNER, AccountRegistration(
            name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
            paper_trade_enabled=True))
        await daemon.cache.refresh_once()
        async with connected_terminal(daemon, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
            error = (await daemon.call("account_info"))["error"]
    assert (error["code"], error["data"]["reason"]) == (-32014, "paper_book_unreadable"), error
    assert "cannot be read" in error["message"] and str(damaged) in error["message"], error
    assert damaged.read_bytes() == b"{not json"


async def register_on_paper_and_wait(daemon: Daemon) -> None:
    """Register the terminal's account with paper trading on, and wait until the daemon
    answers from the paper book: the revocation feed's push, not a refresh the test forces.
    The daemon's record cache says when it stores a record (``on_stored``: the record is
    in place before its callbacks run), so the wait is for the record naming paper."""
    stored = asyncio.Event()

    def on_stored(record: SignedRecord) -> None:
        if record.risk.paper_trade_enabled:
            stored.set()
    daemon.cache.on_stored(on_stored)
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1"), paper_trade_enabled=True))
    async with asyncio.timeout(WAIT_S):  # the feed's refresh, not the clock's
        await stored.wait()
    assert "paper" in await ok(daemon, "account_info")


async def test_registering_an_account_on_paper_switches_the_venue_within_seconds(
        daemon: Daemon) -> None:
    """Issue 16 F16: a terminal traded live by a token issued before its account was registered
    goes to paper as soon as the account is registered with paper trading on (the revocation
    feed says "look now"; no five-minute refresh is waited for); the live order stays live."""
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, RecordingTerminal)
        live = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "live-1"}})
        assert "paper" not in live and terminal.broker.positions_total() == 1
        await register_on_paper_and_wait(daemon)
        paper = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "paper-1"}})
        assert paper["paper"] is True
        assert terminal.methods.count("order_send") == 1
        assert terminal.broker.positions_total() == 1


async def lost_then_reconciled(daemon: Daemon, client_id: str) -> dict[str, Any]:
    """Make the journal row of ``client_id`` UNKNOWN, as a daemon that died placing the order
    leaves it, and wait for the reconciler to settle it; its ``order_status`` then."""
    with closing(sqlite3.connect(daemon.app[TRADING].journal.path)) as db, db:
        db.execute("UPDATE orders SET state='UNKNOWN', ticket=NULL, result=NULL, "
                   "retcode=NULL WHERE client_id=?", (client_id,))
    async with asyncio.timeout(WAIT_S):
        while True:
            status: dict[str, Any] = await ok(daemon, "order_status", [client_id])
            if status["state"] != "UNKNOWN":
                return status
            await asyncio.sleep(0.05)


async def test_an_unknown_paper_order_is_reconciled_in_the_paper_book(tmp_path: Path) -> None:
    """A paper order whose outcome was lost (the daemon died placing it: its row comes back
    UNKNOWN) is searched in the paper book, where it is, and never at the broker -- where a
    live order of the same magic, symbol, type and volume would otherwise be taken for it
    (the paper book keeps no EA record, and no tag was consented to: the shape finds it)."""
    async with running_daemon(tmp_path, trading={"reconcile_interval_s": 0.2}) as daemon:
        await on_paper(daemon)
        async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
            paper = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "pp-1"}})
            sent = (await ok(daemon, "order_status", ["pp-1"]))["request"]
            for _ in range(2):  # the terminal's own tickets move past the paper book's
                terminal.broker.order_send({"action": 1, "symbol": "EURUSD", "volume": 0.3,
                                            "type": 1, "type_filling": 0})
            live = terminal.broker.order_send({
                "action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "type_filling": 0,
                "magic": sent["magic"], "comment": "by hand"})
            assert live["retcode"] == 10009 and live["order"] != paper["order"]
            status = await lost_then_reconciled(daemon, "pp-1")
    assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", paper["order"])
    assert status["result"]["identified_by"] == "match"


async def test_a_switch_to_paper_leaves_an_order_in_flight_live(daemon: Daemon) -> None:
    """Issue 17 item 3: a live order held by the terminal while its account is switched to
    paper finishes live -- at the terminal, answered and journalled without "paper" -- and
    the paper book never sees it; the next order goes to paper. No order crosses over."""
    async with connected_terminal(daemon, HoldingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, HoldingTerminal)
        terminal.hold = True
        first = asyncio.create_task(daemon.call("order_send",
                                                {"request": {**BUY, "comment": "fly-1",
                                                             "client_id": "fly-1"}}))
        await asyncio.wait_for(terminal.held.wait(), WAIT_S)
        await register_on_paper_and_wait(daemon)
        assert not first.done()
        assert await ok(daemon, "positions_get") == []  # the paper book: nothing crossed
        terminal.release.set()
        live = (await first)["result"]
        assert live["retcode"] == 10009 and "paper" not in live
        [held] = terminal.broker.positions_get()
        assert held["ticket"] == live["order"] and held["comment"] == "fly-1"
        status = await ok(daemon, "order_status", ["fly-1"])
        assert (status["state"], status["ticket"]) == ("ACCEPTED", live["order"])
        assert "paper" not in status["result"]
        assert await ok(daemon, "positions_get") == []  # still none in the book
        paper = await ok(daemon, "order_send", {"request": {**BUY, "comment": "fly-2",
                                                             "client_id": "fly-2"}})
        assert paper["paper"] is True
        assert [p["comment"] for p in await ok(daemon, "positions_get")] == ["fly-2"]
        assert terminal.order_sends == 1 and terminal.broker.positions_total() == 1


class HoldingTickTerminal(RecordingTerminal):
    """Records every request; while ``hold`` is set, answers no ``symbol_info_tick`` until
    ``release`` is set. The paper book asks for it when it first learns a symbol, inside its
    ``order_send``: a paper order held there is in flight on the paper venue, already
    journalled as sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self._waiting: set[asyncio.Task[None]] = set()

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method != "symbol_info_tick" or not self.hold:
            super()._answer(conn, request_id, method, params)
            return

        async def later() -> None:
            await self.release.wait()
            super(HoldingTickTerminal, self)._answer(conn, request_id, method, params)

        self.held.set()
        task = asyncio.get_running_loop().create_task(later())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)


async def test_a_switch_to_live_leaves_an_order_in_flight_on_paper(daemon: Daemon) -> None:
    """Issue 17 item 3, the other way: a paper order in flight (inside the paper book's
    order_send, waiting for the symbol's first tick) while its account is switched back to
    live finishes on paper -- answered and journalled with "paper": true, in the paper book,
    never at the terminal -- and the next order goes live. No order crosses over."""
    await on_paper(daemon)
    book = daemon.app[TRADING].venues.paper
    async with connected_terminal(daemon, HoldingTickTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, HoldingTickTerminal)
        assert (await ok(daemon, "account_info"))["paper"] is True  # the book exists
        terminal.hold = True
        first = asyncio.create_task(daemon.call("order_send",
                                                {"request": {**BUY, "comment": "fly-1",
                                                             "client_id": "fly-1"}}))
        await asyncio.wait_for(terminal.held.wait(), WAIT_S)
        status = await ok(daemon, "order_status", ["fly-1"])
        assert status["state"] == "SENT"  # past the journal: in the paper book's hands
        [account] = await daemon.authority.accounts.of(OWNER)
        assert await daemon.authority.accounts.update(
            OWNER, account.id, AccountChanges(allowed_symbols=(), max_lot_size=Decimal("10"),
                                              risk_pct=Decimal("1"), auto_trade_enabled=True,
                                              paper_trade_enabled=False),
            password=OWNER_PASSWORD)
        await daemon.cache.refresh_once()
        assert "paper" not in await ok(daemon, "account_info")  # live from here on
        assert not first.done()
        assert await ok(daemon, "positions_get") == []  # the terminal: nothing crossed
        terminal.release.set()
        paper = (await first)["result"]
        assert (paper["retcode"], paper["paper"], paper["client_id"]) == (10009, True, "fly-1")
        [held] = await book.call(TERMINAL, "positions_get", {})
        assert (held["ticket"], held["comment"], held["paper"]) == (
            paper["order"], "fly-1", True)
        status = await ok(daemon, "order_status", ["fly-1"])
        assert (status["state"], status["ticket"]) == ("ACCEPTED", paper["order"])
        assert status["result"]["paper"] is True
        assert "order_send" not in terminal.methods
        assert terminal.broker.positions_total() == 0  # still none at the terminal
        live = await ok(daemon, "order_send", {"request": {**BUY, "comment": "fly-2",
                                                            "client_id": "fly-2"}})
        assert live["retcode"] == 10009 and "paper" not in live
        assert [p["comment"] for p in terminal.broker.positions_get()] == ["fly-2"]
        assert [p["comment"] for p in await ok(daemon, "positions_get")] == ["fly-2"]
        assert terminal.methods.count("order_send") == 1
        assert [p["comment"] for p in await book.call(TERMINAL, "positions_get", {})] == [
            "fly-1"]


class QuotingTerminal(RecordingTerminal):
    """Records every request; streams, when the test gives one (:meth:`quote`), a EURUSD
    quote of its own beside the walk's, so a paper order triggers when the test says."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quote: tuple[float, float] | None = None

    def quote(self, bid: float, ask: float) -> None:
        """Stream ``bid``/``ask`` of EURUSD at the next timer turn."""
        self._quote = (bid, ask)

    def _stream(self, conn: EAConnection) -> None:
        if self._quote is not None:
            (bid, ask), self._quote = self._quote, None
            conn.send_event(EVENT_TICKS, {"symbol": "EURUSD", "rows": [
                [self.server_time_ms(), bid, ask, 0.0, 0, 6, 0.0]]})
        super()._stream(conn)


async def trade_events(ws: Client, count: int) -> list[dict[str, Any]]:
    """The next ``count`` trade_event notifications' params (other notifications skipped)."""
    return [await ws.note("trade_event") for _ in range(count)]


async def test_the_paper_book_streams_its_trades_marked_paper(daemon: Daemon) -> None:
    """Fills, closes and pending orders of the paper book -- placed, modified, cancelled,
    and triggered by a live tick with no call made -- reach the ``trades`` stream as the
    EA's trade events do, each marked ``"paper": true`` (before, the stream was silent)."""
    await on_paper(daemon)
    async with connected_terminal(daemon, QuotingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal, \
            connect(daemon) as ws:
        assert isinstance(terminal, QuotingTerminal)
        sid = (await ws.result("subscribe", {"channel": "trades"}))["subscription"]
        opened = await ok(daemon, "order_send", {"request": {**BUY, "client_id": "s-1"}})
        got = await trade_events(ws, 3)
        assert [(e["type"], e["paper"], e["subscription"]) for e in got] == [
            ("deal_added", True, sid), ("position_opened", True, sid),
            ("account_updated", True, sid)]
        assert got[0]["deal"]["ticket"] == opened["deal"]
        assert got[1]["position"]["ticket"] == opened["order"]
        assert got[2]["account"]["trade_mode"] == 0  # ACCOUNT_TRADE_MODE_DEMO

        tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
        low = round(tick["bid"] - 0.01, 5)
        placed = await ok(daemon, "create_limit_buy_order", ["EURUSD", 0.1, low])
        await ok(daemon, "modify_order", [placed["order"], round(low - 0.001, 5)])
        await ok(daemon, "cancel_order", [placed["order"]])
        await ok(daemon, "close_position", {"position_id": opened["order"]})
        got = await trade_events(ws, 6)
        assert [(e["type"], e["paper"]) for e in got] == [
            ("order_added", True), ("order_updated", True), ("order_removed", True),
            ("deal_added", True), ("position_closed", True), ("account_updated", True)]
        assert {e["order"]["ticket"] for e in got[:3]} == {placed["order"]}
        assert got[2]["order"]["state"] == 2  # ORDER_STATE_CANCELED
        assert got[4]["position"]["ticket"] == opened["order"]

        # A buy limit the next live tick fills: its events come with no call to the daemon.
        limit = await ok(daemon, "create_limit_buy_order", ["EURUSD", 0.1, low])
        assert (await ws.note("trade_event"))["type"] == "order_added"
        terminal.methods.clear()
        terminal.quote(round(low - 0.0002, 5), round(low - 0.0001, 5))
        triggered: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(WAIT_S):
            while "position_opened" not in triggered:
                event = await ws.note("trade_event")
                triggered[event["type"]] = event
        assert triggered["order_removed"]["order"]["ticket"] == limit["order"]
        assert triggered["order_removed"]["order"]["state"] == 4  # ORDER_STATE_FILLED
        assert triggered["position_opened"]["paper"] is True
        assert not {"order_send", "positions_get", "orders_get"} & set(terminal.methods)
        assert terminal.broker.positions_total() == 0  # the terminal's own account: untouched


async def test_a_lost_paper_pending_order_is_reconciled_as_a_terminal_answers_it(
        tmp_path: Path) -> None:
    """A paper pending order whose answer was lost is found in the paper book and settled
    with what a terminal's OrderSend answers for it, 10009 DONE (it was 10008 PLACED)."""
    async with running_daemon(tmp_path, trading={"reconcile_interval_s": 0.2}) as daemon:
        await on_paper(daemon)
        async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
            tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
            placed = await ok(daemon, "order_send", {"request": {
                "action": "TRADE_ACTION_PENDING", "type": "ORDER_TYPE_BUY_LIMIT",
                "symbol": "EURUSD", "volume": 0.1, "price": round(tick["bid"] - 0.01, 5),
                "client_id": "pend-1"}})
            status = await lost_then_reconciled(daemon, "pend-1")
    assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", placed["order"])
    assert (status["result"]["retcode"], status["result"]["retcode_name"]) == (
        10009, "TRADE_RETCODE_DONE")


async def test_a_paper_fill_has_the_terminal_reported_at_once(daemon: Daemon) -> None:
    """The reporter hears the paper book's trade events as it hears the EA's: a paper fill
    sends the terminal's report (its paper figures and positions) again within seconds, not
    at the next 30 s interval."""
    await on_paper(daemon)
    reporter = daemon.app[REPORTER]
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        assert (await ok(daemon, "account_info"))["paper"] is True  # the book exists
        await asyncio.wait_for(reporter.wait_sent(1), WAIT_S)  # the session's own report
        sent = reporter.sent
        await ok(daemon, "order_send", {"request": {**BUY, "client_id": "reported"}})
        await asyncio.wait_for(reporter.wait_sent(sent + 1), REPORT_INTERVAL_S / 3)
