"""Each terminal's panel under the dashboard's table: its open positions with their P/L and
its equity and balance chart, every figure with the time the daemon read it.

No I/O (like ``views.py``): :func:`terminal_books` takes the terminals table's rows, the
books and series the authority keeps (``tables/positions.py``, ``tables/equity.py``) and
"now", and returns what ``_terminal_books.html`` shows. A figure read longer ago than
:data:`~mtgateway_console.tables.positions.STALE_AFTER_S` is marked stale in words, not colour
alone; so is a profit: its sign is written out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from mtgateway_base.prices import at_digits
from mtgateway_base.wire.reports import Position, PositionsBook
from mtgateway_base.wire.venues import Book

from ..tables.equity import Point
from ..tables.snapshots import Snapshot, open_words
from .chart import Flow, chart
from .views import read_ago, stale_note

__all__ = ["live_book", "live_summary", "margin_level", "price", "signed",
           "terminal_books", "tone", "trade_row", "utc_clock"]

#: MT4 ``cmd`` of a trade record, in words.
_CMD: Final = {0: "buy", 1: "sell", 2: "buy limit", 3: "sell limit", 4: "buy stop",
               5: "sell stop", 6: "buy stop limit", 7: "sell stop limit"}


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


def tone(value: float) -> str:
    """The class a P/L is coloured by (``pl-pos``, ``pl-neg``, ``pl-zero``)."""
    return "pl-zero" if signed(value) == "0.00" else "pl-pos" if value > 0 else "pl-neg"


def margin_level(account: Mapping[str, Any]) -> str:
    """An account's margin level as the pages write it: ``1,234.5 %``, or a dash with no
    margin in use (MT5 answers a level of 0 then, which means "none", not "0 %")."""
    used, level = account.get("margin", 0.0), account.get("margin_level", 0.0)
    if not used or not level:
        return "—"
    return f"{float(level):,.1f} %"


def trade_row(t: Mapping[str, Any], digits: Mapping[str, int]) -> dict[str, Any]:
    """One MT4 trade record's cells, its prices at its symbol's digits when a report said
    them; a balance operation's volume is a dash, as its prices are (it moved money, not
    lots)."""
    balance = t["state"] == "balance"
    kind = ("balance" if t["cmd"] == 6 else "credit") if balance \
        else _CMD.get(int(t["cmd"]), str(t["cmd"]))
    at = digits.get(str(t["symbol"]))
    return {"t": t, "kind": kind, "profit": signed(float(t["profit"])),
            "tone": tone(float(t["profit"])), "open_price": price(float(t["open_price"]), at),
            "close_price": price(float(t["close_price"]), at),
            "sl": price(float(t["sl"]), at), "tp": price(float(t["tp"]), at),
            "storage": signed(float(t["storage"])),
            "volume": "—" if balance else f"{float(t['volume']):.2f}"}


def live_book(snap: Snapshot | None, now: float) -> dict[str, Any] | None:
    """The live book its daemon reads from the broker beside a paper one, as the dashboard
    and ``/live`` show it (``_live_book.html``): the broker's balance, equity, margin and what
    stays open there; None without one (a live account, or a daemon older than it)."""
    if snap is None:
        return None
    a = snap.account
    floating = float(a["equity"]) - float(a["balance"]) - float(a.get("credit", 0.0))
    return {"account": a, "margin_level": margin_level(a), "floating": signed(floating),
            "floating_tone": tone(floating), "as_of": snap.as_of,
            "stale": stale_note(snap.as_of, now),
            "positions": [trade_row(t, snap.digits) for t in snap.trades
                          if t["state"] == "open"],
            "orders": [trade_row(t, snap.digits) for t in snap.trades
                       if t["state"] == "pending"],
            "positions_total": snap.positions_total, "orders_total": snap.orders_total}


def live_summary(snap: Snapshot | None) -> str:
    """What stays open at the broker, in a few words ("1 position and 1 pending order"),
    or empty without a live book beside a paper one."""
    if snap is None:
        return ""
    return open_words(snap.positions_total, snap.orders_total)


def _position_row(p: Position, digits: Mapping[str, int]) -> dict[str, Any]:
    """One position's cells, its prices at its symbol's digits when the report said them."""
    at = digits.get(p.symbol)
    return {"p": p, "profit": signed(p.profit), "swap": signed(p.swap), "tone": tone(p.profit),
            "price_open": price(p.price_open, at), "price_current": price(p.price_current, at),
            "sl": price(p.sl, at), "tp": price(p.tp, at)}


def terminal_books(rows: Sequence[Mapping[str, Any]],
                   books: Mapping[tuple[str, int, str], PositionsBook],
                   series: Mapping[tuple[str, int, str], list[Point]],
                   now: float,
                   beside: Mapping[tuple[str, int, str], Snapshot] | None = None,
                   flows: Mapping[tuple[int, str, Book], Sequence[Flow]] | None = None,
                   current: Mapping[tuple[str, int, str], Book] | None = None
                   ) -> list[dict[str, Any]]:
    """A panel for each reported terminal (per device) with figures or a history: its
    figures and positions while active, its chart, and while it trades on paper the live
    book its daemon reads beside the paper one (``beside``); ``flows``: each terminal's
    balance operations per book (drawn on its chart, ``chart.py``); ``current``: the book
    each terminal's latest report is from, which its positions are (each row says it)."""
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
            "chart": chart(points, (flows or {}).get(
                (key[1], key[2], points[-1].book if points else "live"), ())),
            "last_point": points[-1] if points else None,
            # the book the newest point is from: the one its daemon reports now
            "book": points[-1].book if points else "live",
            # the book the positions listed are from: the latest report's (each row says it)
            "positions_book": (current or {}).get(key)
            or (points[-1].book if points else "live"),
            "live_book": live_book((beside or {}).get(key), now)
            if figures is not None else None,
        })
    return panels
