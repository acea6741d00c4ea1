"""Hostile request bodies over real sockets (issue 8, item 11): a duplicate key hidden by
whitespace, JSON nested near orjson's limit, on ``/rpc`` and on an unauthenticated ``/ws``."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.e2e.fixtures import WAIT_S, Daemon

pytestmark = pytest.mark.network_edge

_HEADERS = {"Content-Type": "application/json"}


async def _post(daemon: Daemon, body: bytes) -> tuple[int, dict[str, object]]:
    async with daemon.session.post(daemon.rpc_url, data=body, headers={
            **_HEADERS, "Authorization": f"Bearer {daemon.token}"}) as response:
        return response.status, await response.json()


async def _healthy(daemon: Daemon) -> bool:
    async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}/health") as response:
        return response.status == 200 and (await response.json())["status"] == "ok"


async def test_duplicate_key_behind_whitespace_is_a_parse_error(daemon: Daemon) -> None:
    """``"volume":0.01,"volume" :0.05`` is refused whole (-32700 naming the key); the
    ``client_id`` stays unused, so nothing was journalled or sent."""
    body = (b'{"jsonrpc":"2.0","id":7,"method":"order_send","params":{"request":{'
            b'"action":"TRADE_ACTION_DEAL","type":"ORDER_TYPE_BUY","symbol":"BTCUSD",'
            b'"client_id":"dup-1","volume":0.01,"volume" :0.05}}}')
    status, answer = await _post(daemon, body)
    assert status == 200
    error = answer["error"]
    assert isinstance(error, dict)
    assert error["code"] == -32700 and "duplicate key 'volume'" in error["data"]
    lookup = await daemon.call("order_status", {"client_id": "dup-1"})
    assert lookup["error"]["code"] == -32006  # never seen


@pytest.mark.parametrize("depth", [200, 960, 1023])
async def test_deep_nesting_is_an_invalid_request_not_a_500(daemon: Daemon, depth: int) -> None:
    """Arrays nested up to orjson's own limit get a JSON-RPC -32600 with HTTP 200, not an
    HTTP 500 with a traceback; the daemon keeps serving."""
    body = (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + b"[" * depth + b"]" * depth
            + b"}")
    status, answer = await _post(daemon, body)
    assert status == 200
    error = answer["error"]
    assert isinstance(error, dict) and error["code"] == -32600
    assert "nested deeper" in str(error["data"])
    assert await _healthy(daemon)


async def test_deep_nesting_before_ws_authentication(daemon: Daemon) -> None:
    """An unauthenticated ``/ws`` whose first frame nests 1000 deep gets a JSON-RPC error and
    close 1008 like any bad first message, and the daemon stays up."""
    url = f"http://127.0.0.1:{daemon.http_port}/ws"
    async with daemon.session.ws_connect(url) as ws:
        await ws.send_str("[" * 1000 + "]" * 1000)
        msg = await ws.receive(timeout=WAIT_S)
        assert msg.type is WSMsgType.TEXT, msg
        assert msg.json()["error"]["data"]["reason"] == "missing_token"
        closing = await ws.receive(timeout=WAIT_S)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert await _healthy(daemon)
