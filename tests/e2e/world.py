"""The auth flow's world: a real SMTP server, the console (the token authority) and the daemon
in remote mode, each an aiohttp app on its own loopback port in this process, the daemon
reaching the console through a :class:`Relay` a test can switch to tampering or replaying (a
man in the middle). The daemon's record-cache clock is a :class:`FakeClock`, so staleness and
grace pass without sleeping.

The auth-flow tests, the terminal-state tests, the browser walk, the console cluster and the
compiled EA's session tests all stand in this world, so it lives here; :func:`start_plain`,
:func:`serving` and :func:`served_port` serve any app a test starts on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.app import create_app
from gateway.auth import MemorySecretStore, RecordCache
from gateway.auth.client import RemoteAuthority
from gateway.auth.owner import OwnerConsole
from gateway.config import AuthorityConfig, BridgeConfig, GatewayConfig, ServerConfig
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, DEVICE, RECORD_CACHE
from gateway.mailsink import MailSink
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.service import Authority
from tests.e2e.fixtures import WAIT_S, FakeClock
from tests.ownerkit import add_owner

LOGIN, SERVER = 5012345, "MTG-Demo"
TERMINAL = TerminalId(LOGIN, SERVER)
OWNER, PASSWORD = "owner@example.com", "owner password 123"
#: The approval code in the mail the console sends for a new device.
MAILED_CODE = re.compile(r"device verify (\d{4} \d{4})")


class Relay:
    """Forwards HTTP to the console; with ``tamper`` on, alters every signed record passing;
    it keeps the last answer to each record path, and with ``replay`` on answers that path
    with it instead of asking the console (a network attacker replaying a captured answer)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.tamper = False
        self.replay = False
        self.captured: dict[str, bytes] = {}
        self.replayed = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if self.replay and request.path in self.captured:
            self.replayed += 1
            return web.Response(body=self.captured[request.path],
                                content_type="application/json")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.target + request.path_qs, data=await request.read(),
                headers=headers) as answer:
            body = await answer.read()
            status = answer.status
        if status == 200 and request.path.startswith("/v1/records/"):
            self.captured[request.path] = body
        if self.tamper and body:
            obj = orjson.loads(body)
            for envelope in ([obj.get("record")] if obj.get("record") else []) + \
                    list(obj.get("records", [])):
                envelope["record"]["scopes"] = ["read", "trade", "admin"]
            body = orjson.dumps(obj)
        return web.Response(status=status, body=body, content_type="application/json")


@dataclass
class World:
    """The running parts and the handles a test needs."""

    sink: MailSink
    console: web.Application
    console_runner: web.AppRunner
    console_url: str
    relay: Relay
    daemon: web.Application
    http_port: int
    clock: FakeClock
    session: aiohttp.ClientSession
    owner: OwnerConsole

    @property
    def authority(self) -> Authority:
        return self.console[AUTHORITY]

    @property
    def cache(self) -> RecordCache:
        return self.daemon[RECORD_CACHE]

    @property
    def bridge_port(self) -> int:
        return self.daemon[BRIDGE].port

    async def issue(self, login: int = LOGIN, server: str = SERVER,
                    expires_in_s: int | None = None) -> tuple[str, str]:
        """A token issued over the console's owner API: ``(token, token_id)``."""
        issued = await self.owner.issue_token(OWNER, PASSWORD, login, server,
                                              expires_in_s=expires_in_s)
        return issued.token, issued.token_id

    async def rpc(self, token: str, method: str = "account_info",
                  params: Any = None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        async with self.session.post(f"http://127.0.0.1:{self.http_port}/rpc", json=body,
                                     headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.json()

    async def ws_refusal(self, token: str) -> int:
        """Try the /ws upgrade with ``token``; the HTTP status of the refusal."""
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            async with self.session.ws_connect(f"http://127.0.0.1:{self.http_port}/ws",
                                               headers={"Authorization": f"Bearer {token}"}):
                pass
        return info.value.status

    async def ea_refusal(self, token: str, login: int = LOGIN,
                         server: str = SERVER) -> TerminalRefused:
        terminal = EmulatedTerminal(token, port=self.bridge_port,
                                    settings=EmulatorSettings(login=login, server=server,
                                                              symbols=("EURUSD",)))
        with pytest.raises(TerminalRefused) as info:
            await asyncio.wait_for(terminal.run(reconnect=False), WAIT_S)
        return info.value

    async def approve_device(self, token: str) -> str:
        """Trigger the approval mail with a lookup, read the code, verify it as the daemon's
        device (what `mtgateway device verify` sends); the code."""
        status, _ = await self.rpc(token)  # the first lookup of an unseen device mails a code
        assert status == 401
        async with asyncio.timeout(WAIT_S):
            mails = await self.sink.wait_for(1)
        codes = [m for m in (MAILED_CODE.search(mail.get_content()) for mail in mails) if m]
        assert codes
        match = codes[-1]
        device = self.daemon[DEVICE]
        async with RemoteAuthority(self.console_url, device.private_key) as client:
            assert (await client.verify_device(device.info, match.group(1))).status == "approved"
        return match.group(1)


async def start_plain(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve a test's own aiohttp app (a relay) on a loopback port: a plain site, since
    ``start_console`` serves only a console (its connection guard)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


@contextlib.asynccontextmanager
async def serving(app: web.Application, start: Any) -> AsyncIterator[tuple[web.AppRunner, int]]:
    runner, port = await start(app)
    try:
        yield runner, port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """SMTP server, console, relay and daemon (remote mode, pinned key) on loopback."""
    sink = MailSink()
    await sink.start()
    try:
        console = create_console_app(ConsoleFile(
            data_dir=str(tmp_path / "console"),
            console=ConsoleConfig(port=0, webhook_private_networks=True),
            smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none")))
        async with contextlib.AsyncExitStack() as stack:
            console_runner, console_port = await stack.enter_async_context(
                serving(console, lambda app: start_console(app, "127.0.0.1", 0)))
            console_url = f"http://127.0.0.1:{console_port}"
            await add_owner(console[AUTHORITY], OWNER, PASSWORD, time.time)
            relay = Relay(console_url)
            _, relay_port = await stack.enter_async_context(
                serving(relay.app, start_plain))
            clock = FakeClock()
            config = GatewayConfig(
                data_dir=str(tmp_path / "daemon"),
                server=ServerConfig(port=0, auth_failure_delay_s=0.0),
                bridge=BridgeConfig(port=0),
                authority=AuthorityConfig(mode="remote", url=f"http://127.0.0.1:{relay_port}",
                                          public_key=console[AUTHORITY].store.signer.key.b64))
            daemon = create_app(config, secret_store=MemorySecretStore(), clock=clock)
            _, http_port = await stack.enter_async_context(serving(daemon, start_http))
            session = await stack.enter_async_context(aiohttp.ClientSession())
            owner = OwnerConsole(console_url, console[AUTHORITY].store.signer.key)
            yield World(sink, console, console_runner, console_url, relay, daemon, http_port,
                        clock, session, owner)
    finally:
        await sink.close()


@contextlib.asynccontextmanager
async def live_terminal(w: World, token: str) -> AsyncIterator[EmulatedTerminal]:
    terminal = EmulatedTerminal(token, port=w.bridge_port,
                                settings=EmulatorSettings(symbols=("EURUSD",)))
    task = asyncio.create_task(terminal.run())
    try:
        await w.daemon[BRIDGE].wait_for_terminal(TERMINAL, WAIT_S)
        yield terminal
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
            await task


@contextlib.asynccontextmanager
async def served_port(runner_and_port: tuple[web.AppRunner, int]) -> AsyncIterator[int]:
    """The port of a started app, cleaned up on exit."""
    runner, port = runner_and_port
    try:
        yield port
    finally:
        await runner.cleanup()
