"""How the MQL5 EA's helper indicator loads tick history that is not on disk, against the
synchronizations the kit models since the third EA review (docs/terminal.md, "The third
review's findings"): one slower than the helper's settle time, one that lands in pieces (D-2),
one the helper's own work delays because an indicator runs on its symbol's thread, with that
symbol's history synchronization (D-3). The EA never waits for a history load in its own loop
(C5-4), the helper looks on its timer, not on every tick of its symbol (E-2), and it leaves no
terminal variables behind (E-3). The holes a lost connection or an absence from Market Watch
leave, and the eighth review's (docs/terminal.md, "The eighth review's runtime findings"): a
range older than the bars the terminal keeps (E8-2), quotes that resume after the connection
(E8-3). Each test fails on the EA and helper before those changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.conformance import result
from daemon.tests.ea_mql.conftest import TOKEN, make_fixture, reference_terminal
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.terminalkit import (
    answered_in_ea_time,
    held_then_answered,
    history_waits,
    kit_lines,
    loaded,
    spied,
    ticks_not_on_disk,
)
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon

Bridged = tuple[Bridge, RecordingListener]


async def test_a_synchronization_in_pieces_is_waited_for(
        bridge_daemon_heartbeat: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """D-2, C5-4: the synchronization brings the ticks back in three pieces, one every 4 s,
    the newest first. The old helper took the first tick on disk unchanged for 3 s for "the
    server keeps no older ticks", and the EA's own copy then waited for the rest; now the EA
    never waits and the answer holds every tick of the range."""
    b, _ = bridge_daemon_heartbeat
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=12_000, tick_sync_steps=3)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await answered_in_ea_time(b, ea, "copy_ticks_range", query)
        assert await history_waits(ea) == 0
        assert [r[5] for r in got["rows"]] == want


async def test_a_synchronization_slower_than_any_settle_time_never_makes_the_ea_wait(
        bridge_daemon_heartbeat: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """C5-4: a synchronization of 25 s, longer than the helper waits for a first tick to move
    (10 s for this range). The helper then takes the ticks for older than the server keeps,
    and the EA answers what is on disk (none of the range: it starts its copy at the first
    tick on disk) instead of waiting in its copy for the synchronization. The helper keeps
    looking meanwhile: once the ticks land, the same call answers all of them, and the EA
    never waited. The 25 s pass on the EA's clocks (the kit's ``advance``, a second at a
    time), not on the test's."""
    b, _ = bridge_daemon_heartbeat
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=25_000)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        first = await answered_in_ea_time(b, ea, "copy_ticks_range", query)
        assert first["rows"] == []
        assert await history_waits(ea) == 0
        # the synchronization lands about 15 s of the EA's clock later
        again = await answered_in_ea_time(b, ea, "copy_ticks_range", query,
                                          until=lambda got: bool(got["rows"]), held=False)
        assert [r[5] for r in again["rows"]] == want
        assert await history_waits(ea) == 0


async def test_a_loading_helper_works_on_its_timer_not_on_each_tick(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E-2: while ticks arrive every 20 ms, the helper loading BTCUSD's ticks makes its
    history calls from its timer only: none from OnCalculate, which runs on every tick of the
    symbol (on the thread that also processes those ticks and the synchronization)."""
    b, _ = bridge
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=2_000, live_ticks=600)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await loaded(b, "copy_ticks_range", query)
        assert [r[5] for r in got["rows"]] == want
        [thread] = await kit_lines(ea, "symbol_thread BTCUSD", "symbol_thread")
        calls = dict(kv.split("=") for kv in thread.split()[1:])
        assert int(calls["timer"]) > 0 and int(calls["calculate"]) == 0, thread


async def test_the_helpers_cost_does_not_starve_its_own_synchronization(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """D-3: each history call of an indicator costs its symbol's thread 10 ms (a busy
    terminal), time that thread's synchronization does not progress. The old helper looked
    on every tick (every 20 ms) and every 100 ms, three calls each time: more than the thread
    has, so its 2 s synchronization never landed and the call answered -32008 for ever. Now it
    lands and the call is answered."""
    b, _ = bridge
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=2_000, live_ticks=1500,
                                       indicator_call_us=10_000)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await loaded(b, "copy_ticks_range", query, tries=4)
        assert [r[5] for r in got["rows"]] == want
        assert await history_waits(ea) == 0


async def test_a_helper_done_leaves_no_terminal_variables_of_its_own(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E-3: a tick-history helper kept the first tick it saw, and since when, in two terminal
    variables per symbol and minute (MTGW.f.<symbol>.<minute>, MTGW.s.<...>) and never
    deleted them: one pair more for every start a bot asked for, until the terminal closed.
    Once the ticks are loaded only what the EA reads is left (MTGW.ticks.<symbol>,
    MTGW.t0.<symbol>)."""
    b, _ = bridge
    path, _, query, want = ticks_not_on_disk(tmp_path, tick_sync_ms=1_000)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await loaded(b, "copy_ticks_range", query)
        assert [r[5] for r in got["rows"]] == want
        names = {line.split()[0] for line in await kit_lines(ea, "globals", "global")}
        assert names == {"MTGW.ticks.BTCUSD", "MTGW.t0.BTCUSD"}, names


async def terminal_variable(ea: CompiledEA, name: str) -> float | None:
    """The value of the terminal variable ``name`` (None: there is none)."""
    found = dict(line.split() for line in await kit_lines(ea, "globals", "global"))
    return float(found[name]) if name in found else None


def streamed(listener: RecordingListener, symbol: str) -> list[int]:
    """The ``time_msc`` of every tick of ``symbol`` the bridge received, in order."""
    return [r[0] for _, s, r in listener.ticks_seen if s == symbol]


async def test_a_symbol_back_in_market_watch_before_its_next_tick_streams_from_that_tick(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E-4: BTCUSD leaves Market Watch, ticks come meanwhile (a hole in the tick database),
    and it is back before its next tick: its quote is still the one from before it left. The
    old EA started the stream right after that quote when the next tick came less than 60 s
    later, so its own copy reached into the hole and waited for the synchronization (3 s
    here, up to 45 s on a terminal). Now the stream starts at that next tick."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=900, tick_sync_ms=3000,
                            symbol_switches={"BTCUSD": {"live_every_ms": 10}})
    live = [row[0] for row in fx["symbols"]["BTCUSD"]["live"]]
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        await ea.control("select BTCUSD 0")
        while "BTCUSD" in await spied(ea):  # until the EA has seen it leave
            clock = len(streamed(listener, "EURUSD"))  # EURUSD's ticks, 20 ms apart
            await listener.wait_for(
                lambda n=clock: len(streamed(listener, "EURUSD")) >= n + 5)
        await ea.control("hold BTCUSD on")  # its next tick waits
        await ea.control("select BTCUSD 1")
        while "BTCUSD" not in await spied(ea):  # until the EA has seen it back
            clock = len(streamed(listener, "EURUSD"))
            await listener.wait_for(
                lambda n=clock: len(streamed(listener, "EURUSD")) >= n + 5)
        before = streamed(listener, "BTCUSD")
        await ea.control("hold BTCUSD off")
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= len(before) + 30)
        after = streamed(listener, "BTCUSD")[len(before):]
        assert after == sorted(after) and after[0] > before[-1]
        first_after = live.index(after[0])
        assert first_after > live.index(before[-1]) + 3  # nothing from the hole
        assert await history_waits(ea) == 0


async def test_a_terminal_that_was_closed_streams_from_its_first_new_tick(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E-4: the terminal was closed for the last 30 s (the ticks of that time are a hole in its
    database; BTCUSD's quote is the last one from before). The old EA streamed from right
    after that quote, the first new tick coming less than 60 s later, and its own copy waited
    for the synchronization of the hole. Now a quote that old is not taken for the terminal's
    live one: the stream starts at the first new tick, and the EA never waits."""
    b, listener = bridge
    now_ms = reference_terminal().server_time_ms()
    path, fx = make_fixture(tmp_path, tick_sync_ms=3000, symbol_switches={
        "BTCUSD": {"offline_from_ms": now_ms - 30_000}})
    live = [row[0] for row in fx["symbols"]["BTCUSD"]["live"]]
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        rows = streamed(listener, "BTCUSD")
        assert rows == sorted(rows) and set(rows) <= set(live)
        assert await history_waits(ea) == 0


def announced(listener: RecordingListener, connected: bool) -> int:
    """How many ``terminal`` events said the broker connection is ``connected``."""
    return sum(1 for _, n, p, _ in listener.events
               if n == "terminal" and p["connected"] is connected)


async def server_ticks(ea: CompiledEA, symbol: str) -> int:
    """How many ticks of ``symbol`` the trade server has (the terminal's or not)."""
    [line] = await kit_lines(ea, f"server_ticks {symbol}", "server_ticks")
    return int(line.split()[1])


async def outage(ea: CompiledEA, listener: RecordingListener, symbol: str, missed: int) -> None:
    """The trade server connection drops (the EA says so) and ``missed`` ticks of ``symbol``
    come meanwhile, to the server only: a hole in the terminal's tick database."""
    await ea.control("broker down")
    await listener.wait_for(lambda: announced(listener, False) >= 1)
    at_outage = await server_ticks(ea, symbol)
    while await server_ticks(ea, symbol) < at_outage + missed:
        pass


async def test_a_broker_outage_is_not_copied_across(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """C6-1: the connection to the trade server drops and ticks come meanwhile, to the server
    only (no quotes reach a terminal without it: a hole in its tick database for every
    symbol). The old EA resumed each stream from the last tick it had sent, so its first copy
    after the reconnection reached into the hole and waited for the synchronization (3 s here,
    up to 45 s on a terminal, no ping answered meanwhile). Now a reconnection restarts every
    stream as a return to Market Watch does: at the next tick, nothing from the hole, no
    wait, and the session stays up."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=900, tick_sync_ms=3000,
                            symbol_switches={"BTCUSD": {"live_every_ms": 10}})
    live = [row[0] for row in fx["symbols"]["BTCUSD"]["live"]]
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        ups = len(listener.ups)
        await outage(ea, listener, "BTCUSD", 10)
        before = streamed(listener, "BTCUSD")
        await ea.control("hold BTCUSD on")  # its next tick waits for the EA to see the return
        await ea.control("broker up")
        await listener.wait_for(lambda: announced(listener, True) >= 2)
        await ea.control("hold BTCUSD off")
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= len(before) + 30)
        after = streamed(listener, "BTCUSD")[len(before):]
        assert after == sorted(after) and after[0] > before[-1]
        assert live.index(after[0]) >= live.index(before[-1]) + 10  # nothing from the hole
        assert await history_waits(ea) == 0
        assert len(listener.ups) == ups and not listener.downs


async def test_a_history_range_across_a_broker_outage_waits_for_the_hole_to_load(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """C7-1, D7-4: after an outage (ticks to the server only), a bot asks for a day of ticks
    ending after it. The old helper judged the range by sampled minutes, each with a tick on
    disk (the outage's minutes had theirs from before it), took it for loaded, and the EA's
    own copy crossed the hole and waited for its synchronization (3 s here, up to 45 s on a
    terminal). Now the EA keeps the outage as an interval and takes no range reaching into it
    for local until a helper has judged that interval whole: the answer holds every tick of
    the range, the outage's included, and the EA never waited."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=900, tick_sync_ms=3000,
                            symbol_switches={"BTCUSD": {"live_every_ms": 10}})
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        await outage(ea, listener, "BTCUSD", 10)
        await ea.control("broker up")
        await listener.wait_for(lambda: announced(listener, True) >= 2)
        after = len(streamed(listener, "BTCUSD"))
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= after + 10)
        to_msc = streamed(listener, "BTCUSD")[-1]
        query = {"symbol": "BTCUSD", "date_from": (fx["now_ms"] - 86_400_000) / 1000,
                 "date_to": to_msc / 1000, "flags": -1}
        got = await loaded(b, "copy_ticks_range", query)
        server = [t[0] for t in [*fx["symbols"]["BTCUSD"]["ticks"],
                                 *fx["symbols"]["BTCUSD"]["live"]] if t[0] <= to_msc]
        assert [r[5] for r in got["rows"]] == server
        assert await history_waits(ea) == 0


async def server_rows(ea: CompiledEA, symbol: str, to_msc: int) -> int:
    """How many ticks of ``symbol`` up to ``to_msc`` the trade server has."""
    [line] = await kit_lines(ea, f"server_ticks {symbol} {to_msc}", "server_ticks")
    return int(line.split()[1])


async def test_a_hole_ends_at_the_first_quote_after_the_return(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E8-3: the terminal flags its connection back before its quotes flow again (the kit's
    ``quotes off`` then ``broker up``: whether a terminal does is not documented), and ticks
    come meanwhile, to the server only. A range asked then is loaded across the outage's hole
    (the synchronization lands before the quotes resume), and the ticks after it, still not
    received, are a hole again until the quotes come. The old EA ended the outage's hole at
    the connection's return, so once that was judged, a later range across those seconds
    was taken for local and its copy waited for their synchronization (0.3 s here, up to 45 s
    on a terminal). The hole now ends at the symbol's first quote after the return: a range
    reaching into it waits for a helper's judgment of it whole, and the EA never waits.
    BTCUSD's ticks carry the server's time when they come (the kit's
    ``live_stamped_at_arrival``): the return is a time on the server's clock."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=1500, tick_sync_ms=300, symbol_switches={
        "BTCUSD": {"live_every_ms": 10, "live_stamped_at_arrival": True}})
    day_ago = (fx["now_ms"] - 86_400_000) / 1000
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:

        async def complete(to_msc: int) -> None:
            """A range from a day ago to ``to_msc`` is answered with every tick the server
            has of it, the EA never having waited for history."""
            got = await loaded(b, "copy_ticks_range", {
                "symbol": "BTCUSD", "date_from": day_ago, "date_to": to_msc / 1000,
                "flags": -1})
            rows = [r[5] for r in got["rows"]]
            assert rows == sorted(rows) and rows[-1] <= to_msc
            assert len(rows) == await server_rows(ea, "BTCUSD", to_msc)
            assert await history_waits(ea) == 0

        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        await outage(ea, listener, "BTCUSD", 10)
        await ea.control("quotes off")
        await ea.control("broker up")
        await listener.wait_for(lambda: announced(listener, True) >= 2)
        at_return = await server_ticks(ea, "BTCUSD")
        while await server_ticks(ea, "BTCUSD") < at_return + 10:
            pass  # ticks after the return, to the server only
        await complete(streamed(listener, "BTCUSD")[-1] + 1)  # the outage's hole, loaded
        landed = await server_ticks(ea, "BTCUSD")
        while await server_ticks(ea, "BTCUSD") < landed + 10:
            pass  # more ticks after that synchronization, to the server only
        before = len(streamed(listener, "BTCUSD"))
        await ea.control("quotes on")
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= before + 10)
        await complete(streamed(listener, "BTCUSD")[-1])


async def test_the_first_quote_after_a_reconnection_is_sent(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E7-1: a tick arrives with the connection's return, before the EA's next pass. The old
    EA restarted the stream at the quote it saw then and took that quote for sent: the tick
    never went out (the stream began at the one after it). It is newer than the quote the
    symbol showed when the outage began, so it came after the return: it goes out first, and
    the ticks after it follow."""
    b, listener = bridge
    path, fx = make_fixture(tmp_path, live_ticks=900, tick_sync_ms=3000,
                            symbol_switches={"BTCUSD": {"live_every_ms": 10}})
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= 30)
        await outage(ea, listener, "BTCUSD", 10)
        await ea.control("hold BTCUSD on")
        before = streamed(listener, "BTCUSD")
        # both in one write, so the kit applies them before the EA runs again: the tick is
        # the terminal's quote when the EA first sees the connection back
        seen = len(ea.lines)
        assert ea.proc is not None and ea.proc.stdin is not None
        ea.proc.stdin.write(b"broker up\ntick BTCUSD\n")
        await ea.proc.stdin.drain()
        await ea.wait_for(lambda lines: sum(x.startswith(("KIT: ok broker up", "KIT: ok tick"))
                                            for x in lines[seen:]) == 2)
        [quote] = [int(x.split()[3]) for x in ea.lines[seen:] if x.startswith("KIT: tick ")]
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) > len(before))
        assert streamed(listener, "BTCUSD")[len(before)] == quote
        await ea.control("hold BTCUSD off")
        await listener.wait_for(lambda: len(streamed(listener, "BTCUSD")) >= len(before) + 20)
        after = streamed(listener, "BTCUSD")[len(before):]
        assert after == sorted(after) and after[1] > quote
        assert await history_waits(ea) == 0


async def test_a_request_from_before_the_servers_ticks_is_answered_once_synchronized(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E6-3: a bot asks for ticks from a day before the first one the trade server keeps. The
    synchronization lands in half a second, but the old helper took the first tick on disk for
    "no older ticks" only once it had stayed the same for its settle time (10 s, plus 2 s per
    day): the EA answered -32008 meanwhile. The reference's own CopyTicks example reads the
    synchronization off the copy ("If the tick history is synchronized, the error code is equal
    to zero"): the helper settles on that, so the first call is answered, complete."""
    b, _ = bridge
    now_ms = reference_terminal().server_time_ms()
    path, fx = make_fixture(tmp_path, ticks_local_from_ms=now_ms - 60_000, tick_sync_ms=500)
    now_ms = fx["now_ms"]
    first = fx["symbols"]["BTCUSD"]["ticks"][0][0]
    query = {"symbol": "BTCUSD", "date_from": (first - 86_400_000) / 1000,
             "date_to": (now_ms - 120_000) / 1000, "flags": -1}
    want = [t[0] for t in fx["symbols"]["BTCUSD"]["ticks"] if t[0] <= now_ms - 120_000]
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        got = await held_then_answered(b, "copy_ticks_range", query)
        assert [r[5] for r in got["rows"]] == want
        assert await history_waits(ea) == 0


async def test_a_tick_page_that_starts_later_than_asked_says_where(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """E6-1: the EA copies ticks from the first one on its terminal's disk, never from before
    it; an answer starting there, later than asked, said nothing, so a bot could not tell "no
    older ticks on this computer" from "none happened". The EA's answer now carries where its
    copy started (``from_msc``) and the daemon's page passes it on (``on_disk_from_msc``); a
    page asked from a time on disk carries none. The helper read the server's M1 bars for the
    ticks missing before that first tick: they end with the last ticked minute before its own
    (``MTGW.tb.<symbol>``)."""
    now_ms = reference_terminal().server_time_ms()
    path, fx = make_fixture(tmp_path, ticks_local_from_ms=now_ms - 60_000, tick_sync_ms=500)
    now_ms = fx["now_ms"]
    ticks = fx["symbols"]["BTCUSD"]["ticks"]
    first = ticks[0][0]
    to_s = (now_ms - 120_000) / 1000
    bar_s = max(r[0] for r in fx["symbols"]["BTCUSD"]["m1"]
                if r[0] * 1000 < first - first % 60_000 and r[5] > 0)
    async with CompiledEA(ea_binary, path, token=daemon.token,
                          port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        early = await result(daemon, "copy_ticks_range", {
            "symbol": "BTCUSD", "date_from": (first - 86_400_000) / 1000, "date_to": to_s,
            "flags": "COPY_TICKS_ALL"})
        assert early["on_disk_from_msc"] == first
        assert await terminal_variable(ea, "MTGW.tb.BTCUSD") == (bar_s + 60) * 1000
        assert [r[5] for r in early["rows"]] == [t[0] for t in ticks if t[0] <= to_s * 1000]
        later = await result(daemon, "copy_ticks_range", {
            "symbol": "BTCUSD", "date_from": ticks[10][0] / 1000, "date_to": to_s,
            "flags": "COPY_TICKS_ALL"})
        assert "on_disk_from_msc" not in later and later["rows"][0][5] == ticks[10][0]


async def test_a_tick_copy_from_before_the_terminals_bars_says_where_it_starts(
        bridge_daemon_heartbeat: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """E8-2: a terminal keeps bars back to its limit only ("Max bars in chart",
    TERMINAL_MAXBARS; here its M1 series starts at the minute of the first tick on disk), and
    a copy reaching further back returns -1 (CopyRates). A bot asks for ticks from ten minutes
    before that series. The old helper judged a range by its M1 bars alone, took the -1 for
    bars still loading and never judged it: the EA answered -32008 for ever. The minutes
    before the series are now judged by the synchronization's own word, the series' minutes
    by their bars, and whether the server had ticks before the first one on disk no bar can
    tell: the answer says where its copy started (``from_msc``), as while bars load (a helper
    that found no bar there took it for "no ticks missed"). A start in the first tick's own
    minute says nothing, as with the bars there: no minute before it counts. The EA's clocks
    are moved on (``advance``), nothing waits out the helper's settle time."""
    b, _ = bridge_daemon_heartbeat
    now_ms = reference_terminal().server_time_ms()
    path, fx = make_fixture(tmp_path, ticks_local_from_ms=now_ms - 60_000, tick_sync_ms=500)
    ticks = fx["symbols"]["BTCUSD"]["ticks"]
    first = ticks[0][0]
    minute = first - first % 60_000
    m1 = fx["symbols"]["BTCUSD"]["m1"]
    assert any(r[0] * 1000 == minute - 60_000 and r[5] > 0 for r in m1)  # the server's bars
    fx["terminal"]["maxbars"] = sum(1 for r in m1 if r[0] * 1000 >= minute)
    path.write_text(json.dumps(fx), encoding="utf-8")
    to_s = (fx["now_ms"] - 120_000) / 1000
    want = [t[0] for t in ticks if t[0] <= to_s * 1000]
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        early = await answered_in_ea_time(b, ea, "copy_ticks_range", {
            "symbol": "BTCUSD", "date_from": (minute - 600_000) / 1000, "date_to": to_s,
            "flags": -1})
        assert [r[5] for r in early["rows"]] == want
        assert early.get("from_msc") == first
        if first > minute:  # a start in its own minute, before it
            same = await answered_in_ea_time(b, ea, "copy_ticks_range", {
                "symbol": "BTCUSD", "date_from": minute / 1000, "date_to": to_s,
                "flags": -1}, held=False)
            assert [r[5] for r in same["rows"]] == want and "from_msc" not in same
        assert await history_waits(ea) == 0


def first_of_minutes(ticks: list[int], count: int) -> list[tuple[int, int]]:
    """The newest ``count`` whole minutes of ``ticks`` (each with a tick, none exactly on the
    minute, and one before it in the minute before), newest first, each with its first tick."""
    out: list[tuple[int, int]] = []
    for minute in sorted({t - t % 60_000 for t in ticks}, reverse=True)[1:]:
        after = [t for t in ticks if t >= minute]
        if after[0] > minute and any(minute - 60_000 <= t < minute for t in ticks):
            out.append((minute, after[0]))
        if len(out) == count:
            return out
    raise AssertionError(f"the fixture has fewer than {count} such minutes")


async def test_a_tick_copy_from_a_time_with_older_ticks_on_disk_says_no_later_start(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """A copy from a time no tick falls on, older ticks on disk before it (the fixture's
    fifteen minutes, all local), answers the same as the emulator asked the same: the same
    ticks, and no ``from_msc`` (the copy started where it was asked: nothing before the first
    tick is missing from this computer). The old EA said ``from_msc`` (its first tick) when
    ``date_from`` fell on a whole minute (its helper loaded from that minute, and its first
    tick on disk from there was taken for the first on disk at all) or when no tick fell
    between the minute and ``date_from``: the caller read "no older ticks here". Each start
    is older than the one before, so each call has a helper of its own load from it."""
    b, _ = bridge
    reference = reference_terminal()
    path, fx = make_fixture(tmp_path, reference)
    ticks = [t[0] for t in fx["symbols"]["BTCUSD"]["ticks"]]
    minutes = first_of_minutes(ticks, 4)
    calls: list[tuple[str, dict[str, Any]]] = []
    for k, (minute, first) in enumerate(minutes):
        # whole-minute starts, and starts 1 ms before the minute's first tick
        start_ms = minute if k % 2 == 0 else first - 1
        date_from: float = start_ms // 1000 if start_ms % 1000 == 0 else start_ms / 1000
        if k < 2:
            calls.append(("copy_ticks_range", {"symbol": "BTCUSD", "date_from": date_from,
                                               "date_to": (minute + 30_000) / 1000,
                                               "flags": -1}))
        else:
            calls.append(("copy_ticks_from", {"symbol": "BTCUSD", "date_from": date_from,
                                              "count": 5, "flags": -1}))
    methods = reference._method_table()
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        for method, params in calls:
            want = methods[method](**params)
            got = await loaded(b, method, params)
            assert set(got) == set(want), (method, params, got.get("from_msc"))
            assert [r[5] for r in got["rows"]] == [r[5] for r in want["rows"]], (method, params)
            assert got["rows"], (method, params)
            # no tick the server had between the start and the first on disk is missing
            assert await terminal_variable(ea, "MTGW.tb.BTCUSD") is None
        assert await history_waits(ea) == 0
