"""What daemons read of each active terminal's account beside its positions book: margin,
open trades and orders, and the deals they saw; the settlements of the owner's instructions.

The console's API answers an owner's accounts across terminals (``GET /api/accounts/margins``,
``/api/trades/open``, ``POST /api/trades/history/{login}``, ``/api/admin/trades/lookup``) from
here, each figure with the time its daemon read it (``as_of``, moved to the console's clock as
the positions book is). A daemon sends, with an active terminal's report, its account's
``account_info`` margin fields, its open positions and pending orders, and the deals it has
not reported yet (:class:`AccountDetails`); the latest snapshot is kept per (owner, device,
terminal) in ``terminal_snapshots`` and dropped when the terminal is no longer active (its
figures are not current then); deals are kept per terminal in ``terminal_deals``, by book
and ticket (a deal reported twice is stored once; the live account and the paper book number
their deals apart, ``venues.py``), for :data:`KEEP_DEALS_S`. A snapshot says its book too.
While a terminal trades on paper its daemon also sends the live book's details beside the
paper book's (``TerminalReport.live``): they are kept in the same snapshot
(:attr:`Snapshot.live`), and their deals under the live book, so the broker's margin and what
stays open there are never hidden by the paper book.
Records are stored as the daemon read them (MT5 field names) and shown as MT4
``TradeRecord`` s (``mt4records.py``). The symbols' digits a report carries
(``PositionsBook.digits``, ``mtgateway_base.wire.reports``) are kept with them for the pages: a
snapshot's as a map beside its trades, a deal's in the deal under ``digits`` (the API's
records leave it out).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from mtgateway_base.mt4web import mt4records
from mtgateway_base.wire.reports import AccountDetails
from mtgateway_base.wire.venues import BOOKS, FLOW_DEALS, Book, book_of, flow_of

from ..database import Tx
from .approvals import approved_device

__all__ = ["KEEP_DEALS_S", "KeptDeal", "Snapshot", "add_deals", "deals_of", "drop", "flows_of",
           "live_open", "open_words", "save", "snapshots_of"]

#: How long the console keeps a reported deal (by the deal's time).
KEEP_DEALS_S: Final = 90 * 86400

Key = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest snapshot of one terminal on one device: when read, the margin fields and
    the open trades as ``TradeRecord`` s."""

    as_of: float
    account: dict[str, Any]
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions_total: int = 0
    orders_total: int = 0
    #: Which book it was read from.
    book: Book = "live"
    #: The digits of its trades' symbols, where the report said them.
    digits: dict[str, int] = field(default_factory=dict)
    #: Beside a paper book's snapshot: the live book's, read with it from the broker (the
    #: same time and digits), else None.
    live: Snapshot | None = None

    def books(self) -> tuple[Snapshot, ...]:
        """This snapshot and the live book's beside it, if any: every book reported now."""
        return (self,) if self.live is None else (self, self.live)


def _trades(login: int, details: AccountDetails) -> list[dict[str, Any]]:
    """The open positions and pending orders of ``details`` as MT4 trade records."""
    trades = [mt4records.position_record(login, p) for p in details.positions]
    return trades + [mt4records.order_record(login, o) for o in details.orders]


def save(tx: Tx, key: Key, details: AccountDetails, as_of: float,
         book: Book = "live", digits: Mapping[str, int] | None = None,
         live: AccountDetails | None = None) -> None:
    """Replace the terminal's snapshot (read from ``book``), with the digits of its trades'
    symbols among ``digits`` and the live book's details read beside a paper book's
    (``live``)."""
    login = key[2]
    trades = _trades(login, details)
    body: dict[str, Any] = {"trades": trades, "positions_total": details.positions_total,
                            "orders_total": details.orders_total}
    shown = list(trades)
    if live is not None and book == "paper":
        beside = _trades(login, live)
        shown += beside
        body["live"] = {"account": dict(live.account), "trades": beside,
                        "positions_total": live.positions_total,
                        "orders_total": live.orders_total}
    said = digits or {}
    known = {t["symbol"]: said[t["symbol"]] for t in shown if t["symbol"] in said}
    if known:
        body["digits"] = known
    tx.execute("INSERT INTO terminal_snapshots (owner_email, device_id, login, server, as_of, "
               "account, trades, book) VALUES (?,?,?,?,?,?,?,?) "
               "ON CONFLICT (owner_email, device_id, login, server) DO UPDATE SET "
               "as_of = excluded.as_of, account = excluded.account, "
               "trades = excluded.trades, book = excluded.book",
               (*key, as_of, json.dumps(dict(details.account), separators=(",", ":")),
                json.dumps(body, separators=(",", ":")), book))


def drop(tx: Tx, key: Key) -> None:
    """Forget the terminal's snapshot (it is not active: its figures are not current)."""
    tx.execute("DELETE FROM terminal_snapshots WHERE owner_email = ? AND device_id = ? AND "
               "login = ? AND server = ?", key)


def snapshots_of(tx: Tx, owner_email: str) -> dict[tuple[str, int, str], Snapshot]:
    """The owner's latest snapshots from the devices the owner approves now, by (device id,
    login, server)."""
    rows = tx.query("SELECT s.device_id, s.login, s.server, s.as_of, s.account, s.trades, "
                    "s.book FROM terminal_snapshots s WHERE s.owner_email = ? AND "
                    f"{approved_device('s')}", (owner_email,))
    out = {}
    for r in rows:
        body = json.loads(str(r[5]))
        digits = {str(k): int(v) for k, v in body.get("digits", {}).items()}
        beside = body.get("live")
        live = None if not isinstance(beside, dict) else Snapshot(
            float(r[3]), dict(beside["account"]), list(beside["trades"]),
            int(beside["positions_total"]), int(beside["orders_total"]), "live", digits)
        out[(str(r[0]), int(r[1]), str(r[2]))] = Snapshot(
            float(r[3]), json.loads(str(r[4])), list(body["trades"]),
            int(body["positions_total"]), int(body["orders_total"]), book_of(r[6]), digits,
            live)
    return out


def live_open(tx: Tx, owner_email: str, login: int, server: str) -> tuple[int, int]:
    """How many positions and pending orders the terminal's live book holds open at the
    broker, by its freshest snapshot of the live book (a live account's, or the one read
    beside a paper book); ``(0, 0)`` when none is reported now."""
    found = [s for (_, lo, se), s in snapshots_of(tx, owner_email).items()
             if (lo, se) == (login, server)]
    if not found:
        return 0, 0
    fresh = max(found, key=lambda s: s.as_of)
    live = fresh if fresh.book == "live" else fresh.live
    return (0, 0) if live is None else (live.positions_total, live.orders_total)


def open_words(positions: int, orders: int) -> str:
    """``positions`` and ``orders`` in words: "1 position and 1 pending order", or
    "nothing open"."""
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
             ((positions, "position"), (orders, "pending order")) if n]
    return " and ".join(parts) if parts else "nothing open"


#: The condition that a kept deal comes from a device its owner approves now.
_STANDS: Final = approved_device("terminal_deals")


def add_deals(tx: Tx, owner_email: str, device_id: str, login: int, server: str,
              deals: Sequence[Mapping[str, Any]], as_of: float, now: int, *,
              book: Book = "live", digits: Mapping[str, int] | None = None,
              server_offset: int | None = None) -> None:
    """Keep reported deals of ``book``, each with the device that reported it. A ticket
    already kept in that book is kept once: the first report of it stands while its device
    is one the owner approves; one kept from a device no longer approved (or from before
    devices were noted) is replaced by the next report that names it. The other book's
    ticket of the same number is another deal. Deals older than :data:`KEEP_DEALS_S` are
    dropped.

    A deal's ``as_of`` is the report that first carried it: the equity point of that report
    is the first that holds it (``web/livechart.py`` places balance operations by it, on the
    console's clock, where the deal's own time is the trade server's). Each deal keeps its
    symbol's digits when ``digits`` says them, and the trade server's clock less the
    console's (``server_offset``, seconds) when its report measured it, under
    ``server_offset`` (:meth:`KeptDeal.utc_time`; the API's records leave both out)."""
    for deal in deals:
        known = (digits or {}).get(str(deal.get("symbol", "")))
        if known is not None:
            deal = {**deal, "digits": known}
        if server_offset is not None:
            deal = {**deal, "server_offset": server_offset}
        tx.execute("INSERT INTO terminal_deals (owner_email, login, server, book, ticket, "
                   "time, as_of, deal, device_id) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT "
                   "(owner_email, login, server, book, ticket) DO UPDATE SET "
                   "time = excluded.time, as_of = excluded.as_of, deal = excluded.deal, "
                   f"device_id = excluded.device_id WHERE NOT {_STANDS}",
                   (owner_email, login, server, book, int(deal["ticket"]), int(deal["time"]),
                    as_of, json.dumps(dict(deal), separators=(",", ":")), device_id))
    if deals:
        tx.execute("DELETE FROM terminal_deals WHERE owner_email = ? AND login = ? AND "
                   "server = ? AND time < ?", (owner_email, login, server, now - KEEP_DEALS_S))


class KeptDeal(NamedTuple):
    """A kept deal: its terminal, when the report that first carried it was read (the
    console's clock), the MT5 ``TradeDeal`` fields, and its book."""

    login: int
    server: str
    as_of: float
    deal: dict[str, Any]
    book: Book = "live"

    def utc_time(self) -> int | None:
        """When the deal was made, on the console's clock (UTC, epoch seconds): its ``time``
        less the trade server's clock offset its report measured, and never after the
        report that first carried it (``as_of``: a deal is reported after it is made; the
        offset is measured to the second). ``None`` when its report did not say the offset
        (a daemon older than it, or a deal kept before it): its ``time`` is then the trade
        server's wall clock alone, UTC+2 at most brokers.

        Why: MT5 dates deals on the trade server's wall clock, and the pages say UTC."""
        offset = self.deal.get("server_offset")
        if not isinstance(offset, int) or isinstance(offset, bool):
            return None
        return min(int(self.deal["time"]) - offset, math.floor(self.as_of))


def deals_of(tx: Tx, owner_email: str, terminals: Sequence[tuple[int, str]], *,
             date_from: int = 0, date_to: int = 2**62, tickets: Sequence[int] = (),
             positions: Sequence[int] = (), books: Sequence[Book] = BOOKS,
             seen_from: int = 2**62) -> list[KeptDeal]:
    """The owner's kept deals of ``terminals`` and ``books`` dated (the trade server's
    ``time``) in ``[date_from, date_to]``, or first reported (``as_of``, the console's
    clock) at ``seen_from`` or later (or those with one of ``tickets`` or of ``positions``),
    oldest first (the live book's before the paper book's in one second); only deals a
    device the owner approves now reported (or kept before devices were noted with them).

    ``seen_from``: the live page's range is on the console's clock, and a server clock
    behind it (a replayed terminal, a broker west of UTC) dates a deal of the range before
    it; a deal is reported after it is made, so every deal made in the range is either."""
    out = []
    marks = ",".join("?" * len(books))
    for login, server in terminals:
        rows = tx.query("SELECT d.as_of, d.deal, d.book FROM terminal_deals d WHERE "
                        "d.owner_email = ? AND d.login = ? AND d.server = ? AND "
                        "(d.time >= ? OR d.as_of >= ?) "
                        f"AND d.time <= ? AND d.book IN ({marks}) AND "
                        f"(d.device_id = '' OR {approved_device('d')}) "
                        "ORDER BY d.time, d.book, d.ticket",
                        (owner_email, login, server, date_from, seen_from, date_to, *books))
        for r in rows:
            deal = json.loads(str(r[1]))
            if tickets or positions:
                if deal["ticket"] not in tickets and deal["position_id"] not in positions:
                    continue
            out.append(KeptDeal(login, server, float(r[0]), deal, book_of(r[2])))
    return out


#: A kept deal that is a balance operation: its stored text names one of ``FLOW_DEALS``
#: (``add_deals`` writes each deal compactly, ``"type":N`` among its keys).
_FLOW_TEXT: Final = " OR ".join(f"d.deal LIKE '%\"type\":{kind},%'"
                                for kind in sorted(FLOW_DEALS))


def flows_of(tx: Tx, owner_email: str, terminals: Sequence[tuple[int, str]]
             ) -> dict[tuple[int, str, Book], list[tuple[int, float]]]:
    """The balance operations kept for ``terminals`` (deposits, withdrawals, credit:
    ``venues.FLOW_DEALS``), per (login, server, book): when the report that first carried
    each was read (the console's clock, as an equity point's time) and the money it moved,
    oldest first. Read apart from the deals (they are few; the trades are many), for the
    dashboard's chart."""
    out: dict[tuple[int, str, Book], list[tuple[int, float]]] = {}
    for login, server in terminals:
        rows = tx.query("SELECT d.as_of, d.deal, d.book FROM terminal_deals d WHERE "
                        "d.owner_email = ? AND d.login = ? AND d.server = ? AND "
                        f"({_FLOW_TEXT}) AND (d.device_id = '' OR {approved_device('d')}) "
                        "ORDER BY d.as_of, d.ticket", (owner_email, login, server))
        for r in rows:
            amount = flow_of(json.loads(str(r[1])))
            if amount:
                out.setdefault((login, server, book_of(r[2])), []).append(
                    (int(float(r[0])), amount))
    return out
