"""``mtgateway check`` (gateway.selfcheck), the command an owner runs against the EA on a real
terminal, run here as the owner runs it (a child process, the token in MTGATEWAY_TOKEN) against
the real daemon with each terminal CI has: the emulated terminal, the compiled MT5 EA and the
compiled MT4 EA, trading checks included (their accounts are demo accounts, or trade on the
daemon's paper book). Every check must pass or, with the reason, not apply; the report names
the terminal, the account's kind and its latencies, and words success retcodes as successes.
On a real account the trading checks are refused before any order (unless it trades on
paper); without an EA the command says so."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ, make_fixture, reference_fixture4
from daemon.tests.ea_mql.eakit import ROOT, CompiledEA
from daemon.tests.ea_mql.eakit4 import build_ea4
from gateway.selfcheck.probe import Mismatch, Probe
from gateway.selfcheck.trades import TradeSession, opening_buy
from mtgateway.aio import AsyncClient
from mtgateway_console.service import AccountRegistration
from mtgateway_console.service.accounts import AccountChanges
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import (
    LOGIN,
    OWNER,
    OWNER_PASSWORD,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    connected_terminal,
)

#: The checks every run reports, in order (trading ones with --trade).
READS = ["session", "account", "symbols", "quotes", "tick_history", "rates", "large_answer",
         "deep_history", "trading_reads", "market_depth", "tick_stream", "events", "latency"]
TRADES = ["market_order", "computed_stops", "pending_order", "trade_events"]
#: The latency report's spaced calls (one every 100 ms; the command's default is 20): the
#: back-to-back calls decide the latency check, the spaced ones are reported.
SPACED_CALLS = 5


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
        "--spaced-calls", str(SPACED_CALLS), "--json", str(report), *args, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 110)
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), data


#: A success retcode (10008 PLACED, 10009 DONE) worded as a refusal (as "MT5 refused them as
#: computed (10009)" was).
SUCCESS_AS_REFUSAL = re.compile(r"refused[^;]*\b1000[89]\b")


def assert_all_pass(code: int, out: str, data: Any, platform: str, trading: bool,
                    kind: str = "demo") -> None:
    outcomes = {c["name"]: c["outcome"] for c in data["checks"]}
    assert list(outcomes) == READS + (TRADES if trading else []), out
    assert code == 0 and set(outcomes.values()) <= {"PASS", "N/A"}, out
    # what applies on every CI terminal applies, the rest says why not
    applies = set(READS) - {"market_depth"} if platform == "MT5" else set(READS)
    assert all(outcomes[n] == "PASS" for n in applies | (set(TRADES) if trading else set())), out
    assert data["platform"] == platform and data["account_kind"] == kind
    assert f"terminal: {platform} build {data['build']}, EA {data['ea_version']}" in out
    assert f"@ {SERVER} ({kind})" in out
    assert "back to back: p50" in out and "one every 100 ms: p50" in out
    assert [lat["n"] for lat in data["latency"]][:2] == [200, SPACED_CALLS], data["latency"]
    assert not [c for c in data["checks"] if SUCCESS_AS_REFUSAL.search(c["evidence"])], out


async def on_paper(daemon: Daemon) -> None:
    """The terminal's account registered with paper trading on (the record says so now)."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="MetaQuotes", login=LOGIN, password="", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1"), paper_trade_enabled=True))
    await daemon.cache.refresh_once()


def assert_traded_on_paper(out: str, data: Any) -> None:
    """The report says the trades were the paper book's, their events too."""
    evidence = {c["name"]: c["evidence"] for c in data["checks"]}
    assert "paper account (the daemon's paper book, trade_mode demo)" in evidence["account"]
    assert " events of the paper book: 2 positions opened, 2 closed" in evidence["trade_events"]
    assert "paper account: the trading checks ran on the daemon's paper book" in out


@pytest.mark.timeout(150)
async def test_the_check_passes_on_the_emulated_terminal(daemon: Daemon, tmp_path: Path) -> None:
    async with connected_terminal(daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ):
        code, out, err, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT5", trading=True)
    # each check named on standard error as it starts, the report alone on standard output
    started = [line.removeprefix("checking: ") for line in err.splitlines()
               if line.startswith("checking: ")]
    assert started == READS + ["trading"], err
    assert "checking:" not in out


@pytest.mark.timeout(150)
async def test_the_check_passes_on_a_paper_account(daemon: Daemon, tmp_path: Path) -> None:
    """A healthy emulated terminal whose account trades on paper: every check passes, the
    trading ones on the paper book (its trade events on the stream, marked paper), the
    report says "paper" where it names the account, and no order reached the terminal
    (before: "(demo)", and FAIL trade_events "the stream showed []")."""
    await on_paper(daemon)
    async with connected_terminal(daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ) as term:
        code, out, _, data = await check(daemon, tmp_path, "--trade")
        assert term.broker.history_orders_get(0, 2**31 - 1) == []
    assert_all_pass(code, out, data, "MT5", trading=True, kind="paper")
    assert_traded_on_paper(out, data)


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
    reference_fixture4(path, live_ticks=3000)
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


@pytest.mark.timeout(150)
async def test_a_real_account_on_paper_is_checked_on_its_paper_book(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """The compiled MT5 EA on a real account (trade_mode 2) that trades on paper: the
    trading checks run, on the paper book only -- every check passes, and the real account
    has no order in its history afterwards."""
    await on_paper(daemon)
    path, fixture = make_fixture(tmp_path, live_ticks=3000)
    fixture["account"]["trade_mode"] = 2
    path.write_text(json.dumps(fixture), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        code, out, _, data = await check(daemon, tmp_path, "--trade")
        live = await daemon.bridge.call(TERMINAL, "history_orders_total",
                                        {"date_from": 0, "date_to": 2**31 - 1}, WAIT_S)
    assert_all_pass(code, out, data, "MT5", trading=True, kind="paper")
    assert_traded_on_paper(out, data)
    assert live == 0


@pytest.mark.timeout(150)
async def test_the_check_trades_a_symbol_the_accounts_policy_allows(
        daemon: Daemon, tmp_path: Path) -> None:
    """The account's policy allows one symbol of the three (the one quoted last, which the
    read checks pick, is allowed only by chance): without ``--symbol`` the trading checks
    trade the allowed one and pass; with ``--symbol`` naming another, the trading checks say
    they do not apply and why (before: order_check passed what the policy refuses, and the
    checks failed 4 times with -32012)."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="One symbol", broker="MetaQuotes", login=LOGIN, password="", server=SERVER,
        allowed_symbols=("USDJPY",), max_lot_size=Decimal("1"), risk_pct=Decimal("1")))
    await daemon.cache.refresh_once()
    async with connected_terminal(daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ,
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        code, out, _, data = await check(daemon, tmp_path, "--trade", "--symbol", "EURUSD")
        outcomes = {c["name"]: (c["outcome"], c["evidence"]) for c in data["checks"]}
        assert code == 0, out
        assert outcomes["trading"][0] == "N/A", out
        assert "risk policy" in outcomes["trading"][1] and "--symbol" in outcomes["trading"][1]
        assert "EURUSD is not among this account's allowed symbols (USDJPY)" in out
        code, out, _, data = await check(daemon, tmp_path, "--trade")
    assert_all_pass(code, out, data, "MT5", trading=True)
    assert "traded: USDJPY: order_check of" in out


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
        assert "refused" in err and "real account" in err and "demo and paper accounts only" in err
        assert (await daemon.call("history_orders_total", [0, 2**31 - 1]))["result"] == 0
        code, out, _, data = await check(daemon, tmp_path)  # the read checks run
    assert code == 0 and data["account_kind"] == "real" and "--trade" in out


async def test_without_an_ea_the_check_says_so(daemon: Daemon, tmp_path: Path) -> None:
    """No EA connects within --wait (1 s here; 5 s by default): the command says so."""
    code, out, err, data = await check(daemon, tmp_path, "--wait", "1")
    assert (code, out, data) == (1, "", None)
    assert "has no EA connected (waited 1000 ms)" in err and daemon.token not in err


async def test_told_nothing_the_check_names_setups_file_and_refuses_one_others_can_read(
        tmp_path: Path) -> None:
    """The review's u6: ``mtgateway check`` with no flag and no variable asks for no token when
    setup's ``check.json`` is where the client looks; without one it says where setup writes
    it (exit 2, nothing asked with no terminal); one others can read is refused by name, its
    token never printed (a passing run on setup's file: daemon/tests/e2e/test_setup.py)."""
    from gateway.setup.record import write_private

    home = tmp_path / "home"
    written = home / ".local" / "share" / "mtgateway" / "check.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")},
           "HOME": str(home), "XDG_DATA_HOME": ""}

    async def check_told_nothing() -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "check", cwd=ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await check_told_nothing()
    assert (code, out) == (2, ""), err
    assert f"or run `mtgateway setup`, which writes {written})" in err, err
    token = "mtgw_" + "r" * 38
    write_private(written, json.dumps({"rpc_url": "http://127.0.0.1:9/rpc",
                                       "token": token}).encode("utf-8"))
    written.chmod(0o644)
    code, out, err = await check_told_nothing()
    assert code == 1 and f"the daemon and the token from {written}" in out, out + err
    assert f"{written} can be read by others (mode 644): not read" in err, err
    assert token not in out + err


async def test_the_trading_checks_stop_when_the_account_leaves_paper(daemon: Daemon) -> None:
    """A paper account switched back to live under the trading checks: the next order is
    refused before it leaves, and what the checks opened is not looked for at the broker,
    where the paper book's ticket names the owner's own position (a real account may trade
    on paper, so nothing of the check may reach it once it is live again)."""
    await on_paper(daemon)
    async with connected_terminal(daemon, symbols=("BTCUSD",)) as terminal, \
            AsyncClient() as client:
        assert await client.initialize(token=daemon.token,
                                       url=f"http://127.0.0.1:{daemon.http_port}")
        probe = Probe(client, await client.call("gateway_status"))
        session = TradeSession(probe, "BTCUSD", paper=True)
        session.info = await probe.call("symbol_info", ["BTCUSD"])
        buy = opening_buy(session.info, await session.quote())
        opened = await session.send(buy)
        assert opened["paper"] is True
        session.positions.add(opened["order"])
        # the owner's own position at the terminal, under the paper position's ticket (paper
        # numbers where a broker does not: this broker is made to number there)
        terminal.broker.number_from(opened["order"])
        own = terminal.broker.order_send({**buy, "type_filling": 1})
        assert own["order"] == opened["order"], (own, opened)
        [account] = await daemon.authority.accounts.of(OWNER)
        assert await daemon.authority.accounts.update(
            OWNER, account.id, AccountChanges(allowed_symbols=(), max_lot_size=Decimal("10"),
                                              risk_pct=Decimal("1"), auto_trade_enabled=True,
                                              paper_trade_enabled=False),
            password=OWNER_PASSWORD)
        await daemon.cache.refresh_once()
        with pytest.raises(Mismatch, match="left paper trading"):
            await session.send(buy)
        await session.undo()
        assert [p["ticket"] for p in terminal.broker.positions_get()] == [own["order"]]
