"""Where a principal's orders and account reads go: the live terminal or its paper book.

Why a seam: paper vs live used to be decided in three places (the plain read, the send, the
check) and forgotten in a fourth (the risk policy's reads), so a paper order was risk-sized
against the live account's equity. Now :meth:`Venues.choose` chooses once per call, from the
principal (``risk.paper_trade_enabled``, carried in the signed token record), and every read and
send of that call -- risk reads, ``order_check``, ``order_send``, the book reads -- goes
through the one :class:`Venue` it returns. Nothing else asks "paper?": the desk, the
operations and the reporter's reads hold a venue, not a flag (as a trading node is given its
execution client by a factory once, and its strategies never ask which one). A terminal
switched to paper (or back) changes venue for the next call, and never in the middle of one.

* :class:`LiveVenue`: every method goes to the terminal through the bridge.
* :class:`PaperVenue`: the account, its orders, positions and history, ``order_check``,
  ``order_send`` and the margin/profit calculators are answered by the paper book
  (:data:`PAPER_VENUE_METHODS`); market data (``symbol_info*``, ``copy_*``, ...) still comes
  from the terminal.

**Paper never touches the live book.** Nothing sent on paper reaches the broker: the paper
venue only *reads* the terminal (market data, and the look-up below). A close, SL/TP change,
close-by, modification or removal that names a ticket the live book holds (a position or
pending order left open at the broker when paper went on, or opened there by hand since) is
refused by the paper book with :data:`LIVE_BOOK_RETCODE` (10017 ``TRADE_RETCODE_TRADE_DISABLED``,
"Trade disabled": trading that ticket is disabled from here) and a comment that names the live
book, never the engine's 10036 "Position already closed", which would tell a bot flattening
its account that a position still running at the broker is gone.

**One book per identifier.** The live book is asked first, whatever the paper book holds: a
ticket the live book holds is the live book's, refused, and only a ticket it does not hold is
the paper book's to answer. Paper numbers its identifiers where the broker's are not
(``numbering.py``), so the two books never share a number a bot received; if a broker ever
numbers into the paper range and meets one, the request is refused naming both books rather
than acting on either -- never a paper position closed for a live ticket (when the demo's
two books both counted from 1000, a live close sent on paper closed the paper position of the
same number, answered "Request executed"). The live book stays
readable on request (``Venues.live``: the ``book: "live"`` of ``positions_get``/``orders_get``).

The EA capabilities the trading path depends on (its order record, docs/protocol.md "The
order record") are read here too, from the session's ``ea_version``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ea_bridge import Bridge, SessionInfo, TerminalId
from ea_bridge.bridge import not_connected
from mt5model.mt5 import TradeAction, TradeRetcode
from mtgateway_base.wire.records import RiskPolicy

from ..auth import Principal
from .gate import PAIRING, TradeGate, other_token
from .paper import PAPER_METHODS, PaperTrading

__all__ = [
    "EA_ECHO_VERSION",
    "EA_MAP_VERSION",
    "LIVE_BOOK_RETCODE",
    "PAPER_VENUE_METHODS",
    "LiveVenue",
    "PaperVenue",
    "Venue",
    "Venues",
    "addressed",
    "ea_version",
    "live_book_comment",
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


#: The retcode of a trade request sent on paper for a ticket of the live book:
#: ``TRADE_RETCODE_TRADE_DISABLED`` (10017, "Trade disabled"), the trade server's word for a
#: request it will not carry out because trading is disabled where it was sent. The paper
#: book is where this account trades now; the live book is not reachable from it.
LIVE_BOOK_RETCODE: Final = TradeRetcode.TRADE_DISABLED
#: The terminals whose :class:`LiveVenue` :class:`Venues` keeps (more: it starts again).
_LIVE_KEPT: Final = 1024
#: The trade requests that address an existing ticket: the field each names it in, and the
#: read that finds such a ticket.
_ADDRESSED: Final[dict[int, tuple[tuple[str, str], ...]]] = {
    TradeAction.DEAL: (("position", "positions_get"),),
    TradeAction.SLTP: (("position", "positions_get"),),
    TradeAction.CLOSE_BY: (("position", "positions_get"), ("position_by", "positions_get")),
    TradeAction.MODIFY: (("order", "orders_get"),),
    TradeAction.REMOVE: (("order", "orders_get"),),
}


def addressed(request: object) -> list[tuple[int, str]]:
    """The existing tickets a trade request acts on, each with the read that finds one of
    its kind (``positions_get`` or ``orders_get``); empty for a request that opens."""
    if not isinstance(request, dict):
        return []
    action = request.get("action")
    if isinstance(action, bool) or not isinstance(action, int):
        return []
    out = []
    for name, read in _ADDRESSED.get(action, ()):
        ticket = request.get(name)
        if isinstance(ticket, int) and not isinstance(ticket, bool) and ticket > 0:
            out.append((ticket, read))
    return out


def live_book_comment(ticket: int, read: str, *, paper_too: bool = False) -> str:
    """The comment of :data:`LIVE_BOOK_RETCODE`: which ticket, and that it is the live
    book's (and, when the paper book holds one of that number too, that neither is acted
    on)."""
    kind = "position" if read == "positions_get" else "order"
    both = (f"; the paper book's {kind} numbered {ticket} is not acted on either (the broker "
            "numbered into the paper range)") if paper_too else ""
    return (f"{kind} {ticket} is in the live book at the broker; this account trades on "
            f"paper, which never reaches the live book{both}")


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

    def record_version(self, session: SessionInfo | None) -> tuple[int, int]:
        """The EA protocol version whose order record this venue keeps (:func:`ea_version`
        of the terminal's session), or (0, 0): none kept, the EA is never asked for one."""
        ...

    def read(self, gate: TradeGate, principal: Principal, method: str,
             params: dict[str, Any], timeout_s: float) -> Awaitable[Any]:
        """A caller's read: refused when the terminal's EA is paired with another token
        (the gate's ``terminal_mismatch`` rule), at once, else :meth:`call` (its coroutine).

        Raises:
            Unauthorized: ``terminal_mismatch``.
            BridgeError: as :meth:`call`.
        """
        ...


@dataclass(slots=True)
class LiveVenue:
    """The terminal itself, through the bridge (never changed: one per terminal, kept by
    :class:`Venues`; not ``frozen``, whose ``__init__`` sets each field through
    ``object.__setattr__``)."""

    bridge: Bridge
    terminal: TerminalId

    @property
    def paper(self) -> bool:
        """Never paper."""
        return False

    async def call(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """The bridge's call to the terminal."""
        return await self.bridge.call(self.terminal, method, params, timeout_s)

    def record_version(self, session: SessionInfo | None) -> tuple[int, int]:
        """The EA's (its order record, docs/protocol.md)."""
        return ea_version(session)

    def read(self, gate: TradeGate, principal: Principal, method: str,
             params: dict[str, Any], timeout_s: float) -> Awaitable[Any]:
        """The terminal's answer: its session looked up once for the pairing rule and the
        call (the rule's look-up and the bridge's each hashed and compared the TerminalId).
        The session's coroutine, for the caller to await (the rules are checked at once):
        no coroutine of the venue's own on every read's path.

        Raises:
            Unauthorized: ``terminal_mismatch``.
            TerminalNotConnected: no EA is connected for the terminal.
        """
        session = self.bridge.route(self.terminal)
        if other_token(None if session is None else session.info, principal):
            raise PAIRING.error(principal.terminal)
        if session is None:
            raise not_connected(self.terminal)
        return session.call(method, params, timeout_s)


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
        """The book's answer for its methods, else the terminal's; a trade request for a
        ticket of the live book is refused by the book (the module docstring)."""
        if method in PAPER_VENUE_METHODS:
            if method in ("order_send", "order_check"):
                live = await self._in_live_book(params.get("request"), timeout_s)
                if live is not None:
                    ticket, read, paper_too = live
                    return await self.book.refuse(
                        self.live.terminal, method, params, LIVE_BOOK_RETCODE,
                        live_book_comment(ticket, read, paper_too=paper_too))
            return await self.book.call(self.live.terminal, method, params)
        return await self.live.call(method, params, timeout_s)

    def record_version(self, session: SessionInfo | None) -> tuple[int, int]:
        """None: the book keeps no order record (its answers are never lost)."""
        return (0, 0)

    def read(self, gate: TradeGate, principal: Principal, method: str,
             params: dict[str, Any], timeout_s: float) -> Awaitable[Any]:
        """The book's (or for market data the terminal's) answer, after the pairing rule
        (checked at once; the call's coroutine is the caller's to await)."""
        gate.check_pairing(principal)
        return self.call(method, params, timeout_s)

    async def _in_live_book(self, request: object, timeout_s: float
                            ) -> tuple[int, str, bool] | None:
        """The first ticket ``request`` acts on that the live book holds, with the read that
        found it and whether the paper book holds one of that number too; else None. The
        live book is asked first, whatever the paper book holds (the module docstring), and
        a live ticket inside the paper range pushes the paper numbering above it. Only read,
        never sent."""
        terminal = self.live.terminal
        for ticket, read in addressed(request):
            if await self.live.call(read, {"ticket": ticket}, timeout_s):
                self.book.saw_live(terminal, (ticket,))
                paper_too = bool(await self.book.call(terminal, read, {"ticket": ticket}))
                return ticket, read, paper_too
        return None


class Venues:
    """Chooses the venue of a principal's call: made once in ``create_app``."""

    def __init__(self, bridge: Bridge, paper: PaperTrading) -> None:
        self._bridge = bridge
        self.paper = paper
        #: Each terminal's :class:`LiveVenue`, by ``(login, server)``, made once (a venue is
        #: chosen on every read); the terminals of the tokens in use, at most
        #: :data:`_LIVE_KEPT` (past it, made again).
        self._live: dict[tuple[int, str], LiveVenue] = {}

    def choose(self, principal: Principal) -> Venue:
        """The venue of ``principal``'s call: the one place its paper switch is read."""
        return self.of(principal.terminal, principal.risk.paper_trade_enabled)

    def of_account(self, terminal: TerminalId, risk: RiskPolicy) -> Venue:
        """The venue of an account under ``risk`` (a token record's policy): its paper book
        when the policy says paper trading, else the terminal."""
        return self.of(terminal, risk.paper_trade_enabled)

    def of(self, terminal: TerminalId, paper: bool) -> Venue:
        """The venue of a named book of ``terminal`` (a journaled order's, which says where
        it was sent): its paper book when ``paper``, else the terminal."""
        live = self._live.get((terminal.login, terminal.server)) or self.live(terminal)
        return PaperVenue(self.paper, live) if paper else live

    def live(self, terminal: TerminalId) -> LiveVenue:
        """The terminal itself: the live book, whatever the account trades on (a read of
        it on request, the reporter's live book beside a paper one)."""
        key = (terminal.login, terminal.server)  # (a tuple hashes in C; a TerminalId not)
        live = self._live.get(key)
        if live is None:
            if len(self._live) >= _LIVE_KEPT:
                self._live.clear()
            live = self._live[key] = LiveVenue(self._bridge, terminal)
        return live
