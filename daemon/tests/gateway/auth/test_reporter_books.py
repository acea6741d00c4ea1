"""Which book a report comes from, on the daemon's side: a paper account's report says
``book: "paper"`` (what the paper book answered says ``"paper": true``), a live one says
nothing (an older console refuses unknown fields); the deals sent from each book start from
that book's own newest deal; a report whose reads straddled a balance operation goes without
its deals, so the console never pairs a deposit with figures that do not hold it.

The reporter reads the emulator's real simulated broker (``mt5model``) through the call the
bridge answers, the paper book's answers marked as ``gateway/trading/paper.py`` marks them,
and reports to a real embedded authority (SQLite in ``tmp_path``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.client import _report_json
from gateway.auth.reporter import (
    TerminalReporter,
    account_details,
    account_figures,
    open_positions,
)
from gateway.trading.paper import _mark
from mt5model.broker import SimulatedBroker as Broker
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.records import RiskPolicy, SignedRecord
from mtgateway_console.service import Authority
from mtgateway_console.tables import equity
from tests.e2e.clocks import WEDNESDAY_MS
from tests.reporterkit import OWNER, TERMINAL, WAIT_S, Noted, embedded, next_report, reporting


class Books:
    """Two brokers for one terminal, as the daemon's venues are: the terminal's own account
    and its paper book, whose answers carry ``"paper": true``; ``paper`` says which one the
    token's record names now."""

    def __init__(self, live: Broker, paper: Broker) -> None:
        self.live, self.paper_book = live, paper
        self.paper = False
        #: Called after each read (a deposit landing between two reads).
        self.after: dict[str, Any] = {}
        self.since: list[tuple[bool, int]] = []

    async def call(self, terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        broker = self.paper_book if self.paper else self.live
        if method == "history_deals_get":
            self.since.append((self.paper, int(params["date_from"])))
        answer = getattr(broker, method)(**params)
        hook = self.after.pop(method, None)
        if hook is not None:
            hook()
        return _mark(answer) if self.paper else answer

    async def live_call(self, terminal: TerminalId, method: str, params: dict[str, Any],
                        timeout_s: float) -> Any:
        """The terminal itself, whatever the record names (the daemon's live venue)."""
        if method == "history_deals_get":
            self.since.append((False, int(params["date_from"])))
        return getattr(self.live, method)(**params)


def _broker(token: str, offset_s: int) -> Broker:
    return EmulatedTerminal(token, settings=EmulatorSettings(symbols=("BTCUSD",)),
                            utc_clock_ms=lambda: WEDNESDAY_MS + offset_s * 1000).broker


@dataclass
class Running:
    """The embedded authority, the two books, the running reporter and what it sent."""

    authority: Authority
    books: Books
    reporter: TerminalReporter
    sink: Noted


@contextlib.asynccontextmanager
async def _running(tmp_path: Path) -> AsyncIterator[Running]:
    e = await embedded(tmp_path)
    sink = Noted(e.link)
    books = Books(_broker(e.token, 0), _broker(e.token, -60))
    reporter = _reporter(sink, e.device, books)
    async with reporting(reporter, e.token, e.token_id):
        yield Running(e.authority, books, reporter, sink)


def _reporter(sink: Noted, device: DeviceInfo, books: Books) -> TerminalReporter:
    """A reporter reading ``books`` as the daemon's venues are read: the token's book, and
    the live one beside it; reporting hourly unless asked."""
    return TerminalReporter(sink, device, interval_s=3600,
                            figures=account_figures(books.call),
                            positions=open_positions(books.call),
                            details=account_details(books.call),
                            live_details=account_details(books.live_call),
                            clock=lambda: WEDNESDAY_MS / 1000)


async def test_a_paper_report_says_its_book_and_each_book_keeps_its_own_deals(
        tmp_path: Path) -> None:
    """Live first (no ``book`` on the wire), then paper: the figures, the point and the
    deals are the paper book's and say so; the first paper read of deals is not cut at the
    live book's newest deal."""
    async with _running(tmp_path) as r:
        live_report = r.sink.last
        assert live_report.figures is not None and live_report.figures.book == "live"
        assert "book" not in _report_json(live_report)
        r.books.paper = True
        await next_report(r.reporter)
        paper_report = r.sink.last
        assert paper_report.figures is not None and paper_report.figures.book == "paper"
        assert _report_json(paper_report)["book"] == "paper"
        assert paper_report.details is not None
    authority, books = r.authority, r.books
    # the paper book's history starts at its own beginning, not at the live book's newest
    # deal (its opening deposit is older than the live account's last deal here)
    assert [s for paper, s in books.since if paper][0] < WEDNESDAY_MS // 1000
    series = await authority.run(equity.series_of, OWNER, int(WEDNESDAY_MS / 1000) + 10)
    [(key, points)] = series.items()
    assert [p.book for p in points][-1] == "paper"
    kept = await authority.live.deals(OWNER, [(TERMINAL.login, TERMINAL.server)],
                                      books=("live", "paper"))
    assert {(k.book, k.deal["ticket"]) for k in kept} == {
        *(("live", d["ticket"]) for d in books.live.history_deals_get(0, 2**40)),
        *(("paper", d["ticket"]) for d in books.paper_book.history_deals_get(0, 2**40))}


async def test_a_deposit_between_the_reads_holds_the_deals_back_one_report(
        tmp_path: Path) -> None:
    """A deposit landing while the account's deals are read (between the two reads of its
    balance around them): the report goes without its deals, whose figures would not hold the
    deposit; the next one carries both, its figures read with the deals."""
    async with _running(tmp_path) as r:
        books = r.books
        books.after["orders_get"] = lambda: books.live.balance_operation(
            "op-1", "deposit", 2500.0, "top-up")
        await next_report(r.reporter)
        assert r.sink.last.details is None
        await next_report(r.reporter)
        last = r.sink.last
        assert last.details is not None and last.figures is not None
        assert [d["profit"] for d in last.details.deals if d["type"] == 2][-1] == 2500.0
        assert last.figures.balance == books.live.account_info()["balance"]


def _record(login: int, server: str, *, paper: bool) -> SignedRecord:
    """A token's record as the cache stores it, naming ``paper`` for its terminal."""
    return SignedRecord(
        token_id="t1", stored_key="00", token_hint="h", login=login, server=server,
        scopes=frozenset({"trade"}), owner_email=OWNER, device_id="d1", created_at=0,
        expires_at=None, revoked_at=None, issued_at=1, valid_until=2**40,
        risk=RiskPolicy(paper_trade_enabled=paper), kid="k", envelope={})


async def test_a_record_that_switches_the_book_is_reported_at_once(tmp_path: Path) -> None:
    """The owner switches the terminal to paper: the record that says so, once stored, brings
    a report at once (the interval here is an hour), from the paper book; a record that
    changes nothing of the book brings none."""
    async with _running(tmp_path) as r:
        reporter = r.reporter
        reporter.record_stored(_record(TERMINAL.login, TERMINAL.server, paper=False))
        r.books.paper = True
        count = reporter.sent + 1
        reporter.record_stored(_record(TERMINAL.login, TERMINAL.server, paper=True))
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(count)
        figures = r.sink.last.figures
        assert figures is not None and figures.book == "paper"
        reporter.record_stored(_record(TERMINAL.login, TERMINAL.server, paper=True))
        assert not reporter._changed.is_set()


def _live_trades(broker: Broker) -> tuple[int, int]:
    """A position and a buy limit opened at the broker: their tickets."""
    bought = broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0,
                                "type_filling": 1})
    placed = broker.order_send({"action": 5, "symbol": "BTCUSD", "volume": 0.01, "type": 2,
                                "price": round(bought["price"] * 0.9, 2)})
    assert (bought["retcode"], placed["retcode"]) == (10009, 10009)
    return bought["order"], placed["order"]


async def test_a_paper_report_carries_the_live_book_beside_it(tmp_path: Path) -> None:
    """On paper, the report's figures and details are the paper book's and, beside them,
    ``live`` is the broker's: its margin, the position and pending order that stay open
    there; the console keeps them beside the paper snapshot, and its margin alert reads the
    broker's margin. A live report carries none."""
    async with _running(tmp_path) as r:
        position, order = _live_trades(r.books.live)
        await next_report(r.reporter)
        assert r.sink.last.live is None  # live: the details are the live book already
        r.books.paper = True
        await next_report(r.reporter)
        last = r.sink.last
        assert last.figures is not None and last.figures.book == "paper"
        assert last.live is not None and last.live.book == "live"
        assert [p["ticket"] for p in last.live.positions] == [position]
        assert [o["ticket"] for o in last.live.orders] == [order]
        assert last.live.account["margin"] == r.books.live.account_info()["margin"] > 0
        wire = _report_json(last, live_book=True)
        assert [p["ticket"] for p in wire["live"]["positions"]] == [position]
        assert "live" not in _report_json(last)  # a console that did not name live_book
    [snap] = (await r.authority.live.snapshots(OWNER)).values()
    assert snap.book == "paper" and snap.live is not None
    assert (snap.live.positions_total, snap.live.orders_total) == (1, 1)
    assert [t["order"] for t in snap.live.trades] == [position, order]
    assert snap.live.account["margin"] > 0 and snap.account["margin"] == 0


class OlderConsole(Noted):
    """A console that keeps books apart but does not take the live book (an older one)."""

    def takes_live_book(self) -> bool:
        return False


async def test_an_older_console_gets_no_live_book_and_the_live_deals_wait(
        tmp_path: Path) -> None:
    """To a console that does not take ``live``, a paper report goes without it, and the
    live book's deal cursor stays where it was (its deals go once a console takes them)."""
    e = await embedded(tmp_path)
    sink = OlderConsole(e.link)
    books = Books(_broker(e.token, 0), _broker(e.token, -60))
    reporter = _reporter(sink, e.device, books)
    async with reporting(reporter, e.token, e.token_id):
        _live_trades(books.live)
        books.paper = True
        await next_report(reporter)
        await next_report(reporter)
        assert sink.last.figures is not None and sink.last.figures.book == "paper"
        assert sink.last.live is None
    live_reads = [since for paper, since in books.since if not paper]
    assert len(set(live_reads[-2:])) == 1  # the live cursor did not move past unsent deals
