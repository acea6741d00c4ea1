"""The daemon prices a market order on an Instant-execution symbol for the compiled MT5 EA too:
its ``server_time`` and ``symbol_info_tick`` answers are what the desk reads the quote and its
age from (``gateway/trading/pricing.py``), and the kit refuses an unpriced market deal there
as a trade server does (10015). The emulated terminal's side:
``daemon/tests/e2e/test_market_price.py``."""

from __future__ import annotations

import json
from pathlib import Path

from daemon.tests.ea_mql.conftest import make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon


async def test_convenience_methods_trade_an_instant_symbol_of_the_compiled_ea(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """BTCUSD (open every day) in Instant execution: a market buy, a partial close and a close
    through the daemon all execute, each with the quote's price and the default deviation.
    Before the daemon priced them, the kit answered each 10015 (-32010)."""
    path, fixture = make_fixture(tmp_path, live_ticks=3000)
    fixture["symbols"]["BTCUSD"]["info"]["trade_exemode"] = 1
    path.write_text(json.dumps(fixture), encoding="utf-8")
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        opened = await daemon.call("create_market_buy_order", ["BTCUSD", 0.02])
        assert "result" in opened, opened
        buy = opened["result"]
        assert buy["retcode"] == 10009 and buy["request"]["price"] > 0, buy
        assert buy["request"]["deviation"] >= 20, buy
        part = await daemon.call("close_position_partially",
                                 {"position_id": buy["order"], "volume": 0.01})
        assert part.get("result", {}).get("retcode") == 10009, part
        closed = await daemon.call("close_position", {"position_id": buy["order"]})
        assert closed.get("result", {}).get("retcode") == 10009, closed
        positions = await daemon.call("positions_get", {"symbol": "BTCUSD"})
        assert positions["result"] == [], positions
