"""Which book a terminal's figures, deals and equity points come from: the live account, or
the daemon's paper book (``risk.paper_trade_enabled``: the daemon answers a paper account's
reads from the book, ``gateway/trading/venue.py``).

The two books of one terminal share its login and server but nothing else: each numbers its
own deals from the start (a live trade and a paper deposit can both be ticket 1001), each has
its own balance, and moving from one to the other is a change of venue, not a gain or a
loss. So the console keeps deals by (book, ticket), marks every equity point and snapshot
with its book, and answers one book at a time unless asked for both. A daemon says
``"book": "paper"`` in a paper account's report; a report without it (a live account's, or a
daemon older than the field) is the live book's.

Balance operations are money moved in or out, not a result of trading (MT5's
``ENUM_DEAL_TYPE``): :data:`FLOW_DEALS` are left out of a range's change and drawdown
(``web/livechart.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

__all__ = ["BOOKS", "FLOW_DEALS", "Book", "BookChoice", "book_of", "chosen", "flow_of"]

Book = Literal["live", "paper"]
#: What the console API's ``book`` parameter takes: one book, or both.
BookChoice = Literal["live", "paper", "all"]
BOOKS: Final[tuple[Book, ...]] = ("live", "paper")

#: ``DEAL_TYPE_BALANCE`` (2: a deposit or withdrawal), ``DEAL_TYPE_CREDIT`` (3),
#: ``DEAL_TYPE_CORRECTION`` (5) and ``DEAL_TYPE_BONUS`` (6): money the owner or the broker
#: moved. Charges, commissions, interest, dividends and taxes (4, 7-12, 15-17) are costs and
#: income of the trading itself and stay in the figures.
FLOW_DEALS: Final = frozenset({2, 3, 5, 6})


def book_of(value: object) -> Book:
    """A stored or reported book: ``"paper"``, else ``"live"`` (a row from before books)."""
    return "paper" if value == "paper" else "live"


def chosen(choice: BookChoice | None, current: Book) -> tuple[Book, ...]:
    """The books an answer covers: ``all`` both, one named alone, none named the terminal's
    current one (what its daemon reports now)."""
    if choice == "all":
        return BOOKS
    return (choice,) if choice is not None else (current,)


def flow_of(deal: Mapping[str, Any]) -> float:
    """The money a deal moved into the account (negative out) when it is a balance
    operation, else 0."""
    return float(deal.get("profit", 0.0)) if deal.get("type") in FLOW_DEALS else 0.0
