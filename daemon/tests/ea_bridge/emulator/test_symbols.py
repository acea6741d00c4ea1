"""Tests of the emulated broker's symbol catalogue."""

from __future__ import annotations

import math

import pytest

from ea_bridge.emulator.symbols import default_symbols, sessions, symbol_by_name
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from mt5model.types import (
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_EXPIRATION_GTC,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    SYMBOL_ORDER_MARKET,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_MODE_FULL,
    EmulatorError,
    ErrorCode,
    SymbolSpec,
    TradingSession,
)

SPECS = default_symbols()
#: A Wednesday, 14:00 UTC: every FX market open.
WEDNESDAY_MS = 1_795_010_400_000
FX = ("EURUSD", "GBPUSD", "USDCHF", "AUDUSD", "USDJPY", "EURJPY")


def _open_minutes(spec: SymbolSpec, weekday: int) -> set[int]:
    return {
        minute
        for session in spec.sessions
        if session.weekday == weekday
        for minute in range(session.start_minute, session.end_minute)
    }


def _is_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)


def test_catalogue_has_enough_symbols_across_categories() -> None:
    """The catalogue offers at least 8 uniquely named symbols in at least 4 categories."""
    names = [spec.name for spec in SPECS]
    assert len(names) >= 8
    assert len(set(names)) == len(names)
    assert len({spec.category for spec in SPECS}) >= 4
    assert {"EURUSD", "USDJPY", "XAUUSD", "US500", "BTCUSD"} <= set(names)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_volume_and_price_steps_are_consistent(spec: SymbolSpec) -> None:
    """Volume limits are ordered multiples of the step, and point/tick size match the digits."""
    assert 0 < spec.volume_step <= spec.volume_min < spec.volume_max
    assert _is_multiple(spec.volume_min, spec.volume_step)
    assert _is_multiple(spec.volume_max, spec.volume_step)
    assert spec.point == pytest.approx(10.0**-spec.digits)
    assert spec.trade_tick_size >= spec.point and _is_multiple(spec.trade_tick_size, spec.point)
    assert spec.trade_contract_size > 0
    assert round(spec.sim_start_price, spec.digits) == spec.sim_start_price > 0
    assert spec.sim_spread_points >= 1 and 0 < spec.sim_daily_volatility < 0.1


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_trading_modes_are_valid_masks(spec: SymbolSpec) -> None:
    """Every symbol trades fully, with a non-empty FOK/IOC filling mask and usual order types."""
    assert spec.trade_mode == SYMBOL_TRADE_MODE_FULL
    assert spec.filling_mode and not spec.filling_mode & ~(SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC)
    assert spec.expiration_mode & SYMBOL_EXPIRATION_GTC
    assert spec.order_mode & SYMBOL_ORDER_MARKET
    assert 0 <= spec.trade_freeze_level <= spec.trade_stops_level


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_sessions_are_well_formed(spec: SymbolSpec) -> None:
    """Sessions lie within one day, are non-empty and never overlap on the same weekday."""
    assert spec.sessions
    for session in spec.sessions:
        assert 0 <= session.weekday < 7
        assert 0 <= session.start_minute < session.end_minute <= 1440
    for weekday in range(7):
        windows = sorted(
            (s.start_minute, s.end_minute) for s in spec.sessions if s.weekday == weekday
        )
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            assert end <= start


@pytest.mark.parametrize("name", FX)
def test_fx_trades_monday_midnight_to_friday_2355(name: str) -> None:
    """FX trades from Monday 00:00 to Friday 23:55 and not at all on the weekend."""
    spec = symbol_by_name(SPECS, name)
    assert spec.trade_calc_mode == SYMBOL_CALC_MODE_FOREX
    assert spec.trade_contract_size == 100_000
    assert spec.filling_mode == SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC
    for weekday in range(4):
        assert _open_minutes(spec, weekday) == set(range(1440))
    assert _open_minutes(spec, 4) == set(range(23 * 60 + 55))
    assert not _open_minutes(spec, 5) and not _open_minutes(spec, 6)


def test_digits_of_jpy_pairs_and_majors() -> None:
    """JPY pairs quote with 3 digits, other FX pairs with 5."""
    for name in FX:
        assert symbol_by_name(SPECS, name).digits == (3 if name.endswith("JPY") else 5)


def test_crypto_trades_every_minute_of_the_week() -> None:
    """BTCUSD trades 24/7."""
    spec = symbol_by_name(SPECS, "BTCUSD")
    for weekday in range(7):
        assert _open_minutes(spec, weekday) == set(range(1440))


@pytest.mark.parametrize("name", ["XAUUSD", "US500"])
def test_gold_and_index_have_a_daily_break(name: str) -> None:
    """Gold and the index close every trading day around midnight and on the weekend."""
    spec = symbol_by_name(SPECS, name)
    for weekday in range(5):
        minutes = _open_minutes(spec, weekday)
        assert 60 * 12 in minutes
        assert 0 not in minutes and 1439 not in minutes
    assert not _open_minutes(spec, 5) and not _open_minutes(spec, 6)


def test_index_pauses_inside_the_day() -> None:
    """US500 has a 15-minute halt at 23:15 on top of its overnight break."""
    minutes = _open_minutes(symbol_by_name(SPECS, "US500"), 2)
    assert 23 * 60 + 14 in minutes and 23 * 60 + 30 in minutes
    assert not minutes & set(range(23 * 60 + 15, 23 * 60 + 30))


@pytest.mark.parametrize(
    ("name", "base", "profit", "margin"),
    [
        ("EURUSD", "EUR", "USD", "EUR"),
        ("USDJPY", "USD", "JPY", "USD"),
        ("EURJPY", "EUR", "JPY", "EUR"),
        ("XAUUSD", "XAU", "USD", "USD"),
        ("US500", "USD", "USD", "USD"),
        ("BTCUSD", "BTC", "USD", "USD"),
    ],
)
def test_currencies(name: str, base: str, profit: str, margin: str) -> None:
    """Base, profit and margin currencies follow the instrument."""
    spec = symbol_by_name(SPECS, name)
    assert (spec.currency_base, spec.currency_profit, spec.currency_margin) == (
        base,
        profit,
        margin,
    )


def test_symbol_by_name_unknown_raises_not_found() -> None:
    """Looking up a symbol that is not in the catalogue raises NOT_FOUND naming it."""
    assert symbol_by_name(SPECS, "GBPUSD").name == "GBPUSD"
    with pytest.raises(EmulatorError) as caught:
        symbol_by_name(SPECS, "XYZ")
    assert caught.value.code == ErrorCode.NOT_FOUND
    assert "'XYZ'" in caught.value.message


def test_sessions_helper_shortens_only_the_last_day() -> None:
    """``sessions`` repeats windows per weekday and moves only the last day's final end."""
    built = sessions(range(3), ("01:00", "12:00"), ("13:00", "24:00"), last_day_end="22:00")
    assert built == (
        TradingSession(0, 60, 720), TradingSession(0, 780, 1440),
        TradingSession(1, 60, 720), TradingSession(1, 780, 1440),
        TradingSession(2, 60, 720), TradingSession(2, 780, 1320),
    )


def test_a_broker_can_execute_a_symbol_otherwise_than_the_catalogue() -> None:
    """``EmulatorSettings.execution`` puts a symbol in Instant (or Request) execution:
    ``symbol_info`` says so and the broker wants a market order's price (10015 without one);
    a symbol the terminal does not offer is refused by name."""
    token = "mtgw_" + "c" * 38
    terminal = EmulatedTerminal(token, settings=EmulatorSettings(
        symbols=("EURUSD", "USDJPY", "BTCUSD"),
        execution={"eurusd": SYMBOL_TRADE_EXECUTION_INSTANT}), utc_clock_ms=lambda: WEDNESDAY_MS)
    assert terminal.market.symbol_info("EURUSD")["trade_exemode"] == \
        SYMBOL_TRADE_EXECUTION_INSTANT
    assert terminal.market.symbol_info("BTCUSD")["trade_exemode"] == \
        SYMBOL_TRADE_EXECUTION_MARKET
    unpriced = {"action": 1, "symbol": "BTCUSD", "type": 0, "volume": 0.01}
    assert terminal.broker.order_check(unpriced)["retcode"] == 0
    assert terminal.broker.order_check({**unpriced, "symbol": "EURUSD"})["retcode"] == 10015
    with pytest.raises(ValueError, match="GBPUSD"):
        EmulatedTerminal(token, settings=EmulatorSettings(
            symbols=("EURUSD",), execution={"GBPUSD": SYMBOL_TRADE_EXECUTION_INSTANT}))
