"""`mtgateway audit` as a user meets it: names from token records printed escaped (issue 16
F14: a server name holding a line break or a terminal escape can neither forge a line nor drive
the terminal), and the config found like every other command's (issue 23 item 4)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.config import CONFIG_ENV
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.commands import audit, cli
from tests.e2e.fixtures import LOGIN, WAIT_S, Daemon

FORGED = "Srv\n2099-01-01 00:00:00.000Z outcome ACCEPTED fake-id \x1b[2J"


async def test_a_server_name_with_control_characters_is_escaped(daemon: Daemon,
                                                                 tmp_path: Path) -> None:
    """One order on a terminal whose token names a server with a newline and an ESC: the
    table has exactly one line per event, no control character, and the name's escapes;
    --jsonl keeps the exact name."""
    issued = await daemon.issue(LOGIN, FORGED)
    settings = EmulatorSettings(login=LOGIN, server=FORGED, symbols=("EURUSD",))
    terminal = EmulatedTerminal(issued.token, port=daemon.bridge.port, settings=settings,
                                utc_clock_ms=SteppedClock(WEDNESDAY_MS))
    task = asyncio.create_task(terminal.run())
    try:
        await daemon.bridge.wait_for_terminal(TerminalId(LOGIN, FORGED), WAIT_S)
        request: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                                   "symbol": "EURUSD", "volume": 0.1, "client_id": "esc-1"}
        sent = await daemon.call("order_send", {"request": request}, token=issued.token)
        assert sent["result"]["retcode"] == 10009, sent
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    code, out, err = await audit(config, "--client-id", "esc-1")
    assert code == 0, err
    lines = out.splitlines()[1:]  # the header first
    assert len(lines) == 3 and all("esc-1" in line for line in lines), out
    assert "\x1b" not in out and "\\x1b[2J" in out and "Srv\\n2099" in out
    code, out, err = await audit(config, "--client-id", "esc-1", "--jsonl")
    assert {json.loads(line)["terminal"] for line in out.splitlines()} == {
        f"{LOGIN}@{FORGED}"}


async def test_audit_finds_its_config_like_every_other_command(tmp_path: Path) -> None:
    """`MTGATEWAY_CONFIG=F mtgateway audit` reads F's data_dir (it used to look in the
    default data dir and report "no order journal" there)."""
    data = tmp_path / "data"
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n', encoding="utf-8")
    env = {CONFIG_ENV: str(config), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    code, out, err = await cli("audit", env=env)
    assert code == 1 and f"no order journal at {data / 'orders.sqlite3'}" in err, err
