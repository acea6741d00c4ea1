"""What the owner's daemons report, as the console keeps and pushes it: each account's latest
snapshot (margin, open trades and orders), the deals seen, who is online, and the live page's
watch.

A daemon's report is stored by ``terminals.py``, which hands each one here in its own
transaction (:meth:`Live.observe_report`): the snapshot replaced (or dropped when the terminal
is no longer active), new deals kept, and the instructions it settles passed to the
instructions room. Readers get what was read with the time it was read (``snapshots.py``).

The live page (``web/live.py``) holds a stream per browser: it takes :meth:`Live.report_event`
before it writes, so a report stored meanwhile is not missed, and calls :meth:`Live.watch` on
each pass, so the owner's daemons are answered "report live" (every few seconds) only while
someone watches (:meth:`Live.wants_live`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

from mtgateway_base.wire.reports import TerminalReport
from mtgateway_base.wire.venues import Book

from ..database import Tx
from ..tables import approvals as approval_rows
from ..tables import equity, snapshots
from ..tables.reports import SILENT_AFTER_S, TerminalRow
from ..tables.reports import of as terminals_of
from ..tables.snapshots import KeptDeal
from .common import Shared, normalize_email
from .instructions import Instructions

__all__ = ["WATCH_HOLD_S", "Live"]

#: How long a pass of the live page's stream keeps its owner watched (its passes come at
#: least every ``web/live.BEAT_S``, 15 s).
WATCH_HOLD_S: Final = 60


class Live:
    """Reports as they are stored, and what readers ask of them."""

    def __init__(self, shared: Shared, instructions: Instructions) -> None:
        self._shared = shared
        self._store = shared.store
        self._instructions = instructions
        #: Per owner, woken when a report of theirs is stored in this process (the live
        #: page's push, ``web/live.py``).
        self._reported: dict[str, asyncio.Event] = {}
        #: Per owner watching the live page on this instance, until when (epoch s): their
        #: daemons are asked for live reports (:meth:`wants_live`).
        self._watched: dict[str, int] = {}

    # -- reading ------------------------------------------------------------------------------

    async def snapshots(self, owner_email: str
                        ) -> dict[tuple[str, int, str], snapshots.Snapshot]:
        """The latest snapshot of each of the owner's active terminals, per device."""
        return await self._shared.run(snapshots.snapshots_of, normalize_email(owner_email))

    async def deals(self, owner_email: str, terminals: Sequence[tuple[int, str]], **where: Any
                    ) -> list[KeptDeal]:
        """The deals daemons reported for the owner's terminals, of the books asked
        (``snapshots.deals_of``: both by default)."""
        return await self._shared.run(snapshots.deals_of, normalize_email(owner_email),
                                      list(terminals), **where)

    async def flows(self, owner_email: str, terminals: Sequence[tuple[int, str]]
                    ) -> dict[tuple[int, str, Book], list[tuple[int, float]]]:
        """The balance operations kept for the owner's terminals, per book
        (``snapshots.flows_of``)."""
        return await self._shared.run(snapshots.flows_of, normalize_email(owner_email),
                                      list(terminals))

    async def books(self, owner_email: str) -> dict[tuple[int, str], Book]:
        """The book each of the owner's terminals reports now, by (login, server): its
        freshest snapshot's, else its newest equity point's (a terminal not active now);
        a terminal with neither is absent."""
        owner = normalize_email(owner_email)
        found = await self._shared.run(equity.books_of, owner)
        fresh: dict[tuple[int, str], snapshots.Snapshot] = {}
        for (_, login, server), snap in (await self.snapshots(owner)).items():
            if (login, server) not in fresh or snap.as_of > fresh[(login, server)].as_of:
                fresh[(login, server)] = snap
        return {**found, **{terminal: snap.book for terminal, snap in fresh.items()}}

    async def online(self, owner_email: str) -> list[TerminalRow]:
        """The owner's terminals active now (reported active and not silent)."""
        now = self._shared.now()
        rows = await self._shared.run(terminals_of, normalize_email(owner_email))
        return [r for r in rows if r.state == "active" and now - r.reported_at <= SILENT_AFTER_S]

    # -- storing ------------------------------------------------------------------------------

    def observe_report(self, tx: Tx, owner_email: str, device_id: str, report: TerminalReport,
                       as_of: float, now: int, snapshot_kept: bool = True) -> None:
        """A stored report's details and settlements (called in the report's transaction,
        ``terminals.py``): the snapshot replaced or dropped, new deals kept, instructions
        settled. ``snapshot_kept``: whether the report's lookup found a snapshot stored
        (without one there is none to drop)."""
        key = (owner_email, device_id, report.login, report.server)
        tx.after_commit(lambda: self._report_stored(owner_email))
        details = report.details
        if report.state == "active" and details is not None:
            # the figures' book is the report's: details come only with figures
            book = report.figures.book if report.figures is not None else "live"
            digits = report.book.digits if report.book is not None else {}
            snapshots.save(tx, key, details, as_of, book, digits, report.live)
            snapshots.add_deals(tx, owner_email, device_id, report.login, report.server,
                                details.deals, as_of, now, book=book, digits=digits,
                                server_offset=details.server_offset_s)
            if report.live is not None and book == "paper":
                # the broker's deals while the account trades on paper: the live history
                # goes on (a stop hit at the broker, a close there by hand)
                snapshots.add_deals(tx, owner_email, device_id, report.login, report.server,
                                    report.live.deals, as_of, now, book="live",
                                    digits=digits, server_offset=report.live.server_offset_s)
        elif snapshot_kept:
            snapshots.drop(tx, key)
        self._instructions.settle_reported(tx, owner_email, device_id, report, now)

    # -- the live page ------------------------------------------------------------------------

    def report_event(self, owner_email: str) -> asyncio.Event:
        """An event set when the next report of the owner's terminals is stored by this
        console instance (a report stored by another instance is not heard). Take it before
        doing what a report should follow (the live page's stream writes after taking it), so
        a report stored meanwhile is not missed."""
        return self._reported.setdefault(normalize_email(owner_email), asyncio.Event())

    def watch(self, owner_email: str) -> None:
        """The owner is watching the live page: for :data:`WATCH_HOLD_S` from now, reports
        from their daemons are answered with a request for live ones (the live page calls
        this on every pass of its stream)."""
        self._watched[normalize_email(owner_email)] = self._shared.now() + WATCH_HOLD_S

    async def wants_live(self, device_id: str) -> bool:
        """Whether a report from ``device_id`` is answered "report live": one of the owners
        who approve it is watching the live page on this instance.

        Why only then: an active terminal holding positions reported every 5 s instead of
        every 30 s is six times the console's report load, and nobody reads the figures in
        between when nobody watches (the API's readings carry the time they were read). No
        one watching, as for almost every report, costs nothing: no query."""
        now = self._shared.now()
        # the watches that ran out leave (the live page renews its own on every pass)
        self._watched = watched = {o: until for o, until in self._watched.items()
                                   if until > now}
        if not watched:
            return False
        return await self._shared.run(self._approved_by_any, device_id, list(watched))

    def _approved_by_any(self, tx: Tx, device_id: str, owners: list[str]) -> bool:
        for owner in owners:
            approval = approval_rows.approval(tx, owner, device_id)
            if approval is not None and approval.status == "approved":
                return True
        return False

    def wake_all(self) -> None:
        """Set every :meth:`report_event` now (the console is shutting down)."""
        for event in self._reported.values():
            event.set()
        self._reported.clear()

    def _report_stored(self, owner_email: str) -> None:
        event = self._reported.pop(owner_email, None)
        if event is not None:
            event.set()
