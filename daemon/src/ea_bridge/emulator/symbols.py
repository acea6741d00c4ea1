"""The catalogue of symbols the emulated broker offers.

The specifications copy what a typical retail MT5 ECN broker publishes (contract sizes, digits,
volume limits, sessions in server time, swaps in points), because EAs and the gateway make
decisions from them: lot rounding, stop distances, filling-mode choice, margin currency
conversion. A catalogue that looks like a real broker's exercises the same code paths.

Deliberate variety, so clients meet the cases real brokers produce:

* FX majors and a cross trade Monday 00:00 to Friday 23:55; metals, energies and the index have a
  daily break (and the index a second, intraday pause); crypto trades around the clock.
* ``USDJPY``/``EURJPY`` quote with 3 digits and profit in JPY, so the tick value needs conversion.
* ``USOIL`` allows only IOC filling (not FOK), as many CFD brokers do, so clients that hard-code
  ``ORDER_FILLING_FOK`` get ``TRADE_RETCODE_INVALID_FILL`` there.
* ``US500`` has a non-zero freeze level.

Every symbol trades with ``SYMBOL_TRADE_MODE_FULL``; tests that need restricted modes build their
own :class:`SymbolSpec` with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mt5model.types import (
    SYMBOL_CALC_MODE_CFDINDEX,
    SYMBOL_CALC_MODE_CFDLEVERAGE,
    SYMBOL_CALC_MODE_EXCH_STOCKS,
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
    SYMBOL_TRADE_EXECUTION_EXCHANGE,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_MODE_FULL,
    EmulatorError,
    ErrorCode,
    SymbolSpec,
    TradingSession,
)

__all__ = [
    "ALL_EXPIRATIONS",
    "ALL_ORDERS",
    "SimulatedSymbol",
    "default_symbols",
    "sessions",
    "symbol_by_name",
]

@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedSymbol(SymbolSpec):
    """A symbol of the emulated market: its MT5 specification plus the knobs of its simulated
    price path, which ``symbol_info`` never reports."""

    sim_start_price: float
    #: Standard deviation of the log price over one day (0.006 = 0.6 % a day).
    sim_daily_volatility: float
    #: Typical spread in points; the simulated spread floats around it.
    sim_spread_points: int
    #: Exchange-style quotes: some ticks are trades (``last``, ``volume``, TICK_FLAG_LAST |
    #: VOLUME | BUY/SELL), so ``COPY_TICKS_TRADE`` is not empty (CFD quotes carry none).
    sim_trade_ticks: bool = False


#: Every SYMBOL_EXPIRATION_* bit: GTC, DAY, SPECIFIED, SPECIFIED_DAY.
ALL_EXPIRATIONS = (
    SYMBOL_EXPIRATION_GTC
    | SYMBOL_EXPIRATION_DAY
    | SYMBOL_EXPIRATION_SPECIFIED
    | SYMBOL_EXPIRATION_SPECIFIED_DAY
)
#: Every SYMBOL_ORDER_* bit: market, limit, stop, stop-limit, SL, TP, close-by.
ALL_ORDERS = (
    SYMBOL_ORDER_MARKET
    | SYMBOL_ORDER_LIMIT
    | SYMBOL_ORDER_STOP
    | SYMBOL_ORDER_STOP_LIMIT
    | SYMBOL_ORDER_SL
    | SYMBOL_ORDER_TP
    | SYMBOL_ORDER_CLOSEBY
)

_MON_FRI = range(5)
_EVERY_DAY = range(7)


def _hm(text: str) -> int:
    """Minutes from midnight of ``"HH:MM"`` (``"24:00"`` allowed as the end of a day)."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def sessions(
    weekdays: Iterable[int],
    *windows: tuple[str, str],
    last_day_end: str | None = None,
) -> tuple[TradingSession, ...]:
    """Build per-weekday :class:`TradingSession` entries from ``("HH:MM", "HH:MM")`` windows.

    Args:
        weekdays: Days the windows repeat on (0 = Monday).
        windows: Trading windows of one day, end exclusive; ``"24:00"`` ends at midnight.
        last_day_end: If given, the last window of the last weekday ends there instead (the
            Friday close of FX, e.g. ``"23:55"``).

    Returns:
        The sessions, ordered by weekday then start.
    """
    days = sorted(weekdays)
    result: list[TradingSession] = []
    for day in days:
        for index, (start, end) in enumerate(windows):
            end_minute = _hm(end)
            if last_day_end is not None and day == days[-1] and index == len(windows) - 1:
                end_minute = _hm(last_day_end)
            result.append(TradingSession(day, _hm(start), end_minute))
    return tuple(result)


_FX_SESSIONS = sessions(_MON_FRI, ("00:00", "24:00"), last_day_end="23:55")
# Metals and energies pause daily around the New York close (23:55-01:05 server time at GMT+2).
_METAL_SESSIONS = sessions(_MON_FRI, ("01:05", "23:55"))
# CME equity index futures: daily maintenance break plus the 15-minute halt at 23:15.
_INDEX_SESSIONS = sessions(_MON_FRI, ("01:05", "23:15"), ("23:30", "23:55"))
_CRYPTO_SESSIONS = sessions(_EVERY_DAY, ("00:00", "24:00"))
# NASDAQ's regular session, 09:30-16:00 New York, in server time at GMT+2.
_NASDAQ_SESSIONS = sessions(_MON_FRI, ("16:30", "23:00"))


def _forex(
    name: str,
    description: str,
    group: str,
    *,
    digits: int,
    start: float,
    volatility: float,
    spread: int,
    stops_level: int,
    swap_long: float,
    swap_short: float,
) -> SimulatedSymbol:
    base, profit = name[:3], name[3:]
    return SimulatedSymbol(
        name=name,
        description=description,
        path=f"Forex\\{group}\\{name}",
        category="Forex",
        currency_base=base,
        currency_profit=profit,
        currency_margin=base,
        digits=digits,
        trade_tick_size=round(10.0**-digits, digits),
        trade_contract_size=100_000.0,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        volume_limit=0.0,
        trade_stops_level=stops_level,
        trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS,
        order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL,
        trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=SYMBOL_CALC_MODE_FOREX,
        margin_initial=0.0,
        margin_maintenance=0.0,
        margin_rate=1.0,
        swap_long=swap_long,
        swap_short=swap_short,
        sessions=_FX_SESSIONS,
        sim_start_price=start,
        sim_daily_volatility=volatility,
        sim_spread_points=spread,
    )


def default_symbols() -> tuple[SimulatedSymbol, ...]:
    """The emulated broker's catalogue: 11 symbols in 6 categories, in Market Watch order.

    Returns:
        FX majors (EURUSD, GBPUSD, USDCHF, AUDUSD, USDJPY), an FX cross (EURJPY), gold
        (XAUUSD), an energy (USOIL), an index (US500), crypto (BTCUSD) and an exchange
        stock with trade ticks (AAPL: ``last``, ``volume``, non-empty COPY_TICKS_TRADE).
    """
    fx = (
        _forex("EURUSD", "Euro vs US Dollar", "Majors", digits=5, start=1.08500,
               volatility=0.0050, spread=10, stops_level=5, swap_long=-7.5, swap_short=2.1),
        _forex("GBPUSD", "Great Britain Pound vs US Dollar", "Majors", digits=5, start=1.27000,
               volatility=0.0060, spread=14, stops_level=5, swap_long=-3.2, swap_short=-1.1),
        _forex("USDCHF", "US Dollar vs Swiss Franc", "Majors", digits=5, start=0.88000,
               volatility=0.0055, spread=15, stops_level=5, swap_long=4.5, swap_short=-10.2),
        _forex("AUDUSD", "Australian Dollar vs US Dollar", "Majors", digits=5, start=0.66000,
               volatility=0.0070, spread=12, stops_level=5, swap_long=-3.8, swap_short=-0.6),
        _forex("USDJPY", "US Dollar vs Japanese Yen", "Majors", digits=3, start=150.000,
               volatility=0.0060, spread=12, stops_level=5, swap_long=11.5, swap_short=-24.0),
        _forex("EURJPY", "Euro vs Japanese Yen", "Crosses", digits=3, start=162.750,
               volatility=0.0065, spread=20, stops_level=10, swap_long=6.1, swap_short=-16.0),
    )
    gold = SimulatedSymbol(
        name="XAUUSD", description="Gold vs US Dollar", path="Metals\\XAUUSD",
        category="Metals", currency_base="XAU", currency_profit="USD", currency_margin="USD",
        digits=2, trade_tick_size=0.01, trade_contract_size=100.0,
        volume_min=0.01, volume_max=50.0, volume_step=0.01, volume_limit=0.0,
        trade_stops_level=20, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS, order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL, trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        # Margin = notional in USD * margin_rate / account leverage, like "CFD Leverage" brokers.
        trade_calc_mode=SYMBOL_CALC_MODE_CFDLEVERAGE,
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=1.0,
        swap_long=-45.0, swap_short=22.0, sessions=_METAL_SESSIONS,
        sim_start_price=3300.00, sim_daily_volatility=0.011, sim_spread_points=25,
    )
    oil = SimulatedSymbol(
        name="USOIL", description="WTI Crude Oil (cash)", path="Energies\\USOIL",
        category="Energies", currency_base="USD", currency_profit="USD", currency_margin="USD",
        digits=2, trade_tick_size=0.01, trade_contract_size=1000.0,
        volume_min=0.01, volume_max=50.0, volume_step=0.01, volume_limit=0.0,
        trade_stops_level=20, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS, order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL, trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=SYMBOL_CALC_MODE_CFDLEVERAGE,
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=1.0,
        swap_long=-10.0, swap_short=-5.0, sessions=_METAL_SESSIONS,
        sim_start_price=70.00, sim_daily_volatility=0.020, sim_spread_points=4,
    )
    index = SimulatedSymbol(
        name="US500", description="US 500 Cash Index", path="Indices\\US500",
        category="Indices", currency_base="USD", currency_profit="USD", currency_margin="USD",
        digits=2, trade_tick_size=0.01, trade_contract_size=1.0,
        volume_min=0.1, volume_max=250.0, volume_step=0.1, volume_limit=0.0,
        trade_stops_level=100, trade_freeze_level=50,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS, order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL, trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=SYMBOL_CALC_MODE_CFDINDEX,
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=1.0,
        swap_long=-80.0, swap_short=-30.0, sessions=_INDEX_SESSIONS,
        sim_start_price=6000.00, sim_daily_volatility=0.010, sim_spread_points=50,
    )
    crypto = SimulatedSymbol(
        name="BTCUSD", description="Bitcoin vs US Dollar", path="Crypto\\BTCUSD",
        category="Crypto", currency_base="BTC", currency_profit="USD", currency_margin="USD",
        digits=2, trade_tick_size=0.01, trade_contract_size=1.0,
        volume_min=0.01, volume_max=10.0, volume_step=0.01, volume_limit=0.0,
        trade_stops_level=0, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS, order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL, trade_exemode=SYMBOL_TRADE_EXECUTION_MARKET,
        trade_calc_mode=SYMBOL_CALC_MODE_CFDLEVERAGE,
        # Crypto CFDs carry five times the FX margin at the same account leverage.
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=5.0,
        swap_long=-2500.0, swap_short=-1200.0, sessions=_CRYPTO_SESSIONS,
        sim_start_price=95000.00, sim_daily_volatility=0.028, sim_spread_points=2500,
    )
    stock = SimulatedSymbol(
        name="AAPL", description="Apple Inc.", path="Stocks\\NASDAQ\\AAPL",
        category="Stocks", currency_base="USD", currency_profit="USD", currency_margin="USD",
        digits=2, trade_tick_size=0.01, trade_contract_size=1.0,
        volume_min=1.0, volume_max=10_000.0, volume_step=1.0, volume_limit=0.0,
        trade_stops_level=0, trade_freeze_level=0,
        filling_mode=SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
        expiration_mode=ALL_EXPIRATIONS, order_mode=ALL_ORDERS,
        trade_mode=SYMBOL_TRADE_MODE_FULL, trade_exemode=SYMBOL_TRADE_EXECUTION_EXCHANGE,
        # Exchange stocks: margin is the full notional (margin_rate 1, no leverage).
        trade_calc_mode=SYMBOL_CALC_MODE_EXCH_STOCKS,
        margin_initial=0.0, margin_maintenance=0.0, margin_rate=1.0,
        swap_long=0.0, swap_short=0.0, sessions=_NASDAQ_SESSIONS,
        sim_start_price=230.00, sim_daily_volatility=0.015, sim_spread_points=2,
        sim_trade_ticks=True,
    )
    return (*fx, gold, oil, index, crypto, stock)


def symbol_by_name(specs: Sequence[SimulatedSymbol], name: str) -> SimulatedSymbol:
    """The spec called ``name`` in ``specs``.

    Raises:
        EmulatorError: ``NOT_FOUND`` when no spec has that name.
    """
    for spec in specs:
        if spec.name == name:
            return spec
    raise EmulatorError(ErrorCode.NOT_FOUND, f"unknown symbol {name!r}")
