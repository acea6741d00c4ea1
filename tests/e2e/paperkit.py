"""What the paper-trading tests share: an order to send, a terminal that notes every request
the daemon sends it (so a test proves what never reached the broker), registering the test
account on paper, and the owner on a running demo's console (its API, and its live page's
stream, which says when a report was stored)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway.aio import AsyncClient
from mtgateway_console.service import AccountRegistration
from tests.e2e.consolekit import Browser
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, WAIT_S, Daemon

__all__ = ["BUY", "OwnerApi", "RecordingTerminal", "ok", "on_paper", "switched"]

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


class RecordingTerminal(EmulatedTerminal):
    """The emulated terminal, noting the method of every request the daemon sends it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.methods: list[str] = []

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        self.methods.append(method)
        super()._answer(conn, request_id, method, params)


async def on_paper(daemon: Daemon) -> None:
    """The terminal's account registered with paper trading on; the daemon's record says so."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1"), paper_trade_enabled=True))
    await daemon.cache.refresh_once()


async def ok(daemon: Daemon, method: str, params: Any = None) -> Any:
    """``method``'s result over ``/rpc`` (asserting it has one)."""
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


async def switched(client: AsyncClient, owner: OwnerApi, *, paper: bool) -> None:
    """Until the daemon says the token trades on paper (or not). The switch reaches it by the
    revocation feed's push and shows only in its answers; a daemon that stores a record
    switching its terminal's book reports that terminal at once, so it is asked again after
    each report the console stores (the live page's stream, opened before the first ask: a
    switch stored before it shows in that ask, one stored after it is followed by a report)."""
    async with owner.reports() as next_report, asyncio.timeout(WAIT_S * 3):
        while True:
            status = await client.gateway_status()
            if status is not None and status["trading"]["paper"] is paper:
                return
            await next_report()


class OwnerApi:
    """The owner on the demo's console: its API (signed in once), and its pages' session for
    the live page's stream, which says when the console stored a report of the demo's
    daemon."""

    def __init__(self, http: aiohttp.ClientSession, state: dict[str, Any]) -> None:
        self.http, self.state = http, state
        self.auth: dict[str, str] = {}
        self.pages = Browser(state["console_url"].rstrip("/"))

    async def sign_in(self) -> None:
        async with self.http.post(f"{self.state['api_url']}/auth/login", data={
                "username": self.state["owner_email"],
                "password": self.state["owner_password"]}) as r:
            assert r.status == 200
            self.auth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        signed_in = await self.pages.sign_in(self.state["owner_email"],
                                             self.state["owner_password"])
        assert signed_in.status == 303

    async def close(self) -> None:
        await self.pages.close()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.state["api_url"] + path, json=body,
                                     headers=self.auth) as r:
            return r.status, await r.json()

    @contextlib.asynccontextmanager
    async def reports(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """The live page's stream, open for the block: a function that returns once the
        console has stored the next report of the demo's daemon (its beats are skipped)."""
        async with self.pages.session.get(self.pages.base_url + "/live/stream") as stream:
            assert stream.status == 200

            async def next_report() -> None:
                while (line := await stream.content.readline()) != b"event: report\n":
                    assert line, "the live page's stream ended"
            yield next_report

    async def until(self, method: str, path: str, body: Any, done: Any) -> Any:
        """Ask until ``done(answer)``, again after each report the console stores: what the
        API answers moves only with a report of the demo's daemon, and the live page's
        stream (opened before the first ask, so no report falls between) says each."""
        async with self.reports() as next_report, asyncio.timeout(WAIT_S * 3):
            while True:
                status, answer = await self.call(method, path, body)
                if status == 200 and done(answer):
                    return answer
                await next_report()

    async def until_page(self, path: str, text: str) -> str:
        """The console page at ``path`` once it holds ``text``, asked again after each report
        the console stores (as :meth:`until`)."""
        async with self.reports() as next_report, asyncio.timeout(WAIT_S * 3):
            while True:
                page = await self.pages.get(path)
                if page.status == 200 and text in page.text:
                    return page.text
                await next_report()
