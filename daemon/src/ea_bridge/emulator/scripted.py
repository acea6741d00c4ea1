"""A :class:`~mt5model.types.MarketView` whose prices the test chooses.

The simulated broker reads prices only through ``MarketView``. In the product that is the random
walk of ``market.py``; in tests it is this class, so a test can say "EURUSD is 1.10000/1.10010 at
t=1000 ms, then 1.09500 at t=2000 ms" and assert exact fills, trigger times and profits. Nothing
here is random and nothing reads the wall clock.

:func:`sample_specs` gives a small catalogue that covers the broker's calculation branches:
a FOREX pair quoted in the account currency (EURUSD), one whose profit currency needs conversion
(USDJPY), a CFD index (US500, ``SYMBOL_CALC_MODE_CFDINDEX``) and a leveraged CFD (XAUUSD,
``SYMBOL_CALC_MODE_CFDLEVERAGE``). All trade 24/7 unless a test overrides it with
:meth:`ScriptedMarket.set_trading` or builds a spec with other sessions. :class:`ManualClock`
is the matching server clock, moved only by the test.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from mt5model.types import (
    ALL_WEEK,
    SYMBOL_CALC_MODE_CFDINDEX,
    SYMBOL_CALC_MODE_CFDLEVERAGE,
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_EXPIRATION_DAY,
    SYMBOL_EXPIRATION_GTC,
    SYMBOL_EXPIRATION_SPECIFIED,
    SYMBOL_EXPIRATION_SPECIFIED_DAY,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    SYMBOL_ORDER_CLOSEBY,
    SYMBOL_ORDER_LIMIT,
    SYMBOL_ORDER_MARKET,
    SYMBOL_ORDER_SL,
    SYMBOL_ORDER_STOP,
    SYMBOL_ORDER_STOP_LIMIT,
    SYMBOL_ORDER_TP,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_MODE_FULL,
    TICK_FLAG_ASK,
    TICK_FLAG_BID,
    EmulatorError,
    ErrorCode,
    SymbolSpec,
    Tick,
)

__all__ = ["ManualClock", "ScriptedMarket", "sample_specs"]

_ALL_ORDERS = (
    SYMBOL_ORDER_MARKET | SYMBOL_ORDER_LIMIT | SYMBOL_ORDER_STOP | SYMBOL_ORDER_STOP_LIMIT
    | SYMBOL_ORDER_SL | SYMBOL_ORDER_TP | SYMBOL_ORDER_CLOSEBY
)
_ALL_EXPIRATIONS = (
    SYMBOL_EXPIRATION_GTC | SYMBOL_EXPIRATION_DAY | SYMBOL_EXPIRATION_SPECIFIED
    | SYMBOL_EXPIRATION_SPECIFIED_DAY
)
_MS_PER_DAY = 86_400_000
#: 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
_EPOCH_WEEKDAY = 3


def sample_specs() -> list[SymbolSpec]:
    """Four ready-made symbols for tests: EURUSD, USDJPY, US500 (CFD index), XAUUSD.

    * EURUSD: FOREX, 5 digits, 100 000 contract, stops level 10 points, freeze level 5 points,
      FOK and IOC filling.
    * USDJPY: FOREX, 3 digits, profit in JPY (converted via itself), IOC filling only, no stops
      or freeze level.
    * US500: CFDINDEX, 1 digit, contract 1, margin rate 0.05, volume 0.1..50 step 0.1.
    * XAUUSD: CFDLEVERAGE, 2 digits, contract 100, margin rate 1.0.
    """

    def fx(name: str, base: str, profit: str, digits: int, price: float,
           stops: int, freeze: int, filling: int) -> SymbolSpec:
        return SymbolSpec(
            name=name, description=f"{base} vs {profit}", path=f"Forex\\{name}",
            category="Forex", currency_base=base, currency_profit=profit, currency_margin=base,
            digits=digits, trade_tick_size=round(10.0 ** -digits, digits),
            trade_contract_size=100_000.0, volume_min=0.01, volume_max=100.0,
            volume_step=0.01, volume_limit=0.0, trade_stops_level=stops,
            trade_freeze_level=freeze, filling_mode=filling, expiration_mode=_ALL_EXPIRATIONS,
            order_mode=_ALL_ORDERS, trade_mode=SYMBOL_TRADE_MODE_FULL,
            trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET, trade_calc_mode=SYMBOL_CALC_MODE_FOREX,
            margin_initial=0.0, margin_maintenance=0.0, margin_rate=1.0, swap_long=0.0,
            swap_short=0.0, sessions=ALL_WEEK,
        )

    eurusd = fx("EURUSD", "EUR", "USD", 5, 1.1, 10, 5, SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC)
    usdjpy = fx("USDJPY", "USD", "JPY", 3, 150.0, 0, 0, SYMBOL_FILLING_IOC)
    us500 = SymbolSpec(
        name="US500", description="US 500 index CFD", path="Indices\\US500", category="Indices",
        currency_base="USD", currency_profit="USD", currency_margin="USD", digits=1,
        trade_tick_size=0.1, trade_contract_size=1.0, volume_min=0.1, volume_max=50.0,
        volume_step=0.1, volume_limit=0.0, trade_stops_level=0, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, expiration_mode=_ALL_EXPIRATIONS,
        order_mode=_ALL_ORDERS, trade_mode=SYMBOL_TRADE_MODE_FULL,
        trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET, trade_calc_mode=SYMBOL_CALC_MODE_CFDINDEX,
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=0.05, swap_long=0.0,
        swap_short=0.0, sessions=ALL_WEEK,
    )
    xauusd = SymbolSpec(
        name="XAUUSD", description="Gold vs US Dollar", path="Metals\\XAUUSD", category="Metals",
        currency_base="XAU", currency_profit="USD", currency_margin="USD", digits=2,
        trade_tick_size=0.01, trade_contract_size=100.0, volume_min=0.01, volume_max=50.0,
        volume_step=0.01, volume_limit=0.0, trade_stops_level=0, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC, expiration_mode=_ALL_EXPIRATIONS,
        order_mode=_ALL_ORDERS, trade_mode=SYMBOL_TRADE_MODE_FULL,
        trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=SYMBOL_CALC_MODE_CFDLEVERAGE, margin_initial=0.0,
        margin_maintenance=0.0, margin_rate=1.0, swap_long=0.0, swap_short=0.0,
        sessions=ALL_WEEK,
    )
    return [eurusd, usdjpy, us500, xauusd]


@dataclass(slots=True)
class ManualClock:
    """A server clock for tests: ``clock()`` returns ``now_ms``, which only the test moves."""

    now_ms: int

    def __call__(self) -> int:
        """The current server time in epoch milliseconds."""
        return self.now_ms

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` and return the new time."""
        self.now_ms += ms
        return self.now_ms


@dataclass(slots=True)
class _Series:
    """The ticks of one symbol, oldest first, with their times for bisection."""

    times: list[int] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)


class ScriptedMarket:
    """Prices set by the test, one tick at a time; implements ``MarketView``."""

    def __init__(self, specs: Sequence[SymbolSpec]) -> None:
        self._specs: dict[str, SymbolSpec] = {}
        for spec in specs:
            self._specs[spec.name] = spec
        self._series: dict[str, _Series] = {name: _Series() for name in self._specs}
        self._trading: dict[str, bool] = {}

    def _known(self, symbol: str) -> str:
        if symbol not in self._specs:
            raise EmulatorError(ErrorCode.NOT_FOUND, f"symbol not found: {symbol}")
        return symbol

    def set_price(self, symbol: str, bid: float, ask: float, time_msc: int) -> Tick:
        """Append a quote at ``time_msc`` (not older than the symbol's last tick) and return it.

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol, ``INVALID_PARAMS`` for a tick
                older than the last one or an ask below the bid.
        """
        series = self._series[self._known(symbol)]
        if series.times and time_msc < series.times[-1]:
            raise EmulatorError(ErrorCode.INVALID_PARAMS,
                                f"time_msc: {time_msc} is older than the last {symbol} tick")
        if ask < bid:
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "ask: below bid")
        tick = Tick(time_msc=time_msc, bid=bid, ask=ask, last=0.0, volume=0,
                    flags=TICK_FLAG_BID | TICK_FLAG_ASK, volume_real=0.0)
        series.times.append(time_msc)
        series.ticks.append(tick)
        return tick

    def set_spec(self, spec: SymbolSpec) -> None:
        """Replace a known symbol's specification (e.g. switch its trade mode mid-test)."""
        self._known(spec.name)
        self._specs[spec.name] = spec

    def set_trading(self, symbol: str, trading: bool | None) -> None:
        """Force the symbol open (True) or closed (False); None goes back to its sessions."""
        self._known(symbol)
        if trading is None:
            self._trading.pop(symbol, None)
        else:
            self._trading[symbol] = trading

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's specification; ``NOT_FOUND`` for an unknown symbol."""
        return self._specs[self._known(symbol)]

    def specs(self) -> Sequence[SymbolSpec]:
        """Every symbol, in construction order."""
        return list(self._specs.values())

    def tick_at(self, symbol: str, time_msc: int) -> Tick | None:
        """The last tick at or before ``time_msc``, or None."""
        series = self._series[self._known(symbol)]
        index = bisect.bisect_right(series.times, time_msc)
        return series.ticks[index - 1] if index else None

    def ticks_between(self, symbol: str, after_msc: int, until_msc: int) -> list[Tick]:
        """Every tick with ``after_msc < time_msc <= until_msc``, oldest first."""
        series = self._series[self._known(symbol)]
        start = bisect.bisect_right(series.times, after_msc)
        stop = bisect.bisect_right(series.times, until_msc)
        return series.ticks[start:stop]

    def is_trading(self, symbol: str, time_msc: int) -> bool:
        """The override from :meth:`set_trading`, else whether a session covers ``time_msc``."""
        override = self._trading.get(self._known(symbol))
        if override is not None:
            return override
        days, rest = divmod(time_msc, _MS_PER_DAY)
        weekday = (days + _EPOCH_WEEKDAY) % 7
        minute = rest // 60_000
        return any(s.weekday == weekday and s.start_minute <= minute < s.end_minute
                   for s in self._specs[symbol].sessions)
