"""The ``candles`` channel end to end: the real daemon, the emulated terminal on a fast injected
clock (a minute of the broker's time per real second, from a fixed Wednesday, so no test
depends on the weekday or waits a real minute), real WebSocket clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.keys import CANDLES
from gateway.openrpc import NOTIFICATIONS
from tests.e2e.candlekit import bar_of, collect, rates_range
from tests.e2e.clocks import WEDNESDAY_MID_BAR_MS, FastClock
from tests.e2e.fixtures import Daemon, connected_terminal, running_daemon
from tests.e2e.wskit import connect

pytestmark = pytest.mark.network_edge

def fast_terminal(daemon: Daemon, clock: FastClock, **more: Any
                  ) -> contextlib.AbstractAsyncContextManager[EmulatedTerminal]:
    return connected_terminal(daemon, symbols=("BTCUSD", "EURUSD"), tick_rate_hz=2,
                              utc_clock_ms=clock, **more)


@pytest.fixture
async def fast(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    async with fast_terminal(daemon, FastClock(WEDNESDAY_MID_BAR_MS)) as terminal:
        yield terminal


async def test_streamed_closed_bars_equal_copy_rates_range(daemon: Daemon,
                                                           fast: EmulatedTerminal) -> None:
    """A snapshot of the last bars, then forming updates and closed bars numbered without a
    gap; the closed bars are the terminal's own: copy_rates_range over the same span answers
    exactly them, tick and real volume included."""
    async with connect(daemon) as client:
        sid = (await client.result("subscribe", {"channel": "candles", "symbol": "BTCUSD",
                                                 "timeframe": "TIMEFRAME_M1", "count": 5})
               )["subscription"]
        snapshot = await client.note("candle_snapshot")
        assert (snapshot["subscription"], snapshot["seq"]) == (sid, 1)
        assert (snapshot["symbol"], snapshot["timeframe"]) == ("BTCUSD", 1)
        assert len(snapshot["bars"]) == 5
        notes, closed = await collect(client, sid, 4)
        assert [n["seq"] for n in notes] == list(range(2, len(notes) + 2))
        bars = snapshot["bars"] + [bar_of(n) for n in closed]
        times = [b["time"] for b in bars]
        assert times == list(range(times[0], times[0] + 60 * len(bars), 60))  # every minute
        assert all(n["confirmed"] for n in closed)
        assert bars == await rates_range(client, "BTCUSD", 1, times[0], times[-1])
        NOTIFICATIONS["candle_snapshot"].model_validate(snapshot)  # as rpc.discover says
        for note in notes:
            NOTIFICATIONS["candle"].model_validate(note)
        newest_closed = 0
        for note in notes:  # a bar never forms after it closed
            if note["closed"]:
                newest_closed = note["time"]
            else:
                assert note["time"] > newest_closed and not note["confirmed"]
                assert note["low"] <= min(note["open"], note["close"]) <= note["high"]
        assert any(not n["closed"] and n["time"] == times[-1] for n in notes)  # it formed


async def test_closed_bars_resume_without_a_gap_after_an_ea_reconnect(daemon: Daemon) -> None:
    """The EA goes away for three minutes of the broker's time and a new one connects: the
    same subscription goes on, seq without a gap, and the bars of the outage come too."""
    clock = FastClock(WEDNESDAY_MID_BAR_MS)
    async with connect(daemon) as client:
        async with fast_terminal(daemon, clock):
            sid = (await client.result("subscribe", {"channel": "candles", "symbol": "BTCUSD",
                                                     "timeframe": 1, "count": 2})
                   )["subscription"]
            snapshot = await client.note("candle_snapshot")
            before, closed_before = await collect(client, sid, 1)
        clock.jump(3 * 60_000)
        async with fast_terminal(daemon, clock):
            after, closed_after = await collect(client, sid, 5)
        notes = before + after
        assert [n["seq"] for n in notes] == list(range(2, len(notes) + 2))
        bars = snapshot["bars"] + [bar_of(n) for n in closed_before + closed_after]
        times = [b["time"] for b in bars]
        assert times == list(range(times[0], times[0] + 60 * len(bars), 60))
        async with fast_terminal(daemon, clock):
            assert bars == await rates_range(client, "BTCUSD", 1, times[0], times[-1])


async def test_an_mt4_terminal_refuses_a_timeframe_it_lacks_by_name(daemon: Daemon) -> None:
    """MT4 has no M2: subscribe answers -32009 naming TIMEFRAME_M2 and the ones it has;
    M5 streams."""
    async with fast_terminal(daemon, FastClock(WEDNESDAY_MID_BAR_MS), platform="MT4"), \
            connect(daemon) as client:
        refused = await client.call("subscribe", {"channel": "candles", "symbol": "BTCUSD",
                                                  "timeframe": "TIMEFRAME_M2"})
        assert refused["error"]["code"] == -32009
        message = refused["error"]["message"]
        assert "TIMEFRAME_M2" in message and "MetaTrader 4" in message and "M5" in message
        await client.result("subscribe", {"channel": "candles", "symbol": "BTCUSD",
                                           "timeframe": "TIMEFRAME_M5", "count": 3})
        assert len((await client.note("candle_snapshot"))["bars"]) == 3


async def test_bad_candle_params_are_refused_by_name(daemon: Daemon,
                                                     fast: EmulatedTerminal) -> None:
    """Each malformed candles subscription is -32602 naming the param; an unknown symbol is
    the terminal's own answer; nothing is left subscribed."""
    async with connect(daemon) as client:
        for bad, word in (({"channel": "candles", "timeframe": 1}, "symbol"),
                          ({"channel": "candles", "symbol": "BTCUSD"}, "timeframe"),
                          ({"channel": "candles", "symbol": "BTCUSD", "timeframe": 7},
                           "timeframe"),
                          ({"channel": "candles", "symbol": "BTCUSD",
                            "timeframe": "TIMEFRAME_M7"}, "timeframe"),
                          ({"channel": "candles", "symbol": "BTCUSD", "timeframe": 1,
                            "count": 5000}, "count"),
                          ({"channel": "candles", "symbol": "BTCUSD", "timeframe": True},
                           "timeframe"),
                          ({"channel": "candles", "symbols": ["BTCUSD"], "timeframe": 1},
                           "symbols"),
                          ({"channel": "ticks", "symbols": ["BTCUSD"], "timeframe": 1},
                           "timeframe")):
            error = (await client.call("subscribe", bad))["error"]
            assert error["code"] == -32602 and error["message"].startswith(word), (bad, error)
        unknown = await client.call("subscribe", {"channel": "candles", "symbol": "NOPE",
                                                  "timeframe": 1})
        assert unknown["error"]["code"] == -32006
        assert daemon.app[CANDLES].series_count() == 0


async def test_a_series_lives_while_a_subscription_wants_it(tmp_path: Path) -> None:
    """Two sockets subscribing to one series share it; it ends with the last subscription."""
    async with running_daemon(tmp_path) as daemon, \
            fast_terminal(daemon, FastClock(WEDNESDAY_MID_BAR_MS)), connect(daemon) as one, \
            connect(daemon) as two:
        desk = daemon.app[CANDLES]
        spec = {"channel": "candles", "symbol": "BTCUSD", "timeframe": 1, "count": 1}
        first = (await one.result("subscribe", spec))["subscription"]
        second = (await two.result("subscribe", spec))["subscription"]
        assert desk.series_count() == 1
        await one.note("candle_snapshot")
        _, closed = await collect(one, first, 1)
        assert closed[0]["confirmed"]
        assert await one.result("unsubscribe", {"subscription": first}) is True
        assert desk.series_count() == 1  # the other socket still wants it
        assert await two.result("unsubscribe", {"subscription": second}) is True
        assert desk.series_count() == 0
