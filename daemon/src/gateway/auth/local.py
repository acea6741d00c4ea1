"""Local mode: the embedded authority and this daemon are one machine.

``docs/authority.md``: in ``local`` mode the daemon's own device is approved for the local
owners at start (:meth:`SelfApprovingAuthority.start`, which also prepares the database).
Owners can be added while the daemon runs (``mtgateway owner create`` in another process, on
the same database), so :class:`SelfApprovingAuthority` re-applies that approval before each
lookup instead of only once: whoever can write ``authority.sqlite3`` owns this authority
anyway, and a lookup is a cache miss, which is rare. Every other call passes through
unchanged, and the records are still signed and verified like remote ones. Every call is a
coroutine whose database work runs off the daemon's event loop (``authority/database/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtgateway_base.wire.api import (
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_base.wire.reports import TerminalReport
from mtgateway_console.service import Authority

__all__ = ["SelfApprovingAuthority"]


class SelfApprovingAuthority:
    """An :class:`~mtgateway_base.wire.api.AuthorityAPI` over an embedded :class:`Authority`
    that keeps ``device`` approved for every owner."""

    def __init__(self, authority: Authority, device: DeviceInfo) -> None:
        self.authority = authority
        self._device = device

    async def start(self) -> None:
        """Prepare the embedded authority's database and approve this machine's device for
        every owner (at the daemon's start).

        Raises:
            DatabaseError: the database cannot be opened or is newer than this program.
        """
        await self.authority.prepare()
        await self.authority.approvals.approve_local(self._device)

    async def close(self) -> None:
        """Close the embedded authority (its database, its workers)."""
        await self.authority.close()

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        """Approve this machine for any new owner, then look up."""
        if device == self._device:
            await self.authority.approvals.approve_local(device)
        return await self.authority.lookup(device, token_hint=token_hint,
                                           device_name=device_name, os=os, nonce=nonce,
                                           box_key=box_key)

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        """Pass-through."""
        return await self.authority.refresh(device, token_ids, nonce, box_key)

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """Pass-through."""
        return await self.authority.verify_device(device, code)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """Pass-through."""
        return await self.authority.resend(device)

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        """Pass-through."""
        return await self.authority.device_status(device)

    async def public_keys(self) -> list[AuthorityKey]:
        """Pass-through."""
        return await self.authority.public_keys()

    async def report_terminals(self, device: DeviceInfo,
                               reports: list[TerminalReport]) -> int:
        """Pass-through: a local ``mtgateway-console`` on this data directory shows them."""
        return await self.authority.report_terminals(device, reports)

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        """Pass-through: a revocation in this process wakes the wait at once, one written
        by ``mtgateway token revoke`` in another is found by the feed's poll."""
        return await self.authority.wait_revocations(device, cursor, timeout_s)
