"""Terminal reports: what daemons say of their terminals, and the revocations they wait for.

A report is believed only as far as it can be (``reports.py``): the owner is found from the
token the EA used, and the reporting device must be one the owner approved. A device the
owner denied, revoked or never approved holds at most a token (a leaked one, perhaps): it
does not speak for the owner's terminals, so it can neither change what the dashboard shows,
open, close or postpone an alert, nor be named by one. The owner hears of such a device by
its approval e-mail and the Devices page. A report's states, and the activity entries of new
refusals, are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.reports import AccountFigures, PositionsBook, TerminalReport

from ..database import Tx
from ..tables import equity, positions
from ..tables.alerts import Observer, margin_of
from ..tables.prior import prior_of
from ..tables.reports import TerminalRow, figures_of, of, save
from ..tables.store import ProofClaim, claimed
from ..tables.token_details import note_use
from ..tables.verification import PROVEN_STATES, note_proof, verified_of
from .approvals import checked
from .common import Shared, normalize_email

__all__ = ["ReportHook", "Terminals"]

#: Told of each stored report in its transaction: ``(tx, owner, device id, report as the
#: daemon sent it, its "as of" on the console's clock, now, whether the terminal has an
#: account snapshot stored)``.
ReportHook = Callable[[Tx, str, str, TerminalReport, float, int, bool], None]


class Terminals:
    """The terminal states daemons report and the owners' view of them."""

    def __init__(self, shared: Shared, observe: Observer | None = None,
                 on_report: ReportHook | None = None) -> None:
        self._shared = shared
        #: Judges each stored report for the owner's alerts (``alerts.py``).
        self._observe = observe
        #: Keeps each stored report's account details and settlements
        #: (``live.Live.observe_report``).
        self._on_report = on_report

    async def report(self, device: DeviceInfo, reports: Sequence[TerminalReport],
                     address: str = "", claim: ProofClaim | None = None) -> int:
        """Store a daemon's terminal states (see ``reports.py`` for what is believed);
        how many were stored. A refusal that is new is also logged in the activity; a
        terminal logged in under a token marks it verified (``verification.py``) and, when
        active, the token used from ``address`` (``token_details.py``; empty: this
        machine). With ``claim``, the call's proof's replay row is written first, in the
        same transaction.

        Raises:
            ProofRejected: the claim's proof was seen before (nothing is stored).
        """
        return await self._shared.run(claimed(claim, self._report), checked(device).device_id,
                                      list(reports), self._shared.now(), address)

    def _report(self, tx: Tx, device_id: str, reports: list[TerminalReport], now: int,
                address: str = "") -> int:
        stored = 0
        for report in reports:
            figures, book, sent = report.figures, report.book, report
            # one read decides the report and which of its writes would change nothing
            # (``prior.py``): read per report, after the writes of the ones before it
            found = (prior_of(tx, device_id, "token_id", report.token_id) if report.token_id
                     else prior_of(tx, device_id, "token_hint", report.token_hint)
                     if report.token_hint else None)
            if found is None:
                continue
            if not found.approved:
                continue  # only a device the owner approved speaks for the owner's terminals
            if report.token_id and (report.login, report.server) != (found.login,
                                                                     found.server):
                continue  # an active session runs under its own token's terminal only
            if not report.token_id:
                # A hint comes from a refused handshake only, and says nothing about
                # another terminal: it is shown on the token's own (an EA elsewhere that
                # presented this token is that token's "terminal mismatch").
                if report.state != "refused":
                    continue
                report = TerminalReport(found.login, found.server, "refused", report.reason,
                                        "", "", report.platform, report.ea_version)
            report = TerminalReport(report.login, report.server, report.state, report.reason,
                                    found.token_id, "", report.platform, report.ea_version)
            owner = found.owner_email
            changed = save(tx, owner, device_id, report, now, figures, found.state,
                           figures_kept=found.figures_kept)
            positions.record(tx, (owner, device_id, report.login, report.server),
                             figures if report.state == "active" else None, book, now,
                             book_kept=found.book_kept, latest_point=found.latest_point)
            stored += 1
            # a proof stays one after a revocation; the first one's time is kept
            if report.state in PROVEN_STATES and not found.verified:
                note_proof(tx, owner, report.login, report.server, now)
            if report.state == "active" and not self._shared.uses.known(
                    found.use, device_id, address, now):
                note_use(tx, self._shared.uses, [found.token_id], device_id, address, now)
            if self._observe is not None:
                self._observe(tx, owner, report.login, report.server, device_id,
                              margin_of(report.state, figures, sent.live), now,
                              found.settings)
            if self._on_report is not None and sent.token_id:
                as_of = min(book.as_of, float(now)) if book is not None and book.as_of > 0 \
                    else float(now)
                self._on_report(tx, owner, device_id, sent, as_of, now, found.snapshot_kept)
            if changed and report.state == "refused":
                self._shared.activity.add(tx, owner, "refusal",
                                          f"{report.login}@{report.server} on {device_id}: "
                                          f"{report.reason.replace('_', ' ')} "
                                          f"({found.token_id})", now)
        return stored

    async def of(self, owner_email: str) -> list[TerminalRow]:
        """The latest reported state of each of the owner's terminals, per device."""
        return await self._shared.run(of, normalize_email(owner_email))

    async def verified(self, owner_email: str) -> dict[tuple[int, str], int]:
        """The owner's terminals that once proved they hold their account: (login, server)
        → when first (``verification.py``)."""
        return await self._shared.run(verified_of, normalize_email(owner_email))

    async def figures_of(self, owner_email: str) -> dict[tuple[str, int, str], AccountFigures]:
        """The account figures the owner's daemons last reported for their active
        terminals, by (device id, login, server)."""
        return await self._shared.run(figures_of, normalize_email(owner_email))

    async def books_of(self, owner_email: str
                       ) -> dict[tuple[str, int, str], PositionsBook]:
        """The open positions the owner's daemons last reported for their active terminals,
        and when they read them, by (device id, login, server)."""
        return await self._shared.run(positions.books_of, normalize_email(owner_email))

    async def history_of(self, owner_email: str
                         ) -> dict[tuple[str, int, str], list[equity.Point]]:
        """The equity and balance series of the owner's terminals (``equity.py``)."""
        return await self._shared.run(equity.series_of, normalize_email(owner_email),
                                      self._shared.now())

    async def report_and_wait(self, device: DeviceInfo, reports: Sequence[TerminalReport],
                              cursor: int | None, timeout_s: float, address: str = "",
                              claim: ProofClaim | None = None) -> tuple[int, list[str], int]:
        """A long-poll that carries its daemon's report (``TAKES``' ``poll_report``): the
        report stored as :meth:`report` stores it, in the poll's first transaction (with the
        proof's replay row; the feed's read travels with the report's lookup: two round
        trips, ``feed._look``), then the poll held as :meth:`wait_revocations` holds it. One
        transaction where a report and a renewal were two: the next cursor, the token ids,
        and how many states were stored.

        Raises:
            ProofRejected: the claim's proof was seen before (nothing is stored or held).
        """
        device_id = checked(device).device_id
        if not self._shared.prepared:
            await self._shared.prepare()
        stored = [0]
        kept, now = list(reports), self._shared.now()

        def first(tx: Tx) -> None:
            if claim is not None:
                claim.record(tx)
            # (a transaction run again on another connection stores, and counts, again)
            stored[0] = self._report(tx, device_id, kept, now, address)

        cursor, token_ids = await self._shared.feed.wait(device_id, cursor, timeout_s,
                                                         first=first)
        return cursor, token_ids, stored[0]

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, claim: ProofClaim | None = None
                               ) -> tuple[int, list[str]]:
        """Long-poll the revocation feed for this device (``feed.py``); with ``claim``, the
        poll's proof's replay row is written by its first read.

        Raises:
            ProofRejected: the claim's proof was seen before (the poll is not held).
        """
        checked(device)
        if not self._shared.prepared:
            await self._shared.prepare()
        return await self._shared.feed.wait(device.device_id, cursor, timeout_s,
                                            first=None if claim is None else claim.record)
