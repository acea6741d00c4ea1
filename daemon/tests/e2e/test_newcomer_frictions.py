"""Issue 35, item 1: the frictions a newcomer met in the fourth review, each closed with a test.

The review's numbering is kept in each test's docstring (M1, m1, ...); docs/newcomer.md lists
them all. The emulator's calendar is injected (a replayed Wednesday or Sunday), never the day
the suite runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.watcher import watch_revocations
from mtgateway_base.wire.proofs import DeviceInfo, device_info
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority
from tests.e2e.clocks import SUNDAY, SUNDAY_S, WEDNESDAY_MS, SteppedClock
from tests.e2e.commands import run
from tests.e2e.fixtures import (
    LOGIN,
    OWNER,
    REVOCATION_BUDGET_S,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    connected_terminal,
    running_demo,
)

pytestmark = pytest.mark.not_on_windows("shell")


async def test_the_bot_example_trades_under_the_default_risk_policy(daemon: Daemon) -> None:
    """M1: the console's checklist registers the account with the form's defaults (at most
    1 % of equity at risk, 0.1 lot); examples/bot.py then still opens, moves its stops and
    closes, because its opening order carries its stop loss (it used to open without one and
    was refused -32012)."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Checklist step 1", broker="MetaQuotes", login=LOGIN, password="", server=SERVER))
    await daemon.cache.refresh_once()  # the record now carries the default policy
    async with connected_terminal(daemon, symbols=("EURUSD", "BTCUSD"),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        refused = await daemon.call("order_send", {"request": {
            "action": "TRADE_ACTION_DEAL", "symbol": "EURUSD", "volume": 0.01,
            "type": "ORDER_TYPE_BUY"}})
        assert refused["error"]["code"] == -32012  # the default policy is in force
        code, out = await run(sys.executable, "examples/bot.py", "--url",
                              f"http://127.0.0.1:{daemon.http_port}", "--token", daemon.token)
    assert code == 0, out
    assert "trading EURUSD" in out and out.count("TRADE_RETCODE_DONE") == 3, out
    assert "position still open: False" in out


async def test_the_curl_lines_take_state_file_and_quote_an_open_market(tmp_path: Path) -> None:
    """m1: ``examples/curl.sh --state-file demo.json``, as the README words it, works (it took
    only a positional path: ``FileNotFoundError: '--state-file'``), and a missing file or an
    unknown option is one line, no traceback. m10 (curl.sh's part): on a replayed Sunday it
    quotes BTCUSD, whose market is open, not EURUSD's last Friday quote."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file, "--start-time", SUNDAY) as (_, printed):
        code, out = await run("bash", "examples/curl.sh", "--state-file", str(state_file))
        shown = printed.decode()
        block = shown[shown.index("  export TOKEN="):shown.index("From Python")]
        lines = "\n".join(line for line in block.splitlines() if not line.startswith("  ("))
        pasted, answers = await run("bash", "-c", lines)
    assert code == 0, out
    # m13 and m10, the demo's part: its curl lines work as pasted (they read $TOKEN, which
    # the demo now tells to export), the tick one asks for the open BTCUSD, and the Python
    # snippet names the interpreter to run it with.
    assert pasted == 0, answers
    account_line, tick_line = (json.loads(line) for line in answers.replace("}{", "}\n{")
                               .splitlines() if line.strip())
    assert account_line["result"]["login"] == LOGIN
    # The emulator's quote may be the one it seeded in the second before the replayed start:
    # still Sunday's open BTCUSD, not Friday's close two days back.
    assert -60 <= tick_line["result"]["time"] - SUNDAY_S < WAIT_S * 6, tick_line
    assert '"symbol":"BTCUSD"' in block and f"run it with {sys.executable}" in shown
    health, account, tick, rates = (json.loads(line) for line in out.splitlines()[:4])
    assert health["status"] == "ok" and account["result"]["login"] == LOGIN
    assert -60 <= tick["result"]["time"] - SUNDAY_S < WAIT_S * 6, tick  # live, not Friday's
    assert len(rates["result"]["rows"]) == 3
    for argv, said in ((["--state-file", str(tmp_path / "none.json")], "no state file"),
                       (["--state-fil", "x"], "unknown option --state-fil")):
        code, out = await run("bash", "examples/curl.sh", *argv)
        assert (code, said in out, "Traceback" in out) == (2, True, False), out


async def test_token_revoke_in_another_process_cuts_the_ea_off_as_fast_as_it_says(
        daemon: Daemon, tmp_path: Path) -> None:
    """m3: `mtgateway token revoke` (local mode, another process) said "within 300 s
    ([authority] refresh_interval_s)"; the running daemon finds the revocation by polling
    every 0.5 s and cut the EA off about 2 s after the command started. It now says "within
    2 s", and the EA is gone within 2 s of the command's answer."""
    config = tmp_path / "cli.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    terminal = EmulatedTerminal(daemon.token, port=daemon.bridge.port, settings=EmulatorSettings(
        login=LOGIN, server=SERVER, symbols=("EURUSD",)), utc_clock_ms=SteppedClock(WEDNESDAY_MS))
    task = asyncio.create_task(terminal.run(reconnect=False))
    try:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out = await run(sys.executable, "-m", "gateway", "token", "revoke",
                              daemon.issued.token_id, "-c", str(config))
        assert code == 0 and "within 2 s" in out and "within 300 s" not in out, out
        await daemon.bridge.wait_for_terminal_down(TERMINAL, REVOCATION_BUDGET_S)
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
            await task


class _HeadSeen(SelfApprovingAuthority):
    """Sets ``waiting`` once the watcher waits with a cursor (it has read the feed's head)."""

    def __init__(self, authority: Authority, device: DeviceInfo) -> None:
        super().__init__(authority, device)
        self.waiting = asyncio.Event()

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        if cursor is not None:
            self.waiting.set()
        return await super().wait_revocations(device, cursor, timeout_s)


async def test_a_policy_change_is_not_logged_as_a_revocation(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """m15: registering an account (a new risk policy on its tokens' records) made the daemon
    log "token authority announced 2 revocation(s)", though nothing was revoked. The feed
    names every changed record; the line now says so."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    await authority.owners.create(OWNER, "correct horse battery")
    await authority.tokens.issue(OWNER, LOGIN, SERVER)
    link = _HeadSeen(authority, device_info(Ed25519PrivateKey.generate()))
    await link.start()  # this machine's device approved for the owner, as the daemon's start does
    refreshed = asyncio.Event()

    async def refresh() -> None:
        refreshed.set()

    caplog.set_level("INFO", logger="gateway.auth.watcher")
    watcher = asyncio.create_task(watch_revocations(link, link._device, refresh, wait_s=60))
    try:
        # the watcher holds the feed's head as its cursor before anything changes (the store
        # answers from a worker thread: one loop turn is not enough)
        async with asyncio.timeout(WAIT_S):
            await link.waiting.wait()
        await authority.accounts.register(OWNER, AccountRegistration(
            name="Live", broker="Sim", login=LOGIN, password="", server=SERVER))
        async with asyncio.timeout(WAIT_S):
            await refreshed.wait()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await authority.close()
    (line,) = [r.getMessage() for r in caplog.records if "announced" in r.getMessage()]
    assert "revocation(s)" not in line and "changed token record" in line, line


async def test_a_revoked_sessions_close_and_its_refusal_say_the_same(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    """m15: on a revocation the EA's log read "closed: token_revoked the auth token was
    revoked", then, at its next hello, "token revoked (token_revoked): The auth token has been
    revoked": one event, two texts. The close now carries the refusal's own words."""
    caplog.set_level("INFO", logger="ea_bridge.emulator.terminal")
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        assert await daemon.revoke(daemon.issued.token_id)
        await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
        async with daemon.session.post(daemon.rpc_url, json={
                "jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Authorization": f"Bearer {daemon.token}"}) as response:
            assert response.status == 401
            refusal = (await response.json())["error"]["message"]
    closed = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("bridge session closed: token_revoked")]
    assert closed == [f"bridge session closed: token_revoked {refusal}"], closed
