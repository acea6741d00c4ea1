"""The conformance suite against the compiled MQL4 EA (MetaTrader 4), through the real daemon.

Every conformance test that MT4 can pass (``daemon/tests/ea_mql/conformance.py``) runs here
unchanged against the MT4 EA on a fixture made from the same emulator. Where MetaTrader 4
cannot give MT5's answer, the answer it gives instead is declared and asserted here
(docs/terminal.md, "MetaTrader 4"): no tick history (``copy_ticks_*`` answer -32009
"unsupported on this platform"), no depth of market (``market_book_*``, -32009 too), the
timeframes MT4 lacks, and the platform the daemon reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conformance import (
    RATE_COLUMNS,
    error,
    result,
    test_check_send_and_close,
    test_rates,
    test_rejections_are_results,
    test_session_reads,
    test_symbol_reads,
    test_trading_reads,
)
from daemon.tests.ea_mql.conftest import reference_fixture4
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.eakit4 import build_ea4
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon

__all__ = ["test_check_send_and_close", "test_rates", "test_rejections_are_results",
           "test_session_reads", "test_symbol_reads", "test_trading_reads"]

UNSUPPORTED = -32009


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    """The MT4 EA compiled with g++ -Werror (cached by source hash; never skipped)."""
    return build_ea4()


@pytest.fixture
def fixture4(tmp_path: Path) -> Path:
    path = tmp_path / "terminal4.json"
    reference_fixture4(path)
    return path


@pytest.fixture
async def terminal(daemon: Daemon, ea4_binary: Path, fixture4: Path) -> AsyncIterator[str]:
    """The MT4 EA connected to ``daemon`` (the name the shared tests ask for)."""
    async with CompiledEA(ea4_binary, fixture4, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield "compiled_ea_mt4"


async def test_platform_is_reported(daemon: Daemon, terminal: str) -> None:
    status = await result(daemon, "gateway_status")
    assert status["terminal"]["platform"] == "MT4", status
    version = await result(daemon, "version")
    assert version[0] == 400 and isinstance(version[1], int)


async def test_tick_history_is_unsupported(daemon: Daemon, terminal: str) -> None:
    """MT4 keeps no tick history: declared, with the reason in the message."""
    now = (await result(daemon, "server_time"))["time"]
    ranged = await error(daemon, "copy_ticks_range", {
        "symbol": "BTCUSD", "date_from": now - 600, "date_to": now - 60, "flags": "COPY_TICKS_ALL"})
    assert ranged["code"] == UNSUPPORTED and "MetaTrader 4" in ranged["message"], ranged
    counted = await error(daemon, "copy_ticks_from", {"symbol": "BTCUSD", "date_from": now - 600,
                                                      "count": 10, "flags": -1})
    assert counted["code"] == UNSUPPORTED, counted
    # the last tick is there all the same, with second resolution
    tick = await result(daemon, "symbol_info_tick", ["BTCUSD"])
    assert tick["time_msc"] == tick["time"] * 1000 and tick["ask"] >= tick["bid"] > 0


async def test_timeframes_mt4_lacks(daemon: Daemon, terminal: str) -> None:
    m2 = await error(daemon, "copy_rates_from_pos", ["BTCUSD", "TIMEFRAME_M2", 0, 10])
    assert m2["code"] == UNSUPPORTED and "M1, M5, M15" in m2["message"], m2
    h4 = await result(daemon, "copy_rates_from_pos", ["BTCUSD", "TIMEFRAME_H4", 0, 2])
    assert h4["columns"] == RATE_COLUMNS and all(r[0] % (4 * 3600) == 0 for r in h4["rows"])


async def test_market_depth_is_unsupported(daemon: Daemon, terminal: str) -> None:
    """MQL4 has no MarketBookAdd/MarketBookGet: each market_book_* method answers -32009 with
    the reason, for a symbol the terminal has."""
    for method in ("market_book_add", "market_book_get", "market_book_release"):
        answer = await error(daemon, method, {"symbol": "BTCUSD"})
        assert answer["code"] == UNSUPPORTED and "MetaTrader 4" in answer["message"], answer
