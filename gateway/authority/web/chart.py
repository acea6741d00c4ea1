"""The equity and balance chart, drawn on the server as inline SVG (no script, no CDN).

The geometry is plain so a test can recompute it from the stored series: the plot is the
:data:`WIDTH` x :data:`HEIGHT` view box less its margins; a point at ``at`` is at
``x = LEFT + (at - start) / (end - start) * plot_width`` (the middle when the series has one
instant) and a value ``v`` at ``y = TOP + (high - v) / (high - low) * plot_height``, where
``[low, high]`` is :func:`scale`'s: the smallest to the largest of both series, widened to at
least :data:`MIN_SPAN_PCT` of the account's level around their middle, so a 33-cent move on
10,000 is drawn as the ripple it is, not as a cliff (a larger move still fills the plot).
Coordinates are rounded to 0.1. An interval with no report longer than :func:`gap_after`
breaks the line (:func:`runs`): an outage is drawn as one. A run of one point (a chart of a
single report, or a report between two outages) is drawn as a dot, since a line of one point
draws nothing. A series longer than :data:`MAX_DRAWN` points is drawn from the last point of
each of :data:`MAX_DRAWN` equal slices of its time span, as ``equity.series_of`` reads it (the
stored series keeps up to ~8,000 points; a page draws at most 240 per line).

Only the current book's points are drawn (``venues.py``: the series' newest point's book), and
the line breaks where the other book's points were (:func:`switched`): a switch to paper (or
back) is another account, not a move of this one.

The balance is drawn as steps (:func:`steps`): it moves at once (a trade closed, money moved),
so its line goes across at the old balance, then up or down to the new; a line straight from
one report to the next would draw a balance that was never there.

The dashboard's chart is :func:`chart`; the live page's (``livechart.py``) adds a range and
the drawdown on the same scale and runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ..equity import DRAWN, Point, current
from ..reports import SILENT_AFTER_S

__all__ = ["BOTTOM", "BOX", "GAP_S", "HEIGHT", "LEFT", "MAX_DRAWN", "MIN_SPAN_PCT", "RIGHT",
           "TOP", "WIDTH", "Chart", "chart", "drawn", "gap_after", "runs", "scale", "steps",
           "switched"]

WIDTH: Final = 640
HEIGHT: Final = 258
# the value labels sit inside the plot, above their grid lines, so the plot spans the width
# and the labels can be large enough to read on a phone, where the chart is drawn at half size;
# the lowest sits under the plot, above the time labels, where no line can run through it
LEFT: Final = 8
RIGHT: Final = 8
TOP: Final = 26
BOTTOM: Final = 70
#: The most points a chart draws per line.
MAX_DRAWN: Final = DRAWN
#: The value axis spans at least this share of the account's level (percent).
MIN_SPAN_PCT: Final = 1.0
#: No point for this long: the line breaks (a daemon silent longer than the dashboard's
#: "not heard from").
GAP_S: Final = SILENT_AFTER_S
#: The plot's box, as the template draws its frame, grid and labels.
BOX: Final = {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
              "top": TOP, "bottom": HEIGHT - BOTTOM}


@dataclass(frozen=True, slots=True)
class Chart:
    """One terminal's chart: its lines (one polyline per unbroken run, each series), the
    dots of runs of one point, the axis and the points drawn."""

    points: tuple[Point, ...]
    equity: tuple[str, ...]
    #: The balance's lines, as steps (:func:`steps`).
    balance: tuple[str, ...]
    #: ``(x, y of equity, y of balance)`` of each run of a single point.
    dots: tuple[tuple[float, float, float], ...]
    low: float
    high: float
    start: int
    end: int
    #: Where the value labels sit: ``(y, value)`` for ``high``, the middle and ``low``.
    ticks: tuple[tuple[float, float], ...]
    #: The breaks in the line: intervals without a report longer than :func:`gap_after`, and
    #: the other book's time.
    gaps: int


def scale(values: Sequence[float]) -> tuple[float, float]:
    """The value axis ``(low, high)`` of ``values``: their range, widened around its middle to
    at least :data:`MIN_SPAN_PCT` of their mean level (and 0.02, for an empty account)."""
    low, high = min(values), max(values)
    level = sum(abs(v) for v in values) / len(values)
    span = max(high - low, level * MIN_SPAN_PCT / 100, 0.02)
    middle = (low + high) / 2
    return middle - span / 2, middle + span / 2


def gap_after(start: int, end: int) -> float:
    """How long without a point breaks the line of a chart from ``start`` to ``end``:
    :data:`GAP_S`, or two of the slices a long series is drawn from (a drawn series has a
    point per slice, not per report, so a slice is not an outage)."""
    return max(GAP_S, 2 * (end - start) / MAX_DRAWN)


def switched(series: Sequence[Point]) -> frozenset[int]:
    """When ``series``' current book (its newest point's) reported again after its other
    book had: where its line breaks."""
    if not series:
        return frozenset()
    book = series[-1].book
    return frozenset(after.at for before, after in zip(series, series[1:], strict=False)
                     if before.book != book and after.book == book)


def runs(points: Sequence[Point], gap_s: float, breaks: frozenset[int] = frozenset()
         ) -> list[list[Point]]:
    """``points`` (oldest first, at least one) cut where two are more than ``gap_s`` apart,
    and before each point at one of ``breaks``."""
    out: list[list[Point]] = [[points[0]]]
    for before, after in zip(points, points[1:], strict=False):
        if after.at - before.at > gap_s or after.at in breaks:
            out.append([])
        out[-1].append(after)
    return out


def drawn(series: Sequence[Point], limit: int = MAX_DRAWN) -> tuple[Point, ...]:
    """``series`` (oldest first) as drawn: all of it up to ``limit`` points, else the last
    point of each of ``limit`` equal slices of its span."""
    if len(series) <= limit:
        return tuple(series)
    start, span = series[0].at, series[-1].at - series[0].at + 1
    last: dict[int, Point] = {}
    for point in series:  # the slices of equity.series_of, which already drew them
        last[(point.at - start) * limit // span] = point
    return tuple(last[k] for k in sorted(last))


def chart(series: Sequence[Point]) -> Chart | None:
    """The chart of ``series``'s current book (oldest first), or ``None`` when it is
    empty."""
    whole = drawn(series)
    points = current(whole)
    if not points:
        return None
    low, high = scale([p.equity for p in points] + [p.balance for p in points])
    start, end = points[0].at, points[-1].at
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: int) -> float:
        return round(LEFT + (plot_w / 2 if end == start
                             else (at - start) / (end - start) * plot_w), 1)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    parts = runs(points, gap_after(start, end), switched(whole))
    middle = (low + high) / 2
    return Chart(points,
                 tuple(" ".join(f"{x(p.at)},{y(p.equity)}" for p in run) for run in parts),
                 tuple(" ".join(steps(run, x, y)) for run in parts),
                 tuple((x(run[0].at), y(run[0].equity), y(run[0].balance))
                       for run in parts if len(run) == 1),
                 low, high, start, end, ((y(high), high), (y(middle), middle), (y(low), low)),
                 len(parts) - 1)


def steps(run: Sequence[Point], x: Callable[[int], float],
          y: Callable[[float], float]) -> list[str]:
    """A run's balance as steps: across at the old balance, then up or down to the new."""
    out = [f"{x(run[0].at)},{y(run[0].balance)}"]
    for before, after in zip(run, run[1:], strict=False):
        if after.balance != before.balance:
            out.append(f"{x(after.at)},{y(before.balance)}")
        out.append(f"{x(after.at)},{y(after.balance)}")
    return out
