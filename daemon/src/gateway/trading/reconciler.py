"""The reconciler: settles orders whose outcome was lost, and keeps the journal pruned.

Reconciliation runs when a terminal with unknown orders reconnects, and every
``reconcile_interval_s`` while any is unknown: it reads the EA's map, positions, orders and the
history since the oldest unknown order's creation minus ``reconcile_lookback_s``, and
``reconcile.py`` beside this identifies each row's order -- by the EA's record first (its
result, or the order ticket it names, found at the broker), then the tag where the user
consented to one (``trading.comment_tag``), then magic + symbol + type + volume + time window.
A match resolves the row (``RESOLVED_ACCEPTED`` with the ticket; a rejection retcode in the
EA's record ``RESOLVED_NOT_FOUND`` at once; an outcome-unknown retcode there settles nothing
unless the ticket it names is found at the broker, so the tag and the shape are searched as
for a lost answer); an ambiguous one stays ``UNKNOWN`` and is reported
(``order_status().ambiguous_tickets``, the log, an ``ambiguous`` audit line), never guessed;
``reconcile_max_passes`` passes without any candidate resolve it ``RESOLVED_NOT_FOUND``: a pass
counts only for the rows that were ``UNKNOWN`` before its reads began (a row whose answer was
lost while they ran may have been filled after them), and a pass whose read failed counts for
none. While
a pass runs, new ``order_send`` calls for that terminal are refused with ``-32014`` and
``data.reason = "reconciling"`` (fail fast; reads are not gated). SL/TP, MODIFY and REMOVE
requests create no order to find: without the EA's record they end NOT_FOUND.

The same periodic loop prunes the journal (:meth:`OrderJournal.prune`): at most once every
:data:`PRUNE_PERIOD_S`, and once when the desk opens (daemon start), rows final for longer than
``trading.journal_retention_h`` (at least 24 h) are deleted, which frees their ``client_id``.
Rows whose order executed are deleted only when the periodic prune has just read that
terminal's open orders and positions and neither their ticket nor their comment is among them
(open orders are always retained; at start no terminal is connected yet, so only rejected and
not-found rows go).

Why its own class with its own lifecycle: it is a bridge listener (an EA that reconnects with
unknown orders is reconciled before new trades go through) and a periodic loop, and neither is
the desk's job of sending orders. The desk and the trade gate ask it only whether a pass runs
for a terminal (:meth:`Reconciler.reconciling`).

Each row is searched at the venue it was sent to (``venue.py``): a live order at the terminal, a
paper order (one the daemon died while placing) in the terminal's paper book, never the other
way round -- a live order of the same shape must not be taken for a paper one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from ea_bridge import Bridge, BridgeError, NullListener, SessionInfo, TerminalId
from mt5model.mt5 import TradeRetcode, retcode_name

from .journal import OrderJournal, OrderRow, terminal_key, terminal_of
from .reconcile import Evidence, Verdict, identify
from .requests import CommentTags
from .venue import EA_ECHO_VERSION, EA_MAP_VERSION, Venue, Venues

__all__ = ["PRUNE_PERIOD_S", "Reconciler"]

log = logging.getLogger(__name__)

#: How often the periodic loop prunes the journal: retention is counted in hours, so a prune per
#: reconciliation period (seconds) would only add write transactions.
PRUNE_PERIOD_S: Final = 3600.0


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """What the reconciler reads of the daemon's configuration, and nothing else of it: handed
    in by the composition root (``create_app``)."""

    #: The comment tag an order may carry (``trading.comment_prefix``; searched whether or not
    #: stamping is on now: it may have been when the order went out).
    tags: CommentTags
    #: ``trading.reconcile_interval_s``: the periodic pass's period.
    interval_s: float
    #: ``trading.reconcile_lookback_s``: how far before a row the history is searched.
    lookback_s: float
    #: ``trading.reconcile_max_passes``: passes before a row is given up as not found.
    max_passes: int
    #: ``trading.journal_retention_h``: how long settled rows are kept.
    journal_retention_h: float
    #: ``server.request_timeout_s``: a read of the terminal's.
    request_timeout_s: float


class Reconciler(NullListener):
    """Reconciliation passes per terminal, the periodic loop and the prune schedule.

    Args:
        journal: the idempotency journal (opened before :meth:`open`).
        bridge: tells which terminals are connected, and reads them for pruning.
        venues: where each row is searched (the terminal, or its paper book).
        settings: what it reads of the daemon's configuration (:class:`ReconcileSettings`).
        clock: monotonic seconds, for the prune schedule.
        sleep: waits one reconciliation period; injected so tests step the periodic loop
            without sleeping.
    """

    def __init__(self, journal: OrderJournal, bridge: Bridge, venues: Venues,
                 settings: ReconcileSettings, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.journal = journal
        self._bridge = bridge
        self._venues = venues
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._next_prune_at = 0.0
        self._passes: dict[TerminalId, asyncio.Task[None]] = {}
        self._periodic: asyncio.Task[None] | None = None
        #: (token_id, client_id) → order tickets that match an unknown row equally well.
        self._ambiguous: dict[tuple[str, str], tuple[int, ...]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Prune the journal and start the periodic loop (the journal is open).

        Raises:
            sqlite3.Error: the journal cannot be pruned (the daemon must not start).
        """
        self._prune()
        self._periodic = asyncio.get_running_loop().create_task(self._reconcile_periodically())

    async def close(self) -> None:
        """Stop the periodic loop and every pass."""
        tasks = [t for t in (self._periodic, *self._passes.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._periodic = None

    def reconciling(self, terminal: TerminalId) -> bool:
        """Whether a reconciliation pass is running for ``terminal`` (new trades refused)."""
        return terminal in self._passes

    async def wait_reconciled(self, terminal: TerminalId) -> None:
        """Wait for the running reconciliation pass of ``terminal``, if any, to finish."""
        task = self._passes.get(terminal)
        if task is not None:
            await asyncio.wait({task})

    # -- the bridge listener ----------------------------------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """An EA (re)connected: reconcile its unknown orders before new trades go through."""
        if self._periodic is not None and self.journal.unknown(terminal_key(info.terminal)):
            self._start_pass(info.terminal)

    # -- passes ------------------------------------------------------------------------------

    def _start_pass(self, terminal: TerminalId) -> None:
        if terminal not in self._passes:
            self._passes[terminal] = asyncio.get_running_loop().create_task(
                self._reconcile(terminal))

    def _prune(self, open_tags: dict[str, frozenset[str | int]] | None = None) -> int:
        """Prune the journal now and schedule the next prune ``PRUNE_PERIOD_S`` later.

        ``open_tags`` (from :meth:`_open_tags`) lets executed rows of those terminals go once
        their order or position is no longer open; without it they are all kept.
        """
        self._next_prune_at = self._clock() + PRUNE_PERIOD_S
        retention_h = self.settings.journal_retention_h
        pruned = self.journal.prune(older_than_s=retention_h * 3600.0, open_tags=open_tags)
        if pruned:
            log.info("pruned %d journal rows final for over %g h", pruned, retention_h)
        lines = self.journal.prune_audit(older_than_s=retention_h * 3600.0)
        if lines:
            log.info("pruned %d audit lines older than %g h of orders no longer journaled",
                     lines, retention_h)
        return pruned

    async def _open_tags(self) -> dict[str, frozenset[str | int]]:
        """Terminal key → what marks its open orders and positions, for each connected
        terminal that answers (one that fails is left out: its rows are kept): their tickets
        (a position's ticket and identifier are its opening order's) and their comments (a
        tag the user consented to)."""
        marks: dict[str, frozenset[str | int]] = {}
        timeout = self.settings.request_timeout_s
        for info in self._bridge.sessions():
            found: set[str | int] = set()
            try:
                for method in ("orders_get", "positions_get"):
                    records = await self._bridge.call(info.terminal, method, {}, timeout)
                    for record in records if isinstance(records, list) else []:
                        if not isinstance(record, dict):
                            continue
                        found.update(value for name in ("comment", "ticket", "identifier")
                                     if isinstance(value := record.get(name), str | int)
                                     and not isinstance(value, bool))
            except BridgeError as exc:
                log.warning("open orders of %s not read for pruning (%s)", info.terminal,
                            type(exc).__name__)
                continue
            marks[terminal_key(info.terminal)] = frozenset(found)
        return marks

    async def _reconcile_periodically(self) -> None:
        while True:
            await self._sleep(self.settings.interval_s)
            if self._clock() >= self._next_prune_at:
                try:
                    self._prune(await self._open_tags())
                except Exception:
                    # Retention is housekeeping: a failed prune (a locked file, an EA answer
                    # of an unexpected shape) must not end this loop and with it
                    # reconciliation; the next one is due a period later.
                    log.exception("pruning the order journal failed")
            for key in {row.terminal for row in self.journal.unknown()}:
                terminal = terminal_of(key)
                if self._bridge.session(terminal) is not None:
                    self._start_pass(terminal)

    async def _reconcile(self, terminal: TerminalId) -> None:
        """One pass: identify each unknown order of ``terminal`` (``reconcile.py`` beside this)."""
        try:
            key = terminal_key(terminal)
            rows = self.journal.unknown(key)
            if rows:
                for paper in sorted({r.paper for r in rows}):
                    venue = self._venues.of(terminal, paper)
                    batch = [r for r in rows if r.paper == paper]
                    evidence = await self._evidence(venue, terminal, batch)
                    # Only the rows that were UNKNOWN before these reads began are judged by
                    # them: a row whose answer was lost while they ran may have been filled
                    # after them, and a miss counted from them would prove nothing (the next
                    # pass reads after its answer).
                    read_for = {(r.token_id, r.client_id) for r in batch}
                    for row in self.journal.unknown(key):
                        if row.paper != paper or (row.token_id, row.client_id) not in read_for:
                            continue
                        self._settle(row, identify(
                            order_key=row.order_key, request=row.request,
                            tag=self.settings.tags.of(row.client_id), created_at=row.created_at,
                            lost_at=row.updated_at, evidence=evidence))
        except BridgeError as exc:
            log.warning("reconciliation of %s interrupted (%s)", terminal, type(exc).__name__)
        except Exception:
            log.exception("reconciliation of %s failed", terminal)
        finally:
            self._passes.pop(terminal, None)

    async def _evidence(self, venue: Venue, terminal: TerminalId,
                        rows: list[OrderRow]) -> Evidence:
        """The EA's record (live only: the paper book keeps none), the orders, history and
        positions at ``venue``, and what other rows of the same venue already own."""
        timeout = self.settings.request_timeout_s
        server_time = await venue.call("server_time", {}, timeout)
        # The server's clock (its time zone, and skew) relative to ours, for the history window.
        offset = float(server_time["time"]) - self.journal.now()
        date_from = int(min(r.created_at for r in rows) + offset - self.settings.lookback_s)
        window = {"date_from": max(date_from, 0), "date_to": int(server_time["time"]) + 86400}
        ea_map: dict[str, dict[str, Any]] = {}
        version = venue.record_version(self._bridge.session(terminal))
        keys = [r.order_key for r in rows if r.order_key is not None]
        if keys and version >= EA_MAP_VERSION:
            ask = {"order_keys" if version >= EA_ECHO_VERSION else "client_ids": keys}
            answer = await venue.call("trade_results", ask, timeout)
            if isinstance(answer, dict):
                ea_map = {k: v for k, v in answer.items() if isinstance(v, dict)}

        async def read(method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            records = await venue.call(method, params, timeout)
            return [r for r in (records if isinstance(records, list) else [])
                    if isinstance(r, dict)]

        orders = await read("orders_get", {}) + await read("history_orders_get", window)
        deals = await read("history_deals_get", window)
        positions = await read("positions_get", {})
        unknown = {(r.token_id, r.client_id) for r in rows}
        others = [r for r in self.journal.of_terminal(terminal_key(terminal))
                  if (r.token_id, r.client_id) not in unknown and r.paper == venue.paper]
        mine = {self.settings.tags.of(r.client_id) for r in rows}
        return Evidence(
            ea_map=ea_map, orders=orders, deals=deals, positions=positions, offset_s=offset,
            claimed_tickets=frozenset(r.ticket for r in others if r.ticket),
            # The tags other rows' orders carry (only those sent with one: the user consented
            # then). A tag another token's row shares with an unknown row cannot exclude
            # anything: the ticket it owns does (``claimed_tickets``).
            claimed_tags=frozenset(
                tag for r in others
                if r.request.get("comment") == (tag := self.settings.tags.of(r.client_id))) - mine,
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
            self.journal.record_miss(row, self.settings.max_passes)
            return
        recorded = verdict.result or {}
        if verdict.kind == "rejected":
            retcode = recorded.get("retcode")
            self.journal.resolve_not_executed(row, {
                **recorded, "retcode_name": retcode_name(retcode) if isinstance(retcode, int)
                else None, "client_id": row.client_id, "reconciled": True,
                "found_in": verdict.where, "identified_by": verdict.via})
            return
        # Found without the terminal's answer: what its OrderSend answers for a request it
        # carried out, a placed pending order included.
        retcode = recorded.get("retcode", TradeRetcode.DONE)
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
