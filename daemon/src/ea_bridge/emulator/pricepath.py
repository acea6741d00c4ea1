"""The deterministic random walk of one symbol: day anchors, minute bars, ticks.

Why it is built this way
------------------------
The emulated terminal answers ``symbol_info_tick``, ``copy_ticks_*`` and ``copy_rates_*`` (M1 to
MN1) and streams live ticks, in any order and over any span, and every answer must agree with
every other one: a chart's M1 bar must be exactly the ticks of its minute, a D1 bar exactly its
M1 bars. Storing a tick history is out of the question (a year at 10 Hz is hundreds of millions
of ticks), so everything is *generated on demand from seeds*, top-down, in three levels:

1. **Day anchors.** The log close of every calendar day comes from a sequential walk (with a weak
   pull back to the start price, so prices stay realistic for years) that starts at a fixed
   anchor day. The normal shocks come in blocks of days, each block from its own seeded RNG, and
   the walk is cached, so any day's anchor is cheap and independent of query order.
2. **Minutes of a day.** An RNG seeded by ``(seed, symbol, day)`` draws the day's open minutes as
   a Brownian bridge from the previous anchor to this day's anchor, plus each minute's high/low
   excursions, tick count and minimum spread. A minute bar is thus known without any tick, which
   keeps D1/W1/MN1 over a year fast.
3. **Ticks of a minute.** An RNG seeded by ``(seed, symbol, minute)`` draws the ticks *inside*
   the given bar: the first tick's bid is the bar's open, the last its close, one tick sits on
   the high and one on the low, the rest wander between them, and the first tick carries the
   bar's minimum spread. The ticks therefore reproduce the bar by construction.

Seeds are derived with BLAKE2 (never the salted built-in ``hash``), and normal draws use
``Random.randbytes`` through a fixed quantile table, which is both fast and identical on every
platform and Python version. All caches are bounded LRUs owned by the instance.
"""

from __future__ import annotations

import functools
import hashlib
import math
import sys
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, pairwise
from random import Random
from statistics import NormalDist
from typing import Generic, TypeVar

from ea_bridge.emulator.symbols import SimulatedSymbol
from mt5model.types import (
    TICK_FLAG_ASK,
    TICK_FLAG_BID,
    TICK_FLAG_BUY,
    TICK_FLAG_LAST,
    TICK_FLAG_SELL,
    TICK_FLAG_VOLUME,
    Tick,
)

__all__ = [
    "ANCHOR_DAY",
    "DAY_MINUTES",
    "DAY_MS",
    "DAY_SECONDS",
    "MINUTE_MS",
    "Bar",
    "DayMinutes",
    "MinuteTicks",
    "PricePath",
    "merge_bars",
    "weekday",
]

MINUTE_MS = 60_000
DAY_MINUTES = 1440
DAY_SECONDS = 86_400
DAY_MS = 86_400_000
#: Epoch day (2025-01-01) whose anchor is the spec's ``sim_start_price``.
ANCHOR_DAY = date(2025, 1, 1).toordinal() - date(1970, 1, 1).toordinal()

#: ``(time, open, high, low, close, tick_volume, spread)`` -- a rate row without real_volume.
Bar = tuple[int, float, float, float, float, int, int]

_BLOCK_DAYS = 256
# Daily pull of the log price towards the start price: a stationary spread of about
# 6.5 daily volatilities keeps a year of history in a believable range.
_REVERSION = 1.0 / 90.0
# Quantiles of N(0, 1) at 4096 evenly spaced probabilities; indexed by 12 random bits.
_NORMAL_TABLE: tuple[float, ...] = tuple(
    NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)
)
# The same at 256 levels, and |N(0, 1)| at 256 levels, indexed by one random byte.
_BYTE_NORMAL: tuple[float, ...] = tuple(NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256))
_BYTE_HALF_NORMAL: tuple[float, ...] = tuple(
    NormalDist().inv_cdf(0.5 + (i + 0.5) / 512) for i in range(256)
)
_MAX_TICKS_PER_MINUTE = MINUTE_MS
# Spreads widen right after a session opens, as at a real broker's rollover.
_WIDE_SPREAD_MINUTES = 5
_WIDE_SPREAD_FACTOR = 3

_K = TypeVar("_K")
_V = TypeVar("_V")


def weekday(day: int) -> int:
    """Weekday of an epoch day, 0 = Monday (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def merge_bars(bars: Sequence[Bar], time: int) -> Bar:
    """One bar opening at ``time`` that aggregates ``bars`` (non-empty, oldest first).

    Open of the first, highest high, lowest low, close of the last, summed tick volume and the
    minimum spread.
    """
    return (
        time,
        bars[0][1],
        max(bar[2] for bar in bars),
        min(bar[3] for bar in bars),
        bars[-1][4],
        sum(bar[5] for bar in bars),
        min(bar[6] for bar in bars),
    )


class _Lru(Generic[_K, _V]):
    """A small least-recently-used map."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._data: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._capacity:
            self._data.popitem(last=False)


def _normals(rng: Random, count: int) -> list[float]:
    """``count`` standard normal draws (quantised to 4096 levels, tails to about 3.5)."""
    raw = array("H", rng.randbytes(2 * count))
    if sys.byteorder == "big":
        raw.byteswap()
    table = _NORMAL_TABLE
    return [table[value >> 4] for value in raw]


@dataclass(frozen=True, slots=True)
class DayMinutes:
    """The open minutes of one day as parallel arrays (one entry per open minute)."""

    day: int
    #: Minute of the day (0..1439) of each open minute, ascending.
    mods: array[int]
    opens: array[float]
    highs: array[float]
    lows: array[float]
    closes: array[float]
    #: Tick count of each minute (>= 1).
    counts: array[int]
    #: Minimum spread in points of each minute; the minute's first tick has exactly this spread.
    spreads: array[int]

    def bar(self, index: int) -> Bar:
        """The M1 bar of the ``index``-th open minute."""
        return (
            (self.day * DAY_MINUTES + self.mods[index]) * 60,
            self.opens[index],
            self.highs[index],
            self.lows[index],
            self.closes[index],
            self.counts[index],
            self.spreads[index],
        )


@dataclass(frozen=True, slots=True)
class MinuteTicks:
    """Every tick of one minute, with their ``time_msc`` in a parallel list for bisecting."""

    times: list[int]
    ticks: list[Tick]


class PricePath:
    """The complete, deterministic price history of one symbol (see the module docstring).

    Args:
        spec: The symbol; its sessions and ``sim_*`` fields drive the walk.
        seed: The market seed; the same (seed, symbol name) always gives the same prices.
        tick_rate_hz: Average ticks per second while the session is open.
    """

    def __init__(self, spec: SimulatedSymbol, *, seed: int, tick_rate_hz: float) -> None:
        self.spec = spec
        #: CFD-style quotes carry no ``last``/volume, so COPY_TICKS_TRADE is empty for them;
        #: an exchange-style symbol (``sim_trade_ticks``) has trades among its ticks.
        self.has_trade_ticks = spec.sim_trade_ticks
        self._seed = seed
        self._ticks_per_minute = tick_rate_hz * 60.0
        masks = [bytearray(DAY_MINUTES) for _ in range(7)]
        for session in spec.sessions:
            if not (0 <= session.weekday < 7
                    and 0 <= session.start_minute <= session.end_minute <= DAY_MINUTES):
                raise ValueError(f"{spec.name}: invalid trading session {session}")
            span = session.end_minute - session.start_minute
            masks[session.weekday][session.start_minute:session.end_minute] = b"\x01" * span
        self._masks = tuple(bytes(mask) for mask in masks)
        self._open_minutes = tuple(
            tuple(minute for minute in range(DAY_MINUTES) if mask[minute]) for mask in masks
        )
        self._spread_factors = tuple(_spread_factors(minutes) for minutes in self._open_minutes)
        # Tick counts vary log-normally around the rate; spreads log-normally around the typical.
        per_minute = self._ticks_per_minute
        self._count_table = tuple(
            min(_MAX_TICKS_PER_MINUTE, max(1, int(per_minute * math.exp(0.3 * z) + 0.5)))
            for z in _BYTE_NORMAL
        )
        self._spread_table = tuple(
            max(1, int(spec.sim_spread_points * math.exp(0.2 * z) + 0.5)) for z in _BYTE_NORMAL
        )
        reference = max(len(minutes) for minutes in self._open_minutes) or 1
        self._sigma_minute = spec.sim_daily_volatility / math.sqrt(reference)
        # A day's shock scales with its trading time, so a short Friday moves less.
        self._weekday_sigma = tuple(
            spec.sim_daily_volatility * math.sqrt(len(minutes) / reference)
            for minutes in self._open_minutes
        )
        self._x0 = math.log(spec.sim_start_price)
        self._forward: list[float] = [self._x0]
        self._backward: list[float] = [self._x0]
        self._blocks: _Lru[int, list[float]] = _Lru(16)
        # About 60 kB per day of minutes and 100 kB per minute of ticks at 10 Hz.
        self._days: _Lru[int, DayMinutes] = _Lru(64)
        self._day_bars: _Lru[tuple[int, int], list[Bar]] = _Lru(1024)
        self._daily: _Lru[int, Bar | None] = _Lru(8192)
        self._ticks: _Lru[int, MinuteTicks] = _Lru(16)

    # -- sessions ---------------------------------------------------------------------------

    def is_open_minute(self, minute: int) -> bool:
        """Whether the absolute epoch minute lies inside a trading session."""
        day, mod = divmod(minute, DAY_MINUTES)
        return bool(self._masks[weekday(day)][mod])

    # -- level 1: day anchors ---------------------------------------------------------------

    def _rng(self, kind: str, index: int) -> Random:
        key = f"{self._seed}:{self.spec.name}:{kind}:{index}".encode()
        return Random(int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big"))

    def _shock(self, day: int) -> float:
        block, offset = divmod(day - ANCHOR_DAY, _BLOCK_DAYS)
        draws = self._blocks.get(block)
        if draws is None:
            draws = _normals(self._rng("days", block), _BLOCK_DAYS)
            self._blocks.put(block, draws)
        return draws[offset] * self._weekday_sigma[weekday(day)]

    def anchor(self, day: int) -> float:
        """Log price at the end of the epoch day (the close the day's bridge aims at)."""
        index = day - ANCHOR_DAY
        x0 = self._x0
        if index >= 0:
            forward = self._forward
            while len(forward) <= index:
                previous = forward[-1]
                shock = self._shock(ANCHOR_DAY + len(forward))
                forward.append(previous + shock + _REVERSION * (x0 - previous))
            return forward[index]
        backward = self._backward
        while len(backward) <= -index:
            later = backward[-1]
            # The walk read backwards: x[d] = x[d+1] - shock[d+1], with the same pull.
            shock = self._shock(ANCHOR_DAY - len(backward) + 1)
            backward.append(later - shock + _REVERSION * (x0 - later))
        return backward[-index]

    # -- level 2: minutes -------------------------------------------------------------------

    def day_minutes(self, day: int) -> DayMinutes | None:
        """The day's open minutes with their bars, or None on a day without sessions."""
        mods = self._open_minutes[weekday(day)]
        if not mods:
            return None
        cached = self._days.get(day)
        if cached is None:
            cached = self._generate_day(day, mods)
            self._days.put(day, cached)
        return cached

    def _generate_day(self, day: int, mods: tuple[int, ...]) -> DayMinutes:
        # Prices are integers of points here: exact, and much faster than round(x, digits).
        # An int divided by 10**digits is the same double as the rounded decimal. Everything is
        # a list comprehension over table lookups, because this runs for every day of a D1 chart.
        scale = 10**self.spec.digits
        count = len(mods)
        rng = self._rng("day", day)
        start, end = self.anchor(day - 1), self.anchor(day)
        sigma = self._sigma_minute
        walk = list(accumulate(_normals(rng, count)))
        # Brownian bridge: remove the linear share of the walk's miss so it ends on `end`.
        slope = (walk[-1] * sigma - (end - start)) / count
        level = math.exp(start) * scale
        minute_sd = sigma * level
        tick_sd = minute_sd / math.sqrt(max(1.0, self._ticks_per_minute))
        excursion = 0.35 * minute_sd
        exp = math.exp
        closes = [
            int(exp(start + sigma * w - slope * i) * scale + 0.5) for i, w in enumerate(walk, 1)
        ]
        jitters = [round(_BYTE_NORMAL[b] * tick_sd) for b in rng.randbytes(count)]
        ups = [int(_BYTE_HALF_NORMAL[b] * excursion + 0.5) for b in rng.randbytes(count)]
        downs = [int(_BYTE_HALF_NORMAL[b] * excursion + 0.5) for b in rng.randbytes(count)]
        count_table = self._count_table
        counts = [count_table[b] for b in rng.randbytes(count)]
        spread_table = self._spread_table
        factors = self._spread_factors[weekday(day)]
        spreads = [
            spread_table[b] * factor
            for b, factor in zip(rng.randbytes(count), factors, strict=True)
        ]
        if min(closes) < 1:
            closes = [c if c > 1 else 1 for c in closes]
        first = max(1, int(level + 0.5))
        fewest = min(counts)
        if fewest > 1:
            opens = [p + j for p, j in zip([first, *closes[:-1]], jitters, strict=True)]
        else:
            # A lone tick is open and close at once, which shifts the next minute's open.
            opens = []
            previous = first
            for i, ticks in enumerate(counts):
                open_ = previous + jitters[i]
                opens.append(open_)
                if ticks == 1:
                    closes[i] = open_
                previous = closes[i]
        if min(opens) < 1:
            opens = [o if o > 1 else 1 for o in opens]
            closes = [o if t == 1 else c for o, c, t in zip(opens, closes, counts, strict=True)]
        if fewest < 4:
            # Each extreme beyond open/close needs a tick of its own between them: none with
            # two ticks or fewer, only the larger excursion with three.
            triples = list(zip(ups, downs, counts, strict=True))
            ups = [u if t >= 4 or (t == 3 and u >= d) else 0 for u, d, t in triples]
            downs = [d if t >= 4 or (t == 3 and u < d) else 0 for u, d, t in triples]
        highs = [(o if o > c else c) + u for o, c, u in zip(opens, closes, ups, strict=True)]
        lows = [(c if o > c else o) - d for o, c, d in zip(opens, closes, downs, strict=True)]
        if min(lows) < 1:
            lows = [low if low > 1 else 1 for low in lows]
        return DayMinutes(
            day,
            array("H", mods),
            array("d", [v / scale for v in opens]),
            array("d", [v / scale for v in highs]),
            array("d", [v / scale for v in lows]),
            array("d", [v / scale for v in closes]),
            array("i", counts),
            array("i", spreads),
        )

    def day_bars(self, day: int, tf_minutes: int) -> list[Bar]:
        """Every bar of a ``tf_minutes`` timeframe (a divisor of 1440) over the whole day.

        Bars contain the complete day, future included; the caller cuts at "now".
        """
        # Only hourly and longer bars are cached (a few rows a day, so many days fit); minute
        # timeframes are rebuilt from the day's minutes, which is cheap.
        cacheable = tf_minutes >= 60
        key = (day, tf_minutes)
        if cacheable:
            cached = self._day_bars.get(key)
            if cached is not None:
                return cached
        minutes = self.day_minutes(day)
        if minutes is None:
            return []
        if tf_minutes == 1:
            return [minutes.bar(i) for i in range(len(minutes.mods))]
        bars = self.bars_between(minutes, 0, len(minutes.mods), tf_minutes)
        if cacheable:
            self._day_bars.put(key, bars)
        return bars

    def daily_bar(self, day: int) -> Bar | None:
        """The complete D1 bar of the day (kept in a large cache: D1/W1/MN1 charts use it)."""
        if not self._open_minutes[weekday(day)]:
            return None
        cached = self._daily.get(day)
        if cached is None:
            bars = self.day_bars(day, DAY_MINUTES)
            cached = bars[0] if bars else None
            self._daily.put(day, cached)
        return cached

    @staticmethod
    def bars_between(minutes: DayMinutes, lo: int, hi: int, tf_minutes: int) -> list[Bar]:
        """Bars of ``tf_minutes`` built from the open minutes with index in ``[lo, hi)``."""
        if lo >= hi:
            return []
        mods = minutes.mods
        # Find each bar's run of minutes by bisection, then aggregate the run with C-level
        # max/min/sum over array slices: a per-minute Python loop is the D1 bottleneck.
        starts: list[int] = []
        bucket = mods[lo] // tf_minutes
        last_bucket = mods[hi - 1] // tf_minutes
        while bucket <= last_bucket:
            start = bisect_left(mods, bucket * tf_minutes, lo, hi)
            if start < hi and mods[start] < (bucket + 1) * tf_minutes:
                starts.append(start)
                bucket += 1
            else:
                bucket = mods[start] // tf_minutes
        starts.append(hi)
        day_second = minutes.day * DAY_SECONDS
        opens, highs, lows = minutes.opens, minutes.highs, minutes.lows
        closes, counts, spreads = minutes.closes, minutes.counts, minutes.spreads
        return [
            (
                day_second + mods[a] // tf_minutes * tf_minutes * 60,
                opens[a],
                max(highs[a:b]),
                min(lows[a:b]),
                closes[b - 1],
                sum(counts[a:b]),
                min(spreads[a:b]),
            )
            for a, b in pairwise(starts)
        ]

    # -- level 3: ticks ---------------------------------------------------------------------

    def minute_ticks(self, minutes: DayMinutes, index: int) -> MinuteTicks:
        """Every tick of the ``index``-th open minute of the day (first = open, last = close)."""
        minute = minutes.day * DAY_MINUTES + minutes.mods[index]
        cached = self._ticks.get(minute)
        if cached is None:
            cached = self._generate_ticks(minutes, index, minute)
            self._ticks.put(minute, cached)
        return cached

    def _generate_ticks(self, minutes: DayMinutes, index: int, minute: int) -> MinuteTicks:
        scale = 10**self.spec.digits
        rng = self._rng("minute", minute)
        count = minutes.counts[index]
        if count == 1:
            offsets = [rng.randrange(MINUTE_MS)]
        else:
            offsets = sorted(rng.sample(range(MINUTE_MS), count))
        bar = (
            round(minutes.opens[index] * scale),
            round(minutes.highs[index] * scale),
            round(minutes.lows[index] * scale),
            round(minutes.closes[index] * scale),
        )
        bids = _tick_bids(rng, count, bar)
        base_spread = minutes.spreads[index]
        extra_scale = max(1.0, 0.3 * base_spread) / 128.0
        extras = rng.randbytes(count)
        base_ms = minute * MINUTE_MS
        times = [base_ms + offset for offset in offsets]
        ticks: list[Tick] = []
        previous_bid = previous_ask = -1
        last = 0
        both = TICK_FLAG_BID | TICK_FLAG_ASK
        for k in range(count):
            bid = bids[k]
            ask = bid + base_spread
            byte = extras[k]
            if k and byte >= 128:
                # Only the first tick is guaranteed to carry the bar's minimum spread.
                ask += 1 + int((byte - 128) * extra_scale)
            if bid != previous_bid:
                flags = both if ask != previous_ask else TICK_FLAG_BID
            elif ask != previous_ask:
                flags = TICK_FLAG_ASK
            else:
                # A real feed never repeats a quote: move the ask instead.
                ask += 1
                flags = TICK_FLAG_ASK
            if k == 0:
                flags = both
            volume = 0
            if self.has_trade_ticks and (k == 0 or byte % 3 == 0):
                # A trade: at the ask (a buy) or the bid (a sell), 1-50 lots; later quotes
                # keep showing it as ``last`` until the next trade, as MT5 does.
                at_ask = byte % 2 == 1
                last = ask if at_ask else bid
                volume = 1 + byte % 50
                flags |= TICK_FLAG_LAST | TICK_FLAG_VOLUME | (TICK_FLAG_BUY if at_ask
                                                              else TICK_FLAG_SELL)
            ticks.append(Tick(times[k], bid / scale, ask / scale,
                              last / scale if self.has_trade_ticks else 0.0, volume, flags,
                              float(volume)))
            previous_bid, previous_ask = bid, ask
        return MinuteTicks(times, ticks)


@functools.lru_cache(maxsize=32)
def _spread_factors(minutes: tuple[int, ...]) -> tuple[int, ...]:
    """Spread multiplier of each open minute: wide for the first minutes after a gap.

    A day's minute list starts at a gap by definition, so the FX rollover at 00:00 (where real
    brokers widen spreads) is wide too. ``minutes`` ascend without repeats, so the
    ``_WIDE_SPREAD_MINUTES`` minutes before one are all open exactly when the one that many
    places back is that many minutes earlier. Kept per session table: every path of a symbol
    with the same sessions has the same factors.
    """
    k = _WIDE_SPREAD_MINUTES
    return tuple(
        _WIDE_SPREAD_FACTOR if i < k or minutes[i - k] != minute - k else 1
        for i, minute in enumerate(minutes)
    )


def _tick_bids(rng: Random, count: int, bar: tuple[int, int, int, int]) -> list[int]:
    """Bids in points of ``count`` ticks that reproduce the (open, high, low, close) ``bar``."""
    open_, high, low, close = bar
    if count == 1:
        return [open_]
    anchors = {0: open_, count - 1: close}
    if count >= 4:
        at_high, at_low = rng.sample(range(1, count - 1), 2)
        anchors[at_high] = high
        anchors[at_low] = low
    elif count == 3:
        if high > max(open_, close):
            anchors[1] = high
        elif low < min(open_, close):
            anchors[1] = low
    noise = _normals(rng, count)
    step = (high - low) / math.sqrt(count)
    bids = [open_] * count
    for (i0, p0), (i1, p1) in pairwise(sorted(anchors.items())):
        bids[i1] = p1
        span = i1 - i0
        if span < 2:
            continue
        # A random walk pinned at both anchors (discrete Brownian bridge), kept inside the bar.
        partial = list(accumulate(noise[i0 + 1:i1 + 1]))
        miss = partial[-1]
        for k in range(1, span):
            share = k / span
            value = int(p0 + (p1 - p0) * share + (partial[k - 1] - miss * share) * step + 0.5)
            bids[i0 + k] = high if value > high else low if value < low else value
    return bids
