"""What only the compiled MT4 EA can show: trade events derived from snapshots of MT4's ticket
list (none lost or repeated across a reconnect), conflated ticks, a trade timeout after a fill
settled by the daemon from the tag (the EA's record proves nothing for 10012), the server's
clock in a quiet market and from a quote seen late (E8-1), "Allow DLL imports" refused with a
clear word, and the MQL4 rules the kit's preprocessor enforces."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import TOKEN
from daemon.tests.ea_mql.eakit import KIT, BuildError, CompiledEA
from daemon.tests.ea_mql.eakit4 import MQL4_DIR, assemble, build_ea4
from daemon.tests.ea_mql.mt4kit import BUY, fixture4, trades
from daemon.tests.ea_mql.terminalkit import slow_reader_cannot_hold_the_ea
from ea_bridge import Bridge, HeartbeatSettings
from gateway.keys import DEVICE
from tests.bridgekit import RecordingListener, StaticVerifier
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, running_daemon
from tests.e2e.world import OWNER, world
from tests.testkit import MS


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


async def test_trade_events_from_snapshots_survive_a_reconnect(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """A buy is deal_added + position_opened; a pending order is order_added, its change
    order_updated; while the gateway is away the user closes the position and deletes the order,
    and the next session receives deal_added + position_closed + order_removed exactly once."""
    b, listener = bridge
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        sent = await b.call(TERMINAL, "order_send", {"request": {
            "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}}, WAIT_S)
        assert sent["retcode"] == 10009 and sent["deal"] == sent["order"]
        tick = await b.call(TERMINAL, "symbol_info_tick", {"symbol": "BTCUSD"}, WAIT_S)
        limit = round(tick["ask"] * 0.9, 2)
        placed = await b.call(TERMINAL, "order_send", {"request": {
            "action": 5, "type": 2, "symbol": "BTCUSD", "volume": 0.01, "price": limit}}, WAIT_S)
        assert placed["retcode"] == 10009
        # changes made within one timer pass reach the snapshot together: let this one land
        await listener.wait_for(lambda: len(trades(listener)) >= 3)
        moved = await b.call(TERMINAL, "order_send", {"request": {
            "action": 7, "order": placed["order"], "price": round(limit * 0.99, 2)}}, WAIT_S)
        assert moved["retcode"] == 10009
        await listener.wait_for(lambda: len(trades(listener)) >= 4)
        assert [t["type"] for t in trades(listener)] == [
            "deal_added", "position_opened", "order_added", "order_updated"]
        opened = trades(listener)[1]["position"]
        assert opened["ticket"] == sent["order"] and opened["volume"] == 0.01
        port = b.port
        await b.close()
        await ea.control(f"close {sent['order']}")
        await ea.control(f"close {placed['order']}")
        again = Bridge(StaticVerifier({TOKEN: (TERMINAL, "tok-1")}), listener, port=port,
                       heartbeat=HeartbeatSettings(0.5, 1.5))
        await again.start()
        try:
            await again.wait_for_terminal(TERMINAL, WAIT_S)
            await listener.wait_for(lambda: len(trades(listener)) >= 7)
            after = trades(listener)[4:]
            assert [t["type"] for t in after] == ["deal_added", "position_closed", "order_removed"]
            closing = after[0]["deal"]
            assert (closing["entry"], closing["position_id"]) == (1, sent["order"])
            assert after[1]["position"]["ticket"] == sent["order"]
            assert after[2]["order"]["ticket"] == placed["order"]
            history = await again.call(TERMINAL, "history_deals_get", {"position": sent["order"]},
                                       WAIT_S)
            assert [d["entry"] for d in history] == [0, 1]
            assert len(trades(listener)) == 7  # the queue went out once, before this answer
        finally:
            await again.close()
    assert all(missed == 0 for *_, missed in listener.events)


async def test_ticks_are_conflated_seconds(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """MT4 has no tick history: the rows are quotes the EA saw, in order, each one a live quote
    of the fixture stamped with its second, none sent twice in a row."""
    b, listener = bridge
    path, fx = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        live = fx["symbols"]["EURUSD"]["live"]
        quotes = [(r[0] // 1000 * 1000, r[1], r[2]) for r in live]
        await listener.wait_for(lambda: any(s == "EURUSD" and (r[0], r[1], r[2]) == quotes[-1]
                                            for _, s, r in listener.ticks_seen))
        rows = [(r[0], r[1], r[2]) for _, s, r in listener.ticks_seen if s == "EURUSD"]
        # the rows are a subsequence of the live quotes (a quote can recur later: prices come
        # back), and no row repeats the one before it
        at = -1
        for row in rows:
            later = [i for i in range(at + 1, len(quotes)) if quotes[i] == row]
            assert later, (row, rows)
            at = later[0]
        assert rows and all(a != b for a, b in zip(rows, rows[1:], strict=False))


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path, trading={"reconcile_interval_s": 0.2}) as running:
        yield running


async def test_a_trade_timeout_after_the_fill_resolves_to_the_position(
        daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """MT4 error 128 (trade timeout) after the server filled the order is answered as 10012,
    recorded under the daemon's order key: the daemon reports the outcome unknown, the record
    settles nothing (F1), the tag finds the ticket, and a retry executes nothing."""
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("trade_error 128 fill")
        error = (await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-f1"}}
                                   ))["error"]
        assert (error["code"], error["data"]["state"]) == (-32003, "UNKNOWN"), error
        assert "10012" in error["message"]
        async with asyncio.timeout(WAIT_S):
            while True:
                status = (await daemon.call("order_status", ["mt4-f1"]))["result"]
                if status["state"] != "UNKNOWN":
                    break
                await asyncio.sleep(50 * MS)
        [position] = (await daemon.call("positions_get"))["result"]
        assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", position["ticket"])
        again = (await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-f1"}}
                                   ))["result"]
        assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
        assert (await daemon.call("positions_total"))["result"] == 1


async def test_a_trade_timeout_in_a_quiet_market_resolves_to_the_position(
        daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """MT4's TimeCurrent is the last quote's time and stands still while no quote comes; the
    terminal here started a minute after every symbol's last quote and none comes. The EA's
    server_time is still the server's clock now (not that quote's), so the window in which
    reconciliation looks for an order filled under a 128 (trade timeout) holds the fill: it
    resolves to the position. With the last quote's time for the server's clock the window
    ended a minute before the fill and every pass missed it: RESOLVED_NOT_FOUND."""
    path, fx = fixture4(tmp_path, live_ticks=0)
    fx["now_ms"] += 60_000  # the terminal's clock: a minute past the last quote
    path.write_text(json.dumps(fx), encoding="utf-8")
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        last_quote_s = max(s["ticks"][-1][0] for s in fx["symbols"].values()) // 1000
        clock = (await daemon.call("server_time"))["result"]
        assert clock["time"] >= fx["now_ms"] // 1000 > last_quote_s + 30, (clock, last_quote_s)
        await ea.control("trade_error 128 fill")
        error = (await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-q1"}}
                                   ))["error"]
        assert (error["code"], error["data"]["state"]) == (-32003, "UNKNOWN"), error
        async with asyncio.timeout(WAIT_S):
            while True:
                status = (await daemon.call("order_status", ["mt4-q1"]))["result"]
                if status["state"] != "UNKNOWN":
                    break
                await asyncio.sleep(50 * MS)
        [position] = (await daemon.call("positions_get"))["result"]
        assert position["time"] >= fx["now_ms"] // 1000
        assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", position["ticket"])


#: The server's clock in the late-look test: three hours ahead of UTC (a usual broker's zone).
ZONE_S = 3 * 3600


async def test_a_quote_looked_at_late_does_not_set_the_server_clock_back(
        bridge_daemon_heartbeat: tuple[Bridge, RecordingListener], ea4_binary: Path,
        tmp_path: Path) -> None:
    """E8-1: the EA learns the server's offset to the computer's UTC clock from quotes it sees
    arrive (a quote's time is the server's clock when it was made). A quote that arrives
    while the EA is in a long call (here a market buy the trade server answers 8 s after it
    was sent, the quote coming 2 s into it; no quote after it) is seen only once the call
    returns: its time minus TimeGMT then is short by the 6 s of the delay. The EA took that
    last estimate for the offset, and server_time ran 6 s behind the server until the next
    quote; it now keeps the largest estimate of the last minute (each is at most the true
    offset), so the offset stays the one learnt from quotes seen as they came. The kit's
    clocks and quotes are driven (``advance``, ``quote``, ``trade_delay``): nothing waits
    out the 8 s. The bridge alone, with the daemon's own heartbeat: the call is that long a
    silence to the EA."""
    b, _ = bridge_daemon_heartbeat
    path, fx = fixture4(tmp_path, live_ticks=0)
    fx["tz_offset_s"] = ZONE_S
    path.write_text(json.dumps(fx), encoding="utf-8")
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        learnt = []
        for _ in range(2):  # quotes seen as they come, each in a second of its own
            await ea.control("advance 1000")
            await ea.control("quote BTCUSD 0")
            learnt.append(await b.call(TERMINAL, "server_time", {}, WAIT_S))
        before = learnt[-1]
        # seconds only: a look a millisecond after its quote can be in the next second
        assert ZONE_S - 1 <= before["tz_offset_s"] <= ZONE_S, learnt
        await ea.control("quote BTCUSD 2000")
        await ea.control("trade_delay 8000")
        sent = await b.call(TERMINAL, "order_send", {"request": {
            "action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}}, WAIT_S)
        assert sent["retcode"] == 10009, sent
        # seconds only, each clock floored: a second either way
        quote = await b.call(TERMINAL, "symbol_info_tick", {"symbol": "BTCUSD"}, WAIT_S)
        assert 2 <= quote["time"] - before["time"] <= 4, (quote, before)  # 2 s into the call
        clock = await b.call(TERMINAL, "server_time", {}, WAIT_S)
        assert ZONE_S - 1 <= clock["tz_offset_s"] <= ZONE_S, (clock, learnt)
        assert clock["time"] - before["time"] >= 7, (clock, before)  # 8 s on, not the quote's


async def test_a_requote_is_a_result(daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """MT4's 138 (requote) is MT5's 10004, a rejection: settled "not executed" at once."""
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("trade_error 138")
        sent = await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-rq"}})
        answer = sent.get("result") or sent["error"]
        assert answer.get("retcode") == 10004 or "10004" in answer.get("message", ""), sent
        assert (await daemon.call("positions_total"))["result"] == 0


async def test_dll_imports_off_stop_the_ea_with_the_reason(
        ea4_binary: Path, tmp_path: Path) -> None:
    """Without "Allow DLL imports" a call into ws2_32.dll would stop the EA with a critical
    error; the EA checks first and says what to tick, and never calls the DLL. The hint is
    what the chart shows at the end: the terminal runs OnDeinit(REASON_INITFAILED) right after
    the failed OnInit, whose Comment("") erased it (review C4-2; this test looked at every
    comment ever written, D4-4)."""
    path, _ = fixture4(tmp_path, dlls_allowed=False)
    ea = CompiledEA(ea4_binary, path, token=TOKEN, port=9)
    await ea.start()
    await ea.wait_for(lambda lines: any(line.startswith("INIT FAILED") for line in lines))
    assert await ea.stop() == 1
    assert "Allow DLL imports" in ea.chart[-1], ea.chart
    assert any(line.startswith("INIT FAILED 1") for line in ea.lines)
    assert not any("critical error" in line for line in ea.lines)


def _mqlpp(tree: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(KIT / "mqlpp.py"), "--lang", "mql4", str(tree),
                           str(out)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("edit", "refusal"), [
    (("#property strict\n", ""), "without '#property strict'"),
    (('#import "ws2_32.dll"', '#import "user32.dll"'),
     "import only ['advapi32.dll', 'ws2_32.dll']"),
])
def test_mqlpp_refuses_what_mql4_would_not_mean(tmp_path: Path, edit: tuple[str, str],
                                                refusal: str) -> None:
    tree = assemble(tmp_path / "src")
    target = tree / ("Experts/MTGateway.mq4" if "strict" in edit[0] else
                     "Include/MTGateway/Winsock4.mqh")
    target.write_text(target.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    done = _mqlpp(tree, tmp_path / "out")
    assert done.returncode == 2 and refusal in done.stderr, done.stderr


def test_a_wrong_dll_declaration_does_not_compile(tmp_path: Path) -> None:
    """recv declared with an int where Winsock takes the array: the kit's model of ws2_32.dll
    refuses the type (in MetaTrader the DLL would read the wrong bytes)."""
    src = tmp_path / "MQL4"
    shutil.copytree(MQL4_DIR, src)
    win = src / "Include/MTGateway/Winsock4.mqh"
    win.write_text(win.read_text(encoding="utf-8").replace(
        "int recv(int s, uchar &buf[], int len, int flags);",
        "int recv(int s, int buf, int len, int flags);"), encoding="utf-8")
    with pytest.raises(BuildError, match="the declaration of recv does not match ws2_32.dll"):
        build_ea4(src, tmp_path / "bin")


async def test_mql4_trims_into_a_copy(daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """MQL4's StringTrimLeft/Right return the trimmed copy (MQL5's trim in place): a token pasted
    with a trailing newline still authenticates, and a group filter written with spaces
    matches (both would fail with MQL5's in-place call, which trims nothing in MT4)."""
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=f" {daemon.token}\n", port=daemon.bridge.port):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        got = (await daemon.call("symbols_get", {"group": "*JPY*, BTC*"}))["result"]
        assert sorted(s["name"] for s in got) == ["BTCUSD", "USDJPY"]
        not_eur = (await daemon.call("symbols_get", {"group": "*, !EUR*"}))["result"]
        assert sorted(s["name"] for s in not_eur) == ["BTCUSD", "USDJPY"]


async def test_fragmented_reads_and_writes(
        bridge: tuple[Bridge, RecordingListener], ea4_binary: Path, tmp_path: Path) -> None:
    """recv returning one byte at a time and send writing three at a time (both allowed by
    Winsock on a non-blocking socket): frames are still cut and written whole."""
    b, _ = bridge
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=b.port,
                          quirks={"MQLSHIM_CHUNK": "1", "MQLSHIM_SEND_CHUNK": "3"}):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        symbols = await b.call(TERMINAL, "symbols_get", {}, WAIT_S)
        assert sorted(s["name"] for s in symbols) == ["BTCUSD", "EURUSD", "USDJPY"]
        account = await b.call(TERMINAL, "account_info", {}, WAIT_S)
        assert account["margin_mode"] == 2 and account["login"] == TERMINAL.login


async def test_a_gateway_that_reads_slowly_cannot_hold_the_ea4_past_its_send_budget(
        ea4_binary: Path, tmp_path: Path) -> None:
    """The MQL4 twin of the MQL5 EA's send budget: a gateway that asks for a 1 MB answer and
    reads it 4 KiB every 100 ms (a 16 KiB send buffer) takes some of it within every second,
    and still the EA gives the whole frame 5 s of its clock (one deadline around its sends and
    selects, not one per take), then drops the connection and connects again."""
    await slow_reader_cannot_hold_the_ea(ea4_binary, fixture4(tmp_path),
                                         "connection to the gateway lost while sending")


async def test_connects_once_the_gateway_is_up(ea4_binary: Path, tmp_path: Path) -> None:
    """Nothing listening: the chart says so and the EA retries (each attempt bounded by its
    connect wait, Windows retrying the refused SYN meanwhile); the gateway starts on that port
    and the EA connects by itself."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    path, _ = fixture4(tmp_path)
    listener = RecordingListener()
    async with CompiledEA(ea4_binary, path, token=TOKEN, port=port) as ea:
        await ea.wait_for_chart("gateway not reachable at 127.0.0.1:")
        assert any("Is mtgateway running?" in c and "retrying in" in c for c in ea.chart)
        late = Bridge(StaticVerifier({TOKEN: (TERMINAL, "tok-1")}), listener, port=port,
                      heartbeat=HeartbeatSettings(0.5, 1.5))
        await late.start()
        try:
            session = await late.wait_for_terminal(TERMINAL, WAIT_S)
            assert session.hello.platform == "MT4" and session.hello.ea_version == "1.3.0"
        finally:
            await late.close()


async def test_a_wrong_token_is_shown_and_retried_at_the_slowest_pace(
        daemon: Daemon, ea4_binary: Path, tmp_path: Path) -> None:
    """A token the daemon does not know is refused before any proof: the EA cannot tell that
    refusal from a squatter's, so it shows it and retries every 5 s rather than stopping."""
    path, _ = fixture4(tmp_path)
    wrong = "mtgw_" + "A" * 40
    async with CompiledEA(ea4_binary, path, token=wrong, port=daemon.bridge.port) as ea:
        await ea.wait_for_chart("refused: invalid auth token")
        assert any("refused: invalid auth token" in c and "retrying in 5.00 s" in c
                   for c in ea.chart)
    assert "EXIT sockets_open=0 winsock_refs=0" in ea.lines[-1]


async def test_a_denied_machine_says_denied(ea4_binary: Path, tmp_path: Path) -> None:
    """The MT4 EA says a denied machine is denied and no code is coming (Session4.mqh as
    Session.mqh), not "check your e-mail"."""
    path, _ = fixture4(tmp_path)
    async with world(tmp_path / "world") as w:
        token, _ = await w.issue()
        async with CompiledEA(ea4_binary, path, token=token, port=w.bridge_port) as ea:
            await ea.wait_for_chart("device verification pending: check your e-mail")
            assert await w.authority.approvals.deny(OWNER, w.daemon[DEVICE].device_id)
            await ea.wait_for_chart("refused: this machine was denied by the token's owner: "
                                    "no code is coming", timeout_s=WAIT_S * 2)


async def test_a_revoked_token_stops_with_the_reason(daemon: Daemon, ea4_binary: Path,
                                                     tmp_path: Path) -> None:
    """A token the daemon knows, revoked: the daemon proves itself, then refuses; a refusal
    from a proved daemon stops the EA with the words of docs/protocol.md §5."""
    path, _ = fixture4(tmp_path)
    assert await daemon.revoke(daemon.issued.token_id)
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await ea.wait_for_chart("stopped: token revoked")
    assert "EXIT sockets_open=0 winsock_refs=0" in ea.lines[-1]


async def test_a_lost_answer_is_settled_by_the_record(daemon: Daemon, ea4_binary: Path,
                                                      tmp_path: Path) -> None:
    """The connection breaks while the EA writes an executed order's answer: the daemon reports
    the outcome unknown; the EA reconnects, the daemon asks trade_results, and the EA's record
    (written before the answer, with the request echo) settles it exactly: RESOLVED_ACCEPTED by
    the record ("ea_map"), with the ticket, and a retry executes nothing."""
    path, _ = fixture4(tmp_path)
    async with CompiledEA(ea4_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("net fail_answer")
        error = (await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-lost"}}
                                   ))["error"]
        assert (error["code"], error["data"]["state"]) == (-32003, "UNKNOWN"), error
        async with asyncio.timeout(WAIT_S):
            while True:
                status = (await daemon.call("order_status", ["mt4-lost"]))["result"]
                if status["state"] != "UNKNOWN":
                    break
                await asyncio.sleep(50 * MS)
        [position] = (await daemon.call("positions_get"))["result"]
        assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
            "RESOLVED_ACCEPTED", position["ticket"], "ea_map")
        again = (await daemon.call("order_send", {"request": {**BUY, "client_id": "mt4-lost"}}
                                   ))["result"]
        assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
        assert (await daemon.call("positions_total"))["result"] == 1
