"""Each terminal's panel under the dashboard's table: its open positions with their P/L and
its equity and balance chart, every figure with the time the daemon read it.

No I/O (like ``views.py``): :func:`terminal_books` takes the terminals table's rows, the
books and series the authority keeps (``positions.py``, ``equity.py``) and "now", and returns
what ``_terminal_books.html`` shows. A figure read longer ago than
:data:`~gateway.authority.positions.STALE_AFTER_S` is marked stale in words, not colour alone;
so is a profit: its sign is written out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ...base.prices import at_digits
from ..equity import Point
from ..positions import Position, PositionsBook
from .chart import chart
from .views import read_ago, stale_note

__all__ = ["price", "signed", "terminal_books", "tone", "utc_clock", "utc_short"]


def utc_clock(epoch: float) -> str:
    """``HH:MM:SS UTC`` (the "as of" beside a figure; the full date is its title)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def signed(value: float) -> str:
    """A profit with its sign written out: ``+12.30``, ``-4.50``, ``0.00``."""
    text = f"{abs(value):,.2f}"
    if text == "0.00":
        return text
    return ("+" if value > 0 else "-") + text


def price(value: float, digits: int | None = None) -> str:
    """A price as the terminal shows it: at its symbol's digits (``3154.80``, ``147.520``),
    or as reported when the daemon did not say them (``1.0842``, ``97250.5``); a dash for an
    unset stop (0)."""
    if value == 0:
        return "—"
    return at_digits(value, digits)


def utc_short(epoch: float) -> str:
    """``MM-DD HH:MM`` UTC (the chart's time axis)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%m-%d %H:%M")


def tone(value: float) -> str:
    """The class a P/L is coloured by (``pl-pos``, ``pl-neg``, ``pl-zero``)."""
    return "pl-zero" if signed(value) == "0.00" else "pl-pos" if value > 0 else "pl-neg"


def _position_row(p: Position, digits: Mapping[str, int]) -> dict[str, Any]:
    """One position's cells, its prices at its symbol's digits when the report said them."""
    at = digits.get(p.symbol)
    return {"p": p, "profit": signed(p.profit), "swap": signed(p.swap), "tone": tone(p.profit),
            "price_open": price(p.price_open, at), "price_current": price(p.price_current, at),
            "sl": price(p.sl, at), "tp": price(p.tp, at)}


def terminal_books(rows: Sequence[Mapping[str, Any]],
                   books: Mapping[tuple[str, int, str], PositionsBook],
                   series: Mapping[tuple[str, int, str], list[Point]],
                   now: float) -> list[dict[str, Any]]:
    """A panel for each reported terminal (per device) with figures or a history: its
    figures and positions while active, and its chart."""
    panels: list[dict[str, Any]] = []
    for row in rows:
        if not row.get("device_id"):
            continue
        key = (str(row["device_id"]), int(row["login"]), str(row["server"]))
        figures = row.get("figures")
        book = books.get(key) if figures is not None else None
        points = series.get(key, [])
        if figures is None and not points:
            continue
        shown = sorted(book.positions, key=lambda p: (p.symbol, p.ticket)) \
            if book is not None and book.positions is not None else None
        # the account's floating P/L: equity less balance (every position, shown or not)
        profit = None if figures is None else figures.equity - figures.balance
        as_of = book.as_of if book is not None else None
        panels.append({
            "id": hashlib.sha256(repr(key).encode()).hexdigest()[:12],
            "login": key[1], "server": key[2], "device_id": key[0],
            "device_name": row.get("device_name", ""), "state": row.get("state", ""),
            "figures": figures, "as_of": as_of,
            "stale": stale_note(as_of, now),
            "age": "" if as_of is None else read_ago(now - as_of),
            "positions": [_position_row(p, book.digits if book is not None else {})
                          for p in shown or ()],
            "listed": shown is not None,
            "total": figures.positions if figures is not None else 0,
            "floating": None if profit is None else signed(profit),
            "floating_tone": None if profit is None else tone(profit),
            "chart": chart(points),
            "last_point": points[-1] if points else None,
            # the book the newest point is from: the one its daemon reports now
            "book": points[-1].book if points else "live",
        })
    return panels
