"""Issue 35 item 3, the daemon's side: an active terminal's report carries its open positions
(the 50 largest by ``|profit|``, the count staying the total) and the time they were read.

The reporter reads through the same call the bridge answers, here answered by the emulator's
real simulated broker (``mt5model``, as the EA's terminal would), and reports to a real
embedded authority (SQLite in ``tmp_path``); its clock is injected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.reporter import TerminalReporter, account_figures, open_positions
from mtgateway_base.wire.reports import MAX_REPORTED_POSITIONS
from tests.e2e.clocks import WEDNESDAY_MS
from tests.reporterkit import OWNER, TERMINAL, embedded, reporting


async def test_the_largest_positions_are_reported_with_the_total_and_the_read_time(
        tmp_path: Path) -> None:
    e = await embedded(tmp_path)
    # BTCUSD trades every day of the week in the emulator; its clock stands still, so the
    # profits the reporter read are the ones read here after it
    broker = EmulatedTerminal(e.token, settings=EmulatorSettings(
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

    reporter = TerminalReporter(e.link, e.device, interval_s=3600,
                                figures=account_figures(call), positions=open_positions(call),
                                clock=lambda: 1_764_000_123.25)
    async with reporting(reporter, e.token, e.token_id):  # until its first report is taken
        assert reporter.sent == 1
    assert asked == ["account_info", "positions_total", "positions_get"]
    held = broker.positions_get()
    largest = sorted(held, key=lambda p: (-abs(p["profit"]), p["ticket"]))[
        :MAX_REPORTED_POSITIONS]
    [(key, book)] = (await e.authority.terminals.books_of(OWNER)).items()
    assert book.as_of == 1_764_000_123.25
    assert book.positions is not None
    assert sorted(p.ticket for p in book.positions) == sorted(p["ticket"] for p in largest)
    by_ticket = {p["ticket"]: p for p in held}
    for shown in book.positions:
        source = by_ticket[shown.ticket]
        assert (shown.symbol, shown.type, shown.volume, shown.price_open, shown.profit) == (
            "BTCUSD", "buy" if source["type"] == 0 else "sell", source["volume"],
            source["price_open"], source["profit"])
    figures = (await e.authority.terminals.figures_of(OWNER))[key]
    assert figures.positions == MAX_REPORTED_POSITIONS + 3
    await e.authority.close()
