"""The live page's equity chart: a chosen range, drawdown, gaps, and an honest scale.

Pure (no I/O), so a test recomputes the geometry from the series. What it fixes of the
dashboard's first chart (``chart.py``):

* **the scale**: the value axis spans at least :data:`MIN_SPAN_PCT` of the account's level
  (the mean of the values drawn), centred on the data, so a 33-cent move on 10,000 is a
  ripple, not a cliff; a larger move still fills the plot;
* **gaps**: an interval with no report longer than :data:`GAP_S` (a dead daemon, a stopped
  terminal) breaks the line, so an outage is drawn as an outage, not as a straight line;
* **a range**: the last day, week, month or 90 days (:data:`RANGES`), with the time labels at
  the start, the middle and the end (the axis starts at the first point when the series is
  younger than the range);
* **drawdown**: the largest fall of equity from a peak within the range, and the fall from
  the range's peak now, in money and percent; and the change over the range.

Coordinates follow ``chart.py``'s view box and margins (``x`` by time over the range's span,
``y`` by value over ``[low, high]``), rounded to 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..equity import Point
from .chart import (
    BOTTOM,
    GAP_S,
    HEIGHT,
    LEFT,
    MIN_SPAN_PCT,
    RIGHT,
    TOP,
    WIDTH,
    gap_after,
    runs,
    scale,
)

__all__ = ["DEFAULT_RANGE", "GAP_S", "MIN_SPAN_PCT", "RANGES", "Drawdown", "LiveChart",
           "drawdown", "live_chart", "range_of"]

#: The ranges the page offers: name → seconds.
RANGES: Final = {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "90d": 90 * 86_400}
DEFAULT_RANGE: Final = "1d"


def range_of(name: str | None) -> tuple[str, int]:
    """The range a query names, or the default: ``(name, seconds)``."""
    if name in RANGES:
        return name, RANGES[name]
    return DEFAULT_RANGE, RANGES[DEFAULT_RANGE]


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Within a range: the largest fall of equity from a prior peak (and its percent of that
    peak), the fall from the range's peak now, and the change from first to last."""

    max_money: float
    max_pct: float
    now_money: float
    now_pct: float
    change_money: float
    change_pct: float


def drawdown(points: Sequence[Point]) -> Drawdown | None:
    """The drawdown of ``points`` (oldest first), or ``None`` without points."""
    if not points:
        return None
    peak = points[0].equity
    worst, worst_pct = 0.0, 0.0
    for p in points:
        peak = max(peak, p.equity)
        fall = peak - p.equity
        if fall > worst:
            worst, worst_pct = fall, (fall / peak * 100 if peak > 0 else 0.0)
    now = peak - points[-1].equity
    first = points[0].equity
    change = points[-1].equity - first
    return Drawdown(round(worst, 2), round(worst_pct, 2), round(now, 2),
                    round(now / peak * 100 if peak > 0 else 0.0, 2), round(change, 2),
                    round(change / first * 100 if first > 0 else 0.0, 2))


@dataclass(frozen=True, slots=True)
class LiveChart:
    """One terminal's chart over a range: the lines (one polyline per unbroken run), the
    axis (low, high and three labels), the time labels, the gaps, and the drawdown."""

    points: tuple[Point, ...]
    equity: tuple[str, ...]
    balance: tuple[str, ...]
    #: ``(x, y of equity, y of balance)`` of each run of a single point (drawn as dots).
    dots: tuple[tuple[float, float, float], ...]
    low: float
    high: float
    start: int
    end: int
    ticks: tuple[tuple[float, float], ...]
    times: tuple[tuple[float, int], ...]
    gaps: int
    drawdown: Drawdown | None


def live_chart(series: Sequence[Point], now: int, range_s: int) -> LiveChart | None:
    """The chart of the points of ``series`` (oldest first) within ``range_s`` of ``now``,
    or ``None`` when none falls in it."""
    start = now - range_s
    points = tuple(p for p in series if p.at >= start)
    if not points:
        return None
    low, high = scale([p.equity for p in points] + [p.balance for p in points])
    middle = (low + high) / 2
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # the axis runs from the range's start, or from the first point when the series is
    # younger than the range (a day's range over ten minutes of history would be a dot)
    start = max(start, points[0].at)
    end = max(now, points[-1].at)

    def x(at: int) -> float:
        if end == start:
            return round(LEFT + plot_w / 2, 1)
        return round(LEFT + (at - start) / (end - start) * plot_w, 1)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    parts = runs(points, gap_after(points[0].at, points[-1].at))
    equity = tuple(" ".join(f"{x(p.at)},{y(p.equity)}" for p in run) for run in parts)
    balance = tuple(" ".join(f"{x(p.at)},{y(p.balance)}" for p in run) for run in parts)
    dots = tuple((x(run[0].at), y(run[0].equity), y(run[0].balance))
                 for run in parts if len(run) == 1)
    ticks = ((y(high), high), (y(middle), middle), (y(low), low))
    times = tuple((x(at), at) for at in (start, (start + end) // 2, end))
    return LiveChart(points, equity, balance, dots, low, high, start, end, ticks, times,
                     len(parts) - 1, drawdown(points))
