"""Which order of the terminal is ours: the matching half of reconciliation, without I/O.

Why a module of its own: the user's ``comment`` is kept (MT5's 31 characters are theirs), so
the comment can no longer be the one key that finds an order whose answer was lost. The desk
(``gateway/methods/trading.py``) reads the terminal; this module decides, from what was read,
which record is the order of one journal row, trying three kinds of evidence in order of
strength:

1. **The EA's own map** (``trade_results``, EA protocol 1.1): the EA remembers, per
   ``client_id``, the ``OrderSendResult`` the broker gave it, whether or not the answer
   reached the daemon. It settles every action (SL/TP, modify and remove included), and a
   rejection found there proves the order was not executed.
2. **The tag**: with no comment of the user's, the order carries ``<prefix>:<client_id>``.
3. **The order's shape**: magic, symbol, type and volume equal to the request's, set up
   between the row's creation and the moment its answer was lost (server clock, a couple of
   seconds of skew). This finds an order whose comment the user wrote, or whose comment the
   broker rewrote (``[sl 1.08]``, ``from #123``). Records another journal row already owns
   (its ticket, or its tag) are not candidates.

Exactly one candidate is a match. More than one is **ambiguous**: the row stays ``UNKNOWN``
and the candidates are reported (``order_status``, the log, the audit trail) -- a guess could
tell a client an order executed when it did not, or the reverse, and a second order would
follow. No candidate is a miss (counted towards ``RESOLVED_NOT_FOUND``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ea_bridge.mt5 import SUCCESS_RETCODES, OrderReason, TradeAction

__all__ = ["CLOCK_SKEW_S", "Evidence", "Verdict", "identify"]

#: Tolerance between the daemon's clock and the server's, after the measured offset.
CLOCK_SKEW_S: Final = 2.0
_VOLUME_EPS: Final = 1e-9
#: Orders the server made itself (SL, TP, stop out) never answer a client's request.
_SERVER_REASONS: Final = frozenset({OrderReason.SL, OrderReason.TP, OrderReason.SO})


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one reconciliation pass read from the terminal.

    Args:
        ea_map: ``client_id`` → the ``OrderSendResult`` the EA recorded (empty when the EA
            keeps no map).
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


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of matching one row.

    ``kind``: ``"found"`` (``ticket``, ``deal``, ``result`` when from the EA's map),
    ``"rejected"`` (the EA's map holds a rejection: ``result``), ``"ambiguous"``
    (``candidates``: order tickets) or ``"miss"``. ``via``: ``"ea_map"``, ``"tag"`` or
    ``"match"``; ``where``: the list the record came from.
    """

    kind: str
    via: str = ""
    where: str = ""
    ticket: int = 0
    deal: int = 0
    result: dict[str, Any] | None = None
    candidates: tuple[int, ...] = field(default_factory=tuple)


def identify(*, client_id: str, request: dict[str, Any], tag: str, created_at: float,
             lost_at: float, evidence: Evidence) -> Verdict:
    """Find the order of one journal row (see the module docstring).

    Args:
        client_id: the row's idempotency key.
        request: the request as sent (stamped: magic, comment, filling).
        tag: the comment tag the row would carry (``<prefix>:<client_id>``).
        created_at: when the row was created (journal clock, epoch seconds).
        lost_at: when it became ``UNKNOWN`` (journal clock).
        evidence: what the pass read.
    """
    recorded = evidence.ea_map.get(client_id)
    if recorded is not None:
        retcode = recorded.get("retcode")
        if retcode in SUCCESS_RETCODES:
            ticket = _int(recorded.get("order"))
            return Verdict("found", via="ea_map", where="ea_map", ticket=ticket,
                           deal=_int(recorded.get("deal")), result=recorded)
        if isinstance(retcode, int):
            return Verdict("rejected", via="ea_map", where="ea_map", result=recorded)
    if request.get("comment") == tag:
        hit = _by_comment(tag, evidence)
        if hit is not None:
            where, record = hit
            return _found("tag", where, record)
    if request.get("action") not in (TradeAction.DEAL, TradeAction.PENDING):
        return Verdict("miss")
    candidates = _by_shape(request, created_at, lost_at, evidence)
    if len(candidates) == 1:
        return _found("match", "orders", candidates[0])
    if candidates:
        return Verdict("ambiguous", via="match",
                       candidates=tuple(sorted(_int(c.get("ticket")) for c in candidates)))
    return Verdict("miss")


def _found(via: str, where: str, record: dict[str, Any]) -> Verdict:
    if where == "deals":
        return Verdict("found", via=via, where=where, ticket=_int(record.get("order")),
                       deal=_int(record.get("ticket")))
    return Verdict("found", via=via, where=where, ticket=_int(record.get("ticket")))


def _by_comment(tag: str, evidence: Evidence) -> tuple[str, dict[str, Any]] | None:
    for where, records in (("orders", evidence.orders), ("deals", evidence.deals),
                           ("positions", evidence.positions)):
        for record in records:
            if record.get("comment") == tag:
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
                or not isinstance(volume, (int, float))
                or abs(float(order.get("volume_initial", -1.0)) - volume) > _VOLUME_EPS
                or not isinstance(setup_ms, int)
                or not earliest <= setup_ms / 1000 <= latest):
            continue
        seen[ticket] = order
    return list(seen.values())


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
