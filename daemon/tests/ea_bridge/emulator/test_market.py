"""Tests of the simulated market: determinism, tick/bar consistency, MT5 copy semantics."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ea_bridge.emulator.market import Market
from ea_bridge.emulator.symbols import default_symbols, symbol_by_name
from mt5model.mt5 import CopyTicks, Timeframe
from mt5model.types import (
    RATE_COLUMNS,
    TICK_COLUMNS,
    TICK_FLAG_ASK,
    TICK_FLAG_BID,
    TICK_FLAG_LAST,
    TICK_FLAG_VOLUME,
    EmulatorError,
    ErrorCode,
)

SPECS = default_symbols()
# Wednesday 2026-11-18 14:30:17.250 and Saturday 2026-11-21 12:00 server time.
WEDNESDAY_MS = int(datetime(2026, 11, 18, 14, 30, 17, 250_000, tzinfo=UTC).timestamp() * 1000)
SATURDAY_MS = int(datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp() * 1000)
FRIDAY_CLOSE_S = int(datetime(2026, 11, 20, 23, 55, tzinfo=UTC).timestamp())
NOW_S = WEDNESDAY_MS // 1000
M1, H1, D1 = int(Timeframe.M1), int(Timeframe.H1), int(Timeframe.D1)
ALL = int(CopyTicks.ALL)
# Row indices.
TIME, OPEN, HIGH, LOW, CLOSE, VOL, SPREAD = range(7)
BID, ASK, TIME_MSC, FLAGS = 1, 2, 5, 6

#: Every SymbolInfo field of the MetaTrader5 package (shared/reference/mt5.md section 2).
SYMBOL_INFO_FIELDS = """
custom chart_mode select visible session_deals session_buy_orders session_sell_orders volume
volumehigh volumelow time digits spread spread_float ticks_bookdepth trade_calc_mode trade_mode
start_time expiration_time trade_stops_level trade_freeze_level trade_exemode swap_mode
swap_rollover3days margin_hedged_use_leg expiration_mode filling_mode order_mode order_gtc_mode
option_mode option_right bid bidhigh bidlow ask askhigh asklow last lasthigh lastlow volume_real
volumehigh_real volumelow_real option_strike point trade_tick_value trade_tick_value_profit
trade_tick_value_loss trade_tick_size trade_contract_size trade_accrued_interest
trade_face_value trade_liquidity_rate volume_min volume_max volume_step volume_limit swap_long
swap_short margin_initial margin_maintenance session_volume session_turnover session_interest
session_buy_orders_volume session_sell_orders_volume session_open session_close session_aw
session_price_settlement session_price_limit_min session_price_limit_max margin_hedged
price_change price_volatility price_theoretical price_greeks_delta price_greeks_theta
price_greeks_gamma price_greeks_vega price_greeks_rho price_greeks_omega price_sensitivity basis
category currency_base currency_profit currency_margin bank description exchange formula isin
name page path
""".split()


class Clock:
    """A server clock that moves only when a test moves it."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def make_market(
    now_ms: int = WEDNESDAY_MS,
    *,
    seed: int = 11,
    tick_rate_hz: float = 2.0,
    history_days: int = 40,
    max_rows: int = 100_000,
    specs: Sequence[Any] = SPECS,
) -> tuple[Market, Clock]:
    clock = Clock(now_ms)
    market = Market(specs, seed=seed, tick_rate_hz=tick_rate_hz, clock=clock,
                    history_days=history_days, max_rows=max_rows)
    return market, clock


def aggregate(rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """(open, high, low, close, tick_volume, spread) of rate rows, as a higher timeframe does."""
    return (
        rows[0][OPEN],
        max(r[HIGH] for r in rows),
        min(r[LOW] for r in rows),
        rows[-1][CLOSE],
        sum(r[VOL] for r in rows),
        min(r[SPREAD] for r in rows),
    )


def ticks_as_bar(rows: Sequence[Sequence[Any]], point: float) -> tuple[Any, ...]:
    """(open, high, low, close, count, min spread) of tick rows (bid prices)."""
    bids = [r[BID] for r in rows]
    return (
        bids[0], max(bids), min(bids), bids[-1], len(rows),
        min(round((r[ASK] - r[BID]) / point) for r in rows),
    )


def group_rows(rows: Sequence[Sequence[Any]], key: Callable[[int], int]) -> dict[int, list[Any]]:
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[key(row[TIME])].append(row)
    return groups


def expect_invalid(call: Callable[[], object], param: str) -> None:
    with pytest.raises(EmulatorError) as caught:
        call()
    assert caught.value.code == ErrorCode.INVALID_PARAMS
    assert caught.value.message.startswith(f"{param}:"), caught.value.message


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_same_prices_other_seed_different() -> None:
    """Two markets with one seed produce identical ticks and bars; another seed differs."""
    first, _ = make_market(seed=5)
    second, _ = make_market(seed=5)
    other, _ = make_market(seed=6)
    window = (WEDNESDAY_MS - 300_000, WEDNESDAY_MS)
    assert first.ticks_between("EURUSD", *window) == second.ticks_between("EURUSD", *window)
    assert first.copy_rates_from_pos("XAUUSD", H1, 0, 50) == second.copy_rates_from_pos(
        "XAUUSD", H1, 0, 50
    )
    assert first.ticks_between("EURUSD", *window) != other.ticks_between("EURUSD", *window)
    assert first.copy_rates_from_pos("XAUUSD", H1, 0, 50)["rows"] != other.copy_rates_from_pos(
        "XAUUSD", H1, 0, 50
    )["rows"]


def test_query_order_does_not_matter() -> None:
    """Asking for bars before ticks or ticks before bars gives the same answers."""
    bars_first, _ = make_market()
    ticks_first, _ = make_market()
    start = NOW_S - 3 * 3600
    d1_a = bars_first.copy_rates_from_pos("GBPUSD", D1, 0, 20)
    m1_a = bars_first.copy_rates_range("GBPUSD", M1, start, NOW_S)
    ticks_a = bars_first.copy_ticks_range("GBPUSD", NOW_S - 120, NOW_S, ALL)
    ticks_b = ticks_first.copy_ticks_range("GBPUSD", NOW_S - 120, NOW_S, ALL)
    m1_b = ticks_first.copy_rates_range("GBPUSD", M1, start, NOW_S)
    d1_b = ticks_first.copy_rates_from_pos("GBPUSD", D1, 0, 20)
    assert (d1_a, m1_a, ticks_a) == (d1_b, m1_b, ticks_b)
    assert len(ticks_a["rows"]) > 0 and len(d1_a["rows"]) > 10


def test_symbols_do_not_share_a_path() -> None:
    """Each symbol has its own walk, around its own start price."""
    market, _ = make_market()
    closes = {
        spec.name: market.copy_rates_from_pos(spec.name, D1, 1, 1)["rows"][0][CLOSE]
        for spec in SPECS
    }
    for spec in SPECS:
        assert 0.5 * spec.sim_start_price < closes[spec.name] < 2 * spec.sim_start_price
    assert closes["EURUSD"] != closes["GBPUSD"]


# -- consistency of ticks and bars -------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["EURUSD", "USDJPY", "XAUUSD", "US500", "BTCUSD"])
def test_m1_bars_are_the_ticks_of_their_minute(symbol: str) -> None:
    """Each M1 bar (the forming one too) is open/high/low/close/count/min spread of its ticks."""
    market, _ = make_market()
    point = market.spec(symbol).point
    bars = market.copy_rates_range(symbol, M1, NOW_S - NOW_S % 60 - 20 * 60, NOW_S)["rows"]
    assert len(bars) == 21
    for bar in bars:
        ticks = market.copy_ticks_range(symbol, bar[TIME], bar[TIME] + 59.999, ALL)["rows"]
        assert ticks, bar
        assert ticks_as_bar(ticks, point) == tuple(bar[OPEN:SPREAD + 1])
        assert bar[7] == 0


def test_bars_match_ticks_with_very_few_ticks_per_minute() -> None:
    """With one to a few ticks a minute, bars still equal their ticks exactly."""
    market, _ = make_market(tick_rate_hz=0.04)
    point = market.spec("EURUSD").point
    minute = NOW_S - NOW_S % 60
    bars = market.copy_rates_range("EURUSD", M1, minute - 120 * 60, minute - 60)["rows"]
    assert len(bars) == 120
    assert min(bar[VOL] for bar in bars) == 1
    for bar in bars:
        ticks = market.copy_ticks_range("EURUSD", bar[TIME], bar[TIME] + 59.999, ALL)["rows"]
        assert ticks_as_bar(ticks, point) == tuple(bar[OPEN:SPREAD + 1])


@pytest.mark.parametrize(
    ("timeframe", "seconds"),
    [(Timeframe.M5, 300), (Timeframe.M15, 900), (Timeframe.H1, 3600), (Timeframe.H4, 14400),
     (Timeframe.D1, 86400)],
)
@pytest.mark.parametrize("symbol", ["EURUSD", "US500"])
def test_intraday_timeframes_aggregate_m1(symbol: str, timeframe: Timeframe, seconds: int) -> None:
    """M5 to D1 bars aggregate the M1 bars they contain, and open on their period boundary."""
    market, _ = make_market()
    start = (NOW_S // 86400 - 3) * 86400
    m1 = market.copy_rates_range(symbol, M1, start, NOW_S)["rows"]
    higher = market.copy_rates_range(symbol, int(timeframe), start, NOW_S)["rows"]
    groups = group_rows(m1, lambda t: t - t % seconds)
    assert [row[TIME] for row in higher] == sorted(groups)
    for row in higher:
        assert tuple(row[OPEN:SPREAD + 1]) == aggregate(groups[row[TIME]])


@pytest.mark.parametrize("symbol", ["EURUSD", "BTCUSD"])
def test_weekly_and_monthly_bars_aggregate_daily(symbol: str) -> None:
    """W1 bars open on Sunday and MN1 on the 1st, and both aggregate their D1 bars."""
    market, _ = make_market(history_days=70)
    daily = market.copy_rates_from_pos(symbol, D1, 0, 1000)["rows"]
    weekly = market.copy_rates_from_pos(symbol, int(Timeframe.W1), 0, 100)["rows"]
    monthly = market.copy_rates_from_pos(symbol, int(Timeframe.MN1), 0, 100)["rows"]

    def week(t: int) -> int:
        return t - (t // 86400 + 4) % 7 * 86400

    def month(t: int) -> int:
        day = datetime.fromtimestamp(t, UTC).replace(day=1)
        return int(day.timestamp())

    for rows, key in ((weekly, week), (monthly, month)):
        groups = group_rows(daily, key)
        assert [row[TIME] for row in rows] == sorted(groups)
        for row in rows:
            assert tuple(row[OPEN:SPREAD + 1]) == aggregate(groups[row[TIME]])
    assert all(datetime.fromtimestamp(r[TIME], UTC).weekday() == 6 for r in weekly)
    assert all(datetime.fromtimestamp(r[TIME], UTC).day == 1 for r in monthly)
    assert all(r[TIME] % 86400 == 0 for r in daily + weekly + monthly)


def test_consecutive_windows_concatenate_to_one_window() -> None:
    """Polling ticks_between as the clock advances yields exactly one big window's ticks."""
    market, clock = make_market(tick_rate_hz=10)
    start = clock.now_ms
    streamed = []
    last = start
    for step in range(400):
        clock.now_ms += 7 + (step * 37) % 450
        streamed.extend(market.ticks_between("USDJPY", last, clock.now_ms))
        if streamed:
            last = streamed[-1].time_msc
    whole = market.ticks_between("USDJPY", start, clock.now_ms)
    assert len(whole) > 500
    assert streamed == whole
    assert all(a.time_msc < b.time_msc for a, b in zip(whole, whole[1:], strict=False))


def test_copy_ticks_range_agrees_with_ticks_between() -> None:
    """copy_ticks_range(from, to) returns exactly ticks_between(from*1000 - 1, to*1000) as rows."""
    market, _ = make_market()
    low, high = NOW_S - 600, NOW_S - 5
    rows = market.copy_ticks_range("XAUUSD", low, high, ALL)
    ticks = market.ticks_between("XAUUSD", low * 1000 - 1, high * 1000)
    assert rows["columns"] == list(TICK_COLUMNS)
    assert rows["rows"] == [tick.as_row() for tick in ticks]
    assert rows["truncated"] is False
    assert low * 1000 <= rows["rows"][0][TIME_MSC] and rows["rows"][-1][TIME_MSC] <= high * 1000


def test_copy_ticks_from_returns_the_first_count_ticks() -> None:
    """copy_ticks_from gives the first `count` ticks at or after date_from, oldest first."""
    market, _ = make_market()
    since = NOW_S - 900
    rows = market.copy_ticks_from("AUDUSD", since, 25, ALL)["rows"]
    expected = market.ticks_between("AUDUSD", since * 1000 - 1, WEDNESDAY_MS)[:25]
    assert rows == [tick.as_row() for tick in expected]
    assert len(rows) == 25 and rows[0][TIME_MSC] >= since * 1000
    assert market.copy_ticks_from("AUDUSD", since, 0, ALL)["rows"] == []


def test_tick_at_is_the_last_tick_not_after_the_time() -> None:
    """tick_at returns the newest tick at or before the time, also across minute boundaries."""
    market, _ = make_market()
    ticks = market.ticks_between("EURUSD", WEDNESDAY_MS - 180_000, WEDNESDAY_MS)
    for tick in ticks[::7]:
        assert market.tick_at("EURUSD", tick.time_msc) == tick
        earlier = market.tick_at("EURUSD", tick.time_msc - 1)
        assert earlier is not None and earlier.time_msc < tick.time_msc
    assert market.tick_at("EURUSD", WEDNESDAY_MS) == ticks[-1]
    assert market.symbol_info_tick("EURUSD") == ticks[-1].as_dict()


def test_tick_flags_info_and_trade() -> None:
    """Ticks flag bid/ask changes only: INFO returns all ticks, TRADE none (no last prices)."""
    market, _ = make_market()
    low, high = NOW_S - 300, NOW_S
    every = market.copy_ticks_range("BTCUSD", low, high, ALL)["rows"]
    assert market.copy_ticks_range("BTCUSD", low, high, int(CopyTicks.INFO))["rows"] == every
    assert market.copy_ticks_range("BTCUSD", low, high, int(CopyTicks.TRADE))["rows"] == []
    assert market.copy_ticks_from("BTCUSD", low, 10, int(CopyTicks.TRADE))["rows"] == []
    for previous, row in zip(every, every[1:], strict=False):
        assert row[FLAGS] and not row[FLAGS] & ~(TICK_FLAG_BID | TICK_FLAG_ASK)
        assert bool(row[FLAGS] & TICK_FLAG_BID) == (row[BID] != previous[BID])
        assert bool(row[FLAGS] & TICK_FLAG_ASK) == (row[ASK] != previous[ASK])
        assert row[3] == 0.0 and row[4] == 0 and row[7] == 0.0


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_prices_are_rounded_positive_and_ask_above_bid(spec: Any) -> None:
    """Every tick's prices are rounded to the digits, positive, with a spread of >= 1 point."""
    market, _ = make_market()
    rows = market.copy_ticks_range(spec.name, NOW_S - 3600, NOW_S, ALL)["rows"]
    if not rows:  # a symbol closed in that hour (AAPL trades 16:30-23:00): its last day
        rows = market.copy_ticks_range(spec.name, NOW_S - 86_400, NOW_S, ALL)["rows"]
    assert rows
    for row in rows:
        assert row[BID] > 0 and round(row[BID], spec.digits) == row[BID]
        assert round(row[ASK], spec.digits) == row[ASK]
        assert round((row[ASK] - row[BID]) / spec.point) >= 1
    spreads = [round((r[ASK] - r[BID]) / spec.point) for r in rows]
    assert spec.sim_spread_points / 3 < sorted(spreads)[len(spreads) // 2] < 3 * (
        spec.sim_spread_points + 1
    )


def test_log_walk_never_goes_negative() -> None:
    """A cheap, wildly volatile symbol keeps every bar low above zero."""
    wild = dataclasses.replace(
        symbol_by_name(SPECS, "EURUSD"), name="WILD", sim_start_price=0.002,
        sim_daily_volatility=0.3,
    )
    market, _ = make_market(specs=[wild], history_days=60)
    rows = market.copy_rates_from_pos("WILD", int(Timeframe.M30), 0, 3000)["rows"]
    assert len(rows) > 1000
    assert all(row[LOW] >= wild.point for row in rows)


# -- sessions and time -------------------------------------------------------------------------


def test_weekend_has_no_fx_data_but_crypto_trades() -> None:
    """On Saturday FX has no ticks or bars (last quote is Friday's close) while BTCUSD trades."""
    market, _ = make_market(SATURDAY_MS)
    saturday_s = SATURDAY_MS // 1000 - 12 * 3600
    assert not market.is_trading("EURUSD", SATURDAY_MS)
    assert market.is_trading("BTCUSD", SATURDAY_MS)
    assert market.copy_ticks_range("EURUSD", saturday_s, SATURDAY_MS // 1000, ALL)["rows"] == []
    assert market.copy_rates_range("EURUSD", M1, saturday_s, SATURDAY_MS // 1000)["rows"] == []
    assert market.copy_ticks_range("BTCUSD", saturday_s, SATURDAY_MS // 1000, ALL)["rows"]
    assert market.copy_rates_range("BTCUSD", H1, saturday_s, SATURDAY_MS // 1000)["rows"]
    last = market.symbol_info_tick("EURUSD")
    assert FRIDAY_CLOSE_S - 60 <= last["time"] < FRIDAY_CLOSE_S
    latest = market.copy_rates_from_pos("EURUSD", M1, 0, 1)["rows"][0]
    assert latest[TIME] == FRIDAY_CLOSE_S - 60
    daily = market.copy_rates_from_pos("EURUSD", D1, 0, 6)["rows"]
    assert [datetime.fromtimestamp(row[TIME], UTC).weekday() for row in daily] == [4, 0, 1, 2, 3, 4]


def test_index_session_pause_has_no_bars() -> None:
    """US500 has no M1 bars during its 23:15-23:30 halt or its overnight break."""
    market, _ = make_market(WEDNESDAY_MS + 86400_000)
    day = (NOW_S // 86400) * 86400
    rows = market.copy_rates_range("US500", M1, day + 23 * 3600, day + 86400 + 2 * 3600)["rows"]
    minutes = {(row[TIME] - day) // 60 for row in rows}
    assert 23 * 60 + 14 in minutes and 23 * 60 + 30 in minutes
    assert not minutes & set(range(23 * 60 + 15, 23 * 60 + 30))
    assert not minutes & set(range(23 * 60 + 55, 1440 + 65))
    assert 1440 + 65 in minutes
    assert not market.is_trading("US500", (day + 23 * 3600 + 20 * 60) * 1000)


def test_nothing_from_the_future() -> None:
    """No tick or bar after now is returned, though asked for; moving the clock reveals them."""
    market, clock = make_market()
    later = NOW_S + 3600
    assert market.ticks_between("EURUSD", WEDNESDAY_MS, WEDNESDAY_MS + 3_600_000) == []
    ticks = market.copy_ticks_range("EURUSD", NOW_S - 60, later, ALL)["rows"]
    assert ticks[-1][TIME_MSC] <= WEDNESDAY_MS
    assert market.copy_rates_range("EURUSD", M1, NOW_S - 60, later)["rows"][-1][TIME] <= NOW_S
    assert market.tick_at("EURUSD", WEDNESDAY_MS + 3_600_000) == market.tick_at(
        "EURUSD", WEDNESDAY_MS
    )
    clock.now_ms += 120_000
    assert market.ticks_between("EURUSD", WEDNESDAY_MS, WEDNESDAY_MS + 3_600_000)


def test_forming_bar_grows_with_the_clock() -> None:
    """Position 0 is the forming bar: built from the ticks so far, complete once time passes."""
    market, clock = make_market(tick_rate_hz=5)
    minute_start = NOW_S - NOW_S % 60
    forming = market.copy_rates_from_pos("EURUSD", M1, 0, 1)["rows"][0]
    so_far = market.copy_ticks_range("EURUSD", minute_start, NOW_S + 1, ALL)["rows"]
    assert forming[TIME] == minute_start and forming[VOL] == len(so_far)
    clock.now_ms = (minute_start + 90) * 1000
    complete = market.copy_rates_from_pos("EURUSD", M1, 1, 1)["rows"][0]
    assert complete[TIME] == minute_start and complete[VOL] > forming[VOL]
    assert complete[OPEN] == forming[OPEN]
    hour = market.copy_rates_from_pos("EURUSD", H1, 0, 1)["rows"][0]
    assert hour[TIME] == NOW_S - NOW_S % 3600


# -- copy_rates semantics ----------------------------------------------------------------------


def test_copy_rates_from_pos_counts_back_from_the_forming_bar() -> None:
    """from_pos returns `count` bars ending at bar start_pos, oldest first, with MT5 columns."""
    market, _ = make_market()
    answer = market.copy_rates_from_pos("EURUSD", M1, 0, 10)
    rows = answer["rows"]
    assert answer["columns"] == list(RATE_COLUMNS) and answer["truncated"] is False
    assert len(rows) == 10
    assert rows[-1][TIME] == NOW_S - NOW_S % 60
    assert [r[TIME] for r in rows] == [rows[-1][TIME] - 60 * i for i in range(9, -1, -1)]
    assert market.copy_rates_from_pos("EURUSD", M1, 3, 7)["rows"] == rows[:7]
    assert market.copy_rates_from_pos("EURUSD", M1, 0, 0)["rows"] == []


def test_copy_rates_from_ends_at_the_bar_open_at_or_before_date() -> None:
    """copy_rates_from returns `count` bars whose open time is <= date_from, the newest last."""
    market, _ = make_market()
    date_from = NOW_S - 2 * 3600 - 17
    rows = market.copy_rates_from("EURUSD", H1, date_from, 5)["rows"]
    assert len(rows) == 5
    assert rows[-1][TIME] == date_from - date_from % 3600
    assert all(b[TIME] - a[TIME] == 3600 for a, b in zip(rows, rows[1:], strict=False))
    exact = market.copy_rates_from("EURUSD", H1, rows[-1][TIME], 5)["rows"]
    assert exact == rows
    from_future = market.copy_rates_from("EURUSD", H1, NOW_S + 86400, 2)["rows"]
    assert from_future == market.copy_rates_from_pos("EURUSD", H1, 0, 2)["rows"]


def test_copy_rates_range_is_inclusive_at_both_ends() -> None:
    """copy_rates_range includes bars opening exactly at both ends; a reversed range is empty."""
    market, _ = make_market()
    low = NOW_S - NOW_S % 60 - 600
    rows = market.copy_rates_range("EURUSD", M1, low, low + 300)["rows"]
    assert [r[TIME] for r in rows] == [low + 60 * i for i in range(6)]
    assert market.copy_rates_range("EURUSD", M1, low + 1, low + 299)["rows"] == rows[1:5]
    assert market.copy_rates_range("EURUSD", M1, low + 300, low)["rows"] == []
    assert market.copy_ticks_range("EURUSD", low + 300, low, ALL)["rows"] == []


def test_float_seconds_are_accepted() -> None:
    """Times may be float seconds; they select the same data as the equivalent milliseconds."""
    market, _ = make_market()
    low = NOW_S - 100.5
    rows = market.copy_ticks_range("EURUSD", low, NOW_S - 0.25, ALL)["rows"]
    expected = market.ticks_between("EURUSD", int(low * 1000) - 1, NOW_S * 1000 - 250)
    assert rows == [tick.as_row() for tick in expected]
    assert market.copy_rates_from("EURUSD", M1, float(NOW_S), 3) == market.copy_rates_from(
        "EURUSD", M1, NOW_S, 3
    )


def test_truncated_when_max_rows_cuts_the_answer() -> None:
    """Answers longer than max_rows are cut to it and flagged; answers that fit are not."""
    market, _ = make_market(max_rows=50)
    cut = market.copy_rates_from_pos("EURUSD", M1, 0, 80)
    assert len(cut["rows"]) == 50 and cut["truncated"] is True
    assert cut["rows"] == market.copy_rates_from_pos("EURUSD", M1, 0, 50)["rows"]
    assert market.copy_rates_from_pos("EURUSD", M1, 0, 50)["truncated"] is False
    ranged = market.copy_rates_range("EURUSD", M1, NOW_S - 7200, NOW_S)
    assert len(ranged["rows"]) == 50 and ranged["truncated"] is True
    assert ranged["rows"][0][TIME] == NOW_S - 7200 - NOW_S % 60 + 60
    ticks = market.copy_ticks_range("EURUSD", NOW_S - 600, NOW_S, ALL)
    assert len(ticks["rows"]) == 50 and ticks["truncated"] is True
    many = market.copy_ticks_from("EURUSD", NOW_S - 600, 500, ALL)
    assert len(many["rows"]) == 50 and many["truncated"] is True
    assert market.copy_ticks_from("EURUSD", NOW_S - 600, 50, ALL)["truncated"] is False
    few = market.copy_ticks_range("EURUSD", NOW_S - 5, NOW_S, ALL)
    assert 0 < len(few["rows"]) < 50 and few["truncated"] is False


def test_history_starts_history_days_ago() -> None:
    """No bar or tick exists before today minus history_days."""
    market, _ = make_market(history_days=5)
    first_day = (NOW_S // 86400 - 5) * 86400
    daily = market.copy_rates_from_pos("BTCUSD", D1, 0, 100)["rows"]
    assert [r[TIME] for r in daily] == [first_day + 86400 * i for i in range(6)]
    assert market.copy_rates_range("BTCUSD", H1, 0, first_day - 1)["rows"] == []
    assert market.copy_ticks_range("BTCUSD", first_day - 3600, first_day - 1, ALL)["rows"] == []
    oldest = market.copy_ticks_from("BTCUSD", 0, 1, ALL)["rows"][0]
    assert first_day * 1000 <= oldest[TIME_MSC] < (first_day + 60) * 1000
    assert market.tick_at("BTCUSD", (first_day - 10) * 1000) is None


# -- symbols -----------------------------------------------------------------------------------


def test_symbol_info_has_every_mt5_field() -> None:
    """symbol_info carries every MT5 SymbolInfo field with the spec and the current quote."""
    market, _ = make_market()
    info = market.symbol_info("EURUSD")
    assert set(SYMBOL_INFO_FIELDS) <= set(info)
    tick = market.symbol_info_tick("EURUSD")
    assert (info["bid"], info["ask"], info["time"]) == (tick["bid"], tick["ask"], tick["time"])
    assert info["spread"] == round((tick["ask"] - tick["bid"]) / 1e-5)
    assert info["digits"] == 5 and info["point"] == 1e-5
    assert info["name"] == "EURUSD" and info["currency_margin"] == "EUR"
    assert info["bidlow"] <= info["bid"] <= info["bidhigh"]
    assert info["asklow"] <= info["askhigh"] and info["asklow"] > info["bidlow"]
    today = market.copy_rates_from_pos("EURUSD", D1, 0, 2)["rows"]
    assert (info["session_open"], info["bidhigh"], info["bidlow"]) == tuple(today[1][OPEN:LOW + 1])
    assert info["session_close"] == today[0][CLOSE]
    assert info["trade_tick_value"] == pytest.approx(1.0)
    assert info["select"] is True and info["visible"] is True


def test_tick_value_converts_profit_currency_to_usd() -> None:
    """JPY-quoted symbols convert the tick value with the current USDJPY price."""
    market, _ = make_market()
    usdjpy = market.symbol_info_tick("USDJPY")["bid"]
    assert market.symbol_info("USDJPY")["trade_tick_value"] == pytest.approx(100 / usdjpy)
    assert market.symbol_info("EURJPY")["trade_tick_value"] == pytest.approx(100 / usdjpy)
    assert market.symbol_info("XAUUSD")["trade_tick_value"] == pytest.approx(1.0)
    usdchf = market.symbol_info_tick("USDCHF")["bid"]
    assert market.symbol_info("USDCHF")["trade_tick_value"] == pytest.approx(1 / usdchf)


def test_symbols_total_and_group_filter() -> None:
    """symbols_get filters by MT5 group patterns; symbols_total counts everything."""
    market, _ = make_market()
    assert market.symbols_total() == len(SPECS)
    assert [s["name"] for s in market.symbols_get()] == [spec.name for spec in SPECS]
    names = [s["name"] for s in market.symbols_get("*USD*,!EUR*")]
    assert "GBPUSD" in names and "BTCUSD" in names
    assert not any(name.startswith("EUR") for name in names)
    assert [s["name"] for s in market.symbols_get("*JPY")] == ["USDJPY", "EURJPY"]
    assert market.symbols_get("NOPE*") == []


def test_symbol_select_toggles_visibility() -> None:
    """symbol_select(False) hides a symbol in symbol_info; True shows it again."""
    market, _ = make_market()
    assert market.symbol_select("XAUUSD", False) is True
    assert market.symbol_info("XAUUSD")["select"] is False
    assert market.symbol_info("XAUUSD")["visible"] is False
    assert market.symbol_select("XAUUSD") is True
    assert market.symbol_info("XAUUSD")["select"] is True


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.spec("XYZ"),
        lambda m: m.symbol_info("XYZ"),
        lambda m: m.symbol_info_tick("XYZ"),
        lambda m: m.copy_rates_from_pos("XYZ", 1, 0, 1),
        lambda m: m.copy_ticks_from("XYZ", 0, 1, -1),
        lambda m: m.ticks_between("XYZ", 0, 1),
        lambda m: m.symbol_select("XYZ"),
    ],
)
def test_unknown_symbol_is_not_found(call: Callable[[Market], object]) -> None:
    """Every method answers NOT_FOUND naming an unknown symbol."""
    market, _ = make_market()
    with pytest.raises(EmulatorError) as caught:
        call(market)
    assert caught.value.code == ErrorCode.NOT_FOUND
    assert caught.value.message == "unknown symbol 'XYZ'"


def test_no_quotes_at_all_is_history_not_ready() -> None:
    """A symbol without any session has no tick, so symbol_info_tick reports HISTORY_NOT_READY."""
    dead = dataclasses.replace(symbol_by_name(SPECS, "EURUSD"), name="DEAD", sessions=())
    market, _ = make_market(specs=[dead])
    with pytest.raises(EmulatorError) as caught:
        market.symbol_info_tick("DEAD")
    assert caught.value.code == ErrorCode.HISTORY_NOT_READY
    assert market.copy_rates_from_pos("DEAD", D1, 0, 10)["rows"] == []
    assert market.symbol_info("DEAD")["bid"] == 0.0


@pytest.mark.parametrize(
    ("param", "call"),
    [
        ("timeframe", lambda m: m.copy_rates_from_pos("EURUSD", 7, 0, 10)),
        ("timeframe", lambda m: m.copy_rates_from_pos("EURUSD", "16385", 0, 10)),
        ("timeframe", lambda m: m.copy_rates_range("EURUSD", True, 0, 10)),
        ("start_pos", lambda m: m.copy_rates_from_pos("EURUSD", 1, -1, 10)),
        ("count", lambda m: m.copy_rates_from_pos("EURUSD", 1, 0, -5)),
        ("count", lambda m: m.copy_rates_from("EURUSD", 1, NOW_S, 2.5)),
        ("count", lambda m: m.copy_ticks_from("EURUSD", NOW_S, True, -1)),
        ("date_from", lambda m: m.copy_rates_from("EURUSD", 1, "2026-11-18", 10)),
        ("date_from", lambda m: m.copy_ticks_range("EURUSD", -1, NOW_S, -1)),
        ("date_from", lambda m: m.copy_ticks_from("EURUSD", float("nan"), 5, -1)),
        ("date_to", lambda m: m.copy_rates_range("EURUSD", 1, NOW_S, None)),
        ("flags", lambda m: m.copy_ticks_from("EURUSD", NOW_S, 10, 5)),
        ("flags", lambda m: m.copy_ticks_range("EURUSD", 0, NOW_S, "ALL")),
        ("group", lambda m: m.symbols_get(5)),
        ("enable", lambda m: m.symbol_select("EURUSD", "yes")),
        ("symbol", lambda m: m.symbol_info(123)),
    ],
)
def test_invalid_params_name_the_parameter(param: str, call: Callable[[Market], object]) -> None:
    """Wrong types or values raise INVALID_PARAMS whose message starts with the parameter name."""
    market, _ = make_market()
    expect_invalid(lambda: call(market), param)


def test_constructor_rejects_duplicates_and_bad_limits() -> None:
    """Duplicate symbol names and non-positive limits are programming errors (ValueError)."""
    with pytest.raises(ValueError):
        Market([SPECS[0], SPECS[0]], seed=1, tick_rate_hz=1, clock=lambda: WEDNESDAY_MS)
    with pytest.raises(ValueError):
        Market(SPECS, seed=1, tick_rate_hz=0, clock=lambda: WEDNESDAY_MS)


def test_exchange_symbol_has_trade_ticks() -> None:
    """AAPL's trades carry last, volume and LAST|VOLUME flags, so COPY_TICKS_TRADE is not
    empty; a CFD-style symbol's is, and its ticks carry neither."""
    market, _ = make_market()
    day_from = NOW_S - 86_400  # AAPL's last session (16:30-23:00 server time) is inside
    trades = market.copy_ticks_range("AAPL", day_from, NOW_S, int(CopyTicks.TRADE))["rows"]
    assert trades
    for row in trades:
        assert row[FLAGS] & TICK_FLAG_LAST and row[FLAGS] & TICK_FLAG_VOLUME
        assert row[3] in (row[BID], row[ASK]) and 1 <= row[4] <= 50  # last, volume
    every = market.copy_ticks_range("AAPL", day_from, NOW_S, ALL)["rows"]
    assert len(every) > len(trades) and all(row[3] > 0 for row in every)
    assert market.symbol_info("AAPL")["last"] > 0
    assert market.copy_ticks_range("EURUSD", NOW_S - 600, NOW_S, int(CopyTicks.TRADE))[
        "rows"] == []
    assert market.symbol_info("EURUSD")["last"] == 0.0
