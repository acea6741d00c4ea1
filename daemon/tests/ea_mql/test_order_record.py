"""The compiled MQL5 EA's order record (protocol 1.2, issue 18 item 3; docs/protocol.md, "The
order record"): the EA says ``ea_version`` 1.2.0, records each ``order_send`` under the
daemon's ``order_key`` with the request it executed before answering, answers a key it has
seen from the record without executing again, reads the record through ``trade_results``, and
records a retcode as the server answered it (a 10012 TIMEOUT after a fill stays 10012: only
the daemon decides what it proves).

Against the real ``Bridge`` for the wire's shape, and against the real daemon for what the
record is for: a lost answer settled exactly from it (``identified_by: ea_map``), and an F1
timeout settled by the order's tag, not by the record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from ea_bridge import Bridge, EAError
from gateway.trading.reconcile import ECHO_FIELDS
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, running_daemon
from tests.testkit import MS

Bridged = tuple[Bridge, RecordingListener]

BUY: dict[str, Any] = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}
SELL: dict[str, Any] = {"action": 1, "type": 1, "symbol": "BTCUSD", "volume": 0.02}
NAMED_BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                             "symbol": "BTCUSD", "volume": 0.01}
KEY = "q5Jm0sX1cN7Yv2kTg8eLwA"
KEY2 = "Zb3_x-9QwErTyUiOpAsDfG"


async def send(b: Bridge, request: dict[str, Any], **key: str) -> dict[str, Any]:
    result: dict[str, Any] = await b.call(TERMINAL, "order_send", {"request": request, **key},
                                          WAIT_S)
    return result


async def test_the_ea_speaks_1_2_and_a_key_seen_again_is_answered_from_the_record(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """Two orders under two keys; the first key sent again is answered with the first answer
    and nothing executes; trade_results answers the keys it holds (1.2's order_keys with the
    six echoed fields of the request executed; 1.1's client_ids alike), unknown keys absent."""
    b, _ = bridge
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        session = await b.wait_for_terminal(TERMINAL, WAIT_S)
        assert session.hello.ea_version == "1.3.0"
        first = await send(b, BUY, order_key=KEY)
        assert first["retcode"] == 10009
        assert {k: first["request"][k] for k in ECHO_FIELDS} == {
            "action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0, "position": 0,
            "order": 0}
        second = await send(b, SELL, order_key=KEY2)
        assert second["retcode"] == 10009 and second["order"] != first["order"]
        assert await send(b, BUY, order_key=KEY) == first        # a duplicated delivery
        assert await send(b, SELL, client_id=KEY2) == second     # 1.1's name for the key
        positions = await b.call(TERMINAL, "positions_get", {}, WAIT_S)
        assert sorted(p["ticket"] for p in positions) == sorted([first["order"],
                                                                 second["order"]])
        assert await b.call(TERMINAL, "trade_results",
                            {"order_keys": [KEY, "never-sent", KEY2]}, WAIT_S) == {
            KEY: first, KEY2: second}
        assert await b.call(TERMINAL, "trade_results", {"client_ids": [KEY2]}, WAIT_S) == {
            KEY2: second}
        assert await b.call(TERMINAL, "trade_results", {"order_keys": []}, WAIT_S) == {}
        unkeyed = await send(b, BUY)                              # protocol 1.0: not recorded
        assert unkeyed["retcode"] == 10009
        assert len(await b.call(TERMINAL, "positions_get", {}, WAIT_S)) == 3


async def test_a_result_with_a_non_finite_number_is_answered_as_recorded(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """The terminal's result carries a number JSON cannot (a NaN price; review E5-5): the
    order executed, so the answer is the record, the number written 0 and the EA's log naming
    the field, not an error beside a record of success: trade_results and the answer agree,
    and the key again executes nothing."""
    b, _ = bridge
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("answer_nan")
        sent = await send(b, BUY, order_key=KEY)
        assert (sent["retcode"], sent["price"]) == (10009, 0.0)
        assert await b.call(TERMINAL, "trade_results", {"order_keys": [KEY]}, WAIT_S) == {
            KEY: sent}
        assert await send(b, BUY, order_key=KEY) == sent
        assert len(await b.call(TERMINAL, "positions_get", {}, WAIT_S)) == 1
    assert any("non-finite" in line and "'price'" in line for line in ea.lines), ea.lines[-20:]


@pytest.mark.parametrize(("method", "params", "names"), [
    ("order_send", {"request": BUY, "order_key": 5}, "order_key: expected a string"),
    ("order_send", {"request": BUY, "order_key": ""}, "order_key: expected 1 to 64"),
    ("order_send", {"request": BUY, "order_key": "k" * 65}, "order_key: expected 1 to 64"),
    ("order_send", {"request": BUY, "client_id": ["k"]}, "client_id: expected a string"),
    ("trade_results", {}, "order_keys: missing"),
    ("trade_results", {"order_keys": KEY}, "order_keys: expected an array of strings"),
    ("trade_results", {"order_keys": [KEY, 7]}, "order_keys: expected an array of strings"),
    ("trade_results", {"client_ids": None}, "order_keys: missing"),
    ("trade_results", {"keys": [KEY]}, "unexpected keyword argument 'keys'"),
])
async def test_a_bad_key_is_refused_naming_it_and_nothing_executes(
        bridge: Bridged, ea_binary: Path, tmp_path: Path, method: str, params: dict[str, Any],
        names: str) -> None:
    b, _ = bridge
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port):
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        with pytest.raises(EAError) as info:
            await b.call(TERMINAL, method, params, WAIT_S)
        assert info.value.code == -32602 and names in info.value.message, info.value
        assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 0


async def test_a_timeout_after_the_fill_is_recorded_as_answered(
        bridge: Bridged, ea_binary: Path, tmp_path: Path) -> None:
    """The server answers 10012 TIMEOUT though the deal was made: the answer and the record
    say 10012 (F1: the EA does not guess; the daemon treats it as proving nothing)."""
    b, _ = bridge
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("answer_next 10012")
        answered = await send(b, BUY, order_key=KEY)
        assert answered["retcode"] == 10012
        assert await b.call(TERMINAL, "trade_results", {"order_keys": [KEY]}, WAIT_S) == {
            KEY: answered}
        assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 1


# ---- through the real daemon -------------------------------------------------------------------

@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """The real daemon reconciling every 0.2 s."""
    async with running_daemon(tmp_path, trading={"reconcile_interval_s": 0.2}) as running:
        yield running


async def _settled(daemon: Daemon, client_id: str) -> dict[str, Any]:
    """order_status once the row has left UNKNOWN (the periodic pass settles it)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            status: dict[str, Any] = (await daemon.call("order_status", [client_id]))["result"]
            if status["state"] != "UNKNOWN":
                return status
            await asyncio.sleep(50 * MS)


async def test_a_lost_answer_is_settled_from_the_record(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """The connection breaks as the EA sends order_send's answer: the bot hears the outcome is
    unknown; on the next session the daemon asks the record, which settles the order exactly
    (identified_by ea_map; an EA without a record leaves it to the order's shape)."""
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control('net fail_send_with "retcode":')
        error = (await daemon.call("order_send", {"request": {**NAMED_BUY,
                                                              "client_id": "lost-1"}}))["error"]
        assert (error["code"], error.get("data", {}).get("state")) == (-32003, "UNKNOWN"), error
        status = await _settled(daemon, "lost-1")
        [position] = (await daemon.call("positions_get"))["result"]
        assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
            "RESOLVED_ACCEPTED", position["ticket"], "ea_map")


async def test_a_timeout_with_a_fill_is_settled_by_the_ticket_the_record_names(
        daemon: Daemon, ea_binary: Path, tmp_path: Path) -> None:
    """F1 through the compiled EA: 10012 after the fill is -32003; the record's retcode (10012)
    settles nothing, but the order ticket it names is found at the broker (a deal of it), so
    the position is found though the order carries no tag (issue 33: orders go as written);
    a retry executes nothing."""
    path, _ = make_fixture(tmp_path, live_ticks=0)
    async with CompiledEA(ea_binary, path, token=daemon.token, port=daemon.bridge.port) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.control("answer_next 10012")
        error = (await daemon.call("order_send", {"request": {**NAMED_BUY,
                                                              "client_id": "f1-1"}}))["error"]
        assert (error["code"], error.get("data", {}).get("state")) == (-32003, "UNKNOWN"), error
        assert "10012" in error["message"]
        status = await _settled(daemon, "f1-1")
        [position] = (await daemon.call("positions_get"))["result"]
        assert (position["comment"], position["magic"]) == ("", 0)
        assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
            "RESOLVED_ACCEPTED", position["ticket"], "ea_map")
        again = (await daemon.call("order_send", {"request": {**NAMED_BUY,
                                                              "client_id": "f1-1"}}))["result"]
        assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
        assert (await daemon.call("positions_total"))["result"] == 1
