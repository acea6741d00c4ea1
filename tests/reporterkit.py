"""What the tests of the daemon's terminal reporter share.

Each of them wants the same few real parts: an embedded authority (SQLite in the test's
directory) with one owner and a token for :data:`TERMINAL`, the link the daemon reports
through, the report bodies the reporter sends (noted before they go, so a test can read what
went on the wire), and a reporter running with one terminal's session up. They were written
out five times; this is the one copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge import Hello, SessionInfo, TerminalId
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.reporter import ReportSink, TerminalReporter
from mtgateway.credential import token_hint
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.reports import TerminalReport
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.ownerkit import add_owner

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
TERMINAL = TerminalId(5012345, "MTG-Demo")
#: How long a test waits for a report it asked for (a report is milliseconds here).
WAIT_S = 10.0

T = TypeVar("T")


class Noted:
    """A report sink that notes each body it is given, then passes it on.

    What its inner sink says of the console (``live_wanted``, ``takes_books``: the
    reporter's :class:`~gateway.auth.reporter.LiveHint` and ``BooksHint``) it says too, and
    only when the inner sink says it: a sink without a hint is one the reporter treats as
    such."""

    def __init__(self, inner: ReportSink) -> None:
        self.inner = inner
        #: Each report body sent, in order.
        self.sent: list[list[TerminalReport]] = []
        #: Each report body a revocation long-poll carried (``wait_revocations``), in order.
        self.carried: list[list[TerminalReport]] = []
        for hint in ("live_wanted", "takes_books", "takes_live_book", "takes_poll_reports"):
            if hasattr(inner, hint):
                setattr(self, hint, getattr(inner, hint))

    async def report_terminals(self, device: DeviceInfo, reports: list[TerminalReport]) -> int:
        self.sent.append(reports)
        return await self.inner.report_terminals(device, reports)

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        """The inner sink's long-poll (one that carries reports when given some: a
        ``CarryingSource``), noting the reports it carries."""
        if reports is None:
            return await self.inner.wait_revocations(  # type: ignore[attr-defined,no-any-return]
                device, cursor, timeout_s)
        self.carried.append(reports)
        return await self.inner.wait_revocations(  # type: ignore[attr-defined,no-any-return]
            device, cursor, timeout_s, reports=reports)

    @property
    def last(self) -> TerminalReport:
        """The first terminal's report in the newest body sent."""
        return self.sent[-1][0]


@dataclass
class Embedded:
    """The embedded authority, the owner's token for :data:`TERMINAL`, and the daemon's link
    to it (its device approved)."""

    authority: Authority
    link: SelfApprovingAuthority
    token: str
    token_id: str

    @property
    def device(self) -> DeviceInfo:
        """The daemon's device, as the link reports it."""
        return self.link._device


async def embedded(tmp_path: Path,
                   link: type[SelfApprovingAuthority] = SelfApprovingAuthority) -> Embedded:
    """An authority in ``tmp_path`` with :data:`OWNER` and a token for :data:`TERMINAL`,
    and a started ``link`` of a fresh device."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    await add_owner(authority, OWNER, PASSWORD, time.time)
    issued = await authority.tokens.issue(OWNER, TERMINAL.login, TERMINAL.server)
    started = link(authority, device_info(Ed25519PrivateKey.generate()))
    await started.start()
    return Embedded(authority, started, issued.token, issued.token_id)


def session_up(reporter: TerminalReporter, token: str, token_id: str, *,
               terminal: TerminalId = TERMINAL, session_id: str = "s1") -> None:
    """Tell ``reporter`` that ``terminal``'s EA completed its handshake with ``token``."""
    hello = Hello(1, "MT5", 4000, "1.2.0", terminal.login, terminal.server, "Co", "",
                  token_hint(token))
    reporter.session_up(SessionInfo(terminal, session_id, token_id, hello, 0.0))


@contextlib.asynccontextmanager
async def reporting(reporter: TerminalReporter, token: str, token_id: str
                    ) -> AsyncIterator[TerminalReporter]:
    """``reporter`` running with :data:`TERMINAL`'s session up, from its first accepted
    report to the block's end."""
    task = asyncio.create_task(reporter.run())
    try:
        session_up(reporter, token, token_id)
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(1)
        yield reporter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_report(reporter: TerminalReporter) -> None:
    """Ask for a report now (as a change of state does) and wait until it is accepted."""
    count = reporter.sent + 1
    reporter._changed.set()
    async with asyncio.timeout(WAIT_S):
        await reporter.wait_sent(count)



async def until_reported(reporter: TerminalReporter, read: Callable[[], Awaitable[T]],
                         shown: Callable[[T], bool], budget_s: float = WAIT_S) -> T:
    """Read what the console shows until ``shown`` says it is there, reading again after
    each report the reporter has accepted since the last read began.

    The count is taken *before* the read: a report accepted while the read is in flight
    (after the console rendered the page) then wakes the next wait at once. Taking it after
    the read waited for the report after that one, which at the daemons' cadence is the
    periodic re-report 30 s away, and a test failed in CI on it (stop 82)."""
    async with asyncio.timeout(budget_s):
        while True:
            accepted = reporter.sent
            seen = await read()
            if shown(seen):
                return seen
            await reporter.wait_sent(accepted + 1)
