"""``mtgateway check`` (gateway.selfcheck), the command an owner runs against the EA on a real
terminal, run here as the owner runs it (a child process, the token in MTGATEWAY_TOKEN) against
the real daemon with each terminal CI has: the emulated terminal, the compiled MT5 EA and the
compiled MT4 EA, trading checks included (their accounts are demo accounts). Every check must
pass or, with the reason, not apply; the report names the terminal and its latencies. On a real
account the trading checks are refused before any order; without an EA the command says so."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.authority.service import AccountRegistration
from tests.e2e.conftest import LOGIN, OWNER, SERVER, TERMINAL, WAIT_S, Daemon, connected_terminal
from tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ, make_fixture, reference_terminal
from tests.ea_mql.eakit import ROOT, CompiledEA
from tests.ea_mql.eakit4 import build_ea4, write_fixture4

#: The checks every run reports, in order (trading ones with --trade).
READS = ["session", "account", "symbols", "quotes", "tick_history", "rates", "large_answer",
         "deep_history", "trading_reads", "market_depth", "tick_stream", "events", "latency"]
TRADES = ["market_order", "computed_stops", "pending_order", "trade_events"]


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


async def check(daemon: Daemon, tmp_path: Path, *args: str) -> tuple[int, str, str, Any]:
    """``mtgateway check`` against ``daemon``: its exit code, stdout, stderr and JSON report."""
    report = tmp_path / "report.json"
    env = {**os.environ, "MTGATEWAY_TOKEN": daemon.token,
           "MTGATEWAY_URL": f"http://127.0.0.1:{daemon.http_port}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "check", "--seconds", "2", "--history-timeout", "20",
        "--json", str(report), *args, cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 110)
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), data


def assert_all_pass(code: int, out: str, data: Any, platform: str, trading: bool) -> None:
    outcomes = {c["name"]: c["outcome"] for c in data["checks"]}
    assert list(outcomes) == READS + (TRADES if trading else []), out
    assert code == 0 and set(outcomes.values()) <= {"PASS", "N/A"}, out
    # what applies on every CI terminal applies, the rest says why not
    applies = set(READS) - {"market_depth"} if platform == "MT5" else set(READS)
    assert all(outcomes[n] == "PASS" for n in applies | (set(TRADES) if trading else set())), out
    assert data["platform"] == platform and data["account_kind"] == "demo"
    assert f"terminal: {platform} build {data['build']}, EA {data['ea_version']}" in out
    assert "back to back: p50" in out and "one every 100 ms: p50" in out


@pytest.mark.timeout(150)
async def test_the_check_passes_on_the_emulated_terminal(daemon: Daemon, tmp_path: Path) -> None:
    async with connected_terminal(daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ):
        code, out, _, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT5", trading=True)


@pytest.mark.timeout(150)
async def test_the_check_passes_on_the_compiled_mt5_ea(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    path, _ = make_fixture(tmp_path, live_ticks=3000)  # a minute of ticks
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out, _, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT5", trading=True)


@pytest.mark.timeout(150)
async def test_the_check_passes_on_the_compiled_mt4_ea(
        daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "terminal4.json"
    write_fixture4(path, reference_terminal(), live_ticks=3000)
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out, _, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT4", trading=True)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("execution", [
    {"filling_mode": 2},                       # IOC only: FOK answers 10030
    {"trade_exemode": 1, "filling_mode": 1},   # Instant execution: no price answers 10015
], ids=["ioc_only", "instant_execution"])
async def test_the_check_trades_what_the_symbol_allows_under_the_default_risk_policy(
        daemon: Daemon, ea_binary: Path, tmp_path: Path, execution: dict[str, int]) -> None:
    """CS-1/D-5: every symbol of the compiled MT5 EA's terminal allows IOC only, or is in
    Instant execution, and the account is registered with the console's default risk policy
    (a stop required, 1 % of equity). The old check sent no price, no filling and no stop:
    its order_check found "no symbol to trade" (10015 in Instant execution) or its orders
    were refused (-32012 without a stop; 10030 for FOK where the daemon did not pick the
    filling); now every trading check passes."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Checklist step 1", broker="MetaQuotes", login=LOGIN, password="", server=SERVER))
    await daemon.cache.refresh_once()  # the record now carries the default policy
    path, fixture = make_fixture(tmp_path, live_ticks=3000)
    for spec in fixture["symbols"].values():
        spec["info"].update(execution)
    path.write_text(json.dumps(fixture), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out, _, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT5", trading=True)


async def test_trading_checks_are_refused_on_a_real_account(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """account_info().trade_mode 2 (real): --trade is refused before a single order, exit 2."""
    path, fixture = make_fixture(tmp_path)
    fixture["account"]["trade_mode"] = 2
    path.write_text(json.dumps(fixture), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out, err, data = await check(daemon, tmp_path, "--trade")
        assert code == 2 and data is None and not out, (out, err)
        assert "refused" in err and "real account" in err and "demo accounts only" in err
        assert (await daemon.call("history_orders_total", [0, 2**31 - 1]))["result"] == 0
        code, out, _, data = await check(daemon, tmp_path)  # the read checks run
    assert code == 0 and data["account_kind"] == "real" and "--trade" in out


async def test_without_an_ea_the_check_says_so(daemon: Daemon, tmp_path: Path) -> None:
    code, out, err, data = await check(daemon, tmp_path)
    assert (code, out, data) == (1, "", None)
    assert "has no EA connected" in err and daemon.token not in err
