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
back) is another account, not a move of this one. Such a break is named as what it is (the
other book's time, :func:`other_periods`: "on paper from 17:24 to 17:25"), never counted
among the gaps in the reports, which are silences.

**Money moved in or out** (deposits, withdrawals, credit: ``venues.FLOW_DEALS``) is not
trading. A chart given the range's balance operations (:func:`plot`'s ``flows``) draws the
line before each one shifted by it (as a price chart is adjusted for a dividend), so the
values drawn end at the account's figures now, and a 2,500 deposit neither climbs across the
interval it fell in nor sets the axis to the deposit's size, under which a 50 drawdown would
be a flat line; each operation is drawn where it happened as a step mark with its amount. The
points table beside the chart lists the figures as reported.

**The value labels** sit where no line runs (:func:`labels`): each is tried above its grid
line, then below, at the left, then at the right, and takes the first place no segment of the
lines crosses (measured at the phone's larger font); the labels are drawn over the lines, on
a halo, so one that finds no free place stays legible.

The balance is drawn as steps (:func:`steps`): it moves at once (a trade closed, money moved),
so its line goes across at the old balance, then up or down to the new; a line straight from
one report to the next would draw a balance that was never there.

**The time labels** (:func:`time_axis`) read to the minute ("11-29 05:17"), or to the second
when they are under a minute apart: a chart of under a minute read "11-29 05:17" three
times; a label that still says what its neighbour says is left out, and a chart of one
instant has one label.

The dashboard's chart is :func:`chart`; the live page's (``livechart.py``) adds a range and
the drawdown on the same scale and runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from mtgateway_base.wire.venues import Book

from ..tables.equity import DRAWN, Point, current
from ..tables.reports import SILENT_AFTER_S

__all__ = ["BOTTOM", "BOX", "GAP_S", "HEIGHT", "LEFT", "MAX_DRAWN", "MIN_SPAN_PCT", "RIGHT",
           "TOP", "WIDTH", "Chart", "Flow", "Label", "Plot", "TimeLabel", "adjusted", "chart",
           "drawn", "gap_after", "labels", "other_periods", "plot", "runs", "scale", "steps",
           "switched", "time_axis", "time_texts"]

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


#: A balance operation: when the report that first carried its deal was read (epoch s, the
#: console's clock, the same as its equity point's ``at``) and the money it moved in (< 0:
#: out). ``snapshots.KeptDeal.as_of`` and ``venues.flow_of``.
Flow = tuple[int, float]
#: The largest font a value label is drawn at (the phone's, where the chart is drawn at half
#: size: ``books.css``), and the share of it one digit takes: what a label's box is measured
#: with.
_LABEL_FONT: Final = 22.0
_DIGIT_WIDTH: Final = 0.62


@dataclass(frozen=True, slots=True)
class Label:
    """A value label: where its text is anchored (``anchor`` "start" or "end"), its value,
    and whether it hangs below that point (``below``) rather than sitting on it."""

    x: float
    y: float
    anchor: str
    value: float
    below: bool = False


@dataclass(frozen=True, slots=True)
class Plot:
    """What both charts draw of their points: the lines (one polyline per unbroken run,
    each series), the dots of runs of one point, the axis and its labels, the silences, the
    other book's periods, and the balance operations' marks ``(x, y, amount)``."""

    equity: tuple[str, ...]
    #: The balance's lines, as steps (:func:`steps`).
    balance: tuple[str, ...]
    #: ``(x, y of equity, y of balance)`` of each run of a single point.
    dots: tuple[tuple[float, float, float], ...]
    low: float
    high: float
    #: The grid lines: ``(y, value)`` for ``high``, the middle and ``low``.
    ticks: tuple[tuple[float, float], ...]
    labels: tuple[Label, ...]
    #: The breaks in the line for want of a report (longer than :func:`gap_after`).
    gaps: int
    #: The other book's times between the current book's runs: ``(from, to)`` each.
    switches: tuple[tuple[int, int], ...]
    #: The other book (``switches`` name it).
    other: Book
    flows: tuple[tuple[float, float, float], ...] = ()


#: A time label of the axis: where (``x``), its text, and how it is anchored there
#: (``start`` at the left edge, ``end`` at the right, ``middle`` between).
TimeLabel = tuple[float, str, str]


@dataclass(frozen=True, slots=True)
class Chart:
    """One terminal's chart: the points drawn (as reported), their span, the plot and the
    time axis's labels (:func:`time_axis`)."""

    points: tuple[Point, ...]
    start: int
    end: int
    plot: Plot
    times: tuple[TimeLabel, ...] = ()


def time_texts(times: Sequence[float]) -> list[str]:
    """``times`` (epoch s, oldest first) as the charts write them, in UTC: to the minute
    (``11-29 05:17``) when each is a minute or more after the one before, else all to the
    second (``11-29 05:17:13``), so labels seconds apart neither read the same nor look a
    minute apart."""
    fine = any(0 < b - a < 60 for a, b in itertools.pairwise(times))
    shape = "%m-%d %H:%M:%S" if fine else "%m-%d %H:%M"
    return [datetime.fromtimestamp(t, UTC).strftime(shape) for t in times]


def time_axis(start: int, end: int, count: int) -> tuple[TimeLabel, ...]:
    """The time axis of a plot over ``[start, end]``: ``count`` labels evenly spaced from
    the left edge to the right (:func:`time_texts`), the first anchored at its start, the
    last at its end, the rest centred; a label that reads as its neighbour does is left out
    (the outer ones kept), and a single instant has one label, in the middle."""
    plot_w = WIDTH - LEFT - RIGHT
    if end <= start or count < 2:
        return ((round(LEFT + plot_w / 2, 1), time_texts([start])[0], "middle"),)
    times = [start + (end - start) * i // (count - 1) for i in range(count)]
    texts = time_texts(times)  # the outer two differ: a second apart at least
    out: list[TimeLabel] = []
    for i, (at, text) in enumerate(zip(times, texts, strict=True)):
        if 0 < i < count - 1 and text in (out[-1][1], texts[-1]):
            continue  # says what a neighbour says
        anchor = "start" if i == 0 else "end" if i == count - 1 else "middle"
        out.append((round(LEFT + (at - start) / (end - start) * plot_w, 1), text, anchor))
    return tuple(out)


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


def other_periods(series: Sequence[Point]) -> tuple[tuple[int, int], ...]:
    """The other book's times between the current book's points of ``series`` (oldest
    first): ``(first, last)`` of each run of the other book's points that the current book
    reported both before and after (where :func:`switched` breaks the line)."""
    if not series:
        return ()
    book = series[-1].book
    out: list[tuple[int, int]] = []
    run: list[Point] = []
    seen = False
    for point in series:
        if point.book == book:
            if run and seen:
                out.append((run[0].at, run[-1].at))
            run, seen = [], True
        else:
            run.append(point)
    return tuple(out)


def adjusted(points: Sequence[Point], flows: Sequence[Flow]) -> list[Point]:
    """``points`` (oldest first) as drawn: each shifted by the money moved after it within
    them (a flow counts at the first point at or after it, which holds it; one at or before
    the first point is in its figures already), so the last is as reported."""
    if not flows or not points:
        return list(points)
    first, last = points[0].at, points[-1].at
    held = [(at, amount) for at, amount in flows if first < at <= last]
    if not held:
        return list(points)
    return [Point(p.at, p.balance + (moved := sum(a for at, a in held if at > p.at)),
                  p.equity + moved, p.book) for p in points]


def _crosses(box: tuple[float, float, float, float],
             a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the segment ``a``-``b`` meets the rectangle ``(x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = box
    (ax, ay), (bx, by) = a, b
    if max(ax, bx) < x0 or min(ax, bx) > x1 or max(ay, by) < y0 or min(ay, by) > y1:
        return False
    if x0 <= ax <= x1 and y0 <= ay <= y1:
        return True
    dx, dy = bx - ax, by - ay
    low, high = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def labels(ticks: Sequence[tuple[float, float]],
           lines: Sequence[Sequence[tuple[float, float]]]) -> tuple[Label, ...]:
    """Where each grid line's value label goes (the module docstring): the lowest under the
    plot, where no line runs; the others at the first of above-left, above-right,
    below-left, below-right that no segment of ``lines`` crosses (else the one fewest
    cross)."""
    out = []
    for i, (y, value) in enumerate(ticks):
        if i == len(ticks) - 1:
            out.append(Label(LEFT + 4, y + 8, "start", value, below=True))
            continue
        width = len(f"{value:,.2f}") * _LABEL_FONT * _DIGIT_WIDTH
        places = []
        for below in (False, True):
            top = y + 6 if below else y - 8 - _LABEL_FONT
            for anchor in ("start", "end"):
                x = LEFT + 4 if anchor == "start" else WIDTH - RIGHT - 4
                left = x if anchor == "start" else x - width
                box = (left, top, left + width, top + _LABEL_FONT)
                hits = sum(_crosses(box, a, b) for line in lines
                           for a, b in zip(line, line[1:], strict=False))
                hits += sum(box[0] - 4 <= px <= box[2] + 4 and box[1] - 4 <= py <= box[3] + 4
                            for line in lines if len(line) == 1 for px, py in line)
                places.append((hits, Label(x, y + 6 if below else y - 8, anchor, value,
                                           below)))
        out.append(min(places, key=lambda hit: hit[0])[1])
    return tuple(out)


def plot(points: Sequence[Point], whole: Sequence[Point], start: int, end: int,
         flows: Sequence[Flow] = ()) -> Plot:
    """The plot of ``points`` (the current book's, oldest first, at least one) over
    ``[start, end]``: ``whole`` is the series they were taken from (its other book's points
    break the line), ``flows`` the balance operations among them (the module docstring)."""
    shown = adjusted(points, flows)
    low, high = scale([p.equity for p in shown] + [p.balance for p in shown])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: int) -> float:
        return round(LEFT + (plot_w / 2 if end == start
                             else (at - start) / (end - start) * plot_w), 1)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * plot_h, 1)

    breaks = switched(whole)
    parts = runs(shown, gap_after(shown[0].at, shown[-1].at), breaks)
    middle = (low + high) / 2
    ticks = ((y(high), high), (y(middle), middle), (y(low), low))
    equity = [[(x(p.at), y(p.equity)) for p in run] for run in parts]
    balance = [[(float(xy.split(",")[0]), float(xy.split(",")[1])) for xy in steps(run, x, y)]
               for run in parts]
    marks = []
    for at, amount in flows:
        holder = next((p for p in shown if p.at >= at), None)
        if holder is not None and at > shown[0].at:
            marks.append((x(holder.at), y(holder.balance), amount))
    return Plot(tuple(" ".join(f"{a},{b}" for a, b in run) for run in equity),
                tuple(" ".join(f"{a},{b}" for a, b in run) for run in balance),
                tuple((x(run[0].at), y(run[0].equity), y(run[0].balance))
                      for run in parts if len(run) == 1),
                low, high, ticks, labels(ticks, [*equity, *balance]),
                sum(1 for run in parts[1:] if run[0].at not in breaks),
                other_periods(whole), "live" if shown[-1].book == "paper" else "paper",
                tuple(marks))


def chart(series: Sequence[Point], flows: Sequence[Flow] = ()) -> Chart | None:
    """The chart of ``series``'s current book (oldest first), or ``None`` when it is
    empty; ``flows``: that book's balance operations (drawn as the module docstring
    says)."""
    whole = drawn(series)
    points = current(whole)
    if not points:
        return None
    start, end = points[0].at, points[-1].at
    return Chart(points, start, end, plot(points, whole, start, end, flows),
                 time_axis(start, end, 2))


def steps(run: Sequence[Point], x: Callable[[int], float],
          y: Callable[[float], float]) -> list[str]:
    """A run's balance as steps: across at the old balance, then up or down to the new."""
    out = [f"{x(run[0].at)},{y(run[0].balance)}"]
    for before, after in zip(run, run[1:], strict=False):
        if after.balance != before.balance:
            out.append(f"{x(after.at)},{y(before.balance)}")
        out.append(f"{x(after.at)},{y(after.balance)}")
    return out
