"""Paper identifiers: numbered where no live identifier of the same account is.

Why: a paper book and the broker each number their orders, deals and positions. When both
counted from the same start (the demo's did, from 1000), a bot on paper that sent a close of
its live ticket 1003 closed the paper position 1003 and was answered "Request executed", while
the live position ran on at the broker. Two rules keep the numbers apart, and a third (in
``venue.py``) keeps a request from ever acting on the wrong book if a broker still meets one:

1. **A range of its own.** A paper book numbers from :data:`PAPER_RANGES`' first identifier
   of its terminal's kind, within that kind's type: MT5 from 900,000,000,000 to
   999,999,999,999 and MT4 from 2,000,000,000 to 2**31 - 1 (its tickets are ``int``). Brokers
   number far below both (an MT5 broker's tickets have 8 to 10 digits). Twelve digits, not
   the ``ulong``'s twenty: a paper ticket is as long as a live one, so what a bot writes with
   it fits where a live ticket fits (``"Close position #"`` and a ticket in MT5's 31-character
   comment: a 16-digit paper ticket broke a package that does this), and every one is exact
   wherever JSON is read as a double.
2. **Every live identifier the daemon sees inside that range pushes paper above it**, to
   halfway between it and the range's end (:meth:`PaperNumbers.saw_live`), so a broker that
   counts up from there needs half of what is left of the range before it can reach a paper
   number. The live identifiers seen: every trade event of the terminal (its orders, deals and
   positions, as they happen, whether or not the account is on paper), its open positions and
   pending orders when a book is made or loaded, and any ticket a paper request names that the
   live book holds.
3. ``venue.py``: a request on paper that names a ticket asks the live book first, and a ticket
   the live book holds is refused naming the live book, whichever numbers the broker uses.

**Kept apart from the book.** The next paper identifier of an account is kept in its own file
(``paper/<login>@<server>.numbers.json``, 0600, replaced atomically), not in the book's: a
book moved away to start afresh (the only reset) makes a new book that numbers on from the old
one, so neither a live ticket nor an old paper ticket a bot still holds names a new paper
position. A book saved before this rule keeps the numbers it gave (closes of them are still
resolved by rule 3); what it opens next is numbered in the range.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

__all__ = ["LOWEST_PAPER", "PAPER_RANGES", "PaperNumbers", "kind_of", "live_identifiers"]

#: The paper range of each terminal kind: (first, last) identifier, both included.
PAPER_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "MT5": (900_000_000_000, 999_999_999_999),
    "MT4": (2_000_000_000, 2**31 - 1),
}
#: No identifier below this is in any paper range: the one comparison each identifier of a
#: live trade event costs (every event of every terminal passes here).
LOWEST_PAPER: Final = min(first for first, _ in PAPER_RANGES.values())
#: A book refuses to open anything once fewer identifiers than this are left in its range (a
#: call takes a few: an order, its deal, a triggered stop's).
_HEADROOM: Final = 1_000
#: The fields of a record (an order, deal or position) that hold an identifier of the book.
_IDENTIFIER_FIELDS: Final = ("ticket", "order", "position_id", "position_by_id", "identifier")
#: The records a trade event carries.
_EVENT_RECORDS: Final = ("order", "deal", "position")


def kind_of(platform: str) -> str:
    """The numbering kind of a terminal's platform (the EA's hello): ``"MT4"`` or ``"MT5"``
    (anything else is numbered as MT5, the wider type)."""
    return "MT4" if platform == "MT4" else "MT5"


def live_identifiers(item: Any) -> Iterator[int]:
    """The identifiers in a live record, a list of them, or a trade event (the records it
    carries), that lie at or above :data:`LOWEST_PAPER` -- the only ones that could meet a
    paper number."""
    if isinstance(item, list):
        for record in item:
            yield from live_identifiers(record)
        return
    if not isinstance(item, dict):
        return
    for name in _EVENT_RECORDS:
        record = item.get(name)
        if isinstance(record, dict):
            yield from live_identifiers(record)
    for name in _IDENTIFIER_FIELDS:
        value = item.get(name)
        if type(value) is int and value >= LOWEST_PAPER:
            yield value


@dataclass
class PaperNumbers:
    """One account's paper numbering: its kind and the next identifier a paper book may
    take (every one below it may have been taken, by the book or by the broker)."""

    kind: str
    next: int

    @classmethod
    def start(cls, kind: str) -> PaperNumbers:
        """A new account's numbering: the first identifier of ``kind``'s range."""
        return cls(kind, PAPER_RANGES[kind][0])

    @property
    def first(self) -> int:
        """The range's first identifier."""
        return PAPER_RANGES[self.kind][0]

    @property
    def last(self) -> int:
        """The range's last identifier."""
        return PAPER_RANGES[self.kind][1]

    @property
    def exhausted(self) -> bool:
        """Fewer than a call's worth of identifiers left in the range: nothing more may open
        (with MT4's 147 million or MT5's 100 billion, a broker would have to number inside the
        range and push the book up some twenty or thirty times)."""
        return self.next > self.last - _HEADROOM

    def saw_live(self, identifier: int) -> bool:
        """Note a live identifier of the account: one inside the range moves the next paper
        identifier to halfway between it and the range's end, unless it is past that already.
        Whether the numbering moved."""
        if not self.first <= identifier <= self.last:
            return False
        target = identifier + 1 + (self.last - identifier) // 2
        if target <= self.next:
            return False
        self.next = target
        return True

    def took(self, engine_next: int) -> bool:
        """The book numbered everything below ``engine_next``: the numbering follows it.
        Whether it moved."""
        if engine_next <= self.next:
            return False
        self.next = engine_next
        return True

    def dumps(self) -> bytes:
        """The file's bytes."""
        return orjson.dumps({"kind": self.kind, "next": self.next})

    @classmethod
    def loads(cls, data: bytes) -> PaperNumbers:
        """A numbering from its file's bytes.

        Raises:
            ValueError: not a numbering (the caller names the file).
        """
        saved = orjson.loads(data)
        if not isinstance(saved, dict) or saved.get("kind") not in PAPER_RANGES \
                or type(saved.get("next")) is not int:
            raise ValueError("not a paper numbering")
        numbers = cls(saved["kind"], saved["next"])
        if numbers.next < numbers.first:
            raise ValueError(f"next identifier {numbers.next} below the paper range")
        return numbers
