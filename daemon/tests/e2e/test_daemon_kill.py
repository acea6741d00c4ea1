"""`kill -9` of the daemon mid-trade, then a restart, loses nothing: the order the broker
executed while the daemon died is found again (the journal committed it SENT before it left;
a restart turns SENT into UNKNOWN and the terminal's reconnect reconciles it), the order
settled before the kill keeps its outcome, and a retry of either sends nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.commands import read_until
from tests.testkit import MS

pytestmark = pytest.mark.not_on_windows("posix-signals")

LOGIN, SERVER = 777, "Broker-Live"
BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}
WAIT_S = 20.0


class HoldingTerminal(EmulatedTerminal):
    """Answers order_send normally, except the one after ``hold`` is set: that one is executed
    and recorded, ``executed`` is set, and the answer is held back (the daemon dies first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold = False
        self.executed = asyncio.Event()

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method == "order_send" and self.hold:
            self.hold = False
            self.order_send(**params)
            self.executed.set()
            return
        super()._answer(conn, request_id, method, params)


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _cli(*argv: str, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *argv, env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


async def _start(config: Path) -> asyncio.subprocess.Process:
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE)
    assert daemon.stderr is not None
    await read_until(daemon.stderr, b"HTTP on")
    return daemon


async def _call(url: str, token: str, method: str, params: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            headers={"Authorization": f"Bearer {token}"}) as response:
        answer: dict[str, Any] = await response.json()
        return answer


async def test_kill_9_mid_trade_then_restart_loses_nothing(tmp_path: Path) -> None:
    """One order settled, one executed while the daemon is SIGKILLed: after the restart both
    are known, the second by reconciliation, and retries of both send nothing."""
    http_port, bridge_port = _free_port(), _free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n[server]\nport = {http_port}\n'
                      f'[bridge]\nport = {bridge_port}\n', encoding="utf-8")
    await _cli("owner", "create", "-c", str(config), "--email", "owner@example.com",
               env={"MTGATEWAY_OWNER_PASSWORD": "a long password"})
    out = await _cli("token", "-c", str(config), "create", "--login", str(LOGIN), "--server",
                     SERVER)
    token = next(line.split()[1] for line in out.splitlines() if line.startswith("token:"))
    url = f"http://127.0.0.1:{http_port}/rpc"
    terminal = HoldingTerminal(token, port=bridge_port, utc_clock_ms=SteppedClock(WEDNESDAY_MS),
                               settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                         symbols=("EURUSD",)))
    daemon = await _start(config)
    runner = asyncio.create_task(terminal.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await terminal.ready.wait()
        settled = (await _call(url, token, "order_send",
                               {"request": {**BUY, "client_id": "before"}}))["result"]
        terminal.hold = True
        mid_trade = asyncio.create_task(_call(url, token, "order_send",
                                              {"request": {**BUY, "client_id": "mid"}}))
        async with asyncio.timeout(WAIT_S):
            await terminal.executed.wait()
        daemon.send_signal(signal.SIGKILL)
        await daemon.wait()
        with pytest.raises(aiohttp.ClientError):
            await mid_trade
        with closing(sqlite3.connect(tmp_path / "orders.sqlite3")) as db:
            states = dict(db.execute("SELECT client_id, state FROM orders").fetchall())
        assert states == {"before": "ACCEPTED", "mid": "SENT"}  # committed before it left

        daemon = await _start(config)
        async with asyncio.timeout(WAIT_S):
            while True:
                status = (await _call(url, token, "order_status", ["mid"]))["result"]
                if status["state"] != "UNKNOWN":
                    break
                await asyncio.sleep(50 * MS)
        tickets = {p["ticket"] for p in terminal.broker.positions_get()}
        positions = {"before": settled["order"],
                     "mid": next(iter(tickets - {settled["order"]}))}
        assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", positions["mid"])
        before = (await _call(url, token, "order_status", ["before"]))["result"]
        assert (before["state"], before["ticket"]) == ("ACCEPTED", settled["order"])
        for client_id in ("before", "mid"):
            again = (await _call(url, token, "order_send",
                                 {"request": {**BUY, "client_id": client_id}}))["result"]
            assert (again["order"], again["deduplicated"]) == (positions[client_id], True)
        assert terminal.broker.positions_total() == 2
    finally:
        await terminal.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        if daemon.returncode is None:
            daemon.kill()
            await daemon.wait()

