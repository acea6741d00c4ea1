"""What a daemon reports of its terminals, as both sides hold it: the report's values.

A daemon reports, signed with its device key (``POST /v1/terminals/report``), each terminal's
state when it changes and all of them every :data:`REPORT_INTERVAL_S`: ``active`` (an EA
session is up), ``disconnected`` (it went down, with the bridge's reason) or ``refused`` (a
handshake was refused: the reason word the EA got). With an ``active`` terminal it sends what
the account holds (:class:`AccountFigures`), its open positions, the largest by ``|profit|``
(:class:`PositionsBook`, at most :data:`MAX_REPORTED_POSITIONS`), the margin, open trades and
orders and the deals not reported yet (:class:`AccountDetails`, at most :data:`MAX_TRADES`
each and :data:`MAX_DEALS`), and with any state the owner's instructions it settled since its
last report (:class:`Settlement`). The daemon's reporter builds these values; the console
validates the report at its edge into the same values and keeps them in its tables.

Which fields a report carries beyond the first release's is negotiated (:data:`TAKES`; the
package's ``__init__`` says how): a daemon sends a newer field only to a console whose answer
named it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .venues import Book

__all__ = ["MAX_DEALS", "MAX_REPORTED_POSITIONS", "MAX_TRADES", "REPORT_INTERVAL_S", "TAKES",
           "AccountDetails", "AccountFigures", "Position", "PositionsBook", "Settlement", "Side",
           "State", "TerminalReport", "details_json", "largest"]

#: The report's fields beyond the first release's, each sent only to a console that named it
#: in its answer (``takes``: the package's ``__init__`` says why): ``book`` (a paper account's
#: figures and details say their book; it came a release before the list, so every console
#: that answers ``takes`` reads it), ``digits`` (the symbols' digits) and ``live_book`` (the
#: report's ``live``: the broker's book beside a paper one), ``poll_report`` (not a field:
#: the report carried by the revocation long-poll, its body's ``terminals``, so a daemon's
#: periodic report and its poll's renewal are one signed call on one connection) and
#: ``server_offset`` (a details object's ``server_offset_s``: the trade server's clock, on
#: which MT5 dates deals, less the daemon's). Added to, never renamed.
TAKES: Final = ("digits", "book", "live_book", "poll_report", "server_offset")
#: How often a daemon re-reports every terminal although nothing changed.
REPORT_INTERVAL_S: Final = 30
#: The most open positions one terminal's report carries (the largest by ``|profit|``).
MAX_REPORTED_POSITIONS: Final = 50
#: The most open positions and orders, each, one report carries (the rest are counted).
MAX_TRADES: Final = 100
#: The most deals one report carries (a daemon catching up sends the rest next time).
MAX_DEALS: Final = 500

State = Literal["active", "disconnected", "refused"]
Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What an active terminal's account holds, as the daemon last read it from the EA
    (``account_info`` and ``positions_total``): shown on the owner's dashboard."""

    balance: float
    equity: float
    currency: str
    positions: int
    #: The margin in use and its level (equity / margin, %), for the console's margin alert;
    #: ``None`` from a daemon that did not send them.
    margin: float | None = None
    margin_level: float | None = None
    #: Which book the figures (and the book, details and deals read with them) are from
    #: (``venues.py``): a paper account's are its daemon's paper book's.
    book: Book = "live"


@dataclass(frozen=True, slots=True)
class Position:
    """One open position (MT5 ``TradePosition``'s fields the dashboard shows)."""

    ticket: int
    symbol: str
    type: Side
    volume: float
    price_open: float
    price_current: float
    sl: float
    tp: float
    profit: float
    swap: float

    def as_json(self) -> dict[str, object]:
        """The wire and storage form (the report's ``open_positions`` entries)."""
        return {"ticket": self.ticket, "symbol": self.symbol, "type": self.type,
                "volume": self.volume, "price_open": self.price_open,
                "price_current": self.price_current, "sl": self.sl, "tp": self.tp,
                "profit": self.profit, "swap": self.swap}


@dataclass(frozen=True, slots=True)
class PositionsBook:
    """What a report says of a terminal's positions: when it was read (epoch seconds; 0 in a
    report whose daemon did not say, stored as the console's receive time), and the list, or
    ``None`` when the daemon sent none (an older daemon)."""

    as_of: float
    positions: tuple[Position, ...] | None = None
    #: The digits of the symbols the report's positions, orders and deals are in, as the
    #: daemon read them (``symbol_info().digits``); a symbol absent is written as reported.
    digits: Mapping[str, int] = field(default_factory=dict)


def largest(positions: list[Position], limit: int = MAX_REPORTED_POSITIONS
            ) -> tuple[Position, ...]:
    """The ``limit`` positions with the largest ``|profit|`` (ties by ticket, so the choice
    is stable from one report to the next)."""
    return tuple(sorted(positions, key=lambda p: (-abs(p.profit), p.ticket))[:limit])


@dataclass(frozen=True, slots=True)
class Settlement:
    """A daemon's word on one of the owner's instructions (the signed record's
    ``instruction``): its id, how it ended, the deal that moved the money, a detail."""

    id: str
    state: str
    deal: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AccountDetails:
    """What a daemon read of an active terminal's account for the owner's API (MT5 records,
    already validated at the edge)."""

    #: ``login, currency, leverage, balance, credit, equity, margin, margin_free,
    #: margin_level`` of ``account_info``.
    account: Mapping[str, Any]
    positions: tuple[Mapping[str, Any], ...] = ()
    orders: tuple[Mapping[str, Any], ...] = ()
    #: Deals the daemon had not reported before.
    deals: tuple[Mapping[str, Any], ...] = ()
    #: How many positions and orders the account holds (the lists may be cut).
    positions_total: int = 0
    orders_total: int = 0
    #: The book they were read from (the daemon's reporter checks it against the figures';
    #: on the wire the report's ``book`` says it).
    book: Book = "live"
    #: The trade server's clock less the reader's, in whole seconds, measured (``server_time``)
    #: when the deals were read; ``None`` without deals, or when it could not be measured (an
    #: older daemon). Why: MT5 writes a deal's ``time`` on the trade server's wall clock
    #: (UTC+2 at most brokers, and a replayed terminal's clock is days off), so the console
    #: needs it to show a deal at the time it happened. The daemon's reporter measures it
    #: against the daemon's clock; the console moves it to its own, as it moves ``as_of``.
    server_offset_s: int | None = None


def details_json(details: AccountDetails, *, server_offset: bool = False) -> dict[str, Any]:
    """The report's ``details`` object (``POST /v1/terminals/report``); its
    ``server_offset_s`` only with ``server_offset`` (the console said it takes it) and when
    measured."""
    out = {"account": dict(details.account),
           "positions": [dict(p) for p in details.positions],
           "orders": [dict(o) for o in details.orders],
           "deals": [dict(d) for d in details.deals],
           "positions_total": details.positions_total, "orders_total": details.orders_total}
    if server_offset and details.server_offset_s is not None:
        out["server_offset_s"] = details.server_offset_s
    return out


@dataclass(frozen=True, slots=True)
class TerminalReport:
    """One terminal's state as a daemon saw it (already validated at the edge)."""

    login: int
    server: str
    state: State
    reason: str = ""
    token_id: str = ""
    token_hint: str = ""
    platform: str = ""
    ea_version: str = ""
    #: Only with ``active`` (the console drops the figures when the terminal is not active).
    figures: AccountFigures | None = None
    #: Only with ``active`` and figures: the open positions and when they were read.
    book: PositionsBook | None = None
    #: Only with a book: margin, open trades and new deals for the owner's API, read with the
    #: book.
    details: AccountDetails | None = None
    #: The owner's instructions the daemon settled since its last report (any state).
    done: tuple[Settlement, ...] = ()
    #: Only with a paper book's details: the live book's, read beside them from the broker
    #: (its margin, the positions and orders that stay open there, its new deals), so the
    #: owner sees the account's real money while its bots trade on paper.
    live: AccountDetails | None = None
