"""The equity and balance chart, drawn on the server as inline SVG (no script, no CDN).

The geometry is plain so a test can recompute it from the stored series: the plot is the
:data:`WIDTH` x :data:`HEIGHT` view box less its margins; a point at ``at`` is at
``x = LEFT + (at - start) / (end - start) * plot_width`` (the middle when the series has one
instant) and a value ``v`` at ``y = TOP + (high - v) / (high - low) * plot_height``, where
``low`` and ``high`` are the smallest and largest of both series (1 either side of a flat
one). Coordinates are rounded to 0.1. A series longer than :data:`MAX_DRAWN` points is drawn
from the last point of each of :data:`MAX_DRAWN` equal slices of its time span, as
``equity.series_of`` reads it (the stored series keeps up to ~8,000 points; a page draws at
most 240 per line).

Only the current book's points are drawn (``venues.py``: the series' newest point's book), and
the line breaks where the other book's points were: a switch to paper (or back) is another
account, not a move of this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..equity import DRAWN, Point, current

__all__ = ["BOTTOM", "BOX", "HEIGHT", "LEFT", "MAX_DRAWN", "RIGHT", "TOP", "WIDTH", "Chart",
           "chart", "drawn"]

WIDTH: Final = 640
HEIGHT: Final = 220
# the value labels sit inside the plot, above their grid lines, so the plot spans the width
# and the labels can be large enough to read on a phone, where the chart is drawn at half size
LEFT: Final = 8
RIGHT: Final = 8
TOP: Final = 26
BOTTOM: Final = 30
#: The most points a chart draws per line.
MAX_DRAWN: Final = DRAWN
#: The plot's box, as the template draws its frame, grid and labels.
BOX: Final = {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
              "top": TOP, "bottom": HEIGHT - BOTTOM}


@dataclass(frozen=True, slots=True)
class Chart:
    """One terminal's chart: its two polylines, axis labels and the points drawn."""

    points: tuple[Point, ...]
    equity: str
    balance: str
    low: float
    high: float
    start: int
    end: int
    #: Where the value labels sit: ``(y, value)`` for ``high``, the middle and ``low``.
    ticks: tuple[tuple[float, float], ...]
    #: The lines broken where the other book reported (``equity`` and ``balance`` whole,
    #: when it never did).
    equity_runs: tuple[str, ...] = ()
    balance_runs: tuple[str, ...] = ()


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
    book = points[-1].book
    switched = {after.at for before, after in zip(whole, whole[1:], strict=False)
                if before.book != book and after.book == book}
    values = [p.equity for p in points] + [p.balance for p in points]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    start, end = points[0].at, points[-1].at
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: int) -> float:
        return round(LEFT + (plot_w / 2 if end == start
                             else (at - start) / (end - start) * plot_w), 1)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    def line(values: Sequence[tuple[int, float]]) -> str:
        return " ".join(f"{x(at)},{y(v)}" for at, v in values)

    runs: list[list[Point]] = [[points[0]]]
    for after in points[1:]:
        if after.at in switched:
            runs.append([])
        runs[-1].append(after)
    middle = (low + high) / 2
    return Chart(points, line([(p.at, p.equity) for p in points]),
                 line([(p.at, p.balance) for p in points]), low, high, start, end,
                 ((y(high), high), (y(middle), middle), (y(low), low)),
                 tuple(line([(p.at, p.equity) for p in run]) for run in runs),
                 tuple(line([(p.at, p.balance) for p in run]) for run in runs))
