"""What daemons report over HTTP, with a device proof: their terminals' states
(``POST /v1/terminals/report``) and the revocation long-poll (``POST /v1/device/revocations``)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from aiohttp import web
from pydantic import Field

from mtgateway_base.guard import mark_held
from mtgateway_base.prices import MAX_DIGITS
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.errors import ProofRejected
from mtgateway_base.wire.reports import (
    MAX_REPORTED_POSITIONS,
    TAKES,
    AccountFigures,
    Position,
    PositionsBook,
    TerminalReport,
)

from ..appkeys import AUTHORITY, CLOCKS, LONG_POLLS
from ..door import DOOR, refused_proof
from ..door.edge import json_answer
from ..errors import Refusal
from ..shapes import Body
from .reportdetails import DetailsBody, SettlementBody

__all__ = ["MAX_DIGITS_SYMBOLS", "MAX_POLL_S", "PositionBody", "ReportBody",
           "RevocationsBody", "TerminalReportBody", "routes"]

routes = web.RouteTableDef()

#: The longest a revocation long-poll is held open (below common proxy idle timeouts).
MAX_POLL_S: Final = 55.0
#: The most symbols one report names the digits of: its positions, orders and deals
#: (``MAX_REPORTED_POSITIONS``, ``MAX_TRADES`` twice, ``MAX_DEALS``) are
#: in far fewer symbols than this in practice; the bound keeps the body small.
MAX_DIGITS_SYMBOLS: Final = 1000
#: The Retry-After of a long-poll refused past a bound.
_LONG_POLL_RETRY_S: Final = 5


class PositionBody(Body):
    """One open position in a terminal report's ``open_positions``."""

    ticket: int = Field(ge=0, strict=True)
    symbol: str = Field(min_length=1, max_length=32)
    type: Literal["buy", "sell"]
    volume: float = Field(ge=0, allow_inf_nan=False)
    price_open: float = Field(allow_inf_nan=False)
    price_current: float = Field(allow_inf_nan=False)
    sl: float = Field(default=0.0, allow_inf_nan=False)
    tp: float = Field(default=0.0, allow_inf_nan=False)
    profit: float = Field(allow_inf_nan=False)
    swap: float = Field(default=0.0, allow_inf_nan=False)

    def position(self) -> Position:
        """The position the authority stores."""
        return Position(self.ticket, self.symbol, self.type, self.volume, self.price_open,
                        self.price_current, self.sl, self.tp, self.profit, self.swap)


class TerminalReportBody(Body):
    """One terminal's state in ``POST /v1/terminals/report``."""

    login: int = Field(gt=0, strict=True)
    server: str = Field(min_length=1, max_length=200)
    state: Literal["active", "disconnected", "refused"]
    reason: str = Field(default="", max_length=64, pattern=r"^[a-z_]*$")
    token_id: str = Field(default="", max_length=64)
    token_hint: str = Field(default="", pattern=r"^([0-9a-f]{32})?$")
    platform: str = Field(default="", max_length=32)
    ea_version: str = Field(default="", max_length=32)
    #: The account's figures, only with ``active`` (the daemon reads them from the EA).
    balance: float | None = Field(default=None, allow_inf_nan=False)
    equity: float | None = Field(default=None, allow_inf_nan=False)
    currency: str = Field(default="", max_length=8, pattern=r"^[A-Za-z]*$")
    positions: int | None = Field(default=None, ge=0, le=1_000_000)
    #: The margin in use and the margin level (%), for the margin alert (``alerts.py``).
    margin: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    margin_level: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    #: Which book the figures, positions and details are from; absent: live (a live
    #: account's report, or a daemon older than the field).
    book: Literal["live", "paper"] = "live"

    #: When the daemon read the figures and positions (epoch seconds; absent from a daemon
    #: older than the field: the console's receive time stands in).
    as_of: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    #: The open positions, the largest by ``|profit|`` (``positions`` stays the total).
    open_positions: list[PositionBody] | None = Field(default=None,
                                                      max_length=MAX_REPORTED_POSITIONS)
    #: With the book: margin, open trades and new deals for the owner's API
    #: (``reportdetails.py``); and the owner's instructions settled since the last report.
    details: DetailsBody | None = None
    #: With a paper book's details: the live book's, read from the broker beside them (its
    #: margin, the positions and orders that stay open there, its new deals).
    live: DetailsBody | None = None
    done: list[SettlementBody] = Field(default_factory=list, max_length=100)
    #: With the positions: the digits of the symbols its positions, orders and deals are in
    #: (``symbol_info().digits``), so the pages write each price as the terminal does; a
    #: symbol absent (or a daemon older than the field) is written as reported.
    digits: dict[Annotated[str, Field(min_length=1, max_length=32)],
                 Annotated[int, Field(ge=0, le=MAX_DIGITS, strict=True)]] = Field(
        default_factory=dict, max_length=MAX_DIGITS_SYMBOLS)

    def report(self, clock_offset_s: float = 0.0) -> TerminalReport:
        """The report the authority stores (figures only when all are given), its ``as_of``
        and its details' server clock offset moved by ``clock_offset_s`` from the daemon's
        clock to the console's."""
        figures = (AccountFigures(self.balance, self.equity, self.currency, self.positions,
                                  self.margin, self.margin_level, self.book)
                   if self.state == "active" and self.balance is not None
                   and self.equity is not None and self.positions is not None else None)
        book = None if figures is None else PositionsBook(
            self.as_of + clock_offset_s if self.as_of else 0.0,
            None if self.open_positions is None
            else tuple(p.position() for p in self.open_positions), dict(self.digits))
        details = None if book is None or self.details is None \
            else self.details.details(clock_offset_s)
        # the live book is believed only beside a paper book's details: a live report's
        # details are the live book already
        live = None if details is None or self.live is None or self.book != "paper" \
            else self.live.details(clock_offset_s)
        return TerminalReport(self.login, self.server, self.state, self.reason, self.token_id,
                              self.token_hint, self.platform, self.ea_version, figures, book,
                              details, tuple(d.settlement() for d in self.done), live)


class ReportBody(Body):
    """``POST /v1/terminals/report``."""

    terminals: list[TerminalReportBody] = Field(max_length=1000)


class RevocationsBody(Body):
    """``POST /v1/device/revocations`` (a long-poll), with the daemon's periodic report when
    it carries one (``terminals``, as ``POST /v1/terminals/report``'s: ``TAKES``'
    ``poll_report``)."""

    cursor: int | None = Field(default=None, ge=0)
    wait_s: float = Field(default=25.0, ge=0, le=MAX_POLL_S)
    terminals: list[TerminalReportBody] | None = Field(default=None, max_length=1000)


@routes.post("/v1/terminals/report")
async def report_terminals(request: web.Request) -> web.Response:
    """Store a daemon's terminal states; how many were believed."""
    entry = await request.app[DOOR].enter(request, "device_claim", ReportBody, invalid=400)
    found, claim, body = entry.caller.proven_device, entry.caller.claim, entry.body
    try:
        stored = await request.app[AUTHORITY].report_terminals(
            found, _believed(request, body.terminals), request.remote or "", claim)
    except ProofRejected as exc:  # a copy of a report already stored
        raise refused_proof(exc) from None
    return json_answer(request, await _report_answer(request, found, stored))


def _believed(request: web.Request, terminals: list[TerminalReportBody]
              ) -> list[TerminalReport]:
    """A report's terminals as the authority stores them."""
    # "as of" is the daemon's clock, which the proof lets be up to 300 s off: the proof's
    # own time (checked and signed, ``X-Device-Time`` in epoch ms) says by how much, so the
    # dashboard's "stale" is judged on the console's clock
    now = request.app[CLOCKS].wall()
    try:
        made_s = int(request.headers.get("X-Device-Time", "")) / 1000
    except ValueError:  # not reached: the proof was checked; no offset then
        made_s = now
    return [t.report(now - made_s) for t in terminals]


async def _report_answer(request: web.Request, found: DeviceInfo,
                         stored: int) -> dict[str, object]:
    """What a stored report is answered: how many were believed, the fields this console
    takes, and whether an owner watches the live page."""
    # "live": an owner of this device watches the live page: its terminals holding positions
    # are reported every few seconds instead of every 30 s until the answer stops saying so
    if await request.app[AUTHORITY].live.wants_live(found.device_id):
        return {"stored": stored, "takes": list(TAKES), "live": True}
    return {"stored": stored, "takes": list(TAKES)}


@routes.post("/v1/device/revocations")
async def revocations(request: web.Request) -> web.Response:
    """Held until a revocation concerns this device, or ``wait_s`` passes.

    A poll that carries the daemon's report (``terminals``) has it stored as ``POST
    /v1/terminals/report`` would, in the poll's first transaction with the proof's replay
    row; its answer adds that report's (``stored``, ``takes``, ``live``, read when the poll
    ends). A poll refused (too many held, a proof seen before, a report refused) stores
    nothing."""
    entry = await request.app[DOOR].enter(request, "device_claim", RevocationsBody,
                                          invalid=400)
    found, claim, body = entry.caller.proven_device, entry.caller.claim, entry.body
    held, peer = request.app[LONG_POLLS], request.remote or "?"
    if not held.enter(found.device_id, peer):
        # a daemon holds one; past the bound the poll is refused (the daemon's watcher
        # backs off on an error), never answered at once (it would poll again at once)
        raise Refusal(429, "too_many_long_polls",
                   "too many revocation long-polls held for this device or address",
                   retry_after_s=_LONG_POLL_RETRY_S)
    # held, not worked: a full connection budget may end it for a newcomer after every
    # idle connection and live stream (the daemon polls again with its cursor, so no
    # revocation is lost): bounded polls that could never be evicted let one owner's
    # devices, from a few addresses, hold what every daemon shares (one ended while its
    # report's transaction runs leaves the daemon sending that report again)
    mark_held(request, last=True)
    authority, wait_s, stored = request.app[AUTHORITY], min(body.wait_s, held.longest_s), None
    try:
        if body.terminals is None:
            cursor, token_ids = await authority.wait_revocations(found, body.cursor, wait_s,
                                                                 claim)
        else:
            cursor, token_ids, stored = await authority.report_and_wait(
                found, _believed(request, body.terminals), body.cursor, wait_s,
                request.remote or "", claim)
    except ProofRejected as exc:  # a copy of a poll already held
        raise refused_proof(exc) from None
    finally:
        held.leave(found.device_id, peer)
    answer: dict[str, object] = {"cursor": cursor, "token_ids": token_ids}
    if stored is not None:
        answer.update(await _report_answer(request, found, stored))
    return json_answer(request, answer)
