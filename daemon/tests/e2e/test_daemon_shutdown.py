"""``mtgateway run`` stopped by SIGTERM with an ``order_send`` in flight on ``/ws``: the trade
finishes and its answer goes out, then the socket closes 1001 and the process exits 0 with the
order journaled as executed.

On Windows the daemon stops on Ctrl+C/Ctrl+Break instead (``stop_on_signals``), which a test
cannot send to a child without a console of its own; the shutdown path after the signal is
the same code.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from ea_bridge.connection import Welcomed
from tests.bridgekit import ScriptedEA
from tests.e2e.daemonprocess import (
    LOGIN,
    SERVER,
    daemon_config,
    journal_state,
    seed_token,
    started,
)
from tests.e2e.fixtures import WAIT_S

pytestmark = pytest.mark.not_on_windows("posix-signals")

_BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                        "symbol": "BTCUSD", "volume": 0.01, "client_id": "at-sigterm"}


async def _read_until(stream: asyncio.StreamReader, pattern: bytes) -> bytes:
    seen = b""
    while pattern not in seen:
        line = await stream.readline()
        assert line, seen.decode()
        seen += line
    return seen


async def test_sigterm_lets_a_ws_order_finish_then_closes_1001(tmp_path: Any) -> None:
    data_dir = tmp_path / "data"
    config = daemon_config(data_dir)
    token = await seed_token(data_dir)
    async with started(config) as daemon, aiohttp.ClientSession() as http:
        assert daemon.proc.stderr is not None
        ea = ScriptedEA(token, login=LOGIN, server=SERVER)
        try:
            assert isinstance(await ea.connect(daemon.bridge_port), Welcomed)
            ws = await http.ws_connect(f"ws://127.0.0.1:{daemon.http_port}/ws",
                                       headers={"Authorization": f"Bearer {token}"})
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "order_send",
                                "params": {"request": _BUY}})
            sent = await ea.next_request()
            if sent.method == "symbol_info":  # the desk looks the symbol up before a deal
                ea.respond(sent.id, {"name": "BTCUSD", "filling_mode": 2})
                sent = await ea.next_request()
            assert sent.method == "order_send" and journal_state(data_dir, "at-sigterm") == "SENT"

            daemon.proc.send_signal(signal.SIGTERM)
            # Either the daemon says it waits for the request, or (the old behaviour) the
            # socket closes under it: whichever comes first.
            draining = asyncio.create_task(_read_until(daemon.proc.stderr, b"in flight on /ws"))
            closed = asyncio.create_task(ws.receive())
            async with asyncio.timeout(WAIT_S):
                done, _ = await asyncio.wait({draining, closed},
                                             return_when=asyncio.FIRST_COMPLETED)
            assert draining in done, f"the socket closed first: {closed.result()}"
            assert closed not in done

            ea.respond(sent.id, {"retcode": 10009, "order": 42, "deal": 43, "volume": 0.01,
                                 "price": 1.0, "bid": 1.0, "ask": 1.0, "comment": "",
                                 "request_id": 1, "retcode_external": 0,
                                 "request": sent.params["request"]})
            async with asyncio.timeout(WAIT_S):
                answer = await closed
                assert answer.type is WSMsgType.TEXT, answer
                result = answer.json()["result"]
                assert (result["order"], result["client_id"]) == (42, "at-sigterm")
                close = await ws.receive()
            assert (close.type, close.data) == (WSMsgType.CLOSE, 1001)
            async with asyncio.timeout(WAIT_S):
                assert await daemon.proc.wait() == 0
        finally:
            await ea.close()
    assert journal_state(data_dir, "at-sigterm") == "ACCEPTED"
