"""The daemon's side of prices at their symbol's digits: an active terminal's report carries
``symbol_info().digits`` of each symbol among its positions, orders and deals, read once per
symbol; a symbol whose digits cannot be read is left out and the report goes as before; the
digits go on the wire only to a console that said it takes them (an older console refuses
unknown fields).

The reporter reads the emulator's real terminal (``EmulatedTerminal``'s own method table, as
the bridge answers it) and reports to a real embedded authority (SQLite in ``tmp_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.client import _report_json
from gateway.auth.reporter import (
    TerminalReporter,
    account_details,
    account_figures,
    open_positions,
    symbol_digits,
)
from tests.e2e.clocks import WEDNESDAY_MS
from tests.reporterkit import Noted, embedded, next_report, reporting


async def test_a_report_carries_each_symbols_digits_read_once(tmp_path: Path) -> None:
    """Positions in USDJPY (3 digits) and XAUUSD (2): the report's book says both; the
    second report reads no ``symbol_info`` again; a symbol whose read fails is left out and
    the report is still sent; the wire carries the map only to a console that takes it."""
    e = await embedded(tmp_path)
    terminal = EmulatedTerminal(e.token, settings=EmulatorSettings(
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

    sink = Noted(e.link)
    reporter = TerminalReporter(sink, e.device, interval_s=3600,
                                figures=account_figures(call), positions=open_positions(call),
                                details=account_details(call), digits=symbol_digits(call),
                                clock=lambda: WEDNESDAY_MS / 1000)
    async with reporting(reporter, e.token, e.token_id):
        book = sink.last.book
        assert book is not None and dict(book.digits) == {"USDJPY": 3, "XAUUSD": 2}
        assert sorted(infos) == ["USDJPY", "XAUUSD"]
        # the wire: only to a console that said it takes the field
        assert "digits" not in _report_json(sink.last)
        assert _report_json(sink.last, digits=True)["digits"] == {"USDJPY": 3, "XAUUSD": 2}

        # read once per symbol: a later report asks nothing again; a new symbol whose
        # read fails is left out, and the report goes all the same
        failing.add("BTCUSD")
        opened = terminal.broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.1,
                                             "type": 0, "type_filling": 1})
        assert opened["retcode"] == 10009, opened
        await next_report(reporter)
        book = sink.last.book
        assert book is not None and book.positions is not None and len(book.positions) == 3
        assert dict(book.digits) == {"USDJPY": 3, "XAUUSD": 2}
        assert sorted(infos) == ["BTCUSD", "USDJPY", "XAUUSD"]
