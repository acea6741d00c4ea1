"""The ``candles`` channel through both compiled EAs (MQL5 and MQL4), on the emulator's fixture.

The fake terminals hold their bars as the fixture gives them (``m1``) and play the fixture's
live ticks as they arrive. Here the live ticks of BTCUSD cross a minute: some in the minute the
fixture's newest bar opened, then many in the next one, arriving over seconds, so whenever the
subscription lands, a later tick closes that bar. Its confirmation is the EA's own
``CopyRates`` answer, so the closed bar must be the fixture's bar (the terminal's tick volume,
spread and real volume, not what the few streamed ticks formed) and must equal
``copy_rates_range`` over the snapshot's span and the closed bar.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ
from daemon.tests.ea_mql.eakit import CompiledEA, write_fixture
from daemon.tests.ea_mql.eakit4 import build_ea4, write_fixture4
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.e2e.candlekit import RATE_FIELDS, bar_of, collect, rates_range
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, WAIT_S, Daemon
from tests.e2e.wskit import connect

#: A Wednesday, ten seconds before a minute ends (UTC; the fixture's server time adds its zone).
WEDNESDAY_MS = int(datetime(2026, 11, 18, 14, 0, 50, tzinfo=UTC).timestamp() * 1000)
#: Live ticks of the fixture's newest minute, then of the next one, arriving 50 ms apart.
THIS_MINUTE, NEXT_MINUTE, EVERY_MS = 10, 200, 50


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


def crossing_fixture(path: Path, platform: str) -> dict[str, Any]:
    """The emulator's fixture at :data:`WEDNESDAY_MS`, BTCUSD's live ticks crossing into the
    next minute; written to ``path`` and returned."""
    reference = EmulatedTerminal("mtgw_unused", settings=EmulatorSettings(
        login=LOGIN, server=SERVER, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ),
        utc_clock_ms=lambda: WEDNESDAY_MS)
    fx = write_fixture4(path, reference) if platform == "MT4" else write_fixture(path, reference)
    btc = fx["symbols"]["BTCUSD"]
    now_ms, point = fx["now_ms"], btc["info"]["point"]
    minute_end = (now_ms // 60_000 + 1) * 60_000
    assert btc["m1"][-1][0] == minute_end // 1000 - 60  # the fixture's newest bar is this minute
    _, bid, ask, *_ = btc["ticks"][-1]
    live = []
    for k in range(THIS_MINUTE + NEXT_MINUTE):
        msc = now_ms + 100 * (k + 1) if k < THIS_MINUTE else minute_end + 100 * (k - THIS_MINUTE)
        bid = round(bid + point * (k % 7 - 3), btc["info"]["digits"])
        ask = round(bid + btc["info"]["spread"] * point, btc["info"]["digits"])
        live.append([msc, bid, ask, 0.0, 0, 6, 0.0])
    btc["live"], btc["live_every_ms"] = live, EVERY_MS
    path.write_text(json.dumps(fx), encoding="utf-8")
    return fx


@pytest.mark.parametrize("platform", ["MT5", "MT4"])
async def test_compiled_eas_stream_closed_bars_equal_to_their_own_rates(
        request: pytest.FixtureRequest, daemon: Daemon, tmp_path: Path, platform: str) -> None:
    """Snapshot, forming updates, then the closed bar confirmed by the EA: the fixture's own
    bar, and with the snapshot exactly what copy_rates_range answers for the span; seq without
    a gap. On MT4, a timeframe MT4 lacks is refused by name first."""
    binary: Path = request.getfixturevalue("ea4_binary" if platform == "MT4" else "ea_binary")
    fx = crossing_fixture(tmp_path / "terminal.json", platform)
    terminal_bars = {row[0]: dict(zip(RATE_FIELDS, row, strict=True))
                     for row in fx["symbols"]["BTCUSD"]["m1"]}
    async with CompiledEA(binary, tmp_path / "terminal.json", token=daemon.token,
                          port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        async with connect(daemon) as client:
            if platform == "MT4":
                refused = (await client.call("subscribe", {
                    "channel": "candles", "symbol": "BTCUSD", "timeframe": "TIMEFRAME_M2"}
                ))["error"]
                assert refused["code"] == -32009 and "TIMEFRAME_M2" in refused["message"]
            sid = (await client.result("subscribe", {
                "channel": "candles", "symbol": "BTCUSD", "timeframe": "TIMEFRAME_M1",
                "count": 5}))["subscription"]
            snapshot = await client.note("candle_snapshot")
            assert snapshot["seq"] == 1 and len(snapshot["bars"]) == 5
            notes, [closed] = await collect(client, sid, 1)
            assert [n["seq"] for n in notes] == list(range(2, len(notes) + 2))
            assert closed["confirmed"] and closed["time"] == fx["symbols"]["BTCUSD"]["m1"][-1][0]
            assert bar_of(closed) == terminal_bars[closed["time"]]  # the terminal's, not formed
            bars = snapshot["bars"] + [bar_of(closed)]
            assert bars == [terminal_bars[b["time"]] for b in bars]
            assert bars == await rates_range(client, "BTCUSD", 1, bars[0]["time"],
                                             closed["time"])
            forming = await client.note("candle")  # the next minute forms from the stream
            assert not forming["closed"] and forming["time"] == closed["time"] + 60
