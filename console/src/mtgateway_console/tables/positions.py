"""An active terminal's open positions, as its daemon last read them
(``mtgateway_base.wire.reports.PositionsBook``): the dashboard's P/L.

A daemon reports, with an ``active`` terminal's account figures, the open positions it read
through the EA (``positions_get``) and the time it read them (``as_of``). The list is bounded
(``MAX_REPORTED_POSITIONS``, the largest by ``|profit|``; the report's ``positions`` count
stays the total), so a terminal holding thousands of positions costs a report no more than a
few kilobytes. The console keeps the latest list per (owner, device, terminal) in
``terminal_books`` (schema migration "terminal books and equity history"), replaced by each
report and dropped when the terminal is no longer active, like ``terminal_figures``.

A daemon older than this field sends neither list nor time: its report is stored as before,
the book row says ``listed = 0`` (the dashboard says the daemon did not send its positions)
and "as of" is the time the console received the report.

With the list a daemon sends its symbols' digits (``symbol_info().digits``, the report's
``digits``): the pages write each price at its symbol's digits (``mtgateway_base/prices.py``).
Each stored position keeps its symbol's under ``digits``; a position stored without (a daemon
older than the field, or one that could not read them) is written as reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from mtgateway_base.wire.reports import REPORT_INTERVAL_S, AccountFigures, Position, PositionsBook

from ..database import Tx
from . import equity
from .approvals import approved_device

__all__ = ["STALE_AFTER_S", "books_of", "digits_of", "drop", "record", "save"]

#: Figures read longer ago than this are marked stale on the dashboard: the report interval
#: and 5 s for the read through the EA and the report's round trip.
STALE_AFTER_S: Final = REPORT_INTERVAL_S + 5

#: The key of one terminal on one device, for one owner.
Key = tuple[str, str, int, str]


def save(tx: Tx, key: Key, book: PositionsBook) -> None:
    """Replace the terminal's book with ``book``."""
    listed = book.positions is not None
    text = json.dumps([_with_digits(p.as_json(), book.digits) for p in book.positions or ()],
                      separators=(",", ":"))
    tx.execute("INSERT INTO terminal_books VALUES (?,?,?,?,?,?,?) "
               "ON CONFLICT (owner_email, device_id, login, server) DO UPDATE SET "
               "as_of = excluded.as_of, listed = excluded.listed, "
               "positions = excluded.positions", (*key, book.as_of, int(listed), text))


def record(tx: Tx, key: Key, figures: AccountFigures | None, book: PositionsBook | None,
           now: int, *, book_kept: bool, latest_point: int | None) -> None:
    """What one stored report adds beside its state: with figures (an ``active`` terminal),
    its book (as of when the daemon read it, never later than ``now``) and a point of its
    equity history; without, the book is dropped (the history stays).

    ``book_kept`` and ``latest_point`` say what the report's lookup found stored in this
    transaction (``prior.py``): whether the terminal has a book (without one there is none
    to drop) and when its latest equity point is (:func:`.equity.append`).
    """
    if figures is None:
        if book_kept:
            drop(tx, key)
        return
    book = book or PositionsBook(0.0)
    as_of = min(book.as_of, float(now)) if book.as_of > 0 else float(now)
    save(tx, key, PositionsBook(as_of, book.positions, book.digits))
    equity.append(tx, key, equity.Point(int(as_of), figures.balance, figures.equity,
                                        figures.book), latest_point)


def drop(tx: Tx, key: Key) -> None:
    """Forget the terminal's book (it is no longer active: its positions are not current)."""
    tx.execute("DELETE FROM terminal_books WHERE owner_email = ? AND device_id = ? "
               "AND login = ? AND server = ?", key)


def books_of(tx: Tx, owner_email: str) -> dict[tuple[str, int, str], PositionsBook]:
    """The owner's terminals' latest books, by (device id, login, server)."""
    rows = tx.query("SELECT b.device_id, b.login, b.server, b.as_of, b.listed, b.positions "
                    f"FROM terminal_books b WHERE b.owner_email = ? AND {approved_device('b')}",
                    (owner_email,))
    out = {}
    for r in rows:
        stored = json.loads(str(r[5]))
        out[(str(r[0]), int(r[1]), str(r[2]))] = PositionsBook(
            float(r[3]), _positions(stored) if int(r[4]) else None, digits_of(stored))
    return out


def _with_digits(entry: dict[str, object], digits: Mapping[str, int]) -> dict[str, object]:
    """A position's stored form, with its symbol's digits when the report said them."""
    known = digits.get(str(entry["symbol"]))
    return entry if known is None else {**entry, "digits": known}


def digits_of(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The digits stored records say of their symbols (``symbol`` → ``digits``; a record
    stored without them says nothing)."""
    return {str(r["symbol"]): int(r["digits"]) for r in records
            if isinstance(r.get("digits"), int) and r.get("symbol")}


def _positions(stored: list[dict[str, Any]]) -> tuple[Position, ...]:
    """The stored list (written by :func:`save` from validated reports)."""
    return tuple(Position(int(p["ticket"]), str(p["symbol"]),
                          "sell" if p["type"] == "sell" else "buy", float(p["volume"]),
                          float(p["price_open"]), float(p["price_current"]), float(p["sl"]),
                          float(p["tp"]), float(p["profit"]), float(p["swap"]))
                 for p in stored)
