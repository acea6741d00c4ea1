"""What the MQL5 reference says a terminal does that the kit models since the second EA review,
and what the EA does about it (docs/terminal.md, "The second review's findings"): an indicator
cannot have its own symbol and timeframe loaded further back (C5-1, D5-2), an indicator's
CopyTicks answers what is on disk with no error while the database synchronizes (C5-2, D5-1), a
symbol out of Market Watch receives no quotes (C5-3, D5-4), the trade state arrives after the
login (E5-4, D5-3), BookEvent is broadcast to every program (E5-3), and the helper's tick spies
are not kept on M1 (E5-1). Each test fails on the EA before those fixes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.terminalkit import (
    answered_in_ea_time,
    held_then_answered,
    history_waits,
    kit_lines,
    spied,
    ticks_not_on_disk,
    trades,
    with_open_position,
)
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S

Bridged = tuple[Bridge, RecordingListener]


async def test_bars_older_than_the_built_series_are_loaded_by_the_helper(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """A series holds its newest 100 bars when built; five hours of M1 needs the terminal to
    load more. The helper indicator has them loaded from another timeframe (an indicator
    cannot have its own symbol and timeframe loaded: the old helper ran on the very series it
    loaded and the call answered -32008 for ever), the EA never waits in a copy, pings are
    answered meanwhile, and the answer holds every bar of the range."""
    b, _ = bridge
    path, fx = make_fixture(tmp_path, series_depth_bars=100)
    now = fx["now_ms"] // 1000
    frm, to = now - 5 * 3600, now - 600
    want = [r[0] for r in fx["symbols"]["BTCUSD"]["m1"] if frm <= r[0] <= to]
    assert len(want) > 100
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await held_then_answered(b, "copy_rates_range", {
            "symbol": "BTCUSD", "timeframe": 1, "date_from": frm, "date_to": to})
        assert [r[0] for r in got["rows"]] == want
        assert await history_waits(ea) == 0


async def test_ticks_not_on_disk_are_synchronized_by_the_helper_not_the_ea(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """Only the last minute of ticks is on disk and a synchronization takes 2 s. In an
    indicator CopyTicks answers what is on disk with no error (the reference documents none):
    the old helper took that for "loaded" and the EA's own copy then waited for the
    synchronization. The helper now judges from the data (the M1 bars say which minutes had
    ticks): the EA never waits in a copy and the answer holds every tick of the window."""
    b, _ = bridge
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=2000)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await held_then_answered(b, "copy_ticks_range", query)
        assert [r[5] for r in got["rows"]] == want
        assert await history_waits(ea) == 0


async def test_a_slow_synchronization_is_not_taken_for_loaded(
        bridge_daemon_heartbeat: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """C5-4: the same range as above, but the synchronization brings its ticks after 8 s, in
    one piece. The old helper took a first tick on disk unchanged for 3 s for "the server has
    no older ticks", and the EA's own copy then waited for the rest of the synchronization.
    The 8 s pass on the EA's clocks (the kit's ``advance``), not on the test's."""
    b, _ = bridge_daemon_heartbeat
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=8000)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await answered_in_ea_time(b, ea, "copy_ticks_range", query)
        assert await history_waits(ea) == 0
        assert [r[5] for r in got["rows"]] == want


async def test_a_symbol_back_in_market_watch_streams_from_its_return(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """BTCUSD leaves Market Watch while its ticks keep coming (the terminal receives none of
    them: a hole in its tick database) and comes back. The EA restarts its stream at the
    return instead of copying from its old cursor, which would have the EA itself wait for the
    hole's synchronization (3 s here, up to 45 s on a terminal) and then send the hole's ticks
    as new."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=900, tick_sync_ms=3000,
                            symbol_switches={"BTCUSD": {"live_every_ms": 10}})
    live = [row[0] for row in fx["symbols"]["BTCUSD"]["live"]]

    def streamed(symbol: str = "BTCUSD") -> list[int]:
        return [r[0] for _, s, r in listener.ticks_seen if s == symbol]

    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed()) >= 30)
        await ea.control("select BTCUSD 0")
        while "BTCUSD" in await spied(ea):  # until the EA has seen it leave (its spy goes)
            clock = len(streamed("EURUSD"))  # EURUSD's ticks, 20 ms apart, as the clock
            await listener.wait_for(lambda n=clock: len(streamed("EURUSD")) >= n + 5)
        before = streamed()
        await ea.control("select BTCUSD 1")
        await listener.wait_for(lambda: len(streamed()) >= len(before) + 30)
        rows = streamed()
        assert rows == sorted(rows)
        after = rows[len(before):]
        # nothing from the hole: after the return the stream resumes past the ticks the
        # terminal never received (they stay missing), it does not go back for them
        last_before = max(k for k, msc in enumerate(live) if msc == before[-1])
        first_after = min(k for k, msc in enumerate(live) if msc == after[0])
        assert first_after > last_before + 3, (before[-3:], after[:3])
        assert await history_waits(ea) == 0


async def test_positions_that_arrive_after_the_login_are_known(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """At the terminal's start the account number comes before the trade state (here 500 ms
    later). The EA learns the positions when they arrive, not at the login: one closed later
    from the terminal's window is reported closed, never opened (learnt at the login, the old
    EA had none and reported nothing)."""
    b, listener = bridge
    terminal, ticket = with_open_position()
    path, _ = make_fixture(tmp_path, terminal, logged_in=False, trade_state_ms=500)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await ea.wait_for_chart("waiting for the terminal to log in to a trade account")
        await ea.control("login")
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        # the trade state has arrived when the terminal reports its connection
        await listener.wait_for(lambda: any(n == "terminal" and p["connected"]
                                            for _, n, p, _ in listener.events))
        assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 1
        await ea.control(f"close {ticket}")
        await listener.wait_for(lambda: any(t["position"]["ticket"] == ticket
                                            for t in trades(listener, "position_closed")))
        assert not trades(listener, "position_opened")


def books(listener: RecordingListener, symbol: str) -> list[dict[str, Any]]:
    return [p for _, n, p, _ in listener.events if n == "book" and p["symbol"] == symbol]


async def test_book_events_of_other_programs_are_not_forwarded(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """BookEvent is broadcast: another program's MarketBookAdd raises it in the EA too. The
    EA sends books only of the symbols the gateway subscribed (market_book_add), and releases
    its own subscriptions when it is removed."""
    b, listener = bridge
    path, _ = make_fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("book_other BTCUSD add")
        assert await b.call(TERMINAL, "market_book_add", {"symbol": "EURUSD"}, WAIT_S) is True
        await listener.wait_for(lambda: len(books(listener, "EURUSD")) >= 3)
        assert not books(listener, "BTCUSD")
        assert await b.call(TERMINAL, "market_book_add", {"symbol": "BTCUSD"}, WAIT_S) is True
        await listener.wait_for(lambda: len(books(listener, "BTCUSD")) >= 1)
        assert await b.call(TERMINAL, "market_book_release", {"symbol": "BTCUSD"},
                            WAIT_S) is True
        await b.call(TERMINAL, "ping", {}, WAIT_S)
        count = len(books(listener, "BTCUSD"))
        await listener.wait_for(lambda: len(books(listener, "EURUSD")) >= 10)
        assert len(books(listener, "BTCUSD")) == count


async def test_tick_spies_do_not_build_m1_series(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """A spy makes the terminal build and keep the series it runs on ("hundreds of megabytes"
    with deep history on small timeframes): on M1, one per Market Watch symbol. The spies run
    on MN1; OnCalculate comes on each tick whatever the timeframe, so ticks still wake the EA."""
    b, listener = bridge
    path, _ = make_fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: any(s == "BTCUSD" for _, s, _ in listener.ticks_seen))
        spies = await spied(ea)
        assert set(spies) == {"USDJPY", "BTCUSD"} and set(spies.values()) == {49153}, spies
        series = await kit_lines(ea, "series", "series")  # "<symbol> <period> <bars>"
        assert not [s for s in series if s.split()[1] == "1"], series
