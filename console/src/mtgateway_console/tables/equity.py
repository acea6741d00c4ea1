"""Each terminal's equity and balance over time, from its daemon's reports: the dashboard's chart.

Every report of an ``active`` terminal with account figures adds a point (its "as of" time,
balance, equity) to ``equity_points`` (schema migration "terminal books and equity history"),
per (owner, device, terminal). Retention, so a terminal reporting every 30 s for years keeps a
bounded series:

* every point of the last :data:`FULL_DETAIL_S` (48 h: 5,760 points at one report per 30 s);
* older, the last point of each UTC hour, for :data:`KEPT_FOR_S` (90 days: 2,160 points);
* nothing older.

The thinning runs when a point is added and the 48-hour line has crossed an hour boundary
since the terminal's previous point (so at most once an hour per terminal while it reports,
and at once after a silence); in between, the points that crossed it sit in one partly thinned
hour, so a terminal never holds more than 5,760 + 120 + 2,160 points. Reports within one
:data:`EVERY_S` slice of time keep the later one: a daemon reporting every few seconds while
positions are open (the live page's P/L) grows the series no faster than one at 30 s does.

A terminal that stops reporting keeps its series (the chart shows its past) within the same
bound; points older than 90 days are not shown, and are deleted by its next report.

Each point says its book (``venues.py``: the live account or the daemon's paper book; schema
migration 17): a slice keeps the later point of each book, the thinning keeps each book's last
point of the hour, and a chart draws the current book's points alone, broken where the
other's were (``web/chart.py``, ``web/livechart.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mtgateway_base.wire.venues import Book, book_of

from ..database import Tx

__all__ = ["DRAWN", "EVERY_S", "FULL_DETAIL_S", "HOUR_S", "KEPT_FOR_S", "Point", "add",
           "append", "books_of", "current", "latest", "series_of", "thin"]

#: Every point is kept this long.
FULL_DETAIL_S: Final = 48 * 3600
#: Past :data:`FULL_DETAIL_S`, the last point of each hour is kept.
HOUR_S: Final = 3600
#: Nothing older than this is kept.
KEPT_FOR_S: Final = 90 * 86400
#: The most points of one series a page reads (and its chart draws per line).
DRAWN: Final = 240
#: At most one point per slice of this many seconds (epoch-aligned): the later one stays.
EVERY_S: Final = 30

#: The key of one terminal on one device, for one owner.
Key = tuple[str, str, int, str]
_WHERE: Final = "owner_email = ? AND device_id = ? AND login = ? AND server = ?"


@dataclass(frozen=True, slots=True)
class Point:
    """The account's figures at ``at`` (epoch seconds, UTC)."""

    at: int
    balance: float
    equity: float
    #: Which book the figures are from.
    book: Book = "live"


def current(series: Sequence[Point]) -> tuple[Point, ...]:
    """The points of ``series`` (oldest first) of its newest point's book: what a chart of
    the terminal draws (its other book's points are another account's)."""
    if not series:
        return ()
    book = series[-1].book
    return tuple(p for p in series if p.book == book)


def latest(tx: Tx, key: Key) -> int | None:
    """When the terminal's latest point is (``None``: it has none)."""
    row = tx.query_one(f"SELECT MAX(at) FROM equity_points WHERE {_WHERE}", key)
    return None if row is None or row[0] is None else int(row[0])


def add(tx: Tx, key: Key, point: Point) -> None:
    """Append ``point`` to the terminal's series (:func:`append`, its latest point read
    first)."""
    append(tx, key, point, latest(tx, key))


def append(tx: Tx, key: Key, point: Point, previous: int | None) -> None:
    """Append ``point`` to the terminal's series whose latest point is at ``previous``
    (``None``: none; read in this transaction), replacing the earlier points of its slice,
    and thin the series when the 48-hour line has crossed an hour boundary since
    ``previous``.

    A series with no point from the slice's start on has nothing to replace, and one that
    had no point at all has nothing to thin: a terminal reporting every 30 s writes its
    point alone.
    """
    slice_start = point.at - point.at % EVERY_S
    if previous is not None and previous >= slice_start:
        tx.execute(f"DELETE FROM equity_points WHERE {_WHERE} AND at >= ? AND at < ? "
                   "AND book = ?", (*key, slice_start, point.at, point.book))
    tx.execute("INSERT INTO equity_points (owner_email, device_id, login, server, at, "
               "balance, equity, book) VALUES (?,?,?,?,?,?,?,?) "
               "ON CONFLICT (owner_email, device_id, login, server, at) DO UPDATE SET "
               "balance = excluded.balance, equity = excluded.equity, book = excluded.book",
               (*key, point.at, point.balance, point.equity, point.book))
    if previous is not None and \
            _hour(previous - FULL_DETAIL_S) != _hour(point.at - FULL_DETAIL_S):
        thin(tx, key, point.at)


def thin(tx: Tx, key: Key, now: int) -> int:
    """Apply the retention to one terminal's series as of ``now``; how many points went.

    Older than 48 h: the last point of each hour stays; older than 90 days: none."""
    gone = tx.changes(f"DELETE FROM equity_points WHERE {_WHERE} AND at < ?",
                      (*key, now - KEPT_FOR_S))
    cutoff = now - FULL_DETAIL_S
    old = tx.query(f"SELECT at, book FROM equity_points WHERE {_WHERE} AND at < ? "
                   "ORDER BY at", (*key, cutoff))
    kept: dict[tuple[str, int], int] = {}
    for at, book in old:  # ascending: the last one of each hour (and book) wins
        kept[(str(book), _hour(int(at)))] = int(at)
    doomed = [int(at) for at, book in old if kept[(str(book), _hour(int(at)))] != int(at)]
    for start in range(0, len(doomed), 500):
        chunk = doomed[start:start + 500]
        marks = ",".join("?" * len(chunk))
        gone += tx.changes(f"DELETE FROM equity_points WHERE {_WHERE} AND at IN ({marks})",
                           (*key, *chunk))
    return max(gone, 0)


def series_of(tx: Tx, owner_email: str, now: int, limit: int = DRAWN,
              since: int | None = None) -> dict[tuple[str, int, str], list[Point]]:
    """The owner's series within retention, by (device id, login, server), oldest first, at
    most ``limit`` points each: a longer series gives the last point of each of ``limit``
    equal slices of its span (slice ``(at - first) * limit // (span + 1)``), chosen by the
    database, so a dashboard refresh reads a few hundred rows per terminal, not thousands.
    ``since``: only points from then on (the live page's range)."""
    since = now - KEPT_FOR_S if since is None else max(since, now - KEPT_FOR_S)
    spans = tx.query("SELECT device_id, login, server, MIN(at), MAX(at), COUNT(*) "
                     "FROM equity_points WHERE owner_email = ? AND at >= ? "
                     "GROUP BY device_id, login, server ORDER BY device_id, login, server",
                     (owner_email, since))
    out: dict[tuple[str, int, str], list[Point]] = {}
    for device_id, login, server, first, last, count in spans:
        key = (owner_email, str(device_id), int(login), str(server))
        if int(count) <= limit:
            rows = tx.query(f"SELECT at, balance, equity, book FROM equity_points WHERE "
                            f"{_WHERE} AND at >= ? ORDER BY at", (*key, since))
        else:
            rows = tx.query(
                f"SELECT at, balance, equity, book FROM equity_points WHERE {_WHERE} "
                "AND at IN ("
                f"SELECT MAX(at) FROM equity_points WHERE {_WHERE} AND at >= ? "
                "GROUP BY (at - ?) * ? / ?) ORDER BY at",
                (*key, *key, since, int(first), limit, int(last) - int(first) + 1))
        out[key[1:]] = [Point(int(r[0]), float(r[1]), float(r[2]), book_of(r[3]))
                        for r in rows]
    return out


def books_of(tx: Tx, owner_email: str) -> dict[tuple[int, str], Book]:
    """The book of each of the owner's terminals' newest point (across its devices), by
    (login, server): the book its daemon reported last."""
    rows = tx.query("SELECT e.login, e.server, e.book, e.at FROM equity_points e "
                    "WHERE e.owner_email = ? AND e.at = (SELECT MAX(n.at) FROM equity_points n "
                    "WHERE n.owner_email = e.owner_email AND n.device_id = e.device_id "
                    "AND n.login = e.login AND n.server = e.server) ORDER BY e.at",
                    (owner_email,))
    return {(int(r[0]), str(r[1])): book_of(r[2]) for r in rows}  # the newest wins


def _hour(at: int) -> int:
    return at // HOUR_S
