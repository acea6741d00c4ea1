"""The simulated market of the emulated terminal: quotes, tick history and bars for every symbol.

:class:`Market` answers the market-data half of the MetaTrader5 API (``symbol_info``,
``symbol_info_tick``, ``copy_rates_*``, ``copy_ticks_*``, ...) and implements
:class:`~mt5model.types.MarketView` for the broker.

Why it is built this way: the prices come from :class:`~ea_bridge.emulator.pricepath.PricePath`,
a seeded walk generated on demand (see its module docstring), so every answer is a pure function
of ``(seed, symbol, question, now)``. This module adds the one thing the path does not know --
*now*. The injected ``clock`` (server epoch milliseconds) is read once per call, and only data up
to it exists: the still-forming bar is rebuilt from the ticks of the current minute that are
already in the past, and future ticks are never returned, although they are already determined.
History starts ``history_days`` calendar days before today; older data does not exist, as in a
terminal whose history was never downloaded further back.

Conventions (MT5 where it defines one, documented choices otherwise):

* times passed in are epoch **seconds** (int or float); tick windows are converted to
  milliseconds, inclusive at both ends for ``copy_ticks_range``;
* bars open at multiples of their length from midnight; W1 opens on Sunday 00:00, MN1 on the
  1st; a bar's ``spread`` is the minimum spread (points) of its ticks; ``real_volume`` is 0;
* quotes are CFD-style -- ``last`` and volumes are 0 and flags are BID/ASK only, so
  ``COPY_TICKS_TRADE`` is empty -- except for exchange-style symbols (``sim_trade_ticks``,
  the catalogue's AAPL), whose trades carry ``last``, ``volume`` and TICK_FLAG_LAST | VOLUME;
* answers longer than ``max_rows`` are cut and flagged ``"truncated": True`` (rates from a
  position or date keep the newest rows, ranges and ticks keep the oldest).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from itertools import islice
from typing import Any

from ea_bridge.emulator.pricepath import (
    DAY_MINUTES,
    DAY_MS,
    DAY_SECONDS,
    MINUTE_MS,
    Bar,
    PricePath,
    merge_bars,
)
from ea_bridge.emulator.symbols import SimulatedSymbol
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
    Tick,
    match_group,
)

from .book import DEPTH, Subscriptions, synthesize

__all__ = ["Market"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_VALID_TIMEFRAMES = frozenset(int(tf) for tf in Timeframe)
_VALID_TICK_FLAGS = frozenset(int(flag) for flag in CopyTicks)
# Far enough back to find the previous trading minute under any weekly session table.
_LOOKBACK_DAYS = 8
_SWAP_MODE_POINTS = 1

Rows = dict[str, Any]


def _tf_minutes(timeframe: int) -> int:
    """Bar length in minutes of an intraday or D1 timeframe (0 for W1 and MN1)."""
    if timeframe in (Timeframe.W1, Timeframe.MN1):
        return 0
    if timeframe & 0x4000:
        return (timeframe & 0xFF) * 60
    return timeframe


def _period_start(timeframe: int, day: int) -> int:
    """First epoch day of the W1 (Sunday) or MN1 (1st of month) period containing ``day``."""
    if timeframe == Timeframe.W1:
        return day - (day + 4) % 7
    return date.fromordinal(_EPOCH_ORDINAL + day).replace(day=1).toordinal() - _EPOCH_ORDINAL


def _period_end(timeframe: int, start: int) -> int:
    """First epoch day after the W1 or MN1 period starting on ``start``."""
    if timeframe == Timeframe.W1:
        return start + 7
    first = date.fromordinal(_EPOCH_ORDINAL + start)
    year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
    return date(year, month, 1).toordinal() - _EPOCH_ORDINAL


def _rate_row(bar: Bar) -> list[float | int]:
    return [*bar, 0]


def _invalid(name: str, problem: str) -> EmulatorError:
    return EmulatorError(ErrorCode.INVALID_PARAMS, f"{name}: {problem}")


def _int_param(name: str, value: object, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"expected an integer, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise _invalid(name, f"must be >= {minimum}, got {value}")
    return value


def _time_param(name: str, value: object) -> float:
    """Epoch seconds (int or float, not bool, finite, not negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, f"expected epoch seconds (int or float), got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise _invalid(name, f"must be finite epoch seconds >= 0, got {value}")
    return value


def _timeframe_param(value: object) -> int:
    timeframe = _int_param("timeframe", value)
    if timeframe not in _VALID_TIMEFRAMES:
        raise _invalid("timeframe", f"{timeframe} is not a TIMEFRAME_* value")
    return timeframe


def _seconds_to_ms(seconds: float) -> int:
    return int(seconds) * 1000 if isinstance(seconds, int) else round(seconds * 1000)


class Market:
    """Deterministic simulated quotes and history for a catalogue of symbols.

    Args:
        specs: The symbols on offer, in Market Watch order (names must be unique).
        seed: Seed of every price path; the same seed always yields the same prices.
        tick_rate_hz: Average ticks per second per symbol while its session is open.
        clock: Current server time in epoch milliseconds; the only notion of "now".
        history_days: Calendar days of history before today; older data does not exist.
        max_rows: Largest number of rows one ``copy_*`` answer carries.
        account_currency: Currency ``trade_tick_value`` is expressed in.

    Raises:
        ValueError: On duplicate symbol names or non-positive rates and limits.
    """

    def __init__(
        self,
        specs: Sequence[SimulatedSymbol],
        *,
        seed: int,
        tick_rate_hz: float,
        clock: Callable[[], int],
        history_days: int = 400,
        max_rows: int = 100_000,
        account_currency: str = "USD",
    ) -> None:
        if tick_rate_hz <= 0 or history_days < 1 or max_rows < 1:
            raise ValueError("tick_rate_hz, history_days and max_rows must be positive")
        self._specs = tuple(specs)
        self._paths: dict[str, PricePath] = {}
        for spec in self._specs:
            if spec.name in self._paths:
                raise ValueError(f"duplicate symbol {spec.name!r}")
            self._paths[spec.name] = PricePath(spec, seed=seed, tick_rate_hz=tick_rate_hz)
        self._clock = clock
        self._history_days = history_days
        self._max_rows = max_rows
        self._account_currency = account_currency
        self._selected = {spec.name: True for spec in self._specs}
        self._books = Subscriptions()

    # -- MarketView -------------------------------------------------------------------------

    def spec(self, symbol: str) -> SimulatedSymbol:
        """The symbol's specification.

        Raises:
            EmulatorError: ``NOT_FOUND`` for a symbol the broker does not offer.
        """
        return self._path(symbol).spec

    def specs(self) -> Sequence[SimulatedSymbol]:
        """Every symbol on offer, in catalogue order."""
        return self._specs

    def tick_at(self, symbol: str, time_msc: int) -> Tick | None:
        """The last tick at or before ``time_msc`` (and not after now), or None if none exists."""
        now = self._now()
        return self._tick_at(self._path(symbol), min(time_msc, now), now)

    def ticks_between(self, symbol: str, after_msc: int, until_msc: int) -> list[Tick]:
        """Every tick with ``after_msc < time_msc <= until_msc`` (and not after now), oldest first.

        Consecutive windows concatenate to exactly the ticks of their union (the live stream).
        """
        path = self._path(symbol)
        ticks, _ = self._collect_ticks(path, after_msc, until_msc, self._now(), None)
        return ticks

    def is_trading(self, symbol: str, time_msc: int) -> bool:
        """Whether ``time_msc`` falls inside one of the symbol's trading sessions."""
        return self._path(symbol).is_open_minute(time_msc // MINUTE_MS)

    # -- symbols ----------------------------------------------------------------------------

    def symbols_total(self) -> int:
        """Number of symbols on offer (selected or not)."""
        return len(self._specs)

    def symbols_get(self, group: str | None = None) -> list[dict[str, Any]]:
        """``symbol_info`` of every symbol passing the MT5 ``group`` filter (``"*USD*,!EUR*"``).

        Raises:
            EmulatorError: ``INVALID_PARAMS`` if ``group`` is not a string.
        """
        if group is not None and not isinstance(group, str):
            raise _invalid("group", f"expected a string, got {type(group).__name__}")
        now = self._now()
        return [
            self._symbol_info(self._paths[spec.name], now)
            for spec in self._specs
            if match_group(spec.name, group)
        ]

    def symbol_info(self, symbol: str) -> dict[str, Any]:
        """Every ``SymbolInfo`` field of MT5 for the symbol, priced at now.

        ``askhigh``/``asklow`` are the day's bid extremes plus the minimum spread of the bar
        that made them (ask extremes are not tracked per minute).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol.
        """
        return self._symbol_info(self._path(symbol), self._now())

    def symbol_info_tick(self, symbol: str) -> dict[str, float | int]:
        """The last tick at or before now (outside a session: the last one before the close).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol; ``HISTORY_NOT_READY`` when the
                symbol has no tick at all within the available history.
        """
        path = self._path(symbol)
        now = self._now()
        tick = self._tick_at(path, now, now)
        if tick is None:
            raise EmulatorError(
                ErrorCode.HISTORY_NOT_READY, f"no quotes for {symbol!r} in the available history"
            )
        return tick.as_dict()

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        """Show or hide the symbol in Market Watch; returns True (MT5's success value).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol, ``INVALID_PARAMS`` for a
                non-bool ``enable``.
        """
        path = self._path(symbol)
        if not isinstance(enable, bool):
            raise _invalid("enable", f"expected a bool, got {type(enable).__name__}")
        self._selected[path.spec.name] = enable
        return True

    # -- depth of market (book.py) ----------------------------------------------------------

    def market_book_add(self, symbol: str) -> bool:
        """Subscribe to the symbol's depth of market; True (MT5's ``MarketBookAdd``).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol.
        """
        self._books.add(self._path(symbol).spec.name)
        return True

    def market_book_get(self, symbol: str) -> list[dict[str, float | int]]:
        """The book around the current quote (``book.synthesize``).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol, ``INVALID_PARAMS`` when the
                symbol is not subscribed (MT5's ``MarketBookGet`` fails then too),
                ``HISTORY_NOT_READY`` with no quote.
        """
        spec = self._path(symbol).spec
        if spec.name not in self._books:
            raise _invalid("symbol", f"call market_book_add({symbol!r}) first")
        tick = self.symbol_info_tick(symbol)
        return synthesize(float(tick["bid"]), float(tick["ask"]), spec.point, spec.digits,
                          spec.volume_min)

    def book_subscribed(self, name: str) -> bool:
        """Whether the symbol ``name`` has a ``market_book_add`` not yet released."""
        return name in self._books

    def market_book_release(self, symbol: str) -> bool:
        """Drop one subscription; False when there was none (MT5's ``MarketBookRelease``).

        Raises:
            EmulatorError: ``NOT_FOUND`` for an unknown symbol.
        """
        return self._books.release(self._path(symbol).spec.name)

    # -- rates ------------------------------------------------------------------------------

    def copy_rates_from(
        self, symbol: str, timeframe: int, date_from: float, count: int
    ) -> Rows:
        """The ``count`` bars whose open time is <= ``date_from``, oldest first.

        Raises:
            EmulatorError: ``NOT_FOUND`` / ``INVALID_PARAMS``.
        """
        path = self._path(symbol)
        tf = _timeframe_param(timeframe)
        top = _time_param("date_from", date_from)
        wanted = _int_param("count", count, minimum=0)
        return self._newest_rates(path, tf, top, 0, wanted)

    def copy_rates_from_pos(
        self, symbol: str, timeframe: int, start_pos: int, count: int
    ) -> Rows:
        """``count`` bars counted back from bar ``start_pos`` (0 = the forming bar), oldest first.

        Raises:
            EmulatorError: ``NOT_FOUND`` / ``INVALID_PARAMS``.
        """
        path = self._path(symbol)
        tf = _timeframe_param(timeframe)
        skip = _int_param("start_pos", start_pos, minimum=0)
        wanted = _int_param("count", count, minimum=0)
        return self._newest_rates(path, tf, math.inf, skip, wanted)

    def copy_rates_range(
        self, symbol: str, timeframe: int, date_from: float, date_to: float
    ) -> Rows:
        """Bars with ``date_from <= open time <= date_to``, oldest first (empty if reversed).

        Raises:
            EmulatorError: ``NOT_FOUND`` / ``INVALID_PARAMS``.
        """
        path = self._path(symbol)
        tf = _timeframe_param(timeframe)
        low = _time_param("date_from", date_from)
        high = _time_param("date_to", date_to)
        now = self._now()
        bars = list(islice(self._bars_ascending(path, tf, low, high, now), self._max_rows + 1))
        truncated = len(bars) > self._max_rows
        return self._rates_answer(bars[: self._max_rows], truncated)

    def _newest_rates(self, path: PricePath, tf: int, top: float, skip: int, wanted: int) -> Rows:
        take = min(wanted, self._max_rows)
        newest = list(
            islice(self._bars_descending(path, tf, top, self._now()), skip, skip + take + 1)
        )
        truncated = wanted > take and len(newest) > take
        return self._rates_answer(newest[:take][::-1], truncated)

    @staticmethod
    def _rates_answer(bars: list[Bar], truncated: bool) -> Rows:
        return {
            "columns": list(RATE_COLUMNS),
            "rows": [_rate_row(bar) for bar in bars],
            "truncated": truncated,
        }

    # -- ticks ------------------------------------------------------------------------------

    def copy_ticks_from(self, symbol: str, date_from: float, count: int, flags: int) -> Rows:
        """The first ``count`` ticks with time >= ``date_from`` (seconds), oldest first.

        Raises:
            EmulatorError: ``NOT_FOUND`` / ``INVALID_PARAMS``.
        """
        path = self._path(symbol)
        start = _seconds_to_ms(_time_param("date_from", date_from))
        wanted = _int_param("count", count, minimum=0)
        mask = self._flags_param(flags)
        if not wanted or not self._has_ticks(path, mask):
            return self._ticks_answer([], False)
        take = min(wanted, self._max_rows)
        now = self._now()
        ticks, more = self._collect_ticks(path, start - 1, now, now, take, mask)
        return self._ticks_answer(ticks, more and wanted > take)

    def copy_ticks_range(
        self, symbol: str, date_from: float, date_to: float, flags: int
    ) -> Rows:
        """Ticks with ``date_from * 1000 <= time_msc <= date_to * 1000``, oldest first.

        Raises:
            EmulatorError: ``NOT_FOUND`` / ``INVALID_PARAMS``.
        """
        path = self._path(symbol)
        start = _seconds_to_ms(_time_param("date_from", date_from))
        end = _seconds_to_ms(_time_param("date_to", date_to))
        mask = self._flags_param(flags)
        if end < start or not self._has_ticks(path, mask):
            return self._ticks_answer([], False)
        now = self._now()
        ticks, more = self._collect_ticks(path, start - 1, end, now, self._max_rows, mask)
        return self._ticks_answer(ticks, more)

    @staticmethod
    def _flags_param(flags: object) -> int:
        value = _int_param("flags", flags)
        if value not in _VALID_TICK_FLAGS:
            raise _invalid("flags", f"{value} is not a COPY_TICKS_* value")
        if value == CopyTicks.INFO:
            return TICK_FLAG_BID | TICK_FLAG_ASK
        if value == CopyTicks.TRADE:
            return TICK_FLAG_LAST | TICK_FLAG_VOLUME
        return 0

    @staticmethod
    def _has_ticks(path: PricePath, mask: int) -> bool:
        # Without this shortcut a TRADE query would scan every generated tick for nothing.
        return path.has_trade_ticks or not mask & (TICK_FLAG_LAST | TICK_FLAG_VOLUME)

    @staticmethod
    def _ticks_answer(ticks: list[Tick], truncated: bool) -> Rows:
        return {
            "columns": list(TICK_COLUMNS),
            "rows": [tick.as_row() for tick in ticks],
            "truncated": truncated,
        }

    # -- internals: time and lookup ---------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _first_day(self, now: int) -> int:
        """First epoch day of the available history."""
        return now // DAY_MS - self._history_days

    def _path(self, symbol: object) -> PricePath:
        if not isinstance(symbol, str):
            raise _invalid("symbol", f"expected a string, got {type(symbol).__name__}")
        path = self._paths.get(symbol)
        if path is None:
            raise EmulatorError(ErrorCode.NOT_FOUND, f"unknown symbol {symbol!r}")
        return path

    # -- internals: ticks -------------------------------------------------------------------

    def _collect_ticks(
        self,
        path: PricePath,
        after: int,
        until: int,
        now: int,
        limit: int | None,
        mask: int = 0,
    ) -> tuple[list[Tick], bool]:
        """Ticks in ``(after, min(until, now)]`` (within history), oldest first.

        Returns:
            Up to ``limit`` ticks (all if None) whose flags intersect ``mask`` (any if 0), and
            whether more matching ticks existed beyond the limit.
        """
        after = max(after, self._first_day(now) * DAY_MS - 1)
        until = min(until, now)
        found: list[Tick] = []
        if until <= after:
            return found, False
        first_minute, last_minute = (after + 1) // MINUTE_MS, until // MINUTE_MS
        for day in range(first_minute // DAY_MINUTES, last_minute // DAY_MINUTES + 1):
            minutes = path.day_minutes(day)
            if minutes is None:
                continue
            base = day * DAY_MINUTES
            lo = bisect_left(minutes.mods, first_minute - base)
            hi = bisect_right(minutes.mods, last_minute - base)
            for index in range(lo, hi):
                chunk = path.minute_ticks(minutes, index)
                ticks = chunk.ticks
                if chunk.times[0] <= after or chunk.times[-1] > until:
                    ticks = ticks[bisect_right(chunk.times, after):bisect_right(chunk.times, until)]
                if mask:
                    ticks = [t for t in ticks if t.flags & mask]
                found.extend(ticks)
                if limit is not None and len(found) > limit:
                    return found[:limit], True
        return found, False

    def _tick_at(self, path: PricePath, time_msc: int, now: int) -> Tick | None:
        first_day = self._first_day(now)
        minute = time_msc // MINUTE_MS
        day = minute // DAY_MINUTES
        for current in range(day, max(first_day, day - _LOOKBACK_DAYS) - 1, -1):
            minutes = path.day_minutes(current)
            if minutes is None:
                continue
            index = bisect_right(minutes.mods, minute - current * DAY_MINUTES) - 1
            while index >= 0:
                chunk = path.minute_ticks(minutes, index)
                position = bisect_right(chunk.times, time_msc)
                if position:
                    return chunk.ticks[position - 1]
                # Only the current minute can lack a tick yet; the one before always has one.
                index -= 1
        return None

    # -- internals: bars --------------------------------------------------------------------

    def _day_bars(self, path: PricePath, day: int, tf_minutes: int, now: int) -> list[Bar]:
        """Bars of one day up to now: complete ones from the path, the forming one from ticks."""
        if day * DAY_MS > now:
            return []
        bars = path.day_bars(day, tf_minutes)
        if (day + 1) * DAY_MS <= now or not bars:
            return bars
        now_minute = now // MINUTE_MS
        now_mod = now_minute - day * DAY_MINUTES
        forming_start = (now_mod // tf_minutes) * tf_minutes
        forming_time = (day * DAY_MINUTES + forming_start) * 60
        complete = [bar for bar in bars if bar[0] < forming_time]
        minutes = path.day_minutes(day)
        assert minutes is not None  # bars is not empty
        mods = minutes.mods
        lo, index = bisect_left(mods, forming_start), bisect_left(mods, now_mod)
        parts = path.bars_between(minutes, lo, index, DAY_MINUTES)
        if index < len(mods) and mods[index] == now_mod:
            chunk = path.minute_ticks(minutes, index)
            ticks = chunk.ticks[: bisect_right(chunk.times, now)]
            if ticks:
                point = path.spec.point
                bids = [t.bid for t in ticks]
                spread = min(round((t.ask - t.bid) / point) for t in ticks)
                parts.append((now_minute * 60, bids[0], max(bids), min(bids), bids[-1],
                              len(ticks), spread))
        if parts:
            complete.append(merge_bars(parts, forming_time))
        return complete

    def _period_bar(self, path: PricePath, tf: int, start: int, now: int) -> Bar | None:
        """The W1 or MN1 bar of the period starting on epoch day ``start``, up to now."""
        first_day = self._first_day(now)
        today = now // DAY_MS
        days: list[Bar] = []
        for day in range(max(start, first_day), min(_period_end(tf, start), today + 1)):
            if day < today:
                bar = path.daily_bar(day)
                if bar is not None:
                    days.append(bar)
            else:
                days.extend(self._day_bars(path, day, DAY_MINUTES, now))
        return merge_bars(days, start * DAY_SECONDS) if days else None

    def _bars_descending(
        self, path: PricePath, tf: int, top: float, now: int
    ) -> Iterator[Bar]:
        """Bars with open time <= ``top`` (and existing at now), newest first."""
        first_day = self._first_day(now)
        top = min(top, now / 1000)
        top_day = int(top // DAY_SECONDS)
        tf_minutes = _tf_minutes(tf)
        if tf_minutes:
            for day in range(top_day, first_day - 1, -1):
                for bar in reversed(self._day_bars(path, day, tf_minutes, now)):
                    if bar[0] <= top:
                        yield bar
            return
        start = _period_start(tf, top_day)
        while _period_end(tf, start) > first_day:
            period = self._period_bar(path, tf, start, now)
            if period is not None:
                yield period
            start = _period_start(tf, start - 1)

    def _bars_ascending(
        self, path: PricePath, tf: int, low: float, high: float, now: int
    ) -> Iterator[Bar]:
        """Bars with ``low <= open time <= high`` (and existing at now), oldest first."""
        high = min(high, now / 1000)
        if high < low:
            return
        first_day = self._first_day(now)
        low_day, high_day = int(low // DAY_SECONDS), int(high // DAY_SECONDS)
        tf_minutes = _tf_minutes(tf)
        if tf_minutes:
            for day in range(max(low_day, first_day), high_day + 1):
                for bar in self._day_bars(path, day, tf_minutes, now):
                    if low <= bar[0] <= high:
                        yield bar
            return
        start = _period_start(tf, max(low_day, first_day))
        while start <= high_day:
            if start * DAY_SECONDS >= low:
                period = self._period_bar(path, tf, start, now)
                if period is not None:
                    yield period
            start = _period_end(tf, start)

    # -- internals: symbol_info -------------------------------------------------------------

    def _price(self, name: str, now: int) -> float | None:
        path = self._paths.get(name)
        if path is None:
            return None
        tick = self._tick_at(path, now, now)
        return tick.bid if tick is not None else path.spec.sim_start_price

    def _conversion(self, currency: str, now: int) -> float:
        """Account-currency value of one unit of ``currency`` (1.0 when no pair is listed)."""
        account = self._account_currency
        if currency == account:
            return 1.0
        direct = self._price(currency + account, now)
        if direct:
            return direct
        inverse = self._price(account + currency, now)
        if inverse:
            return 1.0 / inverse
        return 1.0

    def _symbol_info(self, path: PricePath, now: int) -> dict[str, Any]:
        spec = path.spec
        point = spec.point
        tick = self._tick_at(path, now, now)
        bid = ask = last = 0.0
        tick_time = spread = volume = 0
        session_open = session_close = bidhigh = bidlow = askhigh = asklow = 0.0
        if tick is not None:
            bid, ask, tick_time = tick.bid, tick.ask, tick.time
            last, volume = tick.last, tick.volume  # 0 for CFD-style quotes
            spread = round((ask - bid) / point)
            day = tick.time_msc // DAY_MS
            today = self._day_bars(path, day, DAY_MINUTES, now)
            if today:
                _, session_open, bidhigh, bidlow, _, _, day_spread = today[0]
                askhigh = round(bidhigh + day_spread * point, spec.digits)
                asklow = round(bidlow + day_spread * point, spec.digits)
            for previous in range(day - 1, day - _LOOKBACK_DAYS - 1, -1):
                bar = path.daily_bar(previous)
                if bar is not None and previous >= self._first_day(now):
                    session_close = bar[4]
                    break
        tick_value = round(
            spec.trade_tick_size
            * spec.trade_contract_size
            * self._conversion(spec.currency_profit, now),
            8,
        )
        change = round((bid - session_close) / session_close * 100, 4) if session_close else 0.0
        selected = self._selected[spec.name]
        return {
            "custom": False, "chart_mode": 0, "select": selected, "visible": selected,
            "session_deals": 0, "session_buy_orders": 0, "session_sell_orders": 0,
            "volume": volume, "volumehigh": 0, "volumelow": 0, "time": tick_time,
            "digits": spec.digits, "spread": spread, "spread_float": True,
            "ticks_bookdepth": DEPTH, "trade_calc_mode": spec.trade_calc_mode,
            "trade_mode": spec.trade_mode, "start_time": 0, "expiration_time": 0,
            "trade_stops_level": spec.trade_stops_level,
            "trade_freeze_level": spec.trade_freeze_level,
            "trade_exemode": spec.trade_exemode, "swap_mode": _SWAP_MODE_POINTS,
            "swap_rollover3days": spec.swap_rollover3days, "margin_hedged_use_leg": False,
            "expiration_mode": spec.expiration_mode, "filling_mode": spec.filling_mode,
            "order_mode": spec.order_mode, "order_gtc_mode": 0, "option_mode": 0,
            "option_right": 0, "bid": bid, "bidhigh": bidhigh, "bidlow": bidlow, "ask": ask,
            "askhigh": askhigh, "asklow": asklow, "last": last, "lasthigh": 0.0, "lastlow": 0.0,
            "volume_real": 0.0, "volumehigh_real": 0.0, "volumelow_real": 0.0,
            "option_strike": 0.0, "point": point, "trade_tick_value": tick_value,
            "trade_tick_value_profit": tick_value, "trade_tick_value_loss": tick_value,
            "trade_tick_size": spec.trade_tick_size,
            "trade_contract_size": spec.trade_contract_size, "trade_accrued_interest": 0.0,
            "trade_face_value": 0.0, "trade_liquidity_rate": 0.0,
            "volume_min": spec.volume_min, "volume_max": spec.volume_max,
            "volume_step": spec.volume_step, "volume_limit": spec.volume_limit,
            "swap_long": spec.swap_long, "swap_short": spec.swap_short,
            "margin_initial": spec.margin_initial, "margin_maintenance": spec.margin_maintenance,
            "session_volume": 0.0, "session_turnover": 0.0, "session_interest": 0.0,
            "session_buy_orders_volume": 0.0, "session_sell_orders_volume": 0.0,
            "session_open": session_open, "session_close": session_close, "session_aw": 0.0,
            "session_price_settlement": 0.0, "session_price_limit_min": 0.0,
            "session_price_limit_max": 0.0,
            "margin_hedged": spec.margin_hedged, "price_change": change,
            "price_volatility": 0.0, "price_theoretical": 0.0, "price_greeks_delta": 0.0,
            "price_greeks_theta": 0.0, "price_greeks_gamma": 0.0, "price_greeks_vega": 0.0,
            "price_greeks_rho": 0.0, "price_greeks_omega": 0.0, "price_sensitivity": 0.0,
            "basis": "", "category": spec.category, "currency_base": spec.currency_base,
            "currency_profit": spec.currency_profit, "currency_margin": spec.currency_margin,
            "bank": "", "description": spec.description, "exchange": "", "formula": "",
            "isin": "", "name": spec.name, "page": "", "path": spec.path,
        }
