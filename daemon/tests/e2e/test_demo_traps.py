"""The traps real terminals have, shown by `mtgateway demo` and `mtgateway emulator`: a netting
account, a broker clock at UTC+2/+3, an exchange symbol with trade ticks, and closed markets.

The emulator's calendar is injected (``--start-time``), never the day the suite runs on: a
Sunday replay has only the crypto symbol open, a Wednesday one every FX market (the examples on
a Saturday, a Sunday and a Wednesday under the console form's policy:
``daemon/tests/e2e/test_examples.py``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.clocks import SUNDAY, SUNDAY_S, WEDNESDAY_MS, SteppedClock
from tests.e2e.commands import run
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal, running_demo

pytestmark = pytest.mark.not_on_windows("posix-signals")


async def _rpc(state: dict[str, Any], method: str, params: Any = None) -> Any:
    """One JSON-RPC call to the demo's daemon, with the demo's token."""
    import aiohttp

    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    async with aiohttp.ClientSession() as session, session.post(
            state["rpc_url"], json=body,
            headers={"Authorization": f"Bearer {state['token']}"}) as response:
        answer: dict[str, Any] = await response.json()
    assert "result" in answer, answer
    return answer["result"]


async def test_sunday_demo_netting_utc2_says_what_is_open(tmp_path: Path) -> None:
    """On a (replayed) Sunday the demo says only BTCUSD is open, runs a netting account on a
    UTC+2 server clock, and the bot example picks BTCUSD by itself and trades it."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file, "--netting", "--tz-offset", "2",
                            "--start-time", SUNDAY) as (_, output):
        text = output.decode()
        assert "netting account" in text and "UTC+2" in text
        assert "open BTCUSD; closed EURUSD" in text and "AAPL" in text
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert state["open_symbols"] == ["BTCUSD"]
        account = await _rpc(state, "account_info")
        assert account["margin_mode"] == 0  # ACCOUNT_MARGIN_MODE_RETAIL_NETTING
        clock = await _rpc(state, "server_time")
        assert clock["tz_offset_s"] == 7200
        assert 0 <= clock["time"] - 7200 - SUNDAY_S < WAIT_S * 6
        closed = await _rpc(state, "order_send", {"request": {
            "action": "TRADE_ACTION_DEAL", "symbol": "EURUSD", "volume": 0.01,
            "type": "ORDER_TYPE_BUY"}})
        assert closed["retcode_name"] == "TRADE_RETCODE_MARKET_CLOSED"
        code, out = await run(sys.executable, "examples/bot.py", "--state-file",
                              str(state_file))
        assert code == 0, out
        assert "trading BTCUSD: the first symbol whose order checks out now" in out
        assert "position still open: False" in out


async def test_emulator_command_takes_netting_clock_and_start_time(daemon: Daemon) -> None:
    """`mtgateway emulator --netting --tz-offset 3 --start-time ...` connects as a netting
    account whose server clock is UTC+3 and prints which markets are open."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "emulator", "--token", daemon.token,
        "--bridge", f"127.0.0.1:{daemon.bridge.port}", "--login", str(TERMINAL.login),
        "--server", TERMINAL.server, "--symbols", "EURUSD,BTCUSD", "--netting",
        "--tz-offset", "3", "--start-time", SUNDAY, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(WAIT_S):
            line = (await proc.stdout.readline()).decode()
        assert "(UTC+3): open BTCUSD; closed EURUSD" in line, line
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        account = (await daemon.call("account_info"))["result"]
        clock = (await daemon.call("server_time"))["result"]
        assert (account["margin_mode"], clock["tz_offset_s"]) == (0, 10_800)
        assert 0 <= clock["time"] - 10_800 - SUNDAY_S < WAIT_S * 6  # the replayed Sunday
    finally:
        proc.terminate()
        await proc.wait()
    assert proc.returncode == 0


async def test_exchange_symbol_has_trade_ticks_through_the_daemon(daemon: Daemon) -> None:
    """AAPL ticks carry last and volume; COPY_TICKS_TRADE is not empty; EURUSD's is."""
    # Wednesday 21:00 server time: inside AAPL's 16:30-23:00 session.
    clock = SteppedClock(WEDNESDAY_MS + 7 * 3_600_000)
    terminal: EmulatedTerminal
    async with connected_terminal(daemon, symbols=("AAPL", "EURUSD"),
                                  utc_clock_ms=clock) as terminal:
        assert terminal.market_hours() == {"EURUSD": True, "AAPL": True}
        now = (await daemon.call("server_time"))["result"]["time"]
        trades = (await daemon.call("copy_ticks_range", [
            "AAPL", now - 600, now, "COPY_TICKS_TRADE"]))["result"]
        last, volume, flags = (trades["columns"].index(c) for c in ("last", "volume", "flags"))
        assert trades["rows"]
        assert all(r[last] > 0 and r[volume] > 0 and r[flags] & 8 for r in trades["rows"])
        info = (await daemon.call("symbol_info", ["AAPL"]))["result"]
        assert (info["trade_exemode"], info["trade_calc_mode"]) == (3, 32)  # EXCHANGE, STOCKS
        assert info["last"] > 0
        fx = (await daemon.call("copy_ticks_range", [
            "EURUSD", now - 600, now, "COPY_TICKS_TRADE"]))["result"]
        assert fx["rows"] == [] and fx["next_cursor"] is None
