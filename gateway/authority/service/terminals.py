"""Terminal reports: what daemons say of their terminals, and the revocations they wait for.

A report is believed only as far as it can be (``reports.py``): the owner is found from the
token the EA used, and the reporting device must have asked that owner for approval. A
report's states, and the activity entries of new refusals, are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..alerts import Observer, margin_of
from ..api import DeviceInfo
from ..database import Tx
from ..reports import AccountFigures, TerminalReport, TerminalRow, figures_of, of, save
from .approvals import checked
from .common import Shared, normalize_email

__all__ = ["Terminals"]


class Terminals:
    """The terminal states daemons report and the owners' view of them."""

    def __init__(self, shared: Shared, observe: Observer | None = None) -> None:
        self._shared = shared
        self._store = shared.store
        #: Judges each stored report for the owner's alerts (``alerts.py``).
        self._observe = observe

    async def report(self, device: DeviceInfo, reports: Sequence[TerminalReport]) -> int:
        """Store a daemon's terminal states (see ``reports.py`` for what is believed);
        how many were stored. A refusal that is new is also logged in the activity."""
        return await self._shared.run(self._report, checked(device).device_id, list(reports),
                                      self._shared.now())

    def _report(self, tx: Tx, device_id: str, reports: list[TerminalReport], now: int) -> int:
        stored = 0
        for report in reports:
            figures = report.figures
            row = (self._store.token_by_id(tx, report.token_id) if report.token_id
                   else self._store.token_by_hint(tx, report.token_hint) if report.token_hint
                   else None)
            if row is None:
                continue
            approval = self._store.approval(tx, row.owner_email, device_id)
            if approval is None:
                continue  # a device the owner never saw reports nothing
            if approval.status == "revoked" and report.state == "active":
                continue  # F10: a revoked device is never shown live (its refusals still are)
            if report.token_id and (report.login, report.server) != (row.login, row.server):
                continue  # an active session runs under its own token's terminal only
            if not report.token_id:
                # F10: a hint comes from a refused handshake only, and says nothing about
                # another terminal: it is shown on the token's own (an EA elsewhere that
                # presented this token is that token's "terminal mismatch").
                if report.state != "refused":
                    continue
                report = TerminalReport(row.login, row.server, "refused", report.reason,
                                        "", "", report.platform, report.ea_version)
            report = TerminalReport(report.login, report.server, report.state, report.reason,
                                    row.token_id, "", report.platform, report.ea_version)
            changed = save(tx, row.owner_email, device_id, report, now, figures)
            stored += 1
            if self._observe is not None:
                self._observe(tx, row.owner_email, report.login, report.server, device_id,
                              margin_of(report.state, figures), now)
            if changed and report.state == "refused":
                self._shared.activity.add(tx, row.owner_email, "refusal",
                                          f"{report.login}@{report.server} on {device_id}: "
                                          f"{report.reason} ({row.token_id})", now)
        return stored

    async def of(self, owner_email: str) -> list[TerminalRow]:
        """The latest reported state of each of the owner's terminals, per device."""
        return await self._shared.run(of, normalize_email(owner_email))

    async def figures_of(self, owner_email: str) -> dict[tuple[str, int, str], AccountFigures]:
        """The account figures the owner's daemons last reported for their active
        terminals, by (device id, login, server)."""
        return await self._shared.run(figures_of, normalize_email(owner_email))

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        """Long-poll the revocation feed for this device (``feed.py``)."""
        checked(device)
        if not self._shared.prepared:
            await self._shared.prepare()
        return await self._shared.feed.wait(device.device_id, cursor, timeout_s)
