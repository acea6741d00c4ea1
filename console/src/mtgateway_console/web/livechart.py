"""The live page's equity chart: a chosen range, drawdown, gaps, and an honest scale.

Pure (no I/O), so a test recomputes the geometry from the series. The scale, the gaps and the
book's breaks are the dashboard's chart's (``chart.py``); what the live page adds is its
range, the drawdown and the balance operations' marks:

* **the scale**: the value axis spans at least :data:`MIN_SPAN_PCT` of the account's level
  (the mean of the values drawn), centred on the data, so a 33-cent move on 10,000 is a
  ripple, not a cliff; a larger move still fills the plot;
* **gaps**: an interval with no report longer than :data:`GAP_S` (a dead daemon, a stopped
  terminal) breaks the line, so an outage is drawn as an outage, not as a straight line;
* **a range**: the last day, week, month or 90 days (:data:`RANGES`), with the time labels at
  the start, the middle and the end (the axis starts at the first point when the series is
  younger than the range), to the second when the minutes would repeat (``chart.time_axis``);
* **drawdown**: the largest fall of equity from a peak within the range, and the fall from
  the range's peak now, in money and percent; and the change over the range, all of them
  without balance operations (a deposit is not a gain, a withdrawal not a loss: see
  :func:`drawdown`);
* **one book**: the points of the series' current book (``venues.py``: a paper account's are
  its paper book's), the line broken where the other book's points were, so a switch of book
  is a break, not a cliff;
* **balance as steps** (``chart.steps``, as the dashboard's): the balance moves at once (a
  trade closed, money moved), so its line goes across then up or down;
* **money moved** (``chart.py``): the line before a balance operation is drawn shifted by it,
  so a deposit neither climbs nor sets the axis to its size; each is marked where it
  happened with its amount;
* **the value labels** where no line runs (``chart.labels``).

Coordinates follow ``chart.py``'s view box and margins (``x`` by time over the range's span,
``y`` by value over ``[low, high]``), rounded to 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..tables.equity import Point, current
from .chart import GAP_S, MIN_SPAN_PCT, Flow, Plot, TimeLabel, plot, time_axis

__all__ = ["DEFAULT_RANGE", "GAP_S", "MIN_SPAN_PCT", "RANGES", "Drawdown", "Flow", "LiveChart",
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
    """Within a range, without balance operations: the largest fall of equity from a prior
    peak (and its percent), the fall from the range's peak now, and the change from first to
    last."""

    max_money: float
    max_pct: float
    now_money: float
    now_pct: float
    change_money: float
    change_pct: float


def drawdown(points: Sequence[Point], flows: Sequence[Flow] = ()) -> Drawdown | None:
    """The drawdown of ``points`` (oldest first), or ``None`` without points, leaving out
    the balance operations ``flows``: a flow counts in the interval that ends at the first
    point at or after it (its report's point holds it); one at or before the first point is
    already in the starting equity.

    Money is measured on equity less the money moved since the first point: what trading
    made or lost, whatever was deposited or withdrawn. Percentages are time-weighted: each
    interval's return is its change (less the money moved in it) over the equity at work at
    its start, and the returns are chained; the change is the chained return, and a fall
    is the chained return from the peak. Why not the money over the first equity: a 500
    loss after a 2,500 deposit on 10,000 is 4 % of what was at work, not 5 %; and after
    9,000 of 10,000 withdrawn, losing 500 of the 1,000 left is 50 %, which a share of the
    first 10,000 would call 5 %. This is how performance is quoted without the owner's
    deposits (the time-weighted return of the GIPS standards); with no balance operation
    both measures are the plain ones, the fall's percent of its peak. The peak and the fall
    are the money's; the percent is over the same interval.
    """
    if not points:
        return None
    moved = [0.0] * len(points)  # the money moved in the interval ending at each point
    for at, amount in flows:
        for i in range(1, len(points)):
            if points[i - 1].at < at <= points[i].at:
                moved[i] += amount
                break
    adjusted = [points[0].equity]  # equity less the money moved since the first point
    index = [1.0]  # the time-weighted growth of 1 since the first point
    for i in range(1, len(points)):
        adjusted.append(adjusted[-1] + points[i].equity - points[i - 1].equity - moved[i])
        before = points[i - 1].equity
        growth = (points[i].equity - moved[i]) / before if before > 0 else 1.0
        index.append(index[-1] * growth)
    peak = 0
    worst, worst_pct = 0.0, 0.0
    for i in range(len(points)):
        if adjusted[i] > adjusted[peak]:
            peak = i
        fall = adjusted[peak] - adjusted[i]
        if fall > worst:
            worst, worst_pct = fall, (1 - index[i] / index[peak]) * 100
    now = adjusted[peak] - adjusted[-1]
    now_pct = (1 - index[-1] / index[peak]) * 100 if now > 0 else 0.0
    return Drawdown(round(worst, 2), round(worst_pct, 2), round(now, 2), round(now_pct, 2),
                    round(adjusted[-1] - adjusted[0], 2), round((index[-1] - 1) * 100, 2))


@dataclass(frozen=True, slots=True)
class LiveChart:
    """One terminal's chart over a range: the points drawn (as reported), the axis's span
    and time labels, the drawdown, and the plot (``chart.Plot``: lines, axis and its labels,
    gaps, the other book's periods, balance operations)."""

    points: tuple[Point, ...]
    start: int
    end: int
    #: The time axis's labels (``chart.time_axis``): at the start, the middle and the end,
    #: to the second when the minutes would repeat, one for a single instant.
    times: tuple[TimeLabel, ...]
    drawdown: Drawdown | None
    plot: Plot


def live_chart(series: Sequence[Point], now: int, range_s: int,
               flows: Sequence[Flow] = ()) -> LiveChart | None:
    """The chart of the points of ``series`` (oldest first) of its current book within
    ``range_s`` of ``now``, or ``None`` when none falls in it; ``flows`` are that book's
    balance operations (left out of the drawdown, marked on the balance line, and the line
    before each drawn shifted by it: ``chart.py``)."""
    start = now - range_s
    inside = tuple(p for p in series if p.at >= start)
    points = current(inside)
    if not points:
        return None
    # the axis runs from the range's start, or from the first point when the series is
    # younger than the range (a day's range over ten minutes of history would be a dot)
    start = max(start, points[0].at)
    end = max(now, points[-1].at)

    return LiveChart(points, start, end, time_axis(start, end, 3), drawdown(points, flows),
                     plot(points, inside, start, end, flows))
