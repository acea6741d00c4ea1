"""A webhook receiver on loopback for the alert tests: it checks each request's signature as
``docs/console.md`` tells a receiver to, and keeps what came."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from tests.e2e.consolekit import WAIT_S

__all__ = ["HOOK_PATH", "Receiver", "running_receiver"]

HOOK_PATH = "/hooks/s3cr3t-path-part"


class Receiver:
    """A webhook receiver on loopback: verifies each request's ``Mtgw-Signature`` as the
    docs tell a receiver to, keeps what came, answers ``status`` (and ``location``)."""

    def __init__(self) -> None:
        self.secret = ""
        self.status = 200
        self.location = ""
        self.received: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        fields = dict(part.split("=", 1) for part in
                      request.headers.get("Mtgw-Signature", "").split(","))
        expected = hmac.new(self.secret.encode(), fields.get("t", "").encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        self.received.append({
            "verified": hmac.compare_digest(expected, fields.get("v1", "")),
            "t": fields.get("t"), "payload": json.loads(body),
            "event": request.headers.get("Mtgw-Event"),
            "delivery": request.headers.get("Mtgw-Delivery"), "path": request.path})
        self._changed.set()
        headers = {"Location": self.location} if self.location else None
        return web.Response(status=self.status, headers=headers)

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(WAIT_S):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1, port 0, at :data:`HOOK_PATH`."""
    got = Receiver()
    app = web.Application()
    app.router.add_post(HOOK_PATH, got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    got.url = f"http://127.0.0.1:{runner.addresses[0][1]}{HOOK_PATH}"
    yield got
    await runner.cleanup()
