"""Paper trading: orders of a ``paper_trade_enabled`` account fill in a paper book, never at
the broker.

Why the emulator's broker engine: :class:`~mt5model.broker.SimulatedBroker` already
answers every trading call with MT5's retcodes, fills, SL/TP, pending orders, margin and
history, and is tested against the MQL5 reference. Paper trading is that engine fed the
**connected terminal's live prices** instead of a simulated walk: :class:`LiveMarket` is a
``MarketView`` whose symbols come from the terminal's ``symbol_info`` and whose ticks are the
ones the EA streams (plus a ``symbol_info_tick`` the first time a symbol is traded).

What is routed here for a paper account (``Principal.risk.paper_trade_enabled``, carried in the
signed token record): ``order_send`` and ``order_check`` (through the desk: journal,
idempotency and risk policy stay), and the reads of the book -- ``account_info``, ``orders_*``,
``positions_*``, ``history_*`` (:data:`PAPER_METHODS`). Market data still comes from the
terminal. Every answer from the book says ``"paper": true`` (each record of a list too).

What a bot sees of it through the ``MetaTrader5`` package's vocabulary: the book's
``account_info().trade_mode`` is ``ACCOUNT_TRADE_MODE_DEMO`` (0), whatever the live account's
is, because no broker money is at stake in it -- the meaning of a demo account, and the value
code written for the package tests before it risks money (``REAL`` would claim money that is
not there, ``CONTEST`` a contest that is not run).

The book's trade events -- fills, closes, SL/TP, pending orders placed, modified, cancelled,
triggered, expired, the account's changes -- are the engine's (the same ``trade`` events the
emulated terminal streams), handed to ``on_event`` marked ``"paper": true`` and ``"book":
"paper"`` (the terminal's own say ``"book": "live"``, ``gateway/terminals.py``) as they happen:
after each call that changed the book, and after each batch of live ticks that moved it (SL/TP
and pending orders trigger then, not at the next call).

Its orders, deals and positions are numbered where no live identifier of the account is
(``numbering.py``: a range of their own, pushed above any live identifier seen inside it, the
next number kept beside the book across a restart and a new book).

The paper account starts with the live account's balance, currency, leverage and margin mode
(read once, when the book is first used). It **persists** in the data directory
(``paper/<login>@<server>.json``, 0600, replaced atomically after every call that changed it),
so positions, orders, history and balance survive a daemon restart; a book whose file cannot
be read is refused with the file's name rather than silently started afresh.

Simplifications, and why: a market counts as open while its last live tick is under
:data:`STALE_AFTER_MS` old (the terminal stops ticking when the market closes; no session
table is published); margin uses ``margin_rate`` 1 (MT5 does not publish the broker's margin
rates through ``symbol_info``); SL/TP and pending orders trigger on the ticks the EA streamed.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from ea_bridge import Bridge, EAError, SessionInfo, TerminalId
from mt5model.broker import SimulatedBroker
from mt5model.rules import Rejection
from mt5model.types import (
    ALL_WEEK,
    AccountMarginMode,
    EmulatorError,
    ErrorCode,
    SymbolSpec,
    Tick,
)
from mtgateway_base.files import ensure_private_dir, read_private_file, replace_private_file

from ..errors import Unavailable
from .numbering import PaperNumbers, kind_of, live_identifiers

__all__ = ["PAPER_METHODS", "STALE_AFTER_MS", "LiveMarket", "PaperBookUnreadable",
           "PaperEvents", "PaperTrading"]

log = logging.getLogger(__name__)

#: Reads answered from the paper book for a paper account.
PAPER_METHODS: Final = frozenset({
    "account_info", "orders_total", "orders_get", "positions_total", "positions_get",
    "history_orders_total", "history_orders_get", "history_deals_total", "history_deals_get",
})
#: A symbol whose last live tick is older than this counts as closed (10018 MARKET_CLOSED).
STALE_AFTER_MS: Final = 10 * 60_000
#: Live ticks kept per symbol (the engine only needs the recent ones).
_KEPT_TICKS: Final = 20_000
#: Where a book's trade events go: the terminal, and the event (the engine's ``trade`` event,
#: marked ``"paper": true``).
PaperEvents = Callable[[TerminalId, dict[str, Any]], None]


def _dropped(terminal: TerminalId, event: dict[str, Any]) -> None:
    """Events of a book nobody listens to."""


@dataclass
class _Series:
    times: list[int] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)

    def add(self, tick: Tick) -> None:
        if self.times and tick.time_msc < self.times[-1]:
            return  # out of order (a replayed row): the book never moves back in time
        self.times.append(tick.time_msc)
        self.ticks.append(tick)
        if len(self.ticks) > _KEPT_TICKS:
            del self.times[: _KEPT_TICKS // 2], self.ticks[: _KEPT_TICKS // 2]


def _spec(info: dict[str, Any]) -> SymbolSpec:
    """A ``SymbolSpec`` from a live ``symbol_info`` answer (MT5 field names)."""
    def num(name: str, default: float = 0.0) -> float:
        value = info.get(name, default)
        return float(value) if isinstance(value, (int, float)) else default

    def whole(name: str, default: int = 0) -> int:
        value = info.get(name, default)
        return int(value) if isinstance(value, (int, float)) else default

    return SymbolSpec(
        name=str(info["name"]), description=str(info.get("description", "")),
        path=str(info.get("path", "")), category=str(info.get("category", "")),
        currency_base=str(info.get("currency_base", "")),
        currency_profit=str(info.get("currency_profit", "")),
        currency_margin=str(info.get("currency_margin", "")),
        digits=whole("digits", 5), trade_tick_size=num("trade_tick_size"),
        trade_contract_size=num("trade_contract_size", 1.0),
        volume_min=num("volume_min", 0.01), volume_max=num("volume_max", 100.0),
        volume_step=num("volume_step", 0.01), volume_limit=num("volume_limit"),
        trade_stops_level=whole("trade_stops_level"),
        trade_freeze_level=whole("trade_freeze_level"), filling_mode=whole("filling_mode"),
        expiration_mode=whole("expiration_mode"), order_mode=whole("order_mode"),
        trade_mode=whole("trade_mode", 4), trade_exemode=whole("trade_exemode", 2),
        trade_calc_mode=whole("trade_calc_mode"), margin_initial=num("margin_initial"),
        margin_maintenance=num("margin_maintenance"), margin_rate=1.0,
        swap_long=num("swap_long"), swap_short=num("swap_short"), sessions=ALL_WEEK,
        margin_hedged_share=(num("margin_hedged") / num("trade_contract_size", 1.0)
                             if num("trade_contract_size", 1.0) else 0.5),
        swap_rollover3days=whole("swap_rollover3days", 3),
    )


class LiveMarket:
    """A ``MarketView`` of the connected terminal's symbols and live ticks (server time)."""

    def __init__(self) -> None:
        self._specs: dict[str, SymbolSpec] = {}
        self._series: dict[str, _Series] = {}

    def knows(self, symbol: str) -> bool:
        """Whether ``symbol``'s specification has been read."""
        return symbol in self._specs

    def add_spec(self, info: dict[str, Any]) -> None:
        """Learn a symbol from its live ``symbol_info``."""
        spec = _spec(info)
        self._specs[spec.name] = spec
        self._series.setdefault(spec.name, _Series())

    def add_rows(self, symbol: str, rows: Sequence[Sequence[Any]]) -> None:
        """Live tick rows ``[time_msc, bid, ask, last, volume, flags, volume_real]``."""
        series = self._series.get(symbol)
        if series is None:
            return  # a symbol nobody paper-trades yet
        for row in rows:
            series.add(Tick(int(row[0]), float(row[1]), float(row[2]), float(row[3]),
                            int(row[4]), int(row[5]), float(row[6])))

    def add_tick(self, symbol: str, tick: dict[str, Any]) -> None:
        """A ``symbol_info_tick`` answer."""
        self.add_rows(symbol, [[tick["time_msc"], tick["bid"], tick["ask"], tick.get("last", 0.0),
                                tick.get("volume", 0), tick.get("flags", 6),
                                tick.get("volume_real", 0.0)]])

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's spec.

        Raises:
            EmulatorError: ``NOT_FOUND`` for a symbol not read from the terminal.
        """
        spec = self._specs.get(symbol)
        if spec is None:
            raise EmulatorError(ErrorCode.NOT_FOUND, f"unknown symbol {symbol!r}")
        return spec

    def specs(self) -> Sequence[SymbolSpec]:
        """Every symbol read so far."""
        return list(self._specs.values())

    def tick_at(self, symbol: str, time_msc: int) -> Tick | None:
        """The last live tick at or before ``time_msc``."""
        series = self._series.get(symbol)
        if series is None:
            return None
        index = bisect.bisect_right(series.times, time_msc)
        return series.ticks[index - 1] if index else None

    def ticks_between(self, symbol: str, after_msc: int, until_msc: int) -> list[Tick]:
        """Live ticks with ``after_msc < time_msc <= until_msc``."""
        series = self._series.get(symbol)
        if series is None:
            return []
        lo = bisect.bisect_right(series.times, after_msc)
        hi = bisect.bisect_right(series.times, until_msc)
        return series.ticks[lo:hi]

    def is_trading(self, symbol: str, time_msc: int) -> bool:
        """Open while the last live tick is recent (see the module docstring)."""
        tick = self.tick_at(symbol, time_msc)
        return tick is not None and time_msc - tick.time_msc < STALE_AFTER_MS


@dataclass
class _Book:
    market: LiveMarket
    broker: SimulatedBroker
    account: dict[str, Any]
    saved: bytes = b""


class PaperBookUnreadable(Unavailable):
    """A terminal's saved paper book cannot be read: nothing is started afresh over it (that
    would lose the paper positions); ``-32014`` with ``data.reason = "paper_book_unreadable"``
    and the file's name in the message. Move the file away to start a new book."""

    def __init__(self, message: str) -> None:
        super().__init__("paper_book_unreadable", message)


#: The numbering's file beside a book's (``<login>@<server>.numbers.json``).
_NUMBERS_SUFFIX: Final = ".numbers.json"
#: The account settings a book is made with, kept beside its snapshot.
_ACCOUNT_FIELDS: Final = ("login", "server", "company", "name", "currency", "leverage",
                          "margin_mode")


def _mark(value: Any) -> Any:
    """The answer with ``"paper": true`` on it (on each record of a list)."""
    if isinstance(value, dict):
        return {**value, "paper": True}
    if isinstance(value, list):
        return [_mark(item) for item in value]
    return value


class PaperTrading:
    """The paper books of the daemon, one per terminal; a bridge listener feeding them ticks.

    Args:
        bridge: reads the terminal (account, symbols, first ticks), never trades through it.
        directory: where the books are kept (the data directory's ``paper``).
        request_timeout_s: a read of the terminal's (``server.request_timeout_s``).
        utc_ms: epoch milliseconds UTC (the book's clock is this plus the server clock's
            measured offset from it).
        on_event: takes each trade event of a book, as it happens (the daemon streams them
            to the terminal's ``trades`` subscribers).
    """

    def __init__(self, bridge: Bridge, directory: Path, request_timeout_s: float, *,
                 utc_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 on_event: PaperEvents = _dropped) -> None:
        self._bridge = bridge
        self._dir = directory
        self._timeout = request_timeout_s
        self._utc_ms = utc_ms
        self._on_event = on_event
        self._books: dict[TerminalId, _Book] = {}
        #: Each account's paper numbering, once read or started (``numbering.py``).
        self._numbers: dict[TerminalId, PaperNumbers] = {}

    # -- BridgeListener ------------------------------------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """Nothing to do: a book is made when first used."""

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Nothing to do: the book outlives the session (positions stay open)."""

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Feed live ticks to the terminal's book, if it has one, and let the book react to
        them now (SL/TP, pending orders, expiry, stop out: nothing is read when nothing is
        open), so what they trigger is streamed as it happens and saved."""
        book = self._books.get(terminal)
        if book is None:
            return
        book.market.add_rows(symbol, rows)
        try:
            book.broker.advance()
            if self._publish(terminal, book):
                self._save(terminal, book)
                self._follow_numbers(terminal, book)
        except (EmulatorError, OSError):
            # The bridge's listener must not raise: the book is as the engine left it, and
            # the next call answers (and saves) it or fails with the reason.
            log.exception("paper book of %s: the live ticks of %s could not be applied",
                          terminal, symbol)

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Trade events of the real account are not the paper book's; an identifier one
        carries inside the paper range pushes the account's paper numbering above it
        (``numbering.py``), whether or not the account is on paper now."""
        seen = list(live_identifiers(payload))
        if not seen:
            return
        try:
            self.saw_live(terminal, seen)
        except (PaperBookUnreadable, OSError):
            # The bridge's listener must not raise; the book's next use reads the live book
            # again and says what is wrong with the file.
            log.exception("paper numbering of %s: live identifiers %s not noted", terminal, seen)

    def saw_live(self, terminal: TerminalId, identifiers: Iterable[int]) -> None:
        """Live identifiers of ``terminal``'s account: any inside the paper range moves the
        account's paper numbering (and its book, if made) above it, and is logged; the
        numbering's file is written when it moved.

        Raises:
            PaperBookUnreadable: the numbering's file cannot be read.
            OSError: it cannot be written.
        """
        numbers = self._numbering(terminal)
        moved = [identifier for identifier in identifiers if numbers.saw_live(identifier)]
        if not moved:
            return
        log.warning("paper book of %s: the broker numbers inside the paper range (live "
                    "identifier %d): paper numbers from %d on", terminal, max(moved),
                    numbers.next)
        book = self._books.get(terminal)
        if book is not None:
            book.broker.number_from(numbers.next)
        self._save_numbers(terminal, numbers)

    # -- calls -----------------------------------------------------------------------------

    async def call(self, terminal: TerminalId, method: str, params: dict[str, Any]) -> Any:
        """Answer ``method`` from the terminal's paper book, marked ``"paper": true``.

        Raises:
            EAError: the terminal's own answer when a symbol has to be read (-32006 for an
                unknown one), or ``EmulatorError`` turned into the same codes.
            BridgeError: the terminal could not be read.
        """
        book = await self._book(terminal)
        if method == "order_send":
            self._check_numbers(terminal)
        symbol = params.get("symbol")
        request = params.get("request")
        if isinstance(request, dict) and isinstance(request.get("symbol"), str):
            symbol = request["symbol"]
        if isinstance(symbol, str) and symbol:
            await self._learn(terminal, book, symbol)
        for position_field in ("position", "position_by"):
            ticket = request.get(position_field) if isinstance(request, dict) else None
            if isinstance(ticket, int):
                for held in book.broker.positions_get(ticket=ticket):
                    await self._learn(terminal, book, held["symbol"])
        fn = getattr(book.broker, method)
        try:
            return _mark(fn(**params))
        except EmulatorError as exc:  # the engine's answer, as an EA would give it
            raise EAError(int(exc.code), exc.message) from None
        finally:
            self._publish(terminal, book)
            self._save(terminal, book)  # any call may have filled (SL/TP, pending orders)
            self._follow_numbers(terminal, book)

    async def refuse(self, terminal: TerminalId, method: str, params: dict[str, Any],
                     retcode: int, comment: str) -> Any:
        """The book's ``order_send`` or ``order_check`` answer to ``params`` refused with
        ``retcode`` and ``comment``, decided by the caller (a ticket this book does not hold,
        ``venue.py``): shaped as the engine shapes its own refusals, marked ``"paper": true``;
        nothing is executed.

        Raises:
            EAError: the request cannot be read (the engine's -32602).
            BridgeError, PaperBookUnreadable: the book could not be made or read.
        """
        book = await self._book(terminal)
        fn = book.broker.order_send if method == "order_send" else book.broker.order_check
        try:
            return _mark(fn(params["request"], refused=Rejection(retcode, comment)))
        except EmulatorError as exc:
            raise EAError(int(exc.code), exc.message) from None
        finally:
            self._save(terminal, book)  # the request id moved on

    async def balance_operation(self, terminal: TerminalId, operation_id: str, kind: str,
                                amount: float, comment: str) -> dict[str, Any]:
        """Move paper money in the terminal's book, once per ``operation_id`` (the owner's
        deposit, withdrawal or credit from the console, carried in the signed record): a
        balance or credit deal ``history_deals_get`` shows, saved with the book. The engine's
        answer: ``retcode`` 10009 with the ``deal``, or 10019 when the money is not there.

        Raises:
            EAError: -32602 for a kind or amount the engine refuses.
            BridgeError, PaperBookUnreadable: the book could not be made or read.
        """
        book = await self._book(terminal)
        self._check_numbers(terminal)
        try:
            return book.broker.balance_operation(operation_id, kind, amount, comment)
        except EmulatorError as exc:
            raise EAError(int(exc.code), exc.message) from None
        finally:
            self._publish(terminal, book)
            self._save(terminal, book)
            self._follow_numbers(terminal, book)

    def _publish(self, terminal: TerminalId, book: _Book) -> bool:
        """Hand the book's new trade events to ``on_event``, marked paper; whether any."""
        events = book.broker.drain_events()
        for event in events:
            self._on_event(terminal, {**event, "paper": True, "book": "paper"})
        return bool(events)

    def _path(self, terminal: TerminalId, suffix: str = ".json") -> Path:
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", f"{terminal.login}@{terminal.server}")
        return self._dir / f"{name}{suffix}"

    def _numbering(self, terminal: TerminalId) -> PaperNumbers:
        """The account's paper numbering: as read before, from its file, or started in the
        range of the connected terminal's kind.

        Raises:
            PaperBookUnreadable: the file is there but is not a numbering.
        """
        numbers = self._numbers.get(terminal)
        if numbers is not None:
            return numbers
        path = self._path(terminal, _NUMBERS_SUFFIX)
        try:
            data = read_private_file(path)
            if data is not None:
                numbers = PaperNumbers.loads(data)
        except (OSError, ValueError) as exc:
            raise PaperBookUnreadable(f"the paper numbering {path} cannot be read ({exc}); "
                                      "move it away to number paper from the range's start "
                                      "again") from None
        if numbers is None:
            session = self._bridge.session(terminal)
            numbers = PaperNumbers.start(kind_of("" if session is None
                                                 else session.hello.platform))
        return self._numbers.setdefault(terminal, numbers)

    def _save_numbers(self, terminal: TerminalId, numbers: PaperNumbers) -> None:
        ensure_private_dir(self._dir)
        replace_private_file(self._path(terminal, _NUMBERS_SUFFIX), numbers.dumps())

    def _follow_numbers(self, terminal: TerminalId, book: _Book) -> None:
        """The numbering follows what the book took (written when it moved)."""
        numbers = self._numbers.get(terminal)
        if numbers is not None and numbers.took(book.broker.next_ticket):
            self._save_numbers(terminal, numbers)

    def _check_numbers(self, terminal: TerminalId) -> None:
        """Refuse to open anything when the paper range is used up.

        Raises:
            Unavailable: ``paper_numbers_exhausted``.
        """
        numbers = self._numbering(terminal)
        if numbers.exhausted:
            raise Unavailable("paper_numbers_exhausted",
                              f"the paper book of {terminal} has used its range of "
                              f"identifiers (up to {numbers.last}): nothing more can open on "
                              "paper")

    def _save(self, terminal: TerminalId, book: _Book) -> None:
        """Write the book's file when it changed: a private temporary file, then an atomic
        replace (a crash leaves the old book or the new one, never half of one)."""
        data = orjson.dumps({"terminal": str(terminal), "account": book.account,
                             "book": book.broker.snapshot()})
        if data == book.saved:
            return
        ensure_private_dir(self._dir)
        replace_private_file(self._path(terminal), data)
        book.saved = data

    def _load(self, terminal: TerminalId) -> dict[str, Any] | None:
        """The saved book of ``terminal``, or None when it has none.

        Raises:
            PaperBookUnreadable: the file is there but is not a book of this terminal.
        """
        path = self._path(terminal)
        try:
            data = read_private_file(path)
            if data is None:
                return None
            saved = orjson.loads(data)
            if not isinstance(saved, dict) or saved.get("terminal") != str(terminal) \
                    or not isinstance(saved.get("account"), dict) \
                    or not isinstance(saved.get("book"), dict):
                raise ValueError("not a paper book of this terminal")
        except (OSError, ValueError) as exc:
            raise PaperBookUnreadable(f"the paper book {path} cannot be read ({exc}); move it "
                                      "away to start a new paper book") from None
        return saved

    async def _book(self, terminal: TerminalId) -> _Book:
        book = self._books.get(terminal)
        if book is not None:
            return book
        saved = self._load(terminal)
        account = saved["account"] if saved is not None else await self._bridge.call(
            terminal, "account_info", {}, self._timeout)
        clock = await self._bridge.call(terminal, "server_time", {}, self._timeout)
        # The book runs on the server's clock (its time zone and any skew), measured against
        # ours once: the live ticks are stamped with it.
        offset_ms = int(clock["time_msc"]) - self._utc_ms()
        # What is open at the broker now, numbered while the daemon was not watching: its
        # identifiers push the paper numbering as the trade events' do (numbering.py).
        for read in ("positions_get", "orders_get"):
            self.saw_live(terminal, live_identifiers(
                await self._bridge.call(terminal, read, {}, self._timeout)))
        numbers = self._numbering(terminal)
        book = self._books.get(terminal)  # another call may have made it meanwhile
        if book is not None:
            return book
        market = LiveMarket()
        settings = {name: account.get(name) for name in _ACCOUNT_FIELDS}
        broker = SimulatedBroker(
            market, clock=lambda: self._utc_ms() + offset_ms, login=int(account["login"]),
            server=str(account["server"]), company=str(account.get("company") or ""),
            name=str(account.get("name") or ""), currency=str(account.get("currency") or "USD"),
            balance=0.0 if saved is not None else float(account.get("balance", 10_000.0)),
            leverage=int(account.get("leverage") or 100),
            margin_mode=AccountMarginMode(int(account.get("margin_mode", 2))),
            first_ticket=numbers.next)
        if saved is not None:
            try:
                broker.restore(saved["book"])
            except EmulatorError as exc:
                raise PaperBookUnreadable(f"the paper book {self._path(terminal)} cannot be "
                                          f"read ({exc.message}); move it away to start a new "
                                          "paper book") from None
            broker.number_from(numbers.next)  # a book saved before the range, or behind it
        book = _Book(market, broker, settings)
        if saved is not None:  # the symbols of its positions and orders, before any use
            state = saved["book"]
            for symbol in sorted({r["symbol"] for r in (*state["positions"], *state["orders"])}):
                await self._learn(terminal, book, symbol)
        return self._books.setdefault(terminal, book)

    async def _learn(self, terminal: TerminalId, book: _Book, symbol: str) -> None:
        """Read ``symbol``'s spec and current tick from the terminal the first time."""
        if book.market.knows(symbol):
            return
        info = await self._bridge.call(terminal, "symbol_info", {"symbol": symbol},
                                       self._timeout)
        tick = await self._bridge.call(terminal, "symbol_info_tick", {"symbol": symbol},
                                       self._timeout)
        book.market.add_spec(info)
        book.market.add_tick(symbol, tick)
