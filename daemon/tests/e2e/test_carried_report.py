"""The daemon's periodic report carried by its revocation long-poll.

A daemon reports every 30 s and holds a revocation long-poll; its client keeps an idle
connection 15 s, so each report opened a connection of its own, beside the poll's, and the
poll was renewed as a call of its own. A console that takes the report on the poll (its
answers' ``takes`` name ``poll_report``) gets one signed call on one connection every
interval instead: the watcher ends each poll when the report is due and the next one carries
it (a poll that fails hands its report back, and the reporter sends it on its own:
``daemon/tests/gateway/auth/test_report_carrier.py``).

Real parts: the console on loopback (``consolekit``), the daemon's client, reporter and
watcher; a short interval and poll, so a test sees several rounds in a second or two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ea_bridge import TerminalId
from gateway.auth.client import RemoteAuthority
from gateway.auth.reporter import TerminalReporter
from gateway.auth.watcher import watch_revocations
from mtgateway.credential import token_hint
from mtgateway_base.wire.reports import AccountFigures
from mtgateway_console.appkeys import AUTHORITY
from tests.e2e.consolekit import OWNER, Console, boxed
from tests.reporterkit import Noted, session_up

TERMINAL = TerminalId(5012345, "MTG-Demo")
FIGURES = AccountFigures(10_000.0, 10_012.5, "USD", 0)
#: The reporter's interval and the watcher's longest poll here (30 s and 50 s in a daemon).
INTERVAL_S, POLL_S = 0.2, 0.5
WAIT_S = 10


async def _figures(terminal: TerminalId) -> AccountFigures:
    return FIGURES


async def _approved(console: Console, remote: RemoteAuthority) -> tuple[str, str]:
    """A token for :data:`TERMINAL` and this daemon's device approved by the owner."""
    status, issued = await console.owner("POST", "/v1/tokens", {
        "login": TERMINAL.login, "server": TERMINAL.server})
    assert status in (200, 201), issued
    me = remote.device
    asked = await remote.lookup(me, token_hint=token_hint(issued["token"]),
                                device_name="vps", **boxed(me.device_id))
    assert asked.status == "pending"
    await console.sink.wait_for(1)
    assert (await remote.verify_device(me, console.sink.code())).status == "approved"
    return issued["token"], issued["token_id"]


@asynccontextmanager
async def _daemon(console: Console) -> AsyncIterator[tuple[TerminalReporter, Noted]]:
    """The daemon's reporter and watcher running against the console, the terminal's
    session up; the client noting what it sends on its own and what its polls carry."""
    async with RemoteAuthority(console.url, console.key, clock=console.clock) as remote:
        token, token_id = await _approved(console, remote)
        sink = Noted(remote)
        reporter = TerminalReporter(sink, remote.device, interval_s=INTERVAL_S,
                                    figures=_figures)

        async def refresh() -> None:
            raise AssertionError("nothing was revoked")

        tasks = [asyncio.create_task(reporter.run()),
                 asyncio.create_task(watch_revocations(sink, remote.device, refresh,
                                                       wait_s=POLL_S, carrier=reporter))]
        try:
            session_up(reporter, token, token_id, terminal=TERMINAL)
            yield reporter, sink
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_periodic_reports_ride_the_long_poll(console: Console) -> None:
    """The first report goes on its own (its answer says the console takes the poll's);
    every periodic one after rides a poll, and the console keeps each."""
    async with _daemon(console) as (reporter, sink):
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(4)
        assert len(sink.sent) == 1 and len(sink.carried) >= 3, (sink.sent, sink.carried)
        assert sink.carried[-1][0].figures == FIGURES
        authority = console.app[AUTHORITY]
        [row] = await authority.terminals.of(OWNER)
        assert (row.login, row.state) == (TERMINAL.login, "active")
        assert [f for (_, login, _), f in (await authority.terminals.figures_of(OWNER)).items()
                if login == TERMINAL.login] == [FIGURES]
