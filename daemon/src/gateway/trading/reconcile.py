"""Which order of the terminal is ours: the matching half of reconciliation, without I/O.

Why a module of its own: a request reaches the terminal as the user wrote it (the comment as
given, magic 0 when absent, as the ``MetaTrader5`` package sends it), so nothing the user set
can be the key that finds an order whose answer was lost. The reconciler
(``reconciler.py``) reads the terminal; this module decides, from what was read,
which record is the order of one journal row, trying the evidence in order of strength:

1. **The EA's own record** (``trade_results``, EA protocol 1.1 and later): the EA remembers,
   per order key (the journal row's ``order_key``, unique across tokens and retention), the
   ``OrderSendResult`` the broker gave it, whether or not the answer reached the daemon. It
   settles every action (SL/TP, modify and remove included) -- but only for what it proves:
   a success retcode is the order; a rejection retcode proves nothing executed; an
   outcome-unknown retcode (:data:`OUTCOME_UNKNOWN_RETCODES`: ERROR, TIMEOUT, CONNECTION)
   settles nothing by itself, but when the record names an order ticket and that order is at
   the broker -- a deal of it, an open or placed order of it, of the request's symbol and
   type -- that order is the row's (the key is unique, so the ticket is this request's). An EA
   of protocol 1.2 echoes the request it executed beside the result; a record whose echo does
   not match the request sent (action, symbol, volume, type, position, order) is not trusted
   at all: the search goes on, and if nothing else is found the row stays ``UNKNOWN`` with the
   reason (``untrusted``).
2. **The tag**, only where the user consented to it (``trading.comment_tag``): an order whose
   request had no comment carries ``<prefix>:<client_id>``.
3. **The order's shape**: magic, symbol, type and volume equal to the request's (and, for a
   close, the position), set up between the row's creation and the moment its answer was lost
   (server clock, a couple of seconds of skew). This finds an order of an EA without a record
   (protocol 1.0), or whose record was lost with the terminal. Records another journal row
   already owns (its ticket, or its tag) are not candidates.

Exactly one candidate is a match. More than one is **ambiguous**: the row stays ``UNKNOWN``
and the candidates are reported (``order_status``, the log, the audit trail) -- a guess could
tell a client an order executed when it did not, or the reverse, and a second order would
follow. No candidate is a miss (counted towards ``RESOLVED_NOT_FOUND``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from mt5model.mt5 import (
    SUCCESS_RETCODES,
    OrderReason,
    OrderState,
    TradeAction,
    TradeRetcode,
)

__all__ = ["CLOCK_SKEW_S", "ECHO_FIELDS", "OUTCOME_UNKNOWN_RETCODES", "Evidence", "Verdict",
           "echo_mismatch", "identify"]

#: Retcodes that do not prove the order was not executed, so an answer carrying one is
#: journaled ``UNKNOWN`` (answered ``-32003``, never resent) and a record carrying one settles
#: nothing. Why each one:
#:
#: * 10011 ERROR, "request processing error": the server failed while processing a request it
#:   had taken, possibly after the deal was made;
#: * 10012 TIMEOUT, "request canceled by timeout": the deadline passed during processing, and
#:   the order may have executed meanwhile (MT5: "may have executed");
#: * 10031 CONNECTION, "no connection with the trade server": the terminal lost the server,
#:   possibly after the request had left it.
#:
#: Looked at and kept as results (``REJECTED``), because the request itself was refused:
#: 10028 LOCKED (refused while another request is processed: "retry after wait"),
#: 10039 CLOSE_ORDER_EXIST (refused because *another* close order exists; that one, if ours,
#: has its own row), 10023 ORDER_CHANGED (the target changed, the change was not applied),
#: 10036 POSITION_CLOSED (nothing was left to close). A code MT5 does not define stays a result
#: too: the EA is expected to map foreign codes onto these (MT4 equivalents).
OUTCOME_UNKNOWN_RETCODES: Final = frozenset(
    {TradeRetcode.ERROR, TradeRetcode.TIMEOUT, TradeRetcode.CONNECTION})

#: The request fields an EA of protocol 1.2 echoes with each recorded result, and the daemon
#: compares with what it sent (a field the daemon did not send is MT5's zero: 0 or "").
ECHO_FIELDS: Final = ("action", "symbol", "volume", "type", "position", "order")

#: Tolerance between the daemon's clock and the server's, after the measured offset.
CLOCK_SKEW_S: Final = 2.0
_VOLUME_EPS: Final = 1e-9
#: Orders the server made itself (SL, TP, stop out) never answer a client's request.
_SERVER_REASONS: Final = frozenset({OrderReason.SL, OrderReason.TP, OrderReason.SO})


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one reconciliation pass read from the terminal.

    Args:
        ea_map: order key → the ``OrderSendResult`` the EA recorded (empty when the EA keeps
            no record).
        orders: open pending orders and history orders (``TradeOrder`` dicts).
        deals: history deals (``TradeDeal`` dicts).
        positions: open positions (``TradePosition`` dicts).
        offset_s: server clock minus the journal's clock, seconds.
        claimed_tickets: order tickets other journal rows already own.
        claimed_tags: comment tags of other journal rows.
    """

    ea_map: dict[str, dict[str, Any]]
    orders: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    offset_s: float
    claimed_tickets: frozenset[int] = frozenset()
    claimed_tags: frozenset[str] = frozenset()
    #: Whether the EA's records carry the request echo (protocol 1.2): then a record is
    #: trusted only when its echo matches the request sent.
    echoed: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of matching one row.

    ``kind``: ``"found"`` (``ticket``, ``deal``, ``result`` when from the EA's record),
    ``"rejected"`` (the EA's record holds a rejection: ``result``), ``"ambiguous"``
    (``candidates``: order tickets), ``"untrusted"`` (the EA's record answers another request
    and nothing else was found: ``reason``) or ``"miss"``. ``via``: ``"ea_map"``, ``"tag"``
    or ``"match"``; ``where``: the list the record came from.
    """

    kind: str
    via: str = ""
    where: str = ""
    ticket: int = 0
    deal: int = 0
    result: dict[str, Any] | None = None
    candidates: tuple[int, ...] = field(default_factory=tuple)
    reason: str = ""


def echo_mismatch(sent: dict[str, Any], recorded: dict[str, Any]) -> str | None:
    """Why ``recorded`` (an EA 1.2 record: an ``OrderSendResult`` with its ``request`` echo)
    does not answer ``sent`` (the request as the daemon sent it), or None when it does.

    A field the daemon did not send is compared as MT5's zero value, which is what the EA's
    ``MqlTradeRequest`` held for it.
    """
    echo = recorded.get("request")
    if not isinstance(echo, dict):
        return "the record carries no request echo"
    for name in ECHO_FIELDS:
        mine: Any = sent.get(name, "" if name == "symbol" else 0)
        theirs = echo.get(name)
        if name == "volume":
            same = (isinstance(theirs, int | float) and not isinstance(theirs, bool)
                    and abs(float(theirs) - float(mine)) <= _VOLUME_EPS)
        elif name == "symbol":
            same = theirs == mine
        else:
            same = isinstance(theirs, int) and not isinstance(theirs, bool) and theirs == mine
        if not same:
            return f"{name} {mine!r} was sent, the record says {theirs!r}"
    return None


def identify(*, order_key: str | None, request: dict[str, Any], tag: str, created_at: float,
             lost_at: float, evidence: Evidence) -> Verdict:
    """Find the order of one journal row (see the module docstring).

    Args:
        order_key: the key the EA recorded the row's order under (None for a row journaled
            before protocol 1.2: no record is consulted).
        request: the request as sent (stamped: magic, comment, filling).
        tag: the comment tag the row would carry (``<prefix>:<client_id>``).
        created_at: when the row was created (journal clock, epoch seconds).
        lost_at: when it became ``UNKNOWN`` (journal clock).
        evidence: what the pass read.
    """
    recorded = evidence.ea_map.get(order_key) if order_key is not None else None
    distrust = ""
    if recorded is not None:
        mismatch = echo_mismatch(request, recorded) if evidence.echoed else None
        retcode = recorded.get("retcode")
        if mismatch is not None:
            distrust = f"the EA's record under this order's key answers another request " \
                       f"({mismatch}), so it is not trusted"
        elif retcode in SUCCESS_RETCODES:
            ticket = _int(recorded.get("order"))
            return Verdict("found", via="ea_map", where="ea_map", ticket=ticket,
                           deal=_int(recorded.get("deal")), result=recorded)
        elif (isinstance(retcode, int) and not isinstance(retcode, bool)
              and retcode not in OUTCOME_UNKNOWN_RETCODES):
            return Verdict("rejected", via="ea_map", where="ea_map", result=recorded)
        else:
            # An outcome-unknown retcode proves nothing by itself; the ticket it names does,
            # once that order is found at the broker.
            hit = _by_recorded_ticket(request, _int(recorded.get("order")), evidence)
            if hit is not None:
                where, record = hit
                found = _found("ea_map", where, record)
                return Verdict("found", via="ea_map", where=where, ticket=found.ticket,
                               deal=found.deal or _int(recorded.get("deal")))
    if request.get("comment") == tag:
        hit = _by_comment(tag, evidence)
        if hit is not None:
            where, record = hit
            return _found("tag", where, record)
    missed = Verdict("untrusted", reason=distrust) if distrust else Verdict("miss")
    if request.get("action") not in (TradeAction.DEAL, TradeAction.PENDING):
        return missed
    candidates = _by_shape(request, created_at, lost_at, evidence)
    if len(candidates) == 1:
        return _found("match", "orders", candidates[0])
    if candidates:
        return Verdict("ambiguous", via="match",
                       candidates=tuple(sorted(_int(c.get("ticket")) for c in candidates)))
    return missed


def _found(via: str, where: str, record: dict[str, Any]) -> Verdict:
    if where == "deals":
        return Verdict("found", via=via, where=where, ticket=_int(record.get("order")),
                       deal=_int(record.get("ticket")))
    return Verdict("found", via=via, where=where, ticket=_int(record.get("ticket")))


def _by_comment(tag: str, evidence: Evidence) -> tuple[str, dict[str, Any]] | None:
    """The first record carrying ``tag`` that no other journal row owns. A ``client_id`` used
    again under another token carries the same tag as the first order, which that token's row
    owns (its ticket): that order is not this row's."""
    for where, records in (("orders", evidence.orders), ("deals", evidence.deals),
                           ("positions", evidence.positions)):
        for record in records:
            order = record.get("order") if where == "deals" else record.get("ticket")
            if record.get("comment") == tag and _int(order) not in evidence.claimed_tickets:
                return where, record
    return None


def _by_recorded_ticket(request: dict[str, Any], ticket: int, evidence: Evidence
                        ) -> tuple[str, dict[str, Any]] | None:
    """The order ``ticket`` (named by the EA's record of this row's key) where the broker shows
    it executed, of the request's symbol and type: for a deal, a deal of that order; for a
    pending order, the order placed (open, or in the history in any state but rejected).
    None when the record names no ticket, another row owns it, or the broker shows no such
    order. Only a deal or a pending order makes an order to find."""
    action = request.get("action")
    if ticket <= 0 or ticket in evidence.claimed_tickets \
            or action not in (TradeAction.DEAL, TradeAction.PENDING):
        return None
    if action == TradeAction.DEAL:
        where, records = "deals", [d for d in evidence.deals if _int(d.get("order")) == ticket]
    else:
        where, records = "orders", [o for o in evidence.orders
                                    if _int(o.get("ticket")) == ticket
                                    and o.get("state") != OrderState.REJECTED]
    for record in records:
        if record.get("symbol") == request.get("symbol") \
                and record.get("type") == request.get("type"):
            return where, record
    return None


def _by_shape(request: dict[str, Any], created_at: float, lost_at: float,
              evidence: Evidence) -> list[dict[str, Any]]:
    """Orders of the request's magic, symbol, type and volume set up while it was in flight."""
    earliest = created_at + evidence.offset_s - CLOCK_SKEW_S
    latest = lost_at + evidence.offset_s + CLOCK_SKEW_S
    volume = request.get("volume")
    seen: dict[int, dict[str, Any]] = {}
    for order in evidence.orders:
        ticket = _int(order.get("ticket"))
        setup_ms = order.get("time_setup_msc")
        if (ticket in seen or ticket in evidence.claimed_tickets
                or order.get("comment") in evidence.claimed_tags
                or order.get("reason") in _SERVER_REASONS
                or order.get("magic") != request.get("magic")
                or order.get("symbol") != request.get("symbol")
                or order.get("type") != request.get("type")
                or ("position" in request
                    and order.get("position_id") != request.get("position"))
                or not isinstance(volume, (int, float))
                or abs(float(order.get("volume_initial", -1.0)) - volume) > _VOLUME_EPS
                or not isinstance(setup_ms, int)
                or not earliest <= setup_ms / 1000 <= latest):
            continue
        seen[ticket] = order
    return list(seen.values())


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
