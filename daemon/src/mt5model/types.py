"""Shared vocabulary of the emulated terminal: symbol specifications, ticks, errors, enums.

The emulator is split in three pure parts that meet here:

* ``symbols.py`` -- the catalogue of :class:`SymbolSpec` the simulated broker offers;
* ``market.py`` -- the deterministic price path (ticks and bars) and the market-data methods;
* ``broker.py`` -- the account, orders, positions, deals and the trading methods.

``broker.py`` reads prices only through the :class:`MarketView` protocol, so its tests can drive
it with the scripted price source in ``scripted.py`` (the same interface, prices chosen by the
test) while the product runs it on the random walk of ``market.py``.

Everything here mirrors MetaTrader 5 (https://www.mql5.com/en/docs/python_metatrader5): field
names, enum values and bit masks are the ones the official ``MetaTrader5`` Python package
exports, because the emulator's answers must be what a real terminal would give.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from .mt5 import SymbolExpiration, SymbolFilling, SymbolOrder, TickFlag

__all__ = [
    "ALL_WEEK",
    "RATE_COLUMNS",
    "TICK_COLUMNS",
    "AccountMarginMode",
    "EmulatorError",
    "ErrorCode",
    "MarketView",
    "SymbolSpec",
    "Tick",
    "TradingSession",
    "match_group",
]

#: Column order of ``copy_ticks_*`` rows, as the numpy dtype of the MetaTrader5 package.
TICK_COLUMNS: tuple[str, ...] = (
    "time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real",
)
#: Column order of ``copy_rates_*`` rows, as the numpy dtype of the MetaTrader5 package.
RATE_COLUMNS: tuple[str, ...] = (
    "time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume",
)

# MT5's bit masks are owned by ``mt5model.mt5``; these are the plain ints the emulator's
# structures carry.
TICK_FLAG_BID = int(TickFlag.BID)
TICK_FLAG_ASK = int(TickFlag.ASK)
TICK_FLAG_LAST = int(TickFlag.LAST)
TICK_FLAG_VOLUME = int(TickFlag.VOLUME)
TICK_FLAG_BUY = int(TickFlag.BUY)
TICK_FLAG_SELL = int(TickFlag.SELL)
SYMBOL_FILLING_FOK = int(SymbolFilling.FOK)
SYMBOL_FILLING_IOC = int(SymbolFilling.IOC)
SYMBOL_FILLING_BOC = int(SymbolFilling.BOC)
SYMBOL_EXPIRATION_GTC = int(SymbolExpiration.GTC)
SYMBOL_EXPIRATION_DAY = int(SymbolExpiration.DAY)
SYMBOL_EXPIRATION_SPECIFIED = int(SymbolExpiration.SPECIFIED)
SYMBOL_EXPIRATION_SPECIFIED_DAY = int(SymbolExpiration.SPECIFIED_DAY)
SYMBOL_ORDER_MARKET = int(SymbolOrder.MARKET)
SYMBOL_ORDER_LIMIT = int(SymbolOrder.LIMIT)
SYMBOL_ORDER_STOP = int(SymbolOrder.STOP)
SYMBOL_ORDER_STOP_LIMIT = int(SymbolOrder.STOP_LIMIT)
SYMBOL_ORDER_SL = int(SymbolOrder.SL)
SYMBOL_ORDER_TP = int(SymbolOrder.TP)
SYMBOL_ORDER_CLOSEBY = int(SymbolOrder.CLOSEBY)
# SYMBOL_TRADE_MODE_*.
SYMBOL_TRADE_MODE_DISABLED = 0
SYMBOL_TRADE_MODE_LONGONLY = 1
SYMBOL_TRADE_MODE_SHORTONLY = 2
SYMBOL_TRADE_MODE_CLOSEONLY = 3
SYMBOL_TRADE_MODE_FULL = 4
# SYMBOL_CALC_MODE_*.
SYMBOL_CALC_MODE_FOREX = 0
SYMBOL_CALC_MODE_CFD = 2
SYMBOL_CALC_MODE_CFDINDEX = 3
SYMBOL_CALC_MODE_CFDLEVERAGE = 4
SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE = 5
SYMBOL_CALC_MODE_EXCH_STOCKS = 32
# SYMBOL_TRADE_EXECUTION_*.
SYMBOL_TRADE_EXECUTION_REQUEST = 0
SYMBOL_TRADE_EXECUTION_INSTANT = 1
SYMBOL_TRADE_EXECUTION_MARKET = 2
SYMBOL_TRADE_EXECUTION_EXCHANGE = 3


class AccountMarginMode(IntEnum):
    """ACCOUNT_MARGIN_MODE_*: how positions on one symbol combine."""

    RETAIL_NETTING = 0
    EXCHANGE = 1
    RETAIL_HEDGING = 2


class ErrorCode(IntEnum):
    """Error codes the EA (real or emulated) answers with when a request cannot be evaluated.

    They are the public JSON-RPC codes of the contract, so the daemon passes them through
    unchanged. A broker *rejection* of a trade is never an error: it is a result with a
    non-success ``retcode``, exactly as in MT5.
    """

    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL = -32603
    BROKER_DISCONNECTED = -32002
    NOT_FOUND = -32006
    AUTOTRADING_DISABLED = -32007
    HISTORY_NOT_READY = -32008
    UNSUPPORTED = -32009


class EmulatorError(Exception):
    """A request the emulated terminal cannot evaluate (unknown symbol, bad params, ...).

    The terminal shell turns it into a protocol error response with ``code`` and ``message``;
    the message must be safe to show to the client (it names the field or the symbol).
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One trading window in server time: ``weekday`` 0 = Monday, minutes from midnight.

    ``end_minute`` is exclusive and may be 1440 (until midnight).
    """

    weekday: int
    start_minute: int
    end_minute: int


#: One session per weekday covering the whole day: the symbol always trades (crypto, and the
#: paper book, which trades whenever the live terminal quotes).
ALL_WEEK: tuple[TradingSession, ...] = tuple(TradingSession(day, 0, 1440) for day in range(7))


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A symbol's contract specification: what ``symbol_info`` reports (MT5 names).

    How a simulated market moves the symbol's price is not part of it: the emulator's
    ``SimulatedSymbol`` (``ea_bridge/emulator/symbols.py``) adds those knobs; the daemon's
    paper book uses the terminal's live specification and ticks.
    """

    name: str
    description: str
    path: str
    category: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    digits: int
    trade_tick_size: float
    trade_contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    trade_stops_level: int
    trade_freeze_level: int
    filling_mode: int
    expiration_mode: int
    order_mode: int
    trade_mode: int
    trade_exemode: int
    trade_calc_mode: int
    margin_initial: float
    margin_maintenance: float
    #: Share of the notional held as margin before leverage for CFD-style calc modes
    #: (1.0 = notional / account leverage).
    margin_rate: float
    swap_long: float
    swap_short: float
    sessions: tuple[TradingSession, ...]
    #: ``SYMBOL_MARGIN_HEDGED`` as a share of the contract size: the contract size the margin
    #: of each covered (hedged) lot is computed with (0.5: a fully hedged pair costs the margin
    #: of one of its legs; 0: hedged volume holds no margin).
    margin_hedged_share: float = 0.5
    #: ``SYMBOL_SWAP_ROLLOVER3DAYS`` (``ENUM_DAY_OF_WEEK``: 0 = Sunday ... 3 = Wednesday).
    swap_rollover3days: int = 3

    @property
    def margin_hedged(self) -> float:
        """``SYMBOL_MARGIN_HEDGED``: contract size of one hedged lot for the margin."""
        return self.trade_contract_size * self.margin_hedged_share

    @property
    def point(self) -> float:
        """The price step of the quote, ``10 ** -digits``."""
        return round(10.0 ** -self.digits, self.digits)


@dataclass(frozen=True, slots=True)
class Tick:
    """One quote as MT5 reports it (``symbol_info_tick`` / one ``copy_ticks_*`` row).

    Its fields, in this order and with these types, are the EA's tick row
    (``ea_bridge.TICK_ROW``, ``docs/protocol.md`` §7): what the EA writes and the bridge
    checks is declared here.
    """

    time_msc: int
    bid: float
    ask: float
    last: float
    volume: int
    flags: int
    volume_real: float

    @property
    def time(self) -> int:
        """Epoch seconds of the tick (server clock)."""
        return self.time_msc // 1000

    def as_row(self) -> list[float | int]:
        """The tick as one row in :data:`TICK_COLUMNS` order."""
        return [self.time, self.bid, self.ask, self.last, self.volume, self.time_msc,
                self.flags, self.volume_real]

    def as_dict(self) -> dict[str, float | int]:
        """The tick as MT5's ``Tick`` structure (``symbol_info_tick``)."""
        return dict(zip(TICK_COLUMNS, self.as_row(), strict=True))


class MarketView(Protocol):
    """Prices as the broker sees them: ``Market`` (random walk) or ``ScriptedMarket`` (tests)."""

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's specification.

        Raises:
            EmulatorError: ``NOT_FOUND`` for a symbol the broker does not offer.
        """

    def specs(self) -> Sequence[SymbolSpec]:
        """Every symbol the broker offers, in catalogue order."""

    def tick_at(self, symbol: str, time_msc: int) -> Tick | None:
        """The last tick at or before ``time_msc``, or None when there is none yet."""

    def ticks_between(self, symbol: str, after_msc: int, until_msc: int) -> list[Tick]:
        """Every tick with ``after_msc < time_msc <= until_msc``, oldest first."""

    def is_trading(self, symbol: str, time_msc: int) -> bool:
        """Whether ``time_msc`` falls inside one of the symbol's trading sessions."""


def match_group(name: str, group: str | None) -> bool:
    """Whether ``name`` passes an MT5 group filter such as ``"*USD*,!EUR*"``.

    MT5 semantics: comma-separated ``fnmatch`` patterns, case-insensitive; a pattern starting
    with ``!`` excludes. A name is selected when it matches at least one inclusion pattern (or
    there are none) and no exclusion pattern. ``None`` or an empty string selects everything.
    """
    if not group:
        return True
    upper = name.upper()
    includes: list[str] = []
    excludes: list[str] = []
    for raw in group.split(","):
        pattern = raw.strip().upper()
        if not pattern:
            continue
        if pattern.startswith("!"):
            excludes.append(pattern[1:])
        else:
            includes.append(pattern)
    if any(fnmatch.fnmatchcase(upper, p) for p in excludes):
        return False
    return not includes or any(fnmatch.fnmatchcase(upper, p) for p in includes)
