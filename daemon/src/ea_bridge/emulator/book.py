"""The emulated terminal's depth of market: a plausible book around the current quote.

MT5 answers ``MarketBookGet`` with ``MqlBookInfo`` rows (``type``, ``price``, ``volume``,
``volume_real``), sell levels first from the highest price down, then buy levels from the
highest down (MQL5 reference, "MqlBookInfo"); the package's ``market_book_get`` returns them as
``BookInfo(type, price, volume, volume_dbl)``. The emulator has no order flow, so it builds the
book from the tick: ``DEPTH`` sell levels from the ask upwards and ``DEPTH`` buy levels from
the bid downwards, one point apart, each deeper level holding more volume. Pure and
deterministic (the same tick gives the same book), so tests can assert on it.

A symbol must be subscribed (``market_book_add``) before ``market_book_get`` answers, as in MT5;
subscriptions are counted, as MT5's ``MarketBookAdd``/``MarketBookRelease`` pairs are.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BOOK_TYPE_BUY", "BOOK_TYPE_SELL", "DEPTH", "Subscriptions", "synthesize"]

#: Levels on each side.
DEPTH: Final = 5
BOOK_TYPE_SELL: Final = 1
BOOK_TYPE_BUY: Final = 2


def synthesize(bid: float, ask: float, point: float, digits: int,
               volume_min: float) -> list[dict[str, float | int]]:
    """The book for one quote: sells (highest price first), then buys (highest first)."""
    rows = [_row(BOOK_TYPE_SELL, round(ask + level * point, digits), level, volume_min)
            for level in range(DEPTH - 1, -1, -1)]
    rows += [_row(BOOK_TYPE_BUY, round(bid - level * point, digits), level, volume_min)
             for level in range(DEPTH)]
    return rows


def _row(kind: int, price: float, level: int, volume_min: float) -> dict[str, float | int]:
    volume_real = round(volume_min * 10 * (level + 1), 8)
    return {"type": kind, "price": price, "volume": max(1, int(volume_real)),
            "volume_dbl": volume_real}


class Subscriptions:
    """``market_book_add`` / ``market_book_release`` counts per symbol."""

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def add(self, symbol: str) -> None:
        self._count[symbol] = self._count.get(symbol, 0) + 1

    def release(self, symbol: str) -> bool:
        """False when the symbol was not subscribed (MT5's ``MarketBookRelease`` fails)."""
        count = self._count.get(symbol, 0)
        if count == 0:
            return False
        if count == 1:
            del self._count[symbol]
        else:
            self._count[symbol] = count - 1
        return True

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._count
