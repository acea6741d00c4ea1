"""The daemon's terminal reporter and revocation watcher against a real embedded authority
(SQLite in ``tmp_path``), without a bridge: sessions and refusals are fed as the bridge would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge import AuthRefused, Hello, SessionInfo, TerminalId
from gateway.auth.client import RemoteAuthority
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.reporter import TerminalReporter
from gateway.auth.watcher import watch_revocations
from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
TERMINAL = TerminalId(5012345, "MTG-Demo")
WAIT_S = 10.0


def _hello(hint: str = "", login: int = TERMINAL.login) -> Hello:
    return Hello(1, "MT5", 4000, "1.2.3", login, TERMINAL.server, "Co", "", hint)


@pytest.fixture
async def world(tmp_path: Path
                ) -> AsyncIterator[tuple[Authority, SelfApprovingAuthority, str, str]]:
    authority = await Authority.open(tmp_path, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    issued = await authority.tokens.issue(OWNER, TERMINAL.login, TERMINAL.server)
    link = SelfApprovingAuthority(authority, device_info(Ed25519PrivateKey.generate()))
    await link.start()  # what the daemon does at start
    yield authority, link, issued.token, issued.token_id
    await authority.close()


async def test_states_are_reported_on_change_and_not_resent_while_unchanged(
        world: tuple[Authority, SelfApprovingAuthority, str, str]) -> None:
    authority, link, token, token_id = world
    device = link._device
    reporter = TerminalReporter(link, device, interval_s=3600)
    task = asyncio.create_task(reporter.run())
    try:
        info = SessionInfo(TERMINAL, "s1", token_id, _hello(token_hint(token)), 0.0)
        reporter.session_up(info)
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(1)
        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.token_id, row.platform, row.ea_version) == (
            "active", token_id, "MT5", "1.2.3")
        reporter.session_up(info)  # the same state again: nothing to send
        reporter.session_down(info, "heartbeat_timeout")
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(2)
        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.reason) == ("disconnected", "heartbeat_timeout")
        assert reporter.sent == 2
        # a refused handshake is reported under the hint the EA sent
        reporter.refused(_hello(token_hint(token)), "token_expired")
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(3)
        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.reason, row.token_id) == ("refused", "token_expired", token_id)
        assert [e.kind for e in await authority.owners.activity(OWNER)].count("refusal") == 1
    finally:
        task.cancel()


async def test_a_session_ended_by_its_dead_token_is_reported_refused(
        world: tuple[Authority, SelfApprovingAuthority, str, str]) -> None:
    authority, link, token, token_id = world
    reporter = TerminalReporter(link, link._device, interval_s=3600)
    info = SessionInfo(TERMINAL, "s1", token_id, _hello(), 0.0)
    reporter.session_up(info)
    reporter.session_down(info, "token_revoked")
    task = asyncio.create_task(reporter.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await reporter.wait_sent(1)
        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.reason) == ("refused", "token_revoked")
    finally:
        task.cancel()


async def test_the_verifier_wrapper_reports_refusals_and_passes_them_on(
        world: tuple[Authority, SelfApprovingAuthority, str, str]) -> None:
    _, link, token, _ = world
    reporter = TerminalReporter(link, link._device)

    class Refusing:
        async def prove_daemon(self, hello: Hello, daemon_nonce: str) -> str:
            raise AuthRefused("token_revoked", "revoked")

        async def verify_ea(self, hello: Hello, daemon_nonce: str, proof: str) -> str:
            raise AuthRefused("terminal_mismatch", "bound elsewhere")

    with pytest.raises(AuthRefused):
        await reporter.verifier(Refusing()).verify_ea(_hello(token_hint(token), 42), "n", "m")
    assert [(r.login, r.state, r.reason) for r in reporter._states.values()] == [
        (42, "refused", "terminal_mismatch")]
    with pytest.raises(AuthRefused):  # a refusal at the hello (before any proof) too
        await reporter.verifier(Refusing()).prove_daemon(_hello(token_hint(token), 42), "n")
    assert [(r.login, r.state, r.reason) for r in reporter._states.values()] == [
        (42, "refused", "token_revoked")]
    # a hello naming no token cannot be placed with any owner: not kept
    reporter.refused(_hello(""), "invalid_token")
    assert len(reporter._states) == 1


async def test_a_revocation_wakes_the_watcher_at_once(
        world: tuple[Authority, SelfApprovingAuthority, str, str]) -> None:
    authority, link, _, token_id = world
    refreshed = asyncio.Event()

    async def refresh() -> None:
        refreshed.set()

    watcher = asyncio.create_task(watch_revocations(link, link._device, refresh, wait_s=60))
    try:
        # one turn: the watcher takes the feed's head as its cursor and waits past it (the
        # embedded authority answers without suspending until it waits)
        await asyncio.sleep(0)
        assert not refreshed.is_set()
        assert await authority.tokens.revoke(OWNER, token_id)
        async with asyncio.timeout(WAIT_S):  # far below the 60 s wait: woken, not timed out
            await refreshed.wait()
    finally:
        watcher.cancel()


async def test_an_unreachable_authority_is_retried_with_a_doubling_wait() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = Ed25519PrivateKey.generate()
    waits: list[float] = []
    enough = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 7:
            enough.set()
            await asyncio.Event().wait()  # park here until cancelled

    async def refresh() -> None:
        raise AssertionError("nothing was revoked")

    async with RemoteAuthority(f"http://127.0.0.1:{port}", key, timeout_s=2.0) as client:
        watcher = asyncio.create_task(watch_revocations(
            client, device_info(key), refresh, max_backoff_s=30.0, sleep=sleep))
        try:
            async with asyncio.timeout(WAIT_S * 3):
                await enough.wait()
        finally:
            watcher.cancel()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


class _NoSink:
    """A report sink that takes every report at once."""

    async def report_terminals(self, device: object, reports: list[object]) -> int:
        return len(reports)


async def test_a_stop_that_meets_a_change_still_stops_the_reporter() -> None:
    """The daemon's shutdown cancels the reporter; a state change in the same loop pass (an
    EA's session ending as the daemon stops) must not swallow that cancellation. With
    Python 3.11's ``asyncio.wait_for`` it did: the wait returned the event's result, the loop
    went on into another hour-long wait, and the shutdown hung (CI: a test's teardown held
    past its 60 s)."""
    reporter = TerminalReporter(_NoSink(), device_info(Ed25519PrivateKey.generate()),
                                interval_s=3600)
    task = asyncio.create_task(reporter.run())
    for _ in range(3):  # the reporter is inside its wait
        await asyncio.sleep(0)
    reporter.session_up(SessionInfo(TERMINAL, "s1", "tok_1", _hello(), 0.0))
    await asyncio.sleep(0)  # the event's waiter is woken; the reporter has not run yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(WAIT_S):
            await task
    assert task.cancelled()
