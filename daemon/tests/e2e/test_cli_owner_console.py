"""The owner's commands against a console, as the README's command table shows them: a
password piped in is taken (as ``device verify`` takes its code), ``paper on|off --console``
switches the account on the console as its Accounts page does (saying what stays open at the
broker, and switching over it only with ``--confirm-live-open``), and ``token list`` names a
token's last device as the console's pages do.

Real parts: the console on loopback with its SMTP sink (``consolekit``), the command as a child
process with its standard input a pipe (not a terminal)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mtgateway_console.appkeys import AUTHORITY
from tests.e2e.consolekit import OWNER, PASSWORD, Console, approved_token

LOGIN, SERVER = 5012345, "MTG-Demo"


async def _cli(console: Console, *args: str, stdin: str = PASSWORD + "\n"
               ) -> tuple[int, str, str]:
    """``python -m gateway ARGS --console URL --console-key KEY --email OWNER`` with
    ``stdin`` piped in and no owner secret in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_OWNER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, "--console", console.url, "--console-key",
        console.pinned().b64, "--email", OWNER, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _paper(console: Console) -> bool:
    [account] = await console.app[AUTHORITY].accounts.of(OWNER)
    return account.paper_trade_enabled


def _live_report(token_id: str, positions: int) -> dict[str, Any]:
    """An active live report whose account holds ``positions`` open positions."""
    position = {"ticket": 7001, "time": 1_800_000_000, "type": 0, "magic": 0, "volume": 0.1,
                "price_open": 97_000.0, "sl": 0.0, "tp": 0.0, "price_current": 97_010.0,
                "swap": 0.0, "profit": 1.0, "symbol": "BTCUSD", "comment": ""}
    return {"login": LOGIN, "server": SERVER, "state": "active", "token_id": token_id,
            "platform": "MT5", "ea_version": "1.3.0", "balance": 10_000.0,
            "equity": 10_001.0, "currency": "USD", "positions": positions,
            "open_positions": [], "details": {
                "account": {"login": LOGIN, "balance": 10_000.0, "equity": 10_001.0,
                            "margin": 97.0, "margin_level": 10_310.0},
                "positions": [position] * positions, "positions_total": positions}}


async def test_paper_switches_on_the_console_with_a_piped_password(console: Console) -> None:
    """``paper on`` and ``paper off`` with ``--console`` (it said "switched on its Accounts
    page", exit 2), the password piped in (it said "no password: set ... or run
    interactively"); over a live position, refused saying what stays open until
    ``--confirm-live-open``, the one advice it gives (it gave the API's too)."""
    token_id = await approved_token(console)
    status, _ = await console.owner("POST", "/v1/accounts", {
        "name": "Desk", "broker": "Sim", "login": LOGIN, "server": SERVER})
    assert status == 201
    status, _, _ = await console.device("POST", "/v1/terminals/report",
                                        {"terminals": [_live_report(token_id, 1)]})
    assert status == 200

    code, out, err = await _cli(console, "paper", "on", "--login", str(LOGIN),
                                "--server", SERVER)
    assert code == 2, (out, err)
    assert "1 position of 5012345@MTG-Demo stay open at the broker" in err, err
    assert "--confirm-live-open" in err and not await _paper(console)
    # the CLI's own advice, once: not the API's as well (it said both "send it again
    # confirmed ("confirm_live_open": true; ...)" and "add --confirm-live-open")
    assert err.count("to switch anyway") == 1 and "confirm_live_open" not in err, err

    code, out, err = await _cli(console, "paper", "on", "--login", str(LOGIN), "--server",
                                SERVER, "--confirm-live-open")
    assert (code, out.strip()) == (0, "paper trading of 5012345@MTG-Demo: on"), err
    assert await _paper(console)

    code, out, err = await _cli(console, "paper", "off", "--login", str(LOGIN),
                                "--server", SERVER)
    assert (code, out.strip()) == (0, "paper trading of 5012345@MTG-Demo: off"), err
    assert not await _paper(console)

    code, _, err = await _cli(console, "paper", "on", "--login", "999", "--server", SERVER)
    assert code == 2 and "no account 999@MTG-Demo is registered" in err, err
    code, _, err = await _cli(console, "paper", "on", "--login", str(LOGIN), "--server",
                              SERVER, stdin="")
    assert code == 2 and "standard input was empty" in err, err


async def test_token_list_names_the_device_as_the_console_does(console: Console) -> None:
    """A token used by an approved device: ``token list`` (password piped) says the device's
    name, as the Tokens page does, with its id's start (it said only the id's start)."""
    token_id = await approved_token(console)
    status, _, _ = await console.device("POST", "/v1/terminals/report",
                                        {"terminals": [_live_report(token_id, 0)]})
    assert status == 200
    code, out, err = await _cli(console, "token", "list")
    assert code == 0, err
    [row] = [line for line in out.splitlines() if token_id in line]
    assert " by desk-pc (" in row and ") from " in row, row
