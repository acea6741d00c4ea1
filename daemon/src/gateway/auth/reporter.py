"""Telling the token authority what each terminal is doing, and hearing its revocations.

:class:`TerminalReporter` keeps this daemon's view of each terminal (``active``,
``disconnected`` with the bridge's reason, ``refused`` with the reason word the EA got) and
sends it to the authority, signed with the device key like every device call: at once when a
state changes and every ``interval_s`` in any case, so the console's dashboard is never more
than one round trip behind and can tell a silent daemon from a quiet one. It hears sessions
as one of the bridge's listeners (``ea_bridge.FanOut``) and refusals by wrapping the EA
verifier (:meth:`TerminalReporter.verifier`). A report that
cannot be delivered is retried; the states are kept, never queued, so an outage sends the
latest state once rather than a backlog.

To a console that takes it, the revocation long-poll (``watcher.py``) carries the periodic
report: the reporter is the watcher's carrier (:meth:`TerminalReporter.take`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, runtime_checkable

from ea_bridge import EAVerifier, Hello, ObservedVerifier, SessionInfo, TerminalId
from mtgateway_base.prices import MAX_DIGITS
from mtgateway_base.wire.api import AuthorityRefused, AuthorityUnreachable, DeviceInfo
from mtgateway_base.wire.records import SignedRecord
from mtgateway_base.wire.reports import (
    MAX_DEALS,
    MAX_TRADES,
    REPORT_INTERVAL_S,
    AccountDetails,
    AccountFigures,
    Position,
    PositionsBook,
    Settlement,
    TerminalReport,
    largest,
)
from mtgateway_base.wire.venues import Book

from .watcher import Carried

__all__ = ["CARRY_GRACE_S", "DEALS_LOOKBACK_S", "MAX_DIGIT_READS", "BooksHint", "LiveBookHint",
           "LiveHint", "PollReportHint", "ReportSink", "TerminalReporter", "account_details",
           "account_figures", "open_positions", "server_offset", "symbol_digits"]

log = logging.getLogger(__name__)

#: Why a session ended that means the token itself is refused now (``app._DEAD_MESSAGES``).
_REFUSED_ENDINGS: Final = frozenset({"token_revoked", "token_expired", "invalid_token"})
#: How long past its interval the reporter waits for the long-poll to carry its periodic
#: report (``TerminalReporter.take``) before sending it itself: a poll that failed, or one
#: backing off, leaves the report to go on its own a few seconds late, never not at all.
CARRY_GRACE_S: Final = 5.0
#: The most a report waits for one terminal's figures (a slow EA must not delay the states).
FIGURES_TIMEOUT_S: Final = 2.0
#: The least time between two reports: a busy terminal's trade events are reported together.
MIN_GAP_S: Final = 1.0
#: How often an active terminal holding open positions is reported while the console asks for
#: it (an owner watches its live page, ``LiveHint``): its P/L moves with every tick, and the
#: page shows it (the console keeps one equity point per 30 s however often reports come).
LIVE_INTERVAL_S: Final = 5.0

#: Reads an active terminal's account figures (``None`` when it cannot).
FiguresSource = Callable[[TerminalId], Awaitable[AccountFigures | None]]
#: The bridge's ``call(terminal, method, params, timeout_s)``.
TerminalCall = Callable[[TerminalId, str, dict[str, Any], float], Awaitable[Any]]


def account_figures(call: TerminalCall) -> FiguresSource:
    """Figures read through the EA, as a bot would (``account_info``, ``positions_total``):
    what the owner's dashboard shows beside an active terminal."""

    async def read(terminal: TerminalId) -> AccountFigures | None:
        info = await call(terminal, "account_info", {}, FIGURES_TIMEOUT_S)
        positions = await call(terminal, "positions_total", {}, FIGURES_TIMEOUT_S)
        if not isinstance(info, dict) or isinstance(positions, bool) \
                or not isinstance(positions, int):
            return None
        balance, equity = info.get("balance"), info.get("equity")
        if not isinstance(balance, int | float) or not isinstance(equity, int | float) \
                or isinstance(balance, bool) or isinstance(equity, bool):
            return None
        currency = info.get("currency")
        return AccountFigures(float(balance), float(equity),
                              currency[:8] if isinstance(currency, str)
                              and currency.isalpha() else "", max(0, positions),
                              *_margin(info), book=_book(info))

    return read


#: Reads an active terminal's open positions (``None`` when it cannot).
PositionsSource = Callable[[TerminalId], Awaitable[list[Position] | None]]
#: Reads an active terminal's margin, open trades and the deals since a time (server
#: seconds) for the owner's API (``None`` when it cannot).
DetailsSource = Callable[[TerminalId, int], Awaitable[AccountDetails | None]]
#: How far back the first report after a start sends deals (the console keeps what it has).
DEALS_LOOKBACK_S: Final = 7 * 86400
#: ``account_info``'s fields the owner's API answers (MT4's ``MarginLevel``).
_ACCOUNT_FIELDS: Final = ("login", "currency", "leverage", "balance", "credit", "equity",
                          "margin", "margin_free", "margin_level")
_POSITION_FIELDS: Final = ("ticket", "time", "type", "magic", "volume", "price_open", "sl",
                           "tp", "price_current", "swap", "profit", "symbol", "comment")
_ORDER_FIELDS: Final = ("ticket", "time_setup", "type", "magic", "volume_current",
                        "price_open", "sl", "tp", "price_current", "time_expiration", "symbol",
                        "comment")
_DEAL_FIELDS: Final = ("ticket", "order", "time", "type", "entry", "magic", "position_id",
                       "volume", "price", "commission", "swap", "profit", "symbol", "comment")


def _pick(entry: object, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The named fields of one MT5 record, or ``None`` when one is missing or not a finite
    number or text (the console would refuse the whole report for it)."""
    if not isinstance(entry, dict):
        return None
    out = {}
    for name in names:
        value = entry.get(name)
        if isinstance(value, str):
            value = value[:32] if name == "symbol" else value[:64]
        elif isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            return None
        out[name] = value
    return out


def _book(info: dict[str, Any]) -> Book:
    """The book an ``account_info`` answer is from: the paper book marks its answers."""
    return "paper" if info.get("paper") is True else "live"


async def server_offset(call: TerminalCall, terminal: TerminalId,
                        clock: Callable[[], float] = time.time) -> int | None:
    """The trade server's clock less ``clock``, in whole seconds: ``server_time`` read
    between two readings of ``clock``, against their middle. ``None`` when it cannot be read
    (a venue or EA without it, an answer without a time): the deals then go without it.

    Why: MT5 dates a deal (``time``) on the trade server's wall clock, not in UTC: UTC+2 or
    +3 at most brokers, and days off on a terminal replaying another day. The console places
    the deals in its history by this (``AccountDetails.server_offset_s``). Measured, as the
    trading desk does, rather than taken from the answer's ``tz_offset_s``: the EA's counts
    the server's time zone only, a replayed clock's distance not at all."""
    before = clock()
    try:
        answer = await call(terminal, "server_time", {}, FIGURES_TIMEOUT_S)
    except Exception as exc:  # the deals are reported without it, as an older daemon's are
        log.debug("no server time for %s (%s)", terminal, type(exc).__name__)
        return None
    after = clock()
    msc = answer.get("time_msc") if isinstance(answer, dict) else None
    if isinstance(msc, bool) or not isinstance(msc, int) or msc <= 0:
        return None
    return round(msc / 1000 - (before + after) / 2)


def account_details(call: TerminalCall, clock: Callable[[], float] = time.time
                    ) -> DetailsSource:
    """The account's margin fields, open positions and pending orders (the largest
    ``MAX_TRADES`` of each) and its deals since a time, read through ``call`` as a bot would:
    what the console's API answers across the owner's accounts. With deals, the trade
    server's clock offset from ``clock`` (:func:`server_offset`), which dates them.

    The account is read before and after the rest; ``None`` when its balance, credit or book
    moved in between. Why: the console takes a deposit in the deals as money moved between
    this report's equity and the last one's (``web/livechart.py`` leaves it out of the
    change); a deposit read in the deals but not in the figures would be drawn as a loss of
    its amount. Unmoved, the deals read in between hold exactly the balance operations the
    account (the second read, which the reporter sends as the figures) holds."""

    async def read(terminal: TerminalId, since_s: int) -> AccountDetails | None:
        before = await call(terminal, "account_info", {}, FIGURES_TIMEOUT_S)
        if _pick(before, _ACCOUNT_FIELDS) is None:
            return None
        positions = await call(terminal, "positions_get", {}, FIGURES_TIMEOUT_S)
        orders = await call(terminal, "orders_get", {}, FIGURES_TIMEOUT_S)
        deals = await call(terminal, "history_deals_get",
                           {"date_from": max(0, since_s), "date_to": 4_102_444_800},
                           FIGURES_TIMEOUT_S)
        # read only with deals to date: a report without any costs no call more
        offset = await server_offset(call, terminal, clock) \
            if isinstance(deals, list) and deals else None
        after = await call(terminal, "account_info", {}, FIGURES_TIMEOUT_S)
        info = _pick(after, _ACCOUNT_FIELDS)
        if info is None or not all(isinstance(x, list) for x in (positions, orders, deals)):
            return None
        if (before.get("balance"), before.get("credit"), _book(before)) != (
                after.get("balance"), after.get("credit"), _book(after)):
            return None
        kept_positions = [p for p in (_pick(e, _POSITION_FIELDS) for e in positions)
                          if p is not None and p["type"] in (0, 1)]
        kept_positions.sort(key=lambda p: (-abs(p["profit"]), p["ticket"]))
        kept_orders = [o for o in (_pick(e, _ORDER_FIELDS) for e in orders) if o is not None]
        kept_deals = sorted((d for d in (_pick(e, _DEAL_FIELDS) for e in deals)
                             if d is not None), key=lambda d: (d["time"], d["ticket"]))
        return AccountDetails(info, tuple(kept_positions[:MAX_TRADES]),
                              tuple(kept_orders[:MAX_TRADES]), tuple(kept_deals[:MAX_DEALS]),
                              len(positions), len(orders), _book(after),
                              offset if kept_deals else None)

    return read


def open_positions(call: TerminalCall) -> PositionsSource:
    """The open positions read through the EA (``positions_get``), as a bot would: each
    entry an MT5 ``TradePosition``; one the console could not show (no ticket or symbol, a
    type other than buy or sell, a figure that is not a finite number) is left out."""

    async def read(terminal: TerminalId) -> list[Position] | None:
        got = await call(terminal, "positions_get", {}, FIGURES_TIMEOUT_S)
        if not isinstance(got, list):
            return None
        return [p for p in (_position(entry) for entry in got) if p is not None]

    return read


def _position(entry: object) -> Position | None:
    """One ``TradePosition`` dict as the report carries it, or ``None``."""
    if not isinstance(entry, dict):
        return None
    ticket, symbol, kind = entry.get("ticket"), entry.get("symbol"), entry.get("type")
    if not isinstance(ticket, int) or isinstance(ticket, bool) or ticket < 0 \
            or not isinstance(symbol, str) or not symbol or kind not in (0, 1):
        return None
    numbers = []
    for name in ("volume", "price_open", "price_current", "sl", "tp", "profit", "swap"):
        value = entry.get(name, 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            return None
        numbers.append(float(value))
    volume, price_open, price_current, sl, tp, profit, swap = numbers
    return Position(ticket, symbol[:32], "buy" if kind == 0 else "sell", max(volume, 0.0),
                    price_open, price_current, sl, tp, profit, swap)
#: Reads one symbol's digits (``symbol_info().digits``; ``None`` when it cannot).
DigitsSource = Callable[[TerminalId, str], Awaitable[int | None]]
#: The most symbols whose digits one report reads (a first report catching up on a week of
#: deals in many symbols reads the rest over the next reports; what is read is kept).
MAX_DIGIT_READS: Final = 20


def symbol_digits(call: TerminalCall) -> DigitsSource:
    """A symbol's digits read through the EA (``symbol_info``), as a bot would: the console
    writes the symbol's prices at them (``mtgateway_base/prices.py``)."""

    async def read(terminal: TerminalId, symbol: str) -> int | None:
        info = await call(terminal, "symbol_info", {"symbol": symbol}, FIGURES_TIMEOUT_S)
        digits = info.get("digits") if isinstance(info, dict) else None
        if isinstance(digits, bool) or not isinstance(digits, int) \
                or not 0 <= digits <= MAX_DIGITS:
            return None
        return digits

    return read


def _margin(info: dict[str, Any]) -> tuple[float | None, float | None]:
    """``account_info``'s margin in use and margin level (%), each ``None`` when absent or
    not a finite number >= 0 (the console's margin alert reads them)."""
    def number(name: str) -> float | None:
        value = info.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) and value >= 0 else None
    return number("margin"), number("margin_level")


class ReportSink(Protocol):
    """Where reports go: the embedded authority or the console client."""

    async def report_terminals(self, device: DeviceInfo,
                               reports: list[TerminalReport]) -> int:
        """Store the states; how many the authority kept."""
        ...


@runtime_checkable
class LiveHint(Protocol):
    """A sink that says whether the console wants live reports (``client.RemoteAuthority``:
    an owner watches the live page). A sink without it is never reported to live."""

    def live_wanted(self) -> bool:
        """True while the console asks for live reports."""
        ...


@runtime_checkable
class BooksHint(Protocol):
    """A sink that says whether its console keeps a paper book apart from the live one
    (``client.RemoteAuthority``: from its report answers). A sink without it does (the
    embedded authority is this release's)."""

    def takes_books(self) -> bool | None:
        """True: it does; False: it refuses ``book`` (a console older than the field); None:
        not known yet (no report answered)."""
        ...


@runtime_checkable
class LiveBookHint(Protocol):
    """A sink that says whether its console takes the live book beside a paper one (the
    report's ``live``; ``client.RemoteAuthority``: its answers' ``takes`` name
    ``live_book``). A sink without it does (the embedded authority is this release's)."""

    def takes_live_book(self) -> bool:
        """True: a report may carry ``live``; False: the console would refuse it."""
        ...


@runtime_checkable
class PollReportHint(Protocol):
    """A sink whose console takes the periodic report on the revocation long-poll
    (``client.RemoteAuthority``: its answers' ``takes`` name ``poll_report``). A sink without
    it is reported to on its own calls only."""

    def takes_poll_reports(self) -> bool | None:
        """True: the long-poll may carry the periodic report; False: it may not; None: not
        known yet (no report answered)."""
        ...


class TerminalReporter:
    """This daemon's terminal states, reported to the authority on change and periodically.

    Args:
        sink: the authority.
        device: this machine's device (the reports are signed as it).
        interval_s: the periodic re-report.
        retry_s: the wait after a failed report.
        figures: reads an active terminal's account figures, sent with its state (so they
            are as fresh as the last report: at most ``interval_s`` old).
        positions: reads its open positions, sent with the figures (the largest
            ``MAX_REPORTED_POSITIONS`` by ``|profit|``) with the time they were read.
        details: reads its margin, open trades and new deals, sent with the positions for
            the console's API (deals from the newest one the console has accepted).
        live_details: the same of the live book whatever the account trades on: sent beside
            a paper book's details (``TerminalReport.live``), so the owner still sees what
            stays open at the broker, its margin, and its deals (each book has its own deal
            cursor).
        digits: reads a symbol's digits, sent with the positions for each symbol among
            them, the trades and the deals (read once per terminal and symbol; one that
            cannot be read is left out, and read again with the next report).
        clock: epoch seconds, the "as of" of the figures and positions.
        live_interval_s: the interval while an active terminal holds open positions.
    """

    def __init__(self, sink: ReportSink, device: DeviceInfo, *,
                 interval_s: float = REPORT_INTERVAL_S, retry_s: float = 2.0,
                 live_interval_s: float = LIVE_INTERVAL_S,
                 figures: FiguresSource | None = None,
                 positions: PositionsSource | None = None,
                 details: DetailsSource | None = None,
                 live_details: DetailsSource | None = None,
                 digits: DigitsSource | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._sink = sink
        self._figures = figures
        self._positions = positions
        self._details = details
        self._live_details = live_details
        self._digits = digits
        #: The digits read, per terminal and symbol (a symbol's digits do not change while
        #: its terminal runs).
        self._digits_read: dict[tuple[TerminalId, str], int] = {}
        #: Per terminal and book, the time of the newest deal the authority accepted
        #: (server s): each book numbers and dates its own deals, so a paper book's are not
        #: cut at the live account's newest (nor the other way after switching back).
        self._deals_since: dict[tuple[TerminalId, Book], int] = {}
        #: The owner's instructions settled here and not yet accepted by the authority.
        self._done: dict[TerminalId, list[Settlement]] = {}
        #: Per terminal, whether the newest record stored for it names paper trading.
        self._paper: dict[TerminalId, bool] = {}
        self._clock = clock
        self._device = device
        self._interval_s = interval_s
        self._live_interval_s = min(live_interval_s, interval_s)
        self._live_wanted = sink.live_wanted if isinstance(sink, LiveHint) else None
        #: Whether the last report had an active terminal with open positions.
        self._holding = False
        self._retry_s = retry_s
        self._states: dict[TerminalId, TerminalReport] = {}
        self._changed = asyncio.Event()
        #: The loop's time of the last report sent, or given to the long-poll to carry.
        self._last_at = -math.inf
        #: How many watchers carry the periodic report (``watch_revocations``' carrier):
        #: while none does, every report goes on its own.
        self._carriers = 0
        #: Bumped after each report the authority accepted (tests wait on it).
        self.sent = 0
        self._sent_event = asyncio.Event()

    # -- what the bridge tells it ------------------------------------------------------------

    def _set(self, terminal: TerminalId, report: TerminalReport) -> None:
        if self._states.get(terminal) != report:
            self._states[terminal] = report
            self._changed.set()

    def session_up(self, info: SessionInfo) -> None:
        """An EA session is up: ``active`` under its token."""
        hello = info.hello
        self._set(info.terminal, TerminalReport(
            info.terminal.login, info.terminal.server, "active", "", info.token_id, "",
            hello.platform[:32], hello.ea_version[:32]))

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """The session ended: ``refused`` if its token died, else ``disconnected``."""
        current = self._states.get(info.terminal)
        if current is not None and current.token_id != info.token_id:
            return  # a newer session or refusal already replaced it
        hello = info.hello
        self._set(info.terminal, TerminalReport(
            info.terminal.login, info.terminal.server,
            "refused" if reason in _REFUSED_ENDINGS else "disconnected", _word(reason),
            info.token_id, "", hello.platform[:32], hello.ea_version[:32]))

    def refused(self, hello: Hello, reason: str) -> None:
        """A handshake was refused: ``refused`` with the reason word, under the EA's hint."""
        if not hello.token_hint or hello.login <= 0 or not hello.server:
            return  # nothing names an owner: the authority could not place it
        terminal = TerminalId(hello.login, hello.server[:200])
        self._set(terminal, TerminalReport(
            terminal.login, terminal.server, "refused", _word(reason), "", hello.token_hint,
            hello.platform[:32], hello.ea_version[:32]))

    def settled(self, terminal: TerminalId, settlement: Settlement) -> None:
        """One of the owner's instructions was settled here: it goes with the terminal's next
        report, at once (the console's caller may be waiting for it)."""
        self._done.setdefault(terminal, []).append(settlement)
        self._changed.set()

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Ticks say nothing about the state."""

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any],
              missed: int) -> None:
        """A trade event of an active terminal (an order filled, a position closed): its
        positions, trades and deals are reported again now, at most every
        :data:`MIN_GAP_S`, rather than at the next interval."""
        if name == "trade" and terminal in self._states:
            self._changed.set()

    def record_stored(self, record: SignedRecord) -> None:
        """A token's record arrived (``RecordCache.on_stored``): one that switches its
        terminal's book (paper on or off) has the terminal reported again at once, from the
        book it names, so the console's answers follow the owner's switch within a second
        rather than at the next interval."""
        terminal = TerminalId(record.login, record.server)
        paper = record.risk.paper_trade_enabled
        before = self._paper.get(terminal)
        self._paper[terminal] = paper
        if before is not None and before != paper and terminal in self._states:
            self._changed.set()

    def verifier(self, inner: EAVerifier) -> EAVerifier:
        """An EA verifier telling this reporter of refusals."""
        return ObservedVerifier(inner, self.refused)

    # -- sending -----------------------------------------------------------------------------

    async def wait_sent(self, count: int) -> None:
        """Until ``count`` reports have been accepted in all (for tests)."""
        while self.sent < count:
            self._sent_event.clear()
            await self._sent_event.wait()

    async def _with_figures(self, report: TerminalReport) -> TerminalReport:
        """An active terminal's report with its account figures, when they can be read now."""
        if report.state != "active" or self._figures is None:
            return report
        try:
            async with asyncio.timeout(FIGURES_TIMEOUT_S):
                figures = await self._figures(TerminalId(report.login, report.server))
        except Exception as exc:  # the EA went away or is slow: the state goes without them
            log.debug("no account figures for %s@%s (%s)", report.login, report.server,
                      type(exc).__name__)
            return report
        return dataclasses.replace(report, figures=figures)

    async def _with_book(self, report: TerminalReport) -> TerminalReport:
        """A report with figures, with the terminal's open positions and when they were read
        (the figures were read just before); without them when they cannot be read now."""
        if report.figures is None or self._positions is None:
            return report
        as_of = self._clock()
        try:
            async with asyncio.timeout(FIGURES_TIMEOUT_S):
                got = await self._positions(TerminalId(report.login, report.server))
        except Exception as exc:  # as with the figures: the state goes without them
            log.debug("no open positions for %s@%s (%s)", report.login, report.server,
                      type(exc).__name__)
            return report
        if got is None:
            return report
        figures = report.figures
        if figures.positions < len(got):  # a position opened between the two reads
            figures = dataclasses.replace(figures, positions=len(got))
        details = await self._read_details(report, figures.book)
        if details is not None and details.book != figures.book:
            details = None  # the account switched book between the reads: next time
        elif details is not None:
            # the figures the deals were read with (``account_details``): a balance
            # operation among the deals is in these figures too
            figures = dataclasses.replace(figures, balance=float(details.account["balance"]),
                                          equity=float(details.account["equity"]))
        live = await self._read_live(report) if details is not None \
            and details.book == "paper" else None
        shown = largest(got)
        symbols = {p.symbol for p in shown}
        for read in (details, live):
            if read is not None:
                symbols |= {str(r["symbol"]) for r in (*read.positions, *read.orders,
                                                       *read.deals) if r["symbol"]}
        digits = await self._read_digits(TerminalId(report.login, report.server), symbols)
        return dataclasses.replace(report, figures=figures,
                                   book=PositionsBook(as_of, shown, digits), details=details,
                                   live=live)

    async def _read_digits(self, terminal: TerminalId, symbols: set[str]) -> dict[str, int]:
        """The digits of ``symbols`` known or read now (at most :data:`MAX_DIGIT_READS`
        read); a symbol whose read fails is left out (the report goes without it)."""
        if self._digits is None:
            return {}
        for symbol in sorted(s for s in symbols
                             if (terminal, s) not in self._digits_read)[:MAX_DIGIT_READS]:
            try:
                async with asyncio.timeout(FIGURES_TIMEOUT_S):
                    read = await self._digits(terminal, symbol)
            except Exception as exc:  # as with the figures: the report goes without them
                log.debug("no digits of %s for %s (%s)", symbol, terminal,
                          type(exc).__name__)
                continue
            if read is not None:
                self._digits_read[(terminal, symbol)] = read
        return {s: self._digits_read[(terminal, s)] for s in sorted(symbols)
                if (terminal, s) in self._digits_read}

    async def _read_details(self, report: TerminalReport, book: Book
                            ) -> AccountDetails | None:
        """The terminal's margin, open trades and new deals of ``book``, when they can be
        read now."""
        if self._details is None:
            return None
        terminal = TerminalId(report.login, report.server)
        since = self._deals_since.get((terminal, book),
                                      int(self._clock()) - DEALS_LOOKBACK_S)
        try:
            async with asyncio.timeout(FIGURES_TIMEOUT_S * 2):
                return await self._details(terminal, since)
        except Exception as exc:  # as with the figures: the state goes without them
            log.debug("no account details for %s (%s)", terminal, type(exc).__name__)
            return None

    async def _read_live(self, report: TerminalReport) -> AccountDetails | None:
        """The live book's margin, open trades and new deals (read from the broker beside a
        paper book's), when they can be read now."""
        if self._live_details is None:
            return None
        terminal = TerminalId(report.login, report.server)
        since = self._deals_since.get((terminal, "live"),
                                      int(self._clock()) - DEALS_LOOKBACK_S)
        try:
            async with asyncio.timeout(FIGURES_TIMEOUT_S * 2):
                read = await self._live_details(terminal, since)
        except Exception as exc:  # as with the figures: the report goes without it
            log.debug("no live book beside the paper one for %s (%s)", terminal,
                      type(exc).__name__)
            return None
        return read if read is not None and read.book == "live" else None

    def _accepted(self, reports: list[TerminalReport]) -> None:
        """The authority took ``reports``: their settlements are delivered, and the next
        deals start at the newest sent (a deal of that second is sent again: the console
        keeps each ticket once)."""
        for report in reports:
            terminal = TerminalId(report.login, report.server)
            if report.done:
                left = [s for s in self._done.get(terminal, []) if s not in report.done]
                if left:
                    self._done[terminal] = left
                else:
                    self._done.pop(terminal, None)
            for read in (report.details, report.live):
                if read is not None and read.deals:
                    key = (terminal, read.book)
                    self._deals_since[key] = max(self._deals_since.get(key, 0),
                                                 max(int(d["time"]) for d in read.deals))

    def next_wait_s(self) -> float:
        """How long until the next report when nothing changes: the live interval while an
        active terminal holds positions *and* the console asks for live reports (an owner
        watches the live page), else the interval."""
        if self._holding and self._live_wanted is not None and self._live_wanted():
            return self._live_interval_s
        return self._interval_s

    def carrying(self, on: bool) -> None:
        """A watcher starts (``on``) or stops carrying the periodic report on its long-poll
        (``watch_revocations``, from its start to its end)."""
        # (the reporter's timer follows at its next wake-up: a report at most
        # CARRY_GRACE_S late when the last watcher stops)
        self._carriers += 1 if on else -1

    def carry_in(self) -> tuple[float, bool] | None:
        """Seconds until the periodic report is due (``interval_s`` after the last report
        sent or carried) and whether the revocation long-poll may carry it then: not yet
        while its console has not said whether it takes it (the poll then ends when the
        report is due, so the next one can carry the one after). None when the poll has
        nothing to do with the reports: no watcher carries them, the console does not take
        them, nothing is reported, or an owner watches live (whose reports come every few
        seconds, on their own)."""
        sink = self._sink
        if self._carriers <= 0 or not isinstance(sink, PollReportHint) or not self._states \
                or self.next_wait_s() < self._interval_s:
            return None
        takes = sink.takes_poll_reports()
        if takes is False:
            return None
        due = self._last_at + self._interval_s - asyncio.get_running_loop().time()
        return max(0.0, due), takes is True

    def _carrying(self) -> bool:
        """Whether the long-poll carries the periodic report now (:meth:`carry_in`)."""
        due = self.carry_in()
        return due is not None and due[1]

    async def take(self) -> Carried | None:
        """The periodic report, composed now for the long-poll to carry (None: nothing to
        report). The reporter's own timer waits :data:`CARRY_GRACE_S` past the interval
        for the next one; a change is still reported at once, on its own."""
        if not self._states:
            return None
        self._last_at = asyncio.get_running_loop().time()
        read, books, reports = await self._compose()
        return Carried(read, reports, books)

    def carried(self, taken: Carried, ok: bool) -> None:
        """The poll carrying ``taken`` was answered (``ok``): the report was accepted, as one
        sent on its own; or it failed, and the reporter sends the report itself now."""
        if ok:
            self._sent_ok(taken.read, taken.books, taken.reports)
        else:
            self._last_at = -math.inf
            self._changed.set()

    async def run(self) -> None:
        """Report on every change, and every ``interval_s`` anyway, until cancelled (the
        periodic report left to the long-poll while it carries it: :meth:`take`)."""
        loop = asyncio.get_running_loop()
        last = -MIN_GAP_S
        while True:
            wait_s = self.next_wait_s()
            if self._carrying():  # the long-poll's: this one only when it did not
                wait_s = max(0.0, self._last_at + self._interval_s + CARRY_GRACE_S
                             - loop.time())
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the event's result
            # when a cancellation meets the wake-up, and the shutdown then waited an interval.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._changed.wait()
            if not self._changed.is_set() and self._carrying() \
                    and loop.time() < self._last_at + self._interval_s + CARRY_GRACE_S:
                continue  # the long-poll carried it meanwhile
            gap = last + MIN_GAP_S - loop.time()
            if gap > 0:  # changes that come together go in one report
                await asyncio.sleep(gap)
            last = self._last_at = loop.time()
            self._changed.clear()
            if not self._states:
                continue
            read, books, reports = await self._compose()
            try:
                await self._sink.report_terminals(self._device, reports)
            except (AuthorityUnreachable, AuthorityRefused) as exc:
                log.warning("could not report terminal states to the token authority (%s); "
                            "retrying", type(exc).__name__)
                self._changed.set()
                await asyncio.sleep(self._retry_s)
                continue
            except Exception:  # keep reporting whatever one pass hit
                log.exception("terminal state report failed")
                await asyncio.sleep(self._retry_s)
                continue
            self._sent_ok(read, books, reports)

    async def _compose(self) -> tuple[list[TerminalReport], bool | None,
                                      list[TerminalReport]]:
        """Every terminal's report with what can be read of it now: as read, whether the
        console keeps books apart, and as the console takes it."""
        books = self._books_taken()
        live_book = self._live_book_taken()
        read = [dataclasses.replace(await self._with_book(await self._with_figures(r)),
                                    done=tuple(self._done.get(terminal, ())))
                for terminal, r in list(self._states.items())]
        return read, books, [_for_console(r, books, live_book) for r in read]

    def _sent_ok(self, read: list[TerminalReport], books: bool | None,
                 reports: list[TerminalReport]) -> None:
        """The authority accepted ``reports`` (composed from ``read``, ``books`` as then)."""
        self._accepted(reports)
        # positions in either book move the P/L an owner watches (the live book's too,
        # beside a paper one)
        self._holding = any((r.figures is not None and r.figures.positions > 0)
                            or (r.live is not None and r.live.positions_total > 0)
                            for r in reports)
        self.sent += 1
        self._sent_event.set()
        if books is None and self._books_taken() and any(_paper(r) for r in read):
            # the first answer said the console keeps books apart: the paper figures
            # this report went without follow at once, not at the next interval
            self._changed.set()

    def _books_taken(self) -> bool | None:
        """Whether the sink's console keeps a paper book apart (:class:`BooksHint`)."""
        return self._sink.takes_books() if isinstance(self._sink, BooksHint) else True

    def _live_book_taken(self) -> bool:
        """Whether the sink's console takes the live book beside a paper one
        (:class:`LiveBookHint`)."""
        return self._sink.takes_live_book() if isinstance(self._sink, LiveBookHint) else True


def _paper(report: TerminalReport) -> bool:
    """Whether ``report``'s figures are its paper book's."""
    return report.figures is not None and report.figures.book == "paper"


def _for_console(report: TerminalReport, books: bool | None,
                 live_book: bool = True) -> TerminalReport:
    """``report`` as its console can take it: a paper book's figures, positions and details
    go only to a console that keeps books apart (``books`` True). To any other (an older
    console, which refuses ``book``; or one not yet heard from) the state goes alone, so a
    paper report is neither refused, holding back the daemon's other terminals, nor mixed
    into the account's live history; its deals stay unsent (the reporter's cursor moves
    only with deals sent) until a console takes them. The live book beside a paper one goes
    only to a console that takes it (``live_book``), its deals likewise kept for later."""
    if not books and _paper(report):
        return dataclasses.replace(report, figures=None, book=None, details=None, live=None)
    if report.live is not None and not live_book:
        return dataclasses.replace(report, live=None)
    return report


def _word(reason: str) -> str:
    """A reason as the authority accepts it: lower-case letters and underscores."""
    word = "".join(c for c in reason.lower().replace(" ", "_").replace("-", "_")
                   if c.isascii() and (c.isalpha() or c == "_"))
    return word[:64]
