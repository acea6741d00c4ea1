"""Issue 35 item 3, the daemon's side: an active terminal's report carries its open positions
(the 50 largest by ``|profit|``, the count staying the total) and the time they were read.

The reporter reads through the same call the bridge answers, here answered by the emulator's
real simulated broker (``mt5model``, as the EA's terminal would), and reports to a real
embedded authority (SQLite in ``tmp_path``); its clock is injected.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge import Hello, SessionInfo, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.reporter import TerminalReporter, account_figures, open_positions
from gateway.authority.mailer import RecordingMailer
from gateway.authority.positions import MAX_REPORTED_POSITIONS
from gateway.authority.proofs import device_info
from gateway.authority.service import Authority
from mtgateway.credential import token_hint
from tests.e2e.clocks import WEDNESDAY_MS

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
TERMINAL = TerminalId(5012345, "MTG-Demo")


async def test_the_largest_positions_are_reported_with_the_total_and_the_read_time(
        tmp_path: Path) -> None:
    authority = await Authority.open(tmp_path, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    issued = await authority.tokens.issue(OWNER, TERMINAL.login, TERMINAL.server)
    link = SelfApprovingAuthority(authority, device_info(Ed25519PrivateKey.generate()))
    await link.start()
    # BTCUSD trades every day of the week in the emulator; its clock stands still, so the
    # profits the reporter read are the ones read here after it
    broker = EmulatedTerminal(issued.token, settings=EmulatorSettings(
        symbols=("BTCUSD",), balance=10_000_000.0), utc_clock_ms=lambda: WEDNESDAY_MS).broker
    for i in range(MAX_REPORTED_POSITIONS + 3):
        sent = broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01 * (i + 1),
                                  "type": i % 2, "type_filling": 1})
        assert sent["retcode"] == 10009, sent
    asked: list[str] = []

    async def call(terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        assert terminal == TERMINAL
        asked.append(method)
        answer = getattr(broker, method)(**params)
        if method == "positions_get":  # one entry the console could not show: left out
            answer = [*answer, {"ticket": "x", "symbol": "BTCUSD", "type": 0}]
        return answer

    reporter = TerminalReporter(link, link._device, interval_s=3600,
                                figures=account_figures(call), positions=open_positions(call),
                                clock=lambda: 1_764_000_123.25)
    task = asyncio.create_task(reporter.run())
    try:
        hello = Hello(1, "MT5", 4000, "1.2.0", TERMINAL.login, TERMINAL.server, "Co", "",
                      token_hint(issued.token))
        reporter.session_up(SessionInfo(TERMINAL, "s1", issued.token_id, hello, 0.0))
        async with asyncio.timeout(10):
            await reporter.wait_sent(1)
    finally:
        task.cancel()
    assert asked == ["account_info", "positions_total", "positions_get"]
    held = broker.positions_get()
    largest = sorted(held, key=lambda p: (-abs(p["profit"]), p["ticket"]))[
        :MAX_REPORTED_POSITIONS]
    [(key, book)] = (await authority.terminals.books_of(OWNER)).items()
    assert book.as_of == 1_764_000_123.25
    assert book.positions is not None
    assert sorted(p.ticket for p in book.positions) == sorted(p["ticket"] for p in largest)
    by_ticket = {p["ticket"]: p for p in held}
    for shown in book.positions:
        source = by_ticket[shown.ticket]
        assert (shown.symbol, shown.type, shown.volume, shown.price_open, shown.profit) == (
            "BTCUSD", "buy" if source["type"] == 0 else "sell", source["volume"],
            source["price_open"], source["profit"])
    figures = (await authority.terminals.figures_of(OWNER))[key]
    assert figures.positions == MAX_REPORTED_POSITIONS + 3
    await authority.close()
