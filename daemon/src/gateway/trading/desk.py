"""The trading desk behind ``order_check``, ``order_send``, ``order_status``: the trading safety.

Why this is more than a forward: an order is the one request with side effects, and a link can
drop after the broker executed it but before the answer arrived. So ``order_send``

* validates the ``TradeRequest`` strictly here (names for enums, epoch or ISO times, bounds);
* takes an idempotency key, ``client_id``, **inside the request dict** (MetaApi's ``clientId``
  option lives with the order too; the MT5 signature ``order_send(request)`` stays unchanged).
  The daemon makes one when absent and always returns it;
* journals the request (``journal.py`` beside this) and commits it before it leaves for the EA,
  so a retry with the same ``client_id`` returns the first outcome (``deduplicated: true``) and
  never sends twice; the same id with other parameters is ``-32011``. A concurrent duplicate
  waits for the first request to finish, then gets its outcome (or its refusal: see
  :meth:`TradeDesk.send`);
* answers ``-32001`` without journaling anything when no EA is connected; if the EA drops after
  the row was marked ``SENT`` but before the bridge wrote the order, the row is released (the
  audit says ``released:TerminalNotConnected``) and the ``client_id`` is free again;
* sends the request as the client wrote it (but for the two completions below, of what the
  broker would refuse), as the ``MetaTrader5`` package does: the ``comment`` as given (empty
  when absent; MT5's limit, 31 characters) and ``magic`` 0 when
  absent (``trading.magic``, 0 by default: scripts tell manual trades by magic 0). Only with
  the user's consent (``trading.comment_tag``) is a request without a comment stamped
  ``comment = "<prefix>:<client_id>"``, a tag reconciliation can find. What finds an order
  whose answer was lost is the EA's order record (below), which changes nothing the user set.
  An EA of protocol 1.1 or later (``ea_version``) also gets the row's **order key** (16
  random bytes, base64url: unique across tokens and retention, never the bot's ``client_id``)
  and keeps its own ``order key → OrderSendResult`` record (``trade_results``); an EA of 1.2
  echoes the request it executed, and an answer or record whose echo differs from what was
  sent is not trusted (the row stays ``UNKNOWN``, ``result.unknown_reason`` says why);
* picks ``type_filling`` from the symbol's ``filling_mode`` *bit mask* when the request omits it
  (FOK if allowed, else IOC, else RETURN; RETURN for pending orders) -- the MT5 gotcha where
  the docs' example answers "unsupported filling mode";
* names the price of a market deal without one (an opening or a close) on a symbol in Instant
  or Request execution, which the broker refuses unpriced (10015): the quote's ask or bid and a
  deviation (``pricing.py``), read just before the order leaves; a quote too old or missing is
  refused there, nothing sent. Both facts come from one cached ``symbol_info`` per terminal
  and symbol (``trading.symbol_cache_s``), so a Market-execution order costs no extra read;
* answers a lost answer (EA drop, ``server.trade_timeout_s``) with ``-32003`` and
  ``data.client_id``, and never resends. Retrying such an id answers ``-32003`` again (with
  ``data.state``) until reconciliation has found the order, then its outcome;
* treats a broker answer whose retcode does not prove the order was not executed
  (:data:`OUTCOME_UNKNOWN_RETCODES`: 10011 ERROR, 10012 TIMEOUT, 10031 CONNECTION) exactly like a
  lost answer: the row goes ``SENT → UNKNOWN`` (keeping the answer, which ``order_status``
  shows), the client gets ``-32003`` (the message names the retcode), and reconciliation
  settles it. Journaling it ``REJECTED`` would be a final "not executed" that nobody checked,
  and a client trusting it would open a second position. Every other retcode is a result.

Who may trade is the trade gate's (``gate.py``: scope, freshness, terminal online and paired,
not reconciling, automated trading allowed), where the order goes is the venue's
(``venue.py``: the terminal, or the paper book of a paper account, chosen once per call), what
it may say is ``requests.py``'s, and orders whose outcome was lost are the reconciler's
(``reconciler.py``). The desk holds the send, the check and the replay.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ea_bridge import (
    Bridge,
    BridgeError,
    EAError,
    FrameTooLarge,
    TerminalId,
    TerminalNotConnected,
    TradeOutcomeUnknown,
)
from mt5model.mt5 import (
    SUCCESS_RETCODES,
    OrderFilling,
    SymbolFilling,
    TradeAction,
    retcode_name,
)
from mt5model.types import SYMBOL_TRADE_EXECUTION_MARKET, ErrorCode

from ..auth import Principal
from ..errors import (
    GatewayError,
    IdempotencyConflict,
    NotFound,
    OutcomeUnknown,
    RiskLimit,
    TradeRejected,
    Unavailable,
)
from .gate import Reason, TradeGate
from .journal import OrderJournal, OrderRow, OrderState, order_key, params_hash, terminal_key
from .operations import OrderOptions, TradeOperations
from .pricing import needs_price, no_quote, priced
from .reconcile import OUTCOME_UNKNOWN_RETCODES, echo_mismatch
from .reconciler import Reconciler
from .requests import CommentTags, SendRequest, TradeRequest
from .risk import adds_risk, check_order
from .venue import EA_ECHO_VERSION, EA_MAP_VERSION, Venue, Venues

__all__ = ["OUTCOME_UNKNOWN_RETCODES", "TradeDesk"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Flight:
    """An ``order_send`` in flight: its parameters' hash, and a future set when it ends (to
    the refusal it ended with when nothing was journaled, else None)."""

    params_hash: str
    done: asyncio.Future[GatewayError | BridgeError | None]


@dataclass(frozen=True, slots=True)
class _Symbol:
    """What the desk reads of a symbol's ``symbol_info`` to complete a request: its
    SYMBOL_FILLING_* mask, its SYMBOL_TRADE_EXECUTION_* mode and its point."""

    filling: int
    execution: int
    point: float


def _journal_unavailable() -> Unavailable:
    """The answer when the journal cannot write before the order leaves: nothing was sent."""
    return Unavailable("journal_unavailable", "The order journal could not record the order, "
                       "so it was not sent; retry with the same client_id")


def _closed_market_sent(checked: dict[str, Any], body: dict[str, Any],
                        client_id: str) -> dict[str, Any]:
    """``order_send``'s answer for an order refused by a closed market before it left
    (:meth:`TradeGate.market_first`): a result, as the terminal answers a closed market,
    with the retcode and comment of the venue's own check and zeros where nothing was
    executed. Not journaled, as the refusals it is said before are not: the ``client_id``
    stays free for when the market opens."""
    retcode = int(checked["retcode"])
    request = checked.get("request")
    answer: dict[str, Any] = {
        "retcode": retcode, "deal": 0, "order": 0, "volume": 0.0, "price": 0.0, "bid": 0.0,
        "ask": 0.0, "comment": str(checked.get("comment") or ""), "request_id": 0,
        "retcode_external": 0, "request": request if isinstance(request, dict) else body,
        "retcode_name": retcode_name(retcode), "client_id": client_id, "deduplicated": False}
    if checked.get("paper") is True:
        answer["paper"] = True
    return answer


@dataclass(frozen=True, slots=True)
class DeskSettings:
    """What the desk reads of the daemon's configuration, and nothing else of it: handed in by
    the composition root (``create_app``), so a test or another root sets these alone."""

    #: The comment tag (``trading.comment_tag``, ``trading.comment_prefix``).
    tags: CommentTags
    #: ``trading.magic``: the magic of a request without one.
    magic: int
    #: ``trading.symbol_cache_s``: how long a symbol's trade properties are kept.
    symbol_cache_s: float
    #: ``server.request_timeout_s``: a read of the terminal's.
    request_timeout_s: float
    #: ``server.trade_timeout_s``: an order's answer.
    trade_timeout_s: float


class TradeDesk:
    """The trading state of one daemon: the journal, requests in flight, the symbol cache;
    and the one interface the RPC methods trade and read through.

    Its parts -- the paper books, the venues, the reconciler and the gate -- are built and
    wired in ``create_app`` (the one composition root: it also adds the reconciler and the
    paper books to the bridge's listeners) and handed in. Only the operations are made here,
    because they are made over this desk.

    Args:
        journal: the idempotency journal (opened by :meth:`open`).
        bridge: the bridge orders go through.
        settings: what it reads of the daemon's configuration (:class:`DeskSettings`).
        venues: chooses each call's venue (the terminal or its paper book).
        reconciler: settles lost outcomes (opened and closed with the desk).
        gate: who may trade now.
        clock: monotonic seconds, for the symbol cache.
        utc_ms: epoch milliseconds UTC, against which a terminal's server clock is measured
            (a quote's age, when an order is priced from it).
        new_client_id: makes a ``client_id`` when the request has none.
        random_bytes: the randomness of order keys (:func:`~.journal.order_key`).
    """

    def __init__(self, journal: OrderJournal, bridge: Bridge, settings: DeskSettings, *,
                 venues: Venues, reconciler: Reconciler, gate: TradeGate,
                 clock: Callable[[], float] = time.monotonic,
                 utc_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 new_client_id: Callable[[], str] = lambda: secrets.token_urlsafe(15),
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self.journal = journal
        self._random_bytes = random_bytes
        self.settings = settings
        #: ``[server] request_timeout_s``, read once (every read is given it).
        self._read_timeout_s = settings.request_timeout_s
        self._clock = clock
        self._utc_ms = utc_ms
        self._new_client_id = new_client_id
        self._bridge = bridge
        self._inflight: dict[tuple[str, str], _Flight] = {}
        self._symbols: dict[tuple[TerminalId, str], tuple[float, _Symbol]] = {}
        #: terminal -> (EA session id, expiry, the server's clock minus ours in ms).
        self._server_offsets: dict[TerminalId, tuple[str, float, int | None]] = {}
        self.venues = venues
        self.reconciler = reconciler
        self.gate = gate
        #: Closes and the convenience answer (``operations.py``), over this desk.
        self.ops = TradeOperations(self)

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the journal, then the reconciler (a prune, and its periodic loop).

        Raises:
            sqlite3.Error: the journal cannot be opened or pruned (the daemon must not start).
        """
        self.journal.open()
        try:
            self.reconciler.open()
        except BaseException:
            self.journal.close()  # the cleanup context never runs for a start that failed
            raise

    async def close(self) -> None:
        """Stop the reconciler and close the journal (after the bridge has closed)."""
        await self.reconciler.close()
        self.journal.close()

    # -- order_send --------------------------------------------------------------------------

    async def send(self, principal: Principal, request: SendRequest) -> dict[str, Any]:
        """Idempotent ``order_send`` by ``principal`` (see the module docstring).

        Concurrent duplicates: the first caller of a ``(token, client_id)`` claims its
        in-flight slot *before any await* (the replay check, the risk policy's calls to the
        terminal and the send all run under the claim), and later callers wait for it. A
        waiter then replays the journaled outcome, or, if the first ended without a row (a
        refusal: risk policy, terminal offline, reconciling), gets that same refusal when its
        parameters are the same. So every concurrent caller gets the one outcome, and the
        slot is only ever released by the caller that claimed it.
        """
        self.gate.check_caller(principal)
        client_id = request.client_id or self._new_client_id()
        body = request.model_dump(exclude_none=True, exclude={"client_id"})
        phash = params_hash(body)
        key = (principal.token_id, client_id)
        while (first := self._inflight.get(key)) is not None:
            refusal = await asyncio.shield(first.done)
            if refusal is not None and first.params_hash == phash \
                    and self.journal.get(*key) is None:
                raise refusal
        flight = _Flight(phash, asyncio.get_running_loop().create_future())
        self._inflight[key] = flight  # claimed: no await since the slot was seen free
        refusal = None
        try:
            existing = self.journal.get(*key)
            if existing is not None and existing.state is OrderState.RECEIVED:
                # We hold the claim, so nothing is placing this row: it is one whose placing
                # stopped before it was marked SENT (the journal could not write). It never
                # left, so it is released and the request placed now.
                self.journal.abandon(existing, "not_sent")
                existing = None
            if existing is not None:
                return self._replay(existing, phash)
            # After the replay check (a repeat of an executed order still gets its outcome),
            # before the journal (a refused order does not use up its client_id). The venue
            # is chosen once: the risk reads, the stamp and the send all go to it.
            self.gate.check_route(principal, opening=adds_risk(body))
            venue = self.venues.choose(principal)
            try:
                await check_order(principal.risk, body,
                                  lambda method, params: self._read(principal, venue, method,
                                                                    params))
            except RiskLimit as refused:
                # A closed market is said first (gate.py, ORDER_RULES); nothing was sent.
                closed = await self.gate.market_first(
                    refused, lambda: self._market_check(principal, venue, body))
                return _closed_market_sent(closed, body, client_id)
            return await self._place(principal, venue, client_id, body, phash)
        except (GatewayError, BridgeError) as exc:
            refusal = exc
            raise
        finally:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
            flight.done.set_result(refusal)

    def replay(self, row: OrderRow) -> dict[str, Any]:
        """The stored outcome of ``row`` for a retry (``deduplicated: true``).

        Raises:
            OutcomeUnknown: its outcome is not settled.
        """
        return self._replay(row, row.params_hash)

    def _replay(self, row: OrderRow, phash: str) -> dict[str, Any]:
        if row.params_hash != phash:
            self.journal.note(row, "conflict")
            raise IdempotencyConflict(row.client_id)
        self.journal.note(row, "deduplicated")
        if row.result is not None and row.state in (OrderState.ACCEPTED, OrderState.REJECTED,
                                                    OrderState.RESOLVED_ACCEPTED):
            return {**row.result, "deduplicated": True}
        raise OutcomeUnknown(row.client_id, row.state,
                             f"Outcome of client_id {row.client_id!r} is {row.state}; see "
                             "order_status. Use a new client_id to trade again")

    async def _place(self, principal: Principal, venue: Venue, client_id: str,
                     body: dict[str, Any], phash: str) -> dict[str, Any]:
        terminal = principal.terminal
        # The risk reads awaited: the EA may have gone, or a pass started, since the gate.
        self.gate.check_route(principal, opening=False)
        session = self._bridge.session(terminal)
        try:
            row = self.journal.receive(token_id=principal.token_id, client_id=client_id,
                                       terminal=terminal_key(terminal), params_hash=phash,
                                       request=body, order_key=order_key(self._random_bytes),
                                       paper=venue.paper)
        # each clause below its own name: a compiled build (mypyc) gives one name one type
        except sqlite3.Error as unrecorded:  # nothing journaled, nothing sent
            log.error("order journal could not record %s (%s)", client_id, unrecorded)
            raise _journal_unavailable() from None
        try:
            outgoing = await self._stamp(venue, terminal, body, self.settings.tags.stamp(client_id),
                                         client_id)
            # A pass may have started while the symbol was looked up. (An EA gone meanwhile
            # is met by the send itself, which releases the row.)
            self.gate.check(principal, Reason.RECONCILING)
        except TradeRejected as unpriced:  # 10021: no fresh quote to price it (pricing.py)
            self.journal.abandon(row, type(unpriced).__name__)
            closed = await self.gate.market_first(
                unpriced, lambda: self._market_check(principal, venue, body))
            return _closed_market_sent(closed, body, client_id)
        except BaseException as failed:
            self.journal.abandon(row, type(failed).__name__)
            raise
        try:
            row = self.journal.mark_sent(row, outgoing)  # committed before it leaves
        except sqlite3.Error as unmarked:
            # Not marked, so not sent. The row stays RECEIVED (writing anything else would
            # likely fail the same way); the next send of this client_id releases it.
            log.error("order journal could not mark %s sent (%s); the order was not sent",
                      client_id, unmarked)
            raise _journal_unavailable() from None
        params: dict[str, Any] = {"request": outgoing}
        version = venue.record_version(session)
        if version >= EA_ECHO_VERSION:
            params["order_key"] = row.order_key
        elif version >= EA_MAP_VERSION:
            params["client_id"] = row.order_key  # 22 characters: within 1.1's 1-24
        try:
            result = await venue.call("order_send", params, self.settings.trade_timeout_s)
        except (TerminalNotConnected, EAError, FrameTooLarge) as exc:
            # Provably not executed: the bridge raised before writing it (the EA dropped
            # since the lookup, or the frame is too large), or the EA refused it before the
            # broker. The SENT row is released, so the client_id is free again.
            self.journal.release(row, type(exc).__name__)
            raise
        except TradeOutcomeUnknown:
            self.journal.mark_unknown(row)
            raise OutcomeUnknown(client_id, OrderState.UNKNOWN,
                                 "Outcome unknown: the trade may have executed; check "
                                 "order_status, do not resend blindly") from None
        except BaseException:
            self.journal.mark_unknown(row)
            raise
        retcode = result.get("retcode") if isinstance(result, dict) else None
        if not isinstance(retcode, int) or isinstance(retcode, bool):
            self.journal.mark_unknown(row)
            log.error("order_send for %s answered without a retcode", terminal)
            raise OutcomeUnknown(client_id, OrderState.UNKNOWN,
                                 "The terminal's answer was unreadable; check order_status")
        stored = {**result, "retcode_name": retcode_name(retcode), "client_id": client_id}
        mismatch = (echo_mismatch(outgoing, result)
                    if version >= EA_ECHO_VERSION and "request" in result else None)
        if mismatch is not None:
            # The EA answered from a record of another request: whatever it says happened,
            # it did not happen to this one as far as anyone can prove.
            reason = f"the terminal answered for another request ({mismatch})"
            self.journal.mark_unknown(row, {**stored, "unknown_reason": reason})
            log.error("order_send for %s: %s; outcome unknown, left to reconciliation",
                      terminal, reason)
            raise OutcomeUnknown(client_id, OrderState.UNKNOWN,
                                 f"Outcome unknown: {reason}; check order_status, do not "
                                 "resend blindly")
        if retcode in OUTCOME_UNKNOWN_RETCODES:
            self.journal.mark_unknown(row, stored)
            log.warning("order_send for %s answered %s: outcome unknown, left to reconciliation",
                        terminal, stored["retcode_name"])
            raise OutcomeUnknown(client_id, OrderState.UNKNOWN,
                                 f"Outcome unknown: the terminal answered {retcode} "
                                 f"{stored['retcode_name']}, which does not prove the order was "
                                 "not executed; check order_status, do not resend blindly")
        ticket = result.get("order")
        self.journal.record_result(
            row, stored, success=retcode in SUCCESS_RETCODES,
            ticket=ticket if isinstance(ticket, int) and ticket > 0 else None)
        return {**stored, "deduplicated": False}

    async def _stamp(self, venue: Venue, terminal: TerminalId, body: dict[str, Any],
                     tag: str | None, client_id: str | None = None, *,
                     price: bool = True) -> dict[str, Any]:
        """The request as sent: magic (the request's, else ``trading.magic``), the client's
        comment or else ``tag`` (None: none), a legal filling mode, integer times, and (with
        ``price``) the price of a market deal the symbol's execution wants priced.

        Raises:
            TradeRejected: 10021 PRICE_OFF, a deal to price without a fresh quote
                (``pricing.py``); nothing was sent.
        """
        out = dict(body)
        out.setdefault("magic", self.settings.magic)
        if tag is not None and not out.get("comment"):
            out["comment"] = tag
        if "expiration" in out:
            out["expiration"] = int(out["expiration"])
        action = out["action"]
        if "symbol" in out and action in (TradeAction.DEAL, TradeAction.PENDING):
            # Looked up even when the filling is given: an unknown symbol then fails here,
            # before the journal sends anything, with symbol_info's own -32006 -- the one
            # answer every method gives for it.
            symbol = await self._symbol(venue, terminal, out["symbol"])
            mask = symbol.filling
            if "type_filling" in out:
                pass
            elif action == TradeAction.PENDING:
                out["type_filling"] = int(OrderFilling.RETURN)
            else:
                out["type_filling"] = int(
                    OrderFilling.FOK if mask & SymbolFilling.FOK else
                    OrderFilling.IOC if mask & SymbolFilling.IOC else OrderFilling.RETURN)
            if price and needs_price(out, symbol.execution):
                out = await self._price(venue, terminal, out, symbol, client_id)
        return out

    async def _market_check(self, principal: Principal, venue: Venue,
                            body: dict[str, Any]) -> Any:
        """The venue's ``order_check`` of ``body`` as it would be sent but unpriced, for
        :meth:`TradeGate.market_first`: whether the symbol's market is closed is what is
        asked, and a market the daemon could not price is one of the questions."""
        outgoing = await self._stamp(venue, principal.terminal, body, None, price=False)
        return await self._read(principal, venue, "order_check", {"request": outgoing})

    async def _price(self, venue: Venue, terminal: TerminalId, out: dict[str, Any],
                     symbol: _Symbol, client_id: str | None) -> dict[str, Any]:
        """``out`` priced from the symbol's quote, read last so it is as fresh as can be."""
        now_ms = await self._server_now_ms(venue, terminal)
        try:
            quote = await venue.call("symbol_info_tick", {"symbol": out["symbol"]},
                                     self.settings.request_timeout_s)
        except EAError as exc:
            if exc.code != ErrorCode.HISTORY_NOT_READY:
                raise
            # The EA has no quote of it yet: the same refusal as a quote of zeros.
            raise no_quote(out, f"{out['symbol']} has no quote to price the market order "
                           f"({exc.message})", client_id) from None
        return priced(out, quote, point=symbol.point, server_now_ms=now_ms,
                      client_id=client_id)

    async def _server_now_ms(self, venue: Venue, terminal: TerminalId) -> int | None:
        """The trade server's clock now (epoch ms), from its offset to ours: read with
        ``server_time`` once per EA session and ``symbol_cache_s``, since the offset holds the
        server's time zone and moves only with its clock. None when the terminal's answer
        carries no time (no quote's age can be told then)."""
        session = self._bridge.session(terminal)
        session_id = session.session_id if session is not None else ""
        now = self._clock()
        cached = self._server_offsets.get(terminal)
        if cached is None or cached[0] != session_id or cached[1] <= now:
            clock = await venue.call("server_time", {}, self.settings.request_timeout_s)
            msc = clock.get("time_msc") if isinstance(clock, dict) else None
            offset = msc - self._utc_ms() if isinstance(msc, int) and not isinstance(msc, bool) \
                and msc > 0 else None
            cached = (session_id, now + self.settings.symbol_cache_s, offset)
            self._server_offsets[terminal] = cached
        return None if cached[2] is None else self._utc_ms() + cached[2]

    async def _symbol(self, venue: Venue, terminal: TerminalId, symbol: str) -> _Symbol:
        """The symbol's filling mask, execution mode and point, cached for ``symbol_cache_s``."""
        now = self._clock()
        cached = self._symbols.get((terminal, symbol))
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await venue.call("symbol_info", {"symbol": symbol},
                                self.settings.request_timeout_s)
        info = info if isinstance(info, dict) else {}

        def whole(name: str, default: int) -> int:
            value = info.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else default

        point = info.get("point")
        facts = _Symbol(filling=whole("filling_mode", 0),
                        execution=whole("trade_exemode", SYMBOL_TRADE_EXECUTION_MARKET),
                        point=float(point) if isinstance(point, int | float)
                        and not isinstance(point, bool) else 0.0)
        self._symbols[(terminal, symbol)] = (now + self.settings.symbol_cache_s, facts)
        return facts

    async def check_request(self, principal: Principal, request: TradeRequest
                            ) -> dict[str, Any]:
        """``order_check`` of the request as ``order_send`` would send it (magic, filling), at
        the caller's venue (a paper account's is its paper book).

        What ``order_send`` would refuse under the account's policy -- the kill switch,
        automated trading off, a symbol, lot or risk beyond the policy -- is refused here
        first, with the same error (``-32012`` and its ``data``): a bot that checks before it
        sends is told what the send will answer (the ``MetaTrader5`` package's
        ``order_check`` is the pre-flight of ``order_send``). What only the moment of sending
        decides (the terminal offline, a reconciliation in progress) and the token's own
        ``trade`` scope stay the send's: a check is a read. A closed market is answered
        before the policy's rules and the daemon's pricing (10018, the venue's own check), in
        the order both follow (``gate.py``, :data:`~.gate.ORDER_RULES`).

        Raises:
            TradingHalted, RiskLimit: the policy refuses the request.
            TradeRejected: 10021, a market order the daemon cannot price.
            Unauthorized: ``terminal_mismatch``.
        """
        venue = self.venues.choose(principal)
        self.gate.check_pairing(principal)
        body = request.model_dump(exclude_none=True)
        self.gate.check_policy(principal, opening=adds_risk(body))
        try:
            await check_order(principal.risk, body,
                              lambda method, params: self._read(principal, venue, method,
                                                                params))
            outgoing = await self._stamp(venue, principal.terminal, body, None)
        except (RiskLimit, TradeRejected) as refused:
            # A closed market is said first, as the send says it (gate.py, ORDER_RULES).
            result: Any = await self.gate.market_first(
                refused, lambda: self._market_check(principal, venue, body))
        else:
            result = await self._read(principal, venue, "order_check", {"request": outgoing})
        if isinstance(result, dict) and isinstance(result.get("retcode"), int):
            result = {**result, "retcode_name": retcode_name(result["retcode"])}
        return result  # type: ignore[no-any-return]

    # -- the operations (``operations.py``), for the convenience methods ---------------------

    async def place(self, principal: Principal, options: OrderOptions,
                    **fields: Any) -> dict[str, Any]:
        """The TradeRequest of ``fields`` plus ``options``, sent; a non-success retcode is
        ``TradeRejected`` (:meth:`TradeOperations.send`)."""
        return await self.ops.send(principal, self.ops.request(options, **fields))

    async def close_position(self, principal: Principal, position_id: int, *,
                             volume: float | None, slippage: int | None,
                             options: OrderOptions) -> dict[str, Any]:
        """Close ``volume`` of a position (all of it when None): :meth:`TradeOperations.close`."""
        return await self.ops.close(principal, position_id, volume=volume, slippage=slippage,
                                    options=options)

    async def close_positions_by_symbol(self, principal: Principal, symbol: str, *,
                                        slippage: int | None,
                                        options: OrderOptions) -> dict[str, Any]:
        """Close every open position of ``symbol``: :meth:`TradeOperations.close_by_symbol`."""
        return await self.ops.close_by_symbol(principal, symbol, slippage=slippage,
                                              options=options)

    def status(self, principal: Principal, client_id: str) -> dict[str, Any]:
        """``order_status``: the journal's view of one ``client_id`` of the caller's token
        (state, retcode, ticket, times, the request sent, the stored result) and the tickets a
        reconciliation could not tell apart for it.

        Raises:
            NotFound: no order with this ``client_id`` under this token.
        """
        row = self.journal.get(principal.token_id, client_id)
        if row is None:
            raise NotFound(f"unknown client_id {client_id!r}")
        return {
            "client_id": row.client_id, "state": str(row.state), "retcode": row.retcode,
            "retcode_name": None if row.retcode is None else retcode_name(row.retcode),
            "ticket": row.ticket, "created_at": row.created_at, "updated_at": row.updated_at,
            "reconcile_passes": row.passes, "request": row.request, "result": row.result,
            "ambiguous_tickets": list(self.reconciler.ambiguous(row.token_id, row.client_id)),
        }

    def refusals(self, principal: Principal) -> list[Reason]:
        """Every reason a new opening order of ``principal`` would be refused now (the gate's
        :data:`~gateway.trading.gate.RULES` order); empty when it would go to the terminal."""
        return self.gate.refusals(principal)

    def read(self, principal: Principal, method: str, params: dict[str, Any], *,
             live_book: bool = False) -> Awaitable[Any]:
        """A read at the caller's venue within the read deadline (the plain reads, the
        operations' position look-ups), or with ``live_book`` at the terminal itself
        whatever the caller trades on (the live book, read on request); the EA must be
        paired with the caller's token. The venue's coroutine, for the caller to await: no
        coroutine of the desk's own on every read's path (each level is resumed again when
        the terminal answers).

        Raises:
            Unauthorized: ``terminal_mismatch`` (the venue's pairing rule), at once.
        """
        venue = self.venues.live(principal.terminal) if live_book \
            else self.venues.choose(principal)
        return venue.read(self.gate, principal, method, params, self._read_timeout_s)

    async def _read(self, principal: Principal, venue: Venue, method: str,
                    params: dict[str, Any]) -> Any:
        """A read at ``venue`` within the read deadline (risk checks, order_check); the EA
        must be paired with the caller's token."""
        return await venue.read(self.gate, principal, method, params,
                                self.settings.request_timeout_s)
