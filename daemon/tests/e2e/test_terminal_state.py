"""Issue 11, item 2: terminal states reach the console, and revocations reach the daemon.

The world of ``test_auth_flow`` (console, real SMTP, daemon in remote mode, all on loopback):
the daemon reports each terminal's state to the console signed with its device key, and holds
the console's revocation long-poll open. What the owner would see is read from the console's
own dashboard rows (``/dashboard/rows``) through a signed-in page session. Waits are on events
(the reporter's accepted-report count, the bridge's session) bounded by the issue's budgets:
10 s for a state to reach the dashboard, 2 s for a revocation to reach the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.app import create_app
from gateway.auth import MemorySecretStore
from gateway.config import AuthorityConfig, BridgeConfig, GatewayConfig, ServerConfig
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, REPORTER
from mtgateway_console.service import Authority
from tests.e2e.consolekit import Browser
from tests.e2e.fixtures import REVOCATION_BUDGET_S
from tests.e2e.world import (
    LOGIN,
    OWNER,
    PASSWORD,
    SERVER,
    TERMINAL,
    World,
    live_terminal,
    serving,
    world,
)
from tests.reporterkit import until_reported

STATE_BUDGET_S = 10.0


async def rows(browser: Browser) -> str:
    page = await browser.get("/dashboard/rows")
    assert page.status == 200
    return page.text


async def until_state(w: World, browser: Browser, state: str) -> str:
    """Wait (on the reporter's accepted reports) until the dashboard shows ``state``."""
    return await until_reported(w.daemon[REPORTER], lambda: rows(browser),
                                lambda text: f'data-state="{state}"' in text, STATE_BUDGET_S)


async def signed_in_browser(w: World) -> Browser:
    browser = Browser(w.console_url)
    answer = await browser.sign_in(OWNER, PASSWORD)
    assert answer.status == 303
    return browser


async def test_the_dashboard_follows_the_terminal_and_a_revocation_lands_in_2_s(
        tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        browser = await signed_in_browser(w)
        try:
            token, token_id = await w.issue()
            reporter = w.daemon[REPORTER]
            before = reporter.sent
            refusal = await w.ea_refusal(token)
            assert refusal.reason == "device_not_approved"
            # Not approved yet: the machine speaks for no terminal. The owner sees it waiting
            # for approval, and no state of it, once its report has reached the console.
            async with asyncio.timeout(STATE_BUDGET_S):
                await reporter.wait_sent(before + 1)
            text = await rows(browser)
            assert 'data-state="never"' in text and 'data-state="refused"' not in text
            assert 'id="pending-devices"' in (await browser.get("/")).text
            await w.approve_device(token)
            async with live_terminal(w, token):
                text = await until_state(w, browser, "active")
                assert f"{LOGIN}@{SERVER}" in text and "MT5" in text
                status, body = await w.rpc(token)
                assert status == 200
                # the daemon read the account through the EA and reported it with the state
                info = body["result"]
                assert f'<span class="balance">{info["balance"]:,.2f}</span>' in text
                assert f'<span class="equity">{info["equity"]:,.2f}</span>' in text
                assert f'{info["currency"]}</td>' in text
                assert '<td data-label="Open positions" class="positions">0</td>' in text
                loop = asyncio.get_running_loop()
                revoked_at = loop.time()
                assert await w.owner.revoke_token(OWNER, PASSWORD, token_id)
                await w.daemon[BRIDGE].wait_for_terminal_down(TERMINAL, REVOCATION_BUDGET_S)
                assert loop.time() - revoked_at < REVOCATION_BUDGET_S
                text = await until_state(w, browser, "refused")
                assert "refused: token revoked" in text
                status, body = await w.rpc(token)
                assert status == 401 and body["error"]["data"]["reason"] == "token_revoked"
        finally:
            await browser.close()


async def test_a_dropped_ea_shows_disconnected(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        browser = await signed_in_browser(w)
        try:
            token, _ = await w.issue()
            await w.approve_device(token)
            async with live_terminal(w, token):
                await until_state(w, browser, "active")
            text = await until_state(w, browser, "disconnected")
            assert f"{LOGIN}@{SERVER}" in text
        finally:
            await browser.close()


async def test_local_mode_revocation_reaches_the_ea_at_once(tmp_path: Path) -> None:
    """Local mode: the embedded authority's feed wakes the daemon in the same process."""
    config = GatewayConfig(data_dir=str(tmp_path), server=ServerConfig(port=0),
                           bridge=BridgeConfig(port=0), authority=AuthorityConfig(mode="local"))
    authority = await Authority.open(tmp_path, _NoMail())
    await authority.owners.create(OWNER, PASSWORD)
    issued = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    daemon = create_app(config, secret_store=MemorySecretStore(), authority=authority)
    async with serving(daemon, start_http):
        terminal = EmulatedTerminal(issued.token, port=daemon[BRIDGE].port,
                                    settings=EmulatorSettings(symbols=("EURUSD",)))
        task = asyncio.create_task(terminal.run(reconnect=False))
        try:
            await daemon[BRIDGE].wait_for_terminal(TERMINAL, STATE_BUDGET_S)
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await authority.tokens.revoke(OWNER, issued.token_id)
            await daemon[BRIDGE].wait_for_terminal_down(TERMINAL, REVOCATION_BUDGET_S)
            assert loop.time() - started < REVOCATION_BUDGET_S
        finally:
            await terminal.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
                await task


class _NoMail:
    from_address = "gateway@localhost"

    async def send(self, message: object) -> None:
        raise AssertionError("local mode mails nothing")
