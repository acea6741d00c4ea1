"""``GET /ws`` end to end: the real daemon, the emulated terminal, real WebSocket clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.hub import HubClient, StreamKey
from gateway.keys import HUB
from tests.e2e.fixtures import (
    LOGIN,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    connected_terminal,
    running_daemon,
)
from tests.e2e.wskit import SYMBOLS, connect, url

pytestmark = pytest.mark.network_edge

def ws_daemon(data_dir: Path, **ws: Any) -> contextlib.AbstractAsyncContextManager[Daemon]:
    """A daemon on port 0 whose ``[ws]`` settings are overridden by ``ws``."""
    return running_daemon(data_dir, ws=ws)


def terminal(daemon: Daemon, tick_rate_hz: float = 10
             ) -> contextlib.AbstractAsyncContextManager[EmulatedTerminal]:
    """An emulated terminal connected for the test's duration."""
    return connected_terminal(daemon, symbols=tuple(SYMBOLS), tick_rate_hz=tick_rate_hz)


async def test_ticks_arrive_with_consecutive_seq(daemon: Daemon,
                                                 emulator: EmulatedTerminal) -> None:
    """A ticks subscription receives tick notifications for its symbols, seq 1, 2, 3…"""
    async with connect(daemon) as client:
        sub = (await client.result("subscribe", {"channel": "ticks",
                                                 "symbols": ["BTCUSD", "EURUSD"]}))
        ticks = [await client.note("tick") for _ in range(15)]
    assert {t["subscription"] for t in ticks} == {sub["subscription"]}
    assert [t["seq"] for t in ticks] == list(range(1, 16))
    assert {t["symbol"] for t in ticks} <= {"BTCUSD", "EURUSD"}
    first = ticks[0]
    assert set(first) == {"subscription", "seq", "conflated", "symbol", "time", "time_msc",
                          "bid", "ask", "last", "volume", "flags", "volume_real"}
    assert first["time"] == first["time_msc"] // 1000 and first["ask"] >= first["bid"]


async def test_rpc_methods_and_param_errors_over_the_socket(daemon: Daemon,
                                                            emulator: EmulatedTerminal) -> None:
    """/rpc methods answer over the socket; bad subscribe params and unknown ids are -32602."""
    async with connect(daemon) as client:
        assert (await client.result("ping"))["pong"] is True
        assert (await client.result("account_info"))["login"] == LOGIN
        assert (await client.call("no_such_method"))["error"]["code"] == -32601
        for bad in ({"channel": "quotes"}, {"channel": "ticks"},
                    {"channel": "ticks", "symbols": []}, {"channel": "ticks", "symbols": "EURUSD"},
                    {"channel": "ticks", "symbols": ["EURUSD"] * 300},
                    {"channel": "trades", "symbols": ["EURUSD"]},
                    {"channel": "ticks", "symbols": ["EURUSD"], "extra": 1}):
            assert (await client.call("subscribe", bad))["error"]["code"] == -32602, bad
        assert (await client.call("unsubscribe", {"subscription": "nope"}))["error"][
            "code"] == -32602
        sid = (await client.result("subscribe", {"channel": "trades"}))["subscription"]
        assert await client.result("unsubscribe", {"subscription": sid}) is True


async def test_authenticate_by_first_message(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """Without a header, an authenticate message first unlocks the socket."""
    async with connect(daemon, header=False) as client:
        result = await client.result("authenticate", {"token": daemon.token})
        assert result["authenticated"] is True
        assert (result["login"], result["server"]) == (LOGIN, SERVER)
        await client.result("subscribe", {"channel": "ticks", "symbols": ["BTCUSD"]})
        assert (await client.note("tick"))["symbol"] == "BTCUSD"


async def test_bad_first_message_token_is_refused_with_1008(daemon: Daemon) -> None:
    """A wrong token in the authenticate message gets -32004 with the reason, then close 1008."""
    good = (await daemon.issue(LOGIN, SERVER)).token
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")  # always differs from the real token
    async with connect(daemon, header=False) as client:
        response = await client.call("authenticate", {"token": wrong})
        assert response["error"]["code"] == -32004
        assert response["error"]["data"]["reason"] in ("invalid_token", "malformed_token")
        assert (await client.close_code())[0] == 1008


async def test_a_request_before_authenticating_is_refused(daemon: Daemon) -> None:
    """Anything but authenticate as the first message is -32004 missing_token and close 1008."""
    async with connect(daemon, header=False) as client:
        response = await client.call("ping")
        assert response["error"]["data"]["reason"] == "missing_token"
        assert (await client.close_code())[0] == 1008


async def test_silent_socket_is_closed_after_the_auth_timeout(tmp_path: Path) -> None:
    """A socket that never authenticates is closed with 1008 once auth_timeout_s passes."""
    async with ws_daemon(tmp_path, auth_timeout_s=0.2) as daemon, \
            connect(daemon, header=False) as client:
        assert await client.close_code() == (1008, "auth_timeout")


async def test_bad_upgrade_header_gets_http_401(daemon: Daemon) -> None:
    """A failing Authorization header refuses the upgrade with /rpc's 401 JSON error."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
               "Authorization": "Bearer mtgw_not_a_real_token"}
    async with daemon.session.get(url(daemon), headers=headers) as response:
        assert response.status == 401
        body = await response.json()
    assert body["error"]["code"] == -32004
    assert body["error"]["data"]["reason"] == "malformed_token"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await daemon.session.ws_connect(url(daemon), headers={"Authorization": "Bearer x"})
    assert caught.value.status == 401


async def test_oversize_message_closes_with_1009(daemon: Daemon) -> None:
    """A message over 64 KiB closes the socket with 1009."""
    async with connect(daemon) as client:
        await client.ws.send_str('{"jsonrpc":"2.0","id":1,"method":"ping","params":["'
                                 + "x" * 70_000 + '"]}')
        assert (await client.close_code())[0] == 1009


async def test_binary_frame_closes_with_1003(daemon: Daemon) -> None:
    """Requests are text frames; a binary frame closes the socket with 1003."""
    async with connect(daemon) as client:
        await client.ws.send_bytes(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
        assert (await client.close_code())[0] == 1003


async def test_revoked_token_closes_on_next_message(daemon: Daemon) -> None:
    """A token revoked mid-connection closes the socket with 1008 at the next message."""
    async with connect(daemon) as client:
        await client.result("subscribe", {"channel": "trades"})
        assert await daemon.revoke(daemon.issued.token_id)
        await client.ws.send_str('{"jsonrpc":"2.0","id":9,"method":"ping"}')
        assert await client.close_code() == (1008, "token_revoked")


async def test_revoked_token_closes_a_listening_socket(tmp_path: Path) -> None:
    """A client that only listens is closed with 1008 by the periodic token re-check."""
    async with ws_daemon(tmp_path, token_recheck_s=0.1) as daemon, connect(daemon) as client:
        await client.result("subscribe", {"channel": "terminal"})
        await daemon.revoke(daemon.issued.token_id)
        assert await client.close_code() == (1008, "token_revoked")


async def test_shutdown_closes_sockets_with_1001(tmp_path: Path) -> None:
    """Stopping the daemon closes open sockets with 1001."""
    async with ws_daemon(tmp_path) as daemon, connect(daemon) as client:
        await client.result("subscribe", {"channel": "terminal"})
        cleanup = asyncio.create_task(daemon.runner.cleanup())
        assert (await client.close_code())[0] == 1001
        await asyncio.wait_for(cleanup, WAIT_S)


async def test_trades_channel_streams_broker_events(daemon: Daemon,
                                                    emulator: EmulatedTerminal) -> None:
    """An order filled at the broker reaches the trades channel as trade_event, seq 1, 2…"""
    async with connect(daemon) as client:
        sid = (await client.result("subscribe", {"channel": "trades"}))["subscription"]
        result = emulator.broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01,
                                             "type": 0, "type_filling": 1})
        assert result["retcode"] == 10009
        events = [await client.note("trade_event")]
        while events[-1]["type"] != "position_opened":
            events.append(await client.note("trade_event"))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["subscription"] for e in events} == {sid}
    deal = next(e for e in events if e["type"] == "deal_added")
    assert deal["deal"]["symbol"] == "BTCUSD" and deal["deal"]["order"] == result["order"]


async def test_terminal_channel_and_ticks_survive_an_ea_reconnect(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """The terminal channel announces the EA leaving and returning, and the same ticks
    subscription resumes with no seq gap and nothing for the client to do."""
    async with connect(daemon) as client:
        await client.result("subscribe", {"channel": "terminal"})
        tick_sub = (await client.result("subscribe", {"channel": "ticks",
                                                      "symbols": SYMBOLS}))["subscription"]
        seqs: list[int] = []

        async def status() -> dict[str, Any]:
            """The next terminal_status, recording the seq of every tick before it."""
            while True:
                obj = client.notes.popleft() if client.notes else await client.receive()
                if obj["method"] == "terminal_status":
                    return dict(obj["params"])
                assert obj["params"]["subscription"] == tick_sub
                seqs.append(obj["params"]["seq"])

        assert (await status())["connected"] is True
        while not seqs:
            seqs.append((await client.note("tick"))["seq"])
        await emulator.close()
        down = await status()
        assert down["connected"] is False and down["reason"]
        async with terminal(daemon):
            up = await status()
            while up["reason"] != "ea_connected":  # the EA's own report may come too
                up = await status()
            assert up["connected"] is True
            before = len(seqs)
            after = await client.note("tick")
    assert after["subscription"] == tick_sub
    seqs.append(after["seq"])
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > before


async def test_subscriptions_are_scoped_to_the_tokens_terminal(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A client whose token is for another terminal gets none of this terminal's ticks."""
    other = await daemon.issue(999, "Other-Broker")
    async with connect(daemon) as mine, connect(daemon, other.token) as theirs:
        await theirs.result("subscribe", {"channel": "ticks", "symbols": SYMBOLS})
        await theirs.result("subscribe", {"channel": "terminal"})
        assert (await theirs.note("terminal_status"))["connected"] is False
        await mine.result("subscribe", {"channel": "ticks", "symbols": SYMBOLS})
        for _ in range(20):
            await mine.note("tick")
        (their_client,) = daemon.app[HUB].clients(
            StreamKey(TerminalId(999, "Other-Broker"), other.token_id))
        assert their_client.frames_taken == 1 and not their_client.has_pending


# -- slow consumers -------------------------------------------------------------------------


def _client_frame(payload: bytes) -> bytes:
    """A masked text frame, as a client must send it (RFC 6455 §5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return b"\x81" + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < n:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, n - len(data)), WAIT_S)
        assert chunk, data
        data += chunk
    return data


async def _server_frame(sock: socket.socket) -> bytes:
    """The payload of the next (unmasked, unfragmented) frame the server sent."""
    head = await _recv_exactly(sock, 2)
    n = head[1] & 0x7F
    if n >= 126:
        n = int.from_bytes(await _recv_exactly(sock, 2 if n == 126 else 8), "big")
    return await _recv_exactly(sock, n)


async def _stalled_subscriber(daemon: Daemon) -> socket.socket:
    """A raw client that upgrades, subscribes to every symbol, reads up to the answer to its
    subscribe (so it is subscribed before the test goes on), and then never reads again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", daemon.http_port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{daemon.http_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {daemon.token}\r\n\r\n").encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: take nothing past the headers
        byte = await asyncio.wait_for(loop.sock_recv(sock, 1), WAIT_S)
        assert byte, head
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    await loop.sock_sendall(sock, _client_frame(orjson.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "subscribe",
         "params": {"channel": "ticks", "symbols": SYMBOLS}})))
    while orjson.loads(await _server_frame(sock)).get("id") != 1:
        pass  # a tick sent before the answer
    return sock


async def test_stalled_client_is_conflated_and_does_not_delay_others(tmp_path: Path) -> None:
    """A client that stops reading holds at most one pending tick per symbol and counts the
    dropped ones, while a healthy client on the same terminal keeps receiving without gaps."""
    async with ws_daemon(tmp_path, tick_high_water_bytes=1024, max_queued_ticks=16,
                         send_buffer_bytes=8192) as daemon, \
            terminal(daemon, tick_rate_hz=400), connect(daemon) as healthy:
        # The stalled client subscribes first (its answer read): had the healthy one been
        # first, the ticks it got meanwhile would be read below from its buffer without the
        # loop turning, none would reach the stalled client, and it would not fall behind.
        stalled_sock = await _stalled_subscriber(daemon)
        try:
            await healthy.result("subscribe", {"channel": "ticks", "symbols": SYMBOLS})
            hub = daemon.app[HUB]
            seq = 0
            stalled: list[HubClient] = []
            while not stalled or seq < 3 * stalled[0].frames_taken + 300:
                tick = await healthy.note("tick")
                assert tick["seq"] == seq + 1  # the healthy client loses nothing
                seq = tick["seq"]
                assert seq < 20_000, "the stalled client never fell behind"
                key = StreamKey(TERMINAL, daemon.issued.token_id)
                stalled = [c for c in hub.clients(key) if c.frames_taken < seq // 2]
                for client in stalled:
                    assert client.conflation_slots <= len(SYMBOLS)
                    assert client.pending_ticks <= len(SYMBOLS) + 16
            (client,) = stalled
            assert client.conflated_total > seq // 2
            assert client.pending_events == 0
        finally:
            stalled_sock.close()
