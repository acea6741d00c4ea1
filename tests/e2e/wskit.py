"""A WebSocket client of the daemon's ``/ws`` for the tests: it keeps notifications aside
while it waits for an answer, so a test reads calls and streams in the order it cares about.

The ``/ws`` tests, the candle tests, the token-isolation tests and the compiled EA's candle
tests all speak to the socket through it, so it lives here rather than in one of them.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType

from tests.e2e.fixtures import WAIT_S, Daemon

#: BTCUSD trades around the clock in the emulator, so some symbol always ticks (weekends too).
SYMBOLS = ["EURUSD", "USDJPY", "BTCUSD"]


class Client:
    """A WebSocket client that keeps notifications aside while it waits for answers."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.notes: deque[dict[str, Any]] = deque()
        self._rid = 0

    async def receive(self) -> dict[str, Any]:
        """The next message, whatever it is."""
        msg = await self.ws.receive(timeout=WAIT_S)
        assert msg.type is WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        obj: dict[str, Any] = orjson.loads(msg.data)
        return obj

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """Send a request; its response (notifications that arrive first are kept)."""
        self._rid += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self._rid, "method": method}
        if params is not None:
            body["params"] = params
        await self.ws.send_str(orjson.dumps(body).decode())
        while True:
            obj = await self.receive()
            if obj.get("id") == self._rid and "method" not in obj:
                return obj
            self.notes.append(obj)

    async def result(self, method: str, params: Any = None) -> Any:
        """The result of a call that must succeed."""
        response = await self.call(method, params)
        assert "result" in response, response
        return response["result"]

    async def note(self, method: str | None = None) -> dict[str, Any]:
        """The next notification (of ``method``, skipping others); its params."""
        while True:
            obj = self.notes.popleft() if self.notes else await self.receive()
            if method is None or obj.get("method") == method:
                params: dict[str, Any] = obj["params"]
                return params

    async def close_code(self) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        while True:
            msg = await self.ws.receive(timeout=WAIT_S)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return self.ws.close_code, str(msg.extra or "")


def url(daemon: Daemon) -> str:
    return f"http://127.0.0.1:{daemon.http_port}/ws"


@contextlib.asynccontextmanager
async def connect(daemon: Daemon, token: str | None = None, *,
                  header: bool = True) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token or daemon.token}"} if header else {}
    async with daemon.session.ws_connect(url(daemon), headers=headers) as ws:
        yield Client(ws)
