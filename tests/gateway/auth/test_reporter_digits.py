"""The daemon's side of prices at their symbol's digits: an active terminal's report carries
``symbol_info().digits`` of each symbol among its positions, orders and deals, read once per
symbol; a symbol whose digits cannot be read is left out and the report goes as before; the
digits go on the wire only to a console that said it takes them (an older console refuses
unknown fields).

The reporter reads the emulator's real terminal (``EmulatedTerminal``'s own method table, as
the bridge answers it) and reports to a real embedded authority (SQLite in ``tmp_path``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge import Hello, SessionInfo, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.client import _report_json
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.reporter import (
    TerminalReporter,
    account_details,
    account_figures,
    open_positions,
    symbol_digits,
)
from gateway.authority.mailer import RecordingMailer
from gateway.authority.proofs import device_info
from gateway.authority.reports import TerminalReport
from gateway.authority.service import Authority
from mtgateway.credential import token_hint
from tests.e2e.clocks import WEDNESDAY_MS

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
TERMINAL = TerminalId(5012345, "MTG-Demo")


async def test_a_report_carries_each_symbols_digits_read_once(tmp_path: Path) -> None:
    """Positions in USDJPY (3 digits) and XAUUSD (2): the report's book says both; the
    second report reads no ``symbol_info`` again; a symbol whose read fails is left out and
    the report is still sent; the wire carries the map only to a console that takes it."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    issued = await authority.tokens.issue(OWNER, TERMINAL.login, TERMINAL.server)
    link = SelfApprovingAuthority(authority, device_info(Ed25519PrivateKey.generate()))
    await link.start()
    terminal = EmulatedTerminal(issued.token, settings=EmulatorSettings(
        symbols=("USDJPY", "XAUUSD", "BTCUSD"), balance=1_000_000.0),
        utc_clock_ms=lambda: WEDNESDAY_MS)
    table = terminal._method_table()
    for symbol in ("USDJPY", "XAUUSD"):
        sent = terminal.broker.order_send({"action": 1, "symbol": symbol, "volume": 0.1,
                                           "type": 0, "type_filling": 1})
        assert sent["retcode"] == 10009, sent
    infos: list[str] = []
    failing: set[str] = set()

    async def call(at: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        if method == "symbol_info":
            infos.append(params["symbol"])
            if params["symbol"] in failing:
                raise TimeoutError
        return table[method](**params)

    sent_reports: list[list[TerminalReport]] = []
    report = link.report_terminals

    async def keep(device: Any, reports: list[TerminalReport]) -> int:
        sent_reports.append(reports)
        return await report(device, reports)

    link.report_terminals = keep  # type: ignore[method-assign]
    reporter = TerminalReporter(link, link._device, interval_s=3600,
                                figures=account_figures(call), positions=open_positions(call),
                                details=account_details(call), digits=symbol_digits(call),
                                clock=lambda: WEDNESDAY_MS / 1000)
    task = asyncio.create_task(reporter.run())
    try:
        hello = Hello(1, "MT5", 4000, "1.2.0", TERMINAL.login, TERMINAL.server, "Co", "",
                      token_hint(issued.token))
        reporter.session_up(SessionInfo(TERMINAL, "s1", issued.token_id, hello, 0.0))
        async with asyncio.timeout(10):
            await reporter.wait_sent(1)
        book = sent_reports[-1][0].book
        assert book is not None and dict(book.digits) == {"USDJPY": 3, "XAUUSD": 2}
        assert sorted(infos) == ["USDJPY", "XAUUSD"]
        # the wire: only to a console that said it takes the field
        assert "digits" not in _report_json(sent_reports[-1][0])
        assert _report_json(sent_reports[-1][0], digits=True)["digits"] == {
            "USDJPY": 3, "XAUUSD": 2}

        # read once per symbol: a later report asks nothing again; a new symbol whose
        # read fails is left out, and the report goes all the same
        failing.add("BTCUSD")
        opened = terminal.broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.1,
                                             "type": 0, "type_filling": 1})
        assert opened["retcode"] == 10009, opened
        count = reporter.sent + 1
        reporter._changed.set()
        async with asyncio.timeout(10):
            await reporter.wait_sent(count)
        book = sent_reports[-1][0].book
        assert book is not None and book.positions is not None and len(book.positions) == 3
        assert dict(book.digits) == {"USDJPY": 3, "XAUUSD": 2}
        assert sorted(infos) == ["BTCUSD", "USDJPY", "XAUUSD"]
    finally:
        task.cancel()
