"""Fuzzing the JSON-RPC edge over real HTTP and WebSocket: random bytes, random nested JSON and
random well-formed calls of the real methods with random params. Every answer is a JSON-RPC
error object (or nothing, for a notification), never an HTTP 500 or an internal error, and the
daemon keeps answering ``/health``.

Randomness is a seeded :class:`random.Random`; the seed is in the test id, so a failure
reproduces exactly.
"""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType

from gateway.methods import method_table
from tests.e2e.fixtures import WAIT_S, Daemon

pytestmark = pytest.mark.network_edge

_CASES = 150
_METHODS = sorted(method_table())
#: Codes an answer to garbage may carry; -32603 (internal error) is a bug.
_EXPECTED_CODES = {-32700, -32600, -32601, -32602, -32001, -32006, -32004}


def _dumps(value: Any) -> bytes:
    """The standard library's encoder: orjson refuses the integers past 64 bits we send."""
    return json.dumps(value).encode()


def _scalar(rng: random.Random) -> Any:
    return rng.choice([
        None, True, False, 0, -1, 2**63, -(2**70), rng.random() * 10**rng.randint(-5, 30),
        rng.randint(-10**6, 10**6), "", "x" * rng.randint(1, 300), "\u0000\ud7ff\u202e",
        "EURUSD", "ORDER_TYPE_BUY", "TRADE_ACTION_DEAL", "TIMEFRAME_M1", "1e309", "-0"])


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 6 or roll < 0.5:
        return _scalar(rng)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["symbol", "request", "volume", "type", "ticket", "client_id", "count", "from",
            "to", "timeframe", "jsonrpc", "method", "params", "id", "position", "sl", "tp"]
    return {rng.choice(keys) if rng.random() < 0.7 else "k" + str(rng.randint(0, 99)):
            _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 4:  # nested up to orjson's own limit of 1024 levels, arrays and objects mixed
        levels = [rng.choice((b"[", b'{"a":')) for _ in range(rng.randint(30, 1023))]
        closing = b"".join(b"]" if level == b"[" else b"}" for level in reversed(levels))
        return b"".join(levels) + b"1" + closing
    if kind == 0:  # bytes of nothing in particular
        return rng.randbytes(rng.randint(0, 600))
    if kind == 1:  # JSON of any shape
        return _dumps(_value(rng))
    call: dict[str, Any] = {"jsonrpc": "2.0", "method": rng.choice(_METHODS)}
    if rng.random() < 0.9:
        call["id"] = rng.randint(0, 10**9)
    if rng.random() < 0.8:
        call["params"] = _value(rng, 1) if rng.random() < 0.3 else (
            {k: _value(rng, 2) for k in ("request", "symbol", "count", "ticket")
             if rng.random() < 0.5})
    if kind == 3:  # a batch, or a broken tail
        return (_dumps([call, _value(rng)]) if rng.random() < 0.5
                else _dumps(call)[:-rng.randint(1, 5)])
    return _dumps(call)


def _check_answer(body: bytes, payload: Any) -> None:
    entries = payload if isinstance(payload, list) else [payload]
    for entry in entries:
        assert isinstance(entry, dict) and entry.get("jsonrpc") == "2.0", (body, payload)
        if "error" in entry:
            code = entry["error"]["code"]
            assert code in _EXPECTED_CODES, (body, payload)


@pytest.mark.parametrize("seed", [8, 11])
async def test_random_bodies_get_jsonrpc_errors_over_http(daemon: Daemon, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {daemon.token}"}
    for _ in range(_CASES):
        body = _body(rng)
        async with daemon.session.post(daemon.rpc_url, data=body, headers=headers) as response:
            assert response.status in (200, 204), (body, response.status)
            if response.status == 200:
                _check_answer(body, orjson.loads(await response.read()))
    async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}/health") as response:
        assert response.status == 200


@pytest.mark.parametrize("seed", [9])
async def test_random_frames_get_jsonrpc_errors_over_ws(daemon: Daemon, seed: int) -> None:
    """The same bodies as text frames on an authenticated socket; then an unauthenticated
    socket's first frame, which must be refused (-32004, close 1008) whatever it holds."""
    rng = random.Random(seed)
    url = f"http://127.0.0.1:{daemon.http_port}/ws"
    auth = {"Authorization": f"Bearer {daemon.token}"}
    async with daemon.session.ws_connect(url, headers=auth) as ws:
        for _ in range(_CASES):
            body = _body(rng)
            await ws.send_str(body.decode("utf-8", "replace"))
            # a ping after each frame: its answer proves the socket survived the frame, and
            # the frame's own answer (if any) arrives first or after, both are checked
            await ws.send_str('{"jsonrpc":"2.0","id":"probe","method":"ping"}')
            while True:
                msg = await ws.receive(timeout=WAIT_S)
                assert msg.type is WSMsgType.TEXT, (body, msg)
                payload = orjson.loads(msg.data)
                if isinstance(payload, dict) and payload.get("id") == "probe":
                    break
                _check_answer(body, payload)
    for _ in range(20):
        body = _body(rng)
        async with daemon.session.ws_connect(url) as ws:
            await ws.send_str(body.decode("utf-8", "replace"))
            msg = await ws.receive(timeout=WAIT_S)
            assert msg.type is WSMsgType.TEXT, (body, msg)
            error = orjson.loads(msg.data)["error"]
            assert error["code"] == -32004, (body, error)
            closed = await ws.receive(timeout=WAIT_S)
            assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), (body, closed)
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
