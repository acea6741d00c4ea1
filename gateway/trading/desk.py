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
* keeps the client's ``comment`` as written (MT5's limit, 31 characters); a request without
  one is stamped ``comment = "<prefix>:<client_id>"`` (``trading.comment_prefix``, ``"g"``), a
  tag reconciliation can find. ``magic`` is the configured one unless the request gives its
  own. An EA of protocol 1.1 or later (``ea_version``) also gets the row's **order key** (16
  random bytes, base64url: unique across tokens and retention, never the bot's ``client_id``)
  and keeps its own ``order key → OrderSendResult`` record (``trade_results``); an EA of 1.2
  echoes the request it executed, and an answer or record whose echo differs from what was
  sent is not trusted (the row stays ``UNKNOWN``, ``result.unknown_reason`` says why);
* picks ``type_filling`` from the symbol's ``filling_mode`` *bit mask* when the request omits it
  (FOK if allowed, else IOC, else RETURN; RETURN for pending orders) -- the MT5 gotcha where
  the docs' example answers "unsupported filling mode";
* answers a lost answer (EA drop, ``server.trade_timeout_s``) with ``-32003`` and
  ``data.client_id``, and never resends. Retrying such an id answers ``-32003`` again (with
  ``data.state``) until reconciliation has found the order, then its outcome;
* treats a broker answer whose retcode does not prove the order was not executed
  (:data:`OUTCOME_UNKNOWN_RETCODES`: 10011 ERROR, 10012 TIMEOUT, 10031 CONNECTION) exactly like a
  lost answer: the row goes ``SENT → UNKNOWN`` (keeping the answer, which ``order_status``
  shows), the client gets ``-32003`` (the message names the retcode), and reconciliation
  settles it. Journaling it ``REJECTED`` would be a final "not executed" that nobody checked,
  and a client trusting it would open a second position. Every other retcode is a result.

Reconciliation (:class:`TradeDesk`) runs when a terminal with unknown orders reconnects, and
every ``reconcile_interval_s`` while any is unknown: it reads the EA's map, positions, orders
and the history since the oldest unknown order's creation minus ``reconcile_lookback_s``, and
``reconcile.py`` beside this identifies each row's order -- by the EA's record first, then the
tag, then magic + symbol + type + volume + time window. A match resolves the row
(``RESOLVED_ACCEPTED`` with the ticket; a rejection retcode in the EA's record
``RESOLVED_NOT_FOUND`` at once; an outcome-unknown retcode there proves nothing, so the tag and
the shape are searched as for a lost answer); an ambiguous one stays ``UNKNOWN`` and is
reported (``order_status().ambiguous_tickets``, the log, an ``ambiguous`` audit line), never
guessed; ``reconcile_max_passes`` passes without
any candidate resolve it ``RESOLVED_NOT_FOUND``. While a pass runs, new ``order_send`` calls for
that terminal are refused with ``-32014`` and ``data.reason = "reconciling"`` (fail fast; reads
are not gated). SL/TP, MODIFY and REMOVE requests create no order to find: without the EA's
record they end NOT_FOUND.

The same periodic loop prunes the journal (:meth:`OrderJournal.prune`): at most once every
:data:`PRUNE_PERIOD_S`, and once when the desk opens (daemon start), rows final for longer than
``trading.journal_retention_h`` (at least 24 h) are deleted, which frees their ``client_id``.
Rows whose order executed are deleted only when the periodic prune has just read that
terminal's open orders and positions and their tag is not among them (open orders are always
retained; at start no terminal is connected yet, so only rejected and not-found rows go).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from ea_bridge import (
    Bridge,
    BridgeError,
    EAError,
    FrameTooLarge,
    SessionInfo,
    TerminalId,
    TerminalNotConnected,
    TradeOutcomeUnknown,
)
from mt5model.mt5 import (
    SUCCESS_RETCODES,
    OrderFilling,
    SymbolFilling,
    TradeAction,
    TradeRetcode,
    retcode_name,
)

from ..auth import Principal
from ..config import GatewayConfig
from ..errors import (
    GatewayError,
    IdempotencyConflict,
    OutcomeUnknown,
    Unauthorized,
    Unavailable,
)
from .journal import OrderJournal, OrderRow, OrderState, params_hash
from .paper import PaperTrading
from .reconcile import OUTCOME_UNKNOWN_RETCODES, Evidence, Verdict, echo_mismatch, identify
from .requests import SendRequest, TradeRequest, comment_tag
from .risk import check_order

__all__ = [
    "OUTCOME_UNKNOWN_RETCODES",
    "PRUNE_PERIOD_S",
    "TradeDesk",
    "order_key",
]

log = logging.getLogger("gateway.trading")

#: The first EA protocol version that keeps an order record: it takes a key with
#: ``order_send`` (as ``client_id``) and answers ``trade_results`` (docs/protocol.md); older
#: EAs get the request alone and are never asked.
EA_MAP_VERSION: Final = (1, 1)
#: The first EA protocol version that takes the key as ``order_key`` and echoes the request
#: it executed with each record, which the daemon checks before trusting it.
EA_ECHO_VERSION: Final = (1, 2)
#: Random bytes in an order key: 16 (128 bits), 22 characters of base64url without padding.
ORDER_KEY_BYTES: Final = 16


def _ea_version(version: str) -> tuple[int, int]:
    """The (major, minor) of an EA's ``ea_version`` ("1.2.0"); (0, 0) when unreadable."""
    parts = version.split(".")[:2]
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return (0, 0)
    return (int(parts[0]), int(parts[1]))


def order_key(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh order key: :data:`ORDER_KEY_BYTES` random bytes as base64url, no padding.

    Why not the ``client_id``: the journal's idempotency scope is (token, ``client_id``) within
    retention, but the EA's record outlives both; a bare ``client_id`` used again under a new
    token, or after its row was pruned, would be answered from the old order's record.
    """
    return base64.urlsafe_b64encode(random_bytes(ORDER_KEY_BYTES)).rstrip(b"=").decode()

#: How often the periodic loop prunes the journal: retention is counted in hours, so a prune per
#: reconciliation period (seconds) would only add write transactions.
PRUNE_PERIOD_S: Final = 3600.0

@dataclass(frozen=True, slots=True)
class _Flight:
    """An ``order_send`` in flight: its parameters' hash, and a future set when it ends (to
    the refusal it ended with when nothing was journaled, else None)."""

    params_hash: str
    done: asyncio.Future[GatewayError | BridgeError | None]


def _journal_unavailable() -> Unavailable:
    """The answer when the journal cannot write before the order leaves: nothing was sent."""
    return Unavailable("journal_unavailable", "The order journal could not record the order, "
                       "so it was not sent; retry with the same client_id")


def _terminal_key(terminal: TerminalId) -> str:
    return str(terminal)


def _terminal_of(key: str) -> TerminalId:
    login, _, server = key.partition("@")
    return TerminalId(int(login), server)


class TradeDesk:
    """The trading state of one daemon: the journal, requests in flight, the symbol cache and
    the reconciliation passes. Created in ``create_app``, which also adds it to the bridge's
    listeners (:meth:`session_up` starts reconciliation when an EA reconnects).

    Args:
        journal: the idempotency journal (opened by :meth:`open`).
        bridge: the bridge orders go through and reconciliation reads from.
        config: the daemon's configuration (``trading`` and ``server`` sections).
        clock: monotonic seconds, for the symbol cache and the prune schedule.
        new_client_id: makes a ``client_id`` when the request has none.
        sleep: waits one reconciliation period; injected so tests step the periodic loop
            without sleeping.
        random_bytes: the randomness of order keys (:func:`order_key`).
    """

    def __init__(self, journal: OrderJournal, bridge: Bridge, config: GatewayConfig, *,
                 clock: Callable[[], float] = time.monotonic,
                 new_client_id: Callable[[], str] = lambda: secrets.token_urlsafe(15),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self.journal = journal
        self._random_bytes = random_bytes
        self._config = config
        self._cfg = config.trading
        self._clock = clock
        self._new_client_id = new_client_id
        self._sleep = sleep
        self._next_prune_at = 0.0
        self._bridge = bridge
        self._inflight: dict[tuple[str, str], _Flight] = {}
        self._filling: dict[tuple[TerminalId, str], tuple[float, int]] = {}
        self._passes: dict[TerminalId, asyncio.Task[None]] = {}
        self._periodic: asyncio.Task[None] | None = None
        #: (token_id, client_id) → order tickets that match an unknown row equally well.
        self._ambiguous: dict[tuple[str, str], tuple[int, ...]] = {}
        #: The paper books of ``paper_trade_enabled`` accounts (``paper.py``); a bridge
        #: listener of its own (``create_app`` adds it) for the live ticks.
        self.paper = PaperTrading(bridge, config)

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the journal, prune it, and start the periodic reconciliation loop.

        Raises:
            sqlite3.Error: the journal cannot be opened or pruned (the daemon must not start).
        """
        self.journal.open()
        try:
            self._prune()
        except BaseException:
            self.journal.close()  # the cleanup context never runs for a start that failed
            raise
        self._periodic = asyncio.get_running_loop().create_task(self._reconcile_periodically())

    async def close(self) -> None:
        """Stop reconciling and close the journal (after the bridge has closed)."""
        tasks = [t for t in (self._periodic, *self._passes.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._periodic = None
        self.journal.close()

    def reconciling(self, terminal: TerminalId) -> bool:
        """Whether a reconciliation pass is running for ``terminal`` (new trades refused)."""
        return terminal in self._passes

    def refusals(self, principal: Principal) -> list[str]:
        """Why a new opening order of ``principal`` would be refused right now, as the reason
        words its error would carry (``data.reason`` or ``data.rule``); empty when it would go
        to the terminal. For ``gateway_status``, so a client can tell *why* before it trades:

        * ``scope``: the token lacks the ``trade`` scope (-32004);
        * ``auth_stale``: the authority has not confirmed the token lately (-32014);
        * ``terminal_offline``: no EA is connected (-32001);
        * ``terminal_mismatch``: the EA is connected with another token (-32004);
        * ``reconciling``: a reconciliation pass runs for the terminal (-32014);
        * ``auto_trade_enabled``: the account's risk policy disables automated trading, so
          opening orders are refused (-32012); closes still go through.
        """
        terminal = principal.terminal
        session = self._bridge.session(terminal) if self._bridge is not None else None
        checks = (
            ("scope", not principal.may_trade()),
            ("auth_stale", not principal.fresh),
            ("terminal_offline", session is None),
            ("terminal_mismatch", session is not None and session.token_id != principal.token_id),
            ("reconciling", self.reconciling(terminal)),
            ("auto_trade_enabled", not principal.risk.auto_trade_enabled),
        )
        return [reason for reason, refused in checks if refused]

    async def wait_reconciled(self, terminal: TerminalId) -> None:
        """Wait for the running reconciliation pass of ``terminal``, if any, to finish."""
        task = self._passes.get(terminal)
        if task is not None:
            await asyncio.wait({task})

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
            # before the journal (a refused order does not use up its client_id).
            await check_order(principal.risk, body,
                              lambda method, params: self._read(principal, method, params))
            return await self._place(principal, client_id, body, phash)
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

    async def _place(self, principal: Principal, client_id: str, body: dict[str, Any],
                     phash: str) -> dict[str, Any]:
        bridge = self._bridge
        terminal = principal.terminal
        session = bridge.session(terminal)
        if session is not None and session.token_id != principal.token_id:
            raise Unauthorized("terminal_mismatch",
                               "The terminal's EA is connected with a different auth token")
        self._gate(terminal)
        if session is None:  # nothing to send to: refused before anything is journaled
            raise TerminalNotConnected(f"no terminal connected for {terminal}")
        try:
            row = self.journal.receive(token_id=principal.token_id, client_id=client_id,
                                       terminal=_terminal_key(terminal), params_hash=phash,
                                       request=body, order_key=order_key(self._random_bytes))
        except sqlite3.Error as exc:  # nothing journaled, nothing sent
            log.error("order journal could not record %s (%s)", client_id, exc)
            raise _journal_unavailable() from None
        try:
            outgoing = await self._stamp(bridge, terminal, body, self._tag(client_id))
            self._gate(terminal)  # a pass may have started while the symbol was looked up
        except BaseException as exc:
            self.journal.abandon(row, type(exc).__name__)
            raise
        try:
            row = self.journal.mark_sent(row, outgoing)  # committed before it leaves
        except sqlite3.Error as exc:
            # Not marked, so not sent. The row stays RECEIVED (writing anything else would
            # likely fail the same way); the next send of this client_id releases it.
            log.error("order journal could not mark %s sent (%s); the order was not sent",
                      client_id, exc)
            raise _journal_unavailable() from None
        params: dict[str, Any] = {"request": outgoing}
        ea_version = _ea_version(session.hello.ea_version)
        if ea_version >= EA_ECHO_VERSION:
            params["order_key"] = row.order_key
        elif ea_version >= EA_MAP_VERSION:
            params["client_id"] = row.order_key  # 22 characters: within 1.1's 1-24
        try:
            if principal.risk.paper_trade_enabled:  # filled in the paper book, never sent
                result = await self.paper.call(terminal, "order_send", {"request": outgoing})
            else:
                result = await bridge.call(terminal, "order_send", params,
                                           self._config.server.trade_timeout_s)
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
                    if ea_version >= EA_ECHO_VERSION and "request" in result else None)
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

    def _gate(self, terminal: TerminalId) -> None:
        if terminal in self._passes:
            raise Unavailable("reconciling", "Reconciling orders whose outcome was lost; "
                                             "retry shortly")

    def _tag(self, client_id: str) -> str:
        return comment_tag(self._cfg.comment_prefix, client_id)

    async def _stamp(self, bridge: Bridge, terminal: TerminalId, body: dict[str, Any],
                     tag: str | None) -> dict[str, Any]:
        """The request as sent: magic, the client's comment or else ``tag``, a legal filling
        mode, integer times."""
        out = dict(body)
        out.setdefault("magic", self._cfg.magic)
        if tag is not None and not out.get("comment"):
            out["comment"] = tag
        if "expiration" in out:
            out["expiration"] = int(out["expiration"])
        action = out["action"]
        if "symbol" in out and action in (TradeAction.DEAL, TradeAction.PENDING):
            # Looked up even when the filling is given: an unknown symbol then fails here,
            # before the journal sends anything, with symbol_info's own -32006 -- the one
            # answer every method gives for it.
            mask = await self._filling_mask(bridge, terminal, out["symbol"])
            if "type_filling" in out:
                pass
            elif action == TradeAction.PENDING:
                out["type_filling"] = int(OrderFilling.RETURN)
            else:
                out["type_filling"] = int(
                    OrderFilling.FOK if mask & SymbolFilling.FOK else
                    OrderFilling.IOC if mask & SymbolFilling.IOC else OrderFilling.RETURN)
        return out

    async def _filling_mask(self, bridge: Bridge, terminal: TerminalId, symbol: str) -> int:
        """The symbol's SYMBOL_FILLING_* bit mask, cached for ``symbol_cache_s``."""
        now = self._clock()
        cached = self._filling.get((terminal, symbol))
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await bridge.call(terminal, "symbol_info", {"symbol": symbol},
                                 self._config.server.request_timeout_s)
        mask = info.get("filling_mode") if isinstance(info, dict) else None
        mask = mask if isinstance(mask, int) and not isinstance(mask, bool) else 0
        self._filling[(terminal, symbol)] = (now + self._cfg.symbol_cache_s, mask)
        return mask

    async def check_request(self, principal: Principal, request: TradeRequest
                            ) -> dict[str, Any]:
        """``order_check`` of the request as ``order_send`` would send it (magic, filling)."""
        body = request.model_dump(exclude_none=True)
        outgoing = await self._stamp(self._bridge, principal.terminal, body, None)
        if principal.risk.paper_trade_enabled:
            self._check_pairing(principal)
            result = await self.paper.call(principal.terminal, "order_check",
                                           {"request": outgoing})
        else:
            result = await self._read(principal, "order_check", {"request": outgoing})
        if isinstance(result, dict) and isinstance(result.get("retcode"), int):
            result = {**result, "retcode_name": retcode_name(result["retcode"])}
        return result  # type: ignore[no-any-return]

    def _check_pairing(self, principal: Principal) -> None:
        """One token pairs one client with one terminal: the EA must use the caller's token."""
        session = self._bridge.session(principal.terminal)
        if session is not None and session.token_id != principal.token_id:
            raise Unauthorized("terminal_mismatch",
                               "The terminal's EA is connected with a different auth token")

    async def _read(self, principal: Principal, method: str, params: dict[str, Any]) -> Any:
        """A read on the caller's terminal within the read deadline (risk checks, order_check)."""
        self._check_pairing(principal)
        return await self._bridge.call(principal.terminal, method, params,
                                       self._config.server.request_timeout_s)

    # -- reconciliation (a bridge listener) --------------------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """An EA (re)connected: reconcile its unknown orders before new trades go through."""
        if self._periodic is not None and self.journal.unknown(_terminal_key(info.terminal)):
            self._start_pass(info.terminal)

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Nothing to do: an order in flight fails on its own call."""

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Not the desk's concern."""

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Not the desk's concern (reconciliation reads the terminal's state itself)."""

    def _start_pass(self, terminal: TerminalId) -> None:
        if terminal not in self._passes:
            self._passes[terminal] = asyncio.get_running_loop().create_task(
                self._reconcile(terminal))

    def _prune(self, open_tags: dict[str, frozenset[str]] | None = None) -> int:
        """Prune the journal now and schedule the next prune ``PRUNE_PERIOD_S`` later.

        ``open_tags`` (from :meth:`_open_tags`) lets executed rows of those terminals go once
        their order or position is no longer open; without it they are all kept.
        """
        self._next_prune_at = self._clock() + PRUNE_PERIOD_S
        retention_h = self._cfg.journal_retention_h
        pruned = self.journal.prune(older_than_s=retention_h * 3600.0, open_tags=open_tags)
        if pruned:
            log.info("pruned %d journal rows final for over %g h", pruned, retention_h)
        lines = self.journal.prune_audit(older_than_s=retention_h * 3600.0)
        if lines:
            log.info("pruned %d audit lines older than %g h of orders no longer journaled",
                     lines, retention_h)
        return pruned

    async def _open_tags(self) -> dict[str, frozenset[str]]:
        """Terminal key → the comment tags of its open orders and positions, for each
        connected terminal that answers (one that fails is left out: its rows are kept)."""
        tags: dict[str, frozenset[str]] = {}
        timeout = self._config.server.request_timeout_s
        for info in self._bridge.sessions():
            comments: set[str] = set()
            try:
                for method in ("orders_get", "positions_get"):
                    records = await self._bridge.call(info.terminal, method, {}, timeout)
                    comments.update(r["comment"] for r in (records if isinstance(records, list)
                                                           else [])
                                    if isinstance(r, dict) and isinstance(r.get("comment"), str))
            except BridgeError as exc:
                log.warning("open orders of %s not read for pruning (%s)", info.terminal,
                            type(exc).__name__)
                continue
            tags[_terminal_key(info.terminal)] = frozenset(comments)
        return tags

    async def _reconcile_periodically(self) -> None:
        while True:
            await self._sleep(self._cfg.reconcile_interval_s)
            if self._clock() >= self._next_prune_at:
                try:
                    self._prune(await self._open_tags())
                except Exception:
                    # Retention is housekeeping: a failed prune (a locked file, an EA answer
                    # of an unexpected shape) must not end this loop and with it
                    # reconciliation; the next one is due a period later.
                    log.exception("pruning the order journal failed")
            for key in {row.terminal for row in self.journal.unknown()}:
                terminal = _terminal_of(key)
                if self._bridge.session(terminal) is not None:
                    self._start_pass(terminal)

    async def _reconcile(self, terminal: TerminalId) -> None:
        """One pass: identify each unknown order of ``terminal`` (``reconcile.py`` beside this)."""
        try:
            key = _terminal_key(terminal)
            rows = self.journal.unknown(key)
            if rows:
                evidence = await self._evidence(self._bridge, terminal, rows)
                for row in self.journal.unknown(key):
                    self._settle(row, identify(
                        order_key=row.order_key, request=row.request,
                        tag=self._tag(row.client_id), created_at=row.created_at,
                        lost_at=row.updated_at, evidence=evidence))
        except BridgeError as exc:
            log.warning("reconciliation of %s interrupted (%s)", terminal, type(exc).__name__)
        except Exception:
            log.exception("reconciliation of %s failed", terminal)
        finally:
            self._passes.pop(terminal, None)

    async def _evidence(self, bridge: Bridge, terminal: TerminalId,
                        rows: list[OrderRow]) -> Evidence:
        """The EA's map, orders, history and positions, and what other rows already own."""
        timeout = self._config.server.request_timeout_s
        server_time = await bridge.call(terminal, "server_time", {}, timeout)
        # The server's clock (its time zone, and skew) relative to ours, for the history window.
        offset = float(server_time["time"]) - self.journal.now()
        date_from = int(min(r.created_at for r in rows) + offset - self._cfg.reconcile_lookback_s)
        window = {"date_from": max(date_from, 0), "date_to": int(server_time["time"]) + 86400}
        ea_map: dict[str, dict[str, Any]] = {}
        session = bridge.session(terminal)
        version = _ea_version(session.hello.ea_version) if session is not None else (0, 0)
        keys = [r.order_key for r in rows if r.order_key is not None]
        if keys and version >= EA_MAP_VERSION:
            ask = {"order_keys" if version >= EA_ECHO_VERSION else "client_ids": keys}
            answer = await bridge.call(terminal, "trade_results", ask, timeout)
            if isinstance(answer, dict):
                ea_map = {k: v for k, v in answer.items() if isinstance(v, dict)}

        async def read(method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            records = await bridge.call(terminal, method, params, timeout)
            return [r for r in (records if isinstance(records, list) else [])
                    if isinstance(r, dict)]

        orders = await read("orders_get", {}) + await read("history_orders_get", window)
        deals = await read("history_deals_get", window)
        positions = await read("positions_get", {})
        unknown = {(r.token_id, r.client_id) for r in rows}
        others = [r for r in self.journal.of_terminal(_terminal_key(terminal))
                  if (r.token_id, r.client_id) not in unknown]
        mine = {self._tag(r.client_id) for r in rows}
        return Evidence(
            ea_map=ea_map, orders=orders, deals=deals, positions=positions, offset_s=offset,
            claimed_tickets=frozenset(r.ticket for r in others if r.ticket),
            # A tag another token's row shares with an unknown row cannot exclude anything:
            # the ticket it owns does (``claimed_tickets``).
            claimed_tags=frozenset(self._tag(r.client_id) for r in others) - mine,
            echoed=version >= EA_ECHO_VERSION)

    def _settle(self, row: OrderRow, verdict: Verdict) -> None:
        key = (row.token_id, row.client_id)
        if verdict.kind == "ambiguous":
            if self._ambiguous.get(key) != verdict.candidates:
                self._ambiguous[key] = verdict.candidates
                self.journal.note(row, "ambiguous")
            log.warning("order %s of %s is ambiguous: tickets %s match it equally; left "
                        "UNKNOWN for a person to settle", row.client_id, row.terminal,
                        list(verdict.candidates))
            return
        self._ambiguous.pop(key, None)
        if verdict.kind == "untrusted":
            log.warning("order %s of %s stays UNKNOWN: %s", row.client_id, row.terminal,
                        verdict.reason)
            self.journal.explain_unknown(row, "record_mismatch", verdict.reason)
            return
        if verdict.kind == "miss":
            self.journal.record_miss(row, self._cfg.reconcile_max_passes)
            return
        recorded = verdict.result or {}
        if verdict.kind == "rejected":
            retcode = recorded.get("retcode")
            self.journal.resolve_not_executed(row, {
                **recorded, "retcode_name": retcode_name(retcode) if isinstance(retcode, int)
                else None, "client_id": row.client_id, "reconciled": True,
                "found_in": verdict.where, "identified_by": verdict.via})
            return
        pending = row.request.get("action") == TradeAction.PENDING
        retcode = recorded.get("retcode", TradeRetcode.PLACED if pending else TradeRetcode.DONE)
        result = {
            **recorded,
            "retcode": int(retcode), "retcode_name": retcode_name(int(retcode)),
            "deal": verdict.deal, "order": verdict.ticket,
            "comment": recorded.get("comment", row.request.get("comment", "")),
            "request": row.request, "client_id": row.client_id, "reconciled": True,
            "found_in": verdict.where, "identified_by": verdict.via,
        }
        self.journal.resolve_found(row, verdict.ticket or None, result)

    def ambiguous(self, token_id: str, client_id: str) -> tuple[int, ...]:
        """The tickets an unknown order matched equally at the last pass (empty: none)."""
        return self._ambiguous.get((token_id, client_id), ())
