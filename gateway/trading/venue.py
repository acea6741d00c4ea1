"""Where a principal's orders and account reads go: the live terminal or its paper book.

Why a seam: paper vs live used to be decided in three places (the plain read, the send, the
check) and forgotten in a fourth (the risk policy's reads), so a paper order was risk-sized
against the live account's equity. Now :meth:`Venues.of` chooses once per call, from the
principal (``risk.paper_trade_enabled``, carried in the signed token record), and every read and
send of that call -- risk reads, ``order_check``, ``order_send``, the book reads -- goes
through the one :class:`Venue` it returns. A terminal switched to paper (or back) changes venue
for the next call, and never in the middle of one.

* :class:`LiveVenue`: every method goes to the terminal through the bridge.
* :class:`PaperVenue`: the account, its orders, positions and history, ``order_check``,
  ``order_send`` and the margin/profit calculators are answered by the paper book
  (:data:`PAPER_VENUE_METHODS`); market data (``symbol_info*``, ``copy_*``, ...) still comes
  from the terminal.

The EA capabilities the trading path depends on (its order record, docs/protocol.md "The
order record") are read here too, from the session's ``ea_version``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from ea_bridge import Bridge, SessionInfo, TerminalId

from .paper import PAPER_METHODS, PaperTrading

__all__ = [
    "EA_ECHO_VERSION",
    "EA_MAP_VERSION",
    "PAPER_VENUE_METHODS",
    "LiveVenue",
    "PaperVenue",
    "Venue",
    "Venues",
    "ea_version",
]

#: The first EA protocol version that keeps an order record: it takes a key with
#: ``order_send`` (as ``client_id``) and answers ``trade_results``; older EAs get the request
#: alone and are never asked.
EA_MAP_VERSION: Final = (1, 1)
#: The first EA protocol version that takes the key as ``order_key`` and echoes the request
#: it executed with each record, which the daemon checks before trusting it.
EA_ECHO_VERSION: Final = (1, 2)

#: What the paper book answers for a paper account: its own account, book and history, the
#: trade calls, and the calculators (margin and profit in the book's own terms).
PAPER_VENUE_METHODS: Final = PAPER_METHODS | frozenset({
    "order_send", "order_check", "order_calc_margin", "order_calc_profit"})


def ea_version(session: SessionInfo | None) -> tuple[int, int]:
    """The (major, minor) of the session's ``ea_version`` ("1.2.0"); (0, 0) without a session
    or when unreadable (an EA that keeps no order record)."""
    if session is None:
        return (0, 0)
    parts = session.hello.ea_version.split(".")[:2]
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return (0, 0)
    return (int(parts[0]), int(parts[1]))


class Venue(Protocol):
    """Where one call's reads and sends for one terminal go."""

    @property
    def paper(self) -> bool:
        """Whether this is the paper book (answers carry ``"paper": true``)."""
        ...

    async def call(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """Call ``method`` with named ``params``; the terminal's or the book's answer.

        Raises:
            BridgeError: whatever the bridge (or the book, as the same errors) raises.
        """
        ...


@dataclass(slots=True)
class LiveVenue:
    """The terminal itself, through the bridge (made per call and never changed; not
    ``frozen``, whose ``__init__`` costs ~3x a plain one)."""

    bridge: Bridge
    terminal: TerminalId

    @property
    def paper(self) -> bool:
        """Never paper."""
        return False

    async def call(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """The bridge's call to the terminal."""
        return await self.bridge.call(self.terminal, method, params, timeout_s)


@dataclass(frozen=True, slots=True)
class PaperVenue:
    """The terminal's paper book for :data:`PAPER_VENUE_METHODS`, the terminal for the rest."""

    book: PaperTrading
    live: LiveVenue

    @property
    def paper(self) -> bool:
        """Always paper."""
        return True

    async def call(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """The book's answer for its methods, else the terminal's."""
        if method in PAPER_VENUE_METHODS:
            return await self.book.call(self.live.terminal, method, params)
        return await self.live.call(method, params, timeout_s)


class Venues:
    """Chooses the venue of a principal's call: made once in ``create_app``."""

    def __init__(self, bridge: Bridge, paper: PaperTrading) -> None:
        self._bridge = bridge
        self.paper = paper

    def of(self, terminal: TerminalId, paper: bool) -> Venue:
        """The venue for ``terminal``: its paper book when ``paper``, else the terminal."""
        live = LiveVenue(self._bridge, terminal)
        return PaperVenue(self.paper, live) if paper else live
