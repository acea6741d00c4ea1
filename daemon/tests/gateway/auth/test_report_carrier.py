"""What the revocation watcher carries of the reporter's, against a real embedded authority.

The console-facing half (a console that takes the report on its long-poll, over HTTP) is
``daemon/tests/e2e/test_carried_report.py``; here the sink's hint and the poll's outcome are the
test's: a console that never named ``poll_report`` gets every report on its own, and a poll
that fails hands its report back to the reporter, which sends it itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gateway.auth.reporter import ReportSink, TerminalReporter
from gateway.auth.watcher import MIN_POLL_WAIT_S, watch_revocations
from mtgateway_base.wire.api import AuthorityUnreachable, DeviceInfo
from mtgateway_base.wire.reports import TerminalReport
from mtgateway_console.service import Authority
from tests.reporterkit import OWNER, TERMINAL, WAIT_S, Embedded, Noted, embedded, session_up

#: The reporter's interval and the watcher's longest poll here (30 s and 50 s in a daemon).
INTERVAL_S, POLL_S = 0.2, 0.5


class TakesPollReports(Noted):
    """A sink whose console says it takes the report on the long-poll."""

    def takes_poll_reports(self) -> bool | None:
        return True


class FailingCarrier(TakesPollReports):
    """A sink whose console says it takes the report on the long-poll, and whose polls
    fail whenever they carry one (a connection cut under them); the others are the embedded
    authority's own."""

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        if reports is not None:
            self.carried.append(reports)
            raise AuthorityUnreachable("authority unreachable: ServerDisconnectedError")
        return await super().wait_revocations(device, cursor, timeout_s)


@asynccontextmanager
async def _watched(world: Embedded, sink: Noted) -> AsyncIterator[TerminalReporter]:
    """A reporter reporting through ``sink`` and a watcher polling it, carrying the
    reporter's periodic report when the sink's console takes it."""
    reporter = TerminalReporter(sink, world.device, interval_s=INTERVAL_S)

    async def refresh() -> None:
        raise AssertionError("nothing was revoked")

    tasks = [asyncio.create_task(reporter.run()),
             asyncio.create_task(watch_revocations(sink, world.device, refresh, wait_s=POLL_S,
                                                   carrier=reporter))]
    try:
        session_up(reporter, world.token, world.token_id)
        yield reporter
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _stored(authority: Authority) -> list[tuple[int, str]]:
    return [(row.login, row.state) for row in await authority.terminals.of(OWNER)]


async def test_a_console_that_never_named_it_gets_every_report_on_its_own(
        tmp_path: Path) -> None:
    world = await embedded(tmp_path)
    sink = Noted(world.link)
    assert not hasattr(sink, "takes_poll_reports")  # the embedded authority names nothing
    async with _watched(world, sink) as reporter:
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(3)
    assert len(sink.sent) >= 3 and sink.carried == []
    assert await _stored(world.authority) == [(TERMINAL.login, "active")]


async def test_a_report_whose_poll_fails_is_sent_on_its_own(tmp_path: Path) -> None:
    world = await embedded(tmp_path)
    sink = FailingCarrier(world.link)
    async with _watched(world, sink) as reporter:
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(1)  # its first, on its own
            while not sink.carried:  # then the periodic one, given to a poll that fails
                await reporter.wait_sent(reporter.sent + 1)
            carried_at = len(sink.sent)
            # and the reporter sends it itself, at once rather than at its next interval
            await reporter.wait_sent(reporter.sent + 1)
    assert len(sink.sent) > carried_at, (sink.sent, sink.carried)
    assert await _stored(world.authority) == [(TERMINAL.login, "active")]


async def test_with_no_watcher_carrying_the_reporter_sends_each_report_itself(
        tmp_path: Path) -> None:
    """A console that takes the report on the poll is not a poll that carries it: with no
    watcher carrying, every periodic report goes on its own, at the interval (not
    :data:`~gateway.auth.reporter.CARRY_GRACE_S` past it, waiting for a poll)."""
    world = await embedded(tmp_path)
    sink = TakesPollReports(world.link)
    reporter = TerminalReporter(sink, world.device, interval_s=INTERVAL_S)
    task = asyncio.create_task(reporter.run())
    try:
        session_up(reporter, world.token, world.token_id)
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(4)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(sink.sent) >= 4 and sink.carried == []


class Undecided(Noted):
    """A sink whose console has not said yet whether it takes the report on the poll (no
    report answered), noting the wait each held poll asks."""

    def __init__(self, inner: ReportSink) -> None:
        super().__init__(inner)
        self.asked: list[float] = []
        self.polled = asyncio.Event()

    def takes_poll_reports(self) -> bool | None:
        return None

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        assert reports is None  # nothing is carried to a console that has not said
        if cursor is not None:
            self.asked.append(timeout_s)
            self.polled.set()
        return await super().wait_revocations(device, cursor, timeout_s)


async def test_until_the_console_says_a_poll_ends_when_the_report_is_due(
        tmp_path: Path) -> None:
    """Before the console has said whether it takes the report on the poll, a poll asks to
    be held only until the periodic report is due (30 s; at least ``MIN_POLL_WAIT_S``), not
    the full 50 s: the poll after it can carry the next report once the console has said,
    rather than leaving the reporter to send it on its own."""
    world = await embedded(tmp_path)
    sink = Undecided(world.link)
    reporter = TerminalReporter(sink, world.device, interval_s=30)

    async def refresh() -> None:
        raise AssertionError("nothing was revoked")

    tasks = [asyncio.create_task(reporter.run()),
             asyncio.create_task(watch_revocations(sink, world.device, refresh, wait_s=50,
                                                   carrier=reporter))]
    try:
        session_up(reporter, world.token, world.token_id)
        async with asyncio.timeout(WAIT_S):
            await sink.polled.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert MIN_POLL_WAIT_S <= sink.asked[0] <= 30, sink.asked
    assert sink.carried == []
