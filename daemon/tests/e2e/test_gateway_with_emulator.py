"""The real daemon and the real emulated terminal on loopback: the path a user's bot takes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from ea_bridge import TICK_ROW
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth import generate_token
from gateway.hub import StreamKey
from gateway.keys import HUB, TERMINALS
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, WAIT_S, Daemon

ACCOUNT_FIELDS = {
    "login", "trade_mode", "leverage", "limit_orders", "margin_so_mode", "trade_allowed",
    "trade_expert", "margin_mode", "currency_digits", "fifo_close", "balance", "credit",
    "profit", "equity", "margin", "margin_free", "margin_level", "margin_so_call",
    "margin_so_so", "margin_initial", "margin_maintenance", "assets", "liabilities",
    "commission_blocked", "name", "server", "currency", "company",
}
TICK_FIELDS = {"time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real"}


async def test_health_needs_no_token(daemon: Daemon) -> None:
    """GET /health answers without credentials."""
    async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}/health") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok" and body["service"] == "mtgateway" and body["version"]


async def test_account_info_comes_from_the_emulated_terminal(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """account_info returns the emulated account with every MT5 AccountInfo field."""
    response = await daemon.call("account_info")
    account = response["result"]
    assert set(account) == ACCOUNT_FIELDS
    assert (account["login"], account["server"], account["currency"]) == (LOGIN, SERVER, "USD")
    assert account["balance"] == account["equity"] == 10_000.0
    alias = await daemon.call("get_account_info", rid=2)
    assert alias == {"jsonrpc": "2.0", "id": 2, "result": account}


async def test_symbol_info_tick_by_name_and_position(daemon: Daemon,
                                                     emulator: EmulatedTerminal) -> None:
    """symbol_info_tick takes named or positional params and returns an MT5 Tick."""
    named = (await daemon.call("symbol_info_tick", {"symbol": "EURUSD"}))["result"]
    positional = (await daemon.call("symbol_info_tick", ["USDJPY"]))["result"]
    for tick in (named, positional):
        assert set(tick) == TICK_FIELDS and 0 < tick["bid"] < tick["ask"]
        assert tick["time"] == tick["time_msc"] // 1000
    assert positional["bid"] > 50 > named["bid"]  # a JPY pair quotes ~150, EURUSD ~1.1


async def test_call_errors_are_clear(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """Unknown symbols, wrong types, unknown params and methods each get their code."""
    cases = [
        ("symbol_info_tick", {"symbol": "NOPE"}, -32006, "NOPE"),
        ("symbol_info_tick", {"symbol": 5}, -32602, "symbol"),
        ("symbol_info_tick", {"symbol": "EURUSD", "extra": 1}, -32602, "extra"),
        ("symbol_info_tick", None, -32602, "symbol"),
        ("account_info", ["unexpected"], -32602, ""),
        ("launch_rockets", None, -32601, ""),
    ]
    for method, params, code, fragment in cases:
        error = (await daemon.call(method, params))["error"]
        assert error["code"] == code, (method, params, error)
        assert fragment in str(error.get("message", "")) + str(error.get("data", "")), error


async def test_ping_is_a_real_round_trip(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """ping reaches the EA and reports the measured round trip."""
    result = (await daemon.call("ping"))["result"]
    assert result["pong"] is True and 0 < result["ea_rtt_ms"] < WAIT_S * 1000


async def test_no_terminal_means_terminal_offline(daemon: Daemon) -> None:
    """With no EA connected, calls answer -32001 at once."""
    error = (await daemon.call("account_info"))["error"]
    assert error["code"] == -32001


async def test_ea_with_a_wrong_token_is_refused_and_nothing_is_served(daemon: Daemon) -> None:
    """An EA presenting a token the daemon does not know is refused with the reason word."""
    impostor = EmulatedTerminal(generate_token(), port=daemon.bridge.port,
                                settings=EmulatorSettings(login=LOGIN, server=SERVER))
    with pytest.raises(TerminalRefused) as info:
        await impostor.run(reconnect=False)
    assert info.value.reason == "invalid_token" and info.value.text == "invalid auth token"
    assert impostor.refusals == ["invalid_token"]
    assert (await daemon.call("account_info"))["error"]["code"] == -32001


async def test_ea_token_bound_to_another_terminal_is_refused(daemon: Daemon) -> None:
    """A valid token used by a terminal it is not bound to is refused with terminal_mismatch."""
    wrong = EmulatedTerminal(daemon.token, port=daemon.bridge.port,
                             settings=EmulatorSettings(login=999, server=SERVER))
    with pytest.raises(TerminalRefused) as info:
        await wrong.run(reconnect=True)  # not retried: the user must fix the token
    assert info.value.reason == "terminal_mismatch"


async def test_client_and_ea_tokens_must_be_the_same_record(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A second token for the same terminal cannot use the EA connected with the first."""
    other = await daemon.issue(LOGIN, SERVER)
    error = (await daemon.call("account_info", token=other.token))["error"]
    assert error["code"] == -32004 and error["data"]["reason"] == "terminal_mismatch"


async def test_ticks_stream_from_the_ea_into_the_daemon(daemon: Daemon,
                                                        emulator: EmulatedTerminal) -> None:
    """Live ticks arrive over the bridge, equal the market's, reach the daemon's stream hub
    under the EA session's key, and agree with symbol_info_tick."""
    before = (await daemon.call("symbol_info_tick", {"symbol": "BTCUSD"}))["result"]
    session = daemon.bridge.session(TERMINAL)
    assert session is not None
    arrived = asyncio.Event()
    client = daemon.app[HUB].connect(StreamKey(session.terminal, session.token_id),
                                     wake=arrived.set)
    client.subscribe("ticks", ["BTCUSD"])
    last: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(WAIT_S):
            while last is None or last["time_msc"] <= before["time_msc"]:
                await arrived.wait()
                arrived.clear()
                for frame in client.take():
                    last = orjson.loads(frame)["params"]
    finally:
        daemon.app[HUB].disconnect(client)
    assert last is not None
    market_tick = emulator.market.tick_at("BTCUSD", last["time_msc"])
    assert market_tick is not None
    assert [last[name] for name in TICK_ROW] == [
        market_tick.time_msc, market_tick.bid, market_tick.ask, market_tick.last,
        market_tick.volume, market_tick.flags, market_tick.volume_real]
    after = (await daemon.call("symbol_info_tick", {"symbol": "BTCUSD"}))["result"]
    assert after["time_msc"] >= last["time_msc"]
    state = daemon.app[TERMINALS].state(TERMINAL)
    assert state is not None and state.connected and state.events_missed == 0
    assert state.ticks_received > 0


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing_token"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_token"),
    ({"Authorization": "Bearer not-a-token"}, "malformed_token"),
    ({"Authorization": f"Bearer {generate_token()}"}, "invalid_token"),
])
async def test_bad_credentials_get_401_with_the_reason(daemon: Daemon, headers: dict[str, str],
                                                       reason: str) -> None:
    """Each credential failure is HTTP 401, code -32004 and the contract's reason word."""
    async with daemon.session.post(daemon.rpc_url, headers=headers,
                                   json={"jsonrpc": "2.0", "id": 1, "method": "ping"}) as r:
        assert r.status == 401
        body = await r.json()
    assert body["error"]["code"] == -32004 and body["error"]["data"]["reason"] == reason
    assert body["id"] is None


async def test_expired_and_revoked_tokens_are_refused(daemon: Daemon) -> None:
    """A token past its expiry or revoked is refused with token_expired / token_revoked."""
    expired = await daemon.issue(LOGIN, SERVER, expires_in_s=1)
    revoked = await daemon.issue(LOGIN, SERVER)
    await daemon.revoke(revoked.token_id)
    daemon.clock.advance(2)
    for token, reason in ((expired.token, "token_expired"), (revoked.token, "token_revoked")):
        async with daemon.session.post(
                daemon.rpc_url, headers={"Authorization": f"Bearer {token}"},
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"}) as r:
            assert r.status == 401
            assert (await r.json())["error"]["data"]["reason"] == reason


async def test_http_level_refusals(daemon: Daemon) -> None:
    """Wrong method, content type or an oversize body are refused before anything runs."""
    auth = {"Authorization": f"Bearer {daemon.token}"}
    async with daemon.session.get(daemon.rpc_url, headers=auth) as r:
        assert r.status == 405 and r.headers["Allow"] == "POST"
    async with daemon.session.post(daemon.rpc_url, data=b'{"jsonrpc":"2.0","id":1,'
                                   b'"method":"ping"}', headers={**auth,
                                   "Content-Type": "text/plain"}) as r:
        assert r.status == 415
    big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":["' + b"x" * 70_000 + b'"]}'
    async with daemon.session.post(daemon.rpc_url, data=big,
                                   headers={**auth, "Content-Type": "application/json"}) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == -32600


async def test_json_rpc_envelope_rules(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """Invalid JSON, invalid requests, notifications and batches behave as JSON-RPC 2.0 says."""
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}

    async def post(data: bytes) -> tuple[int, object]:
        async with daemon.session.post(daemon.rpc_url, data=data, headers=headers) as r:
            return r.status, (await r.json() if r.status == 200 else None)

    status, body = await post(b'{"jsonrpc":"2.0","method":"ping","id":1')
    assert status == 200 and body["error"]["code"] == -32700  # type: ignore[index]
    status, body = await post(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":NaN}')
    assert body["error"]["code"] == -32700  # type: ignore[index]
    status, body = await post(b'{"jsonrpc":"1.0","method":"ping","id":1}')
    assert body["error"]["code"] == -32600  # type: ignore[index]
    status, body = await post(b"[]")
    assert body["error"]["code"] == -32600  # type: ignore[index]
    status, body = await post(b'{"jsonrpc":"2.0","method":"ping"}')
    assert status == 204
    batch = (b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"ping"},'
             b'{"jsonrpc":"2.0","id":3,"method":"nope"}]')
    status, body = await post(batch)
    assert isinstance(body, list) and sorted(r["id"] for r in body) == [1, 3]
    too_many = b"[" + b",".join([b'{"jsonrpc":"2.0","id":1,"method":"ping"}'] * 21) + b"]"
    status, body = await post(too_many)
    assert body["error"]["code"] == -32600  # type: ignore[index]


async def test_aiohttp_client_example_from_the_demo_works(daemon: Daemon,
                                                          emulator: EmulatedTerminal) -> None:
    """The Python snippet the demo prints returns the account."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {daemon.token}"}) as s:
        r = await s.post(daemon.rpc_url, json={"jsonrpc": "2.0", "id": 1,
                                               "method": "account_info"})
        assert (await r.json())["result"]["login"] == LOGIN
