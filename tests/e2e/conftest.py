"""Fixtures that run the real daemon and the real emulated terminal on loopback, port 0."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ea_bridge import Bridge, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.app import create_app
from gateway.auth import IssuedToken, LocalTokenStore
from gateway.config import BridgeConfig, GatewayConfig, LoggingConfig, ServerConfig
from gateway.keys import BRIDGE
from gateway.listener import start_http

LOGIN, SERVER = 5012345, "MTG-Demo"
TERMINAL = TerminalId(LOGIN, SERVER)
WAIT_S = 10.0  # upper bound for things that should happen at once
#: Short heartbeats so a hung terminal is detected quickly in real time.
HEARTBEAT_INTERVAL_S, HEARTBEAT_TIMEOUT_S = 0.2, 0.6


@dataclass
class Daemon:
    """A running daemon and what a test needs to talk to it."""

    app: web.Application
    runner: web.AppRunner
    http_port: int
    bridge: Bridge
    store: LocalTokenStore
    issued: IssuedToken
    session: aiohttp.ClientSession

    @property
    def token(self) -> str:
        return self.issued.token

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/rpc"

    async def call(self, method: str, params: Any = None, *, token: str | None = None,
                   rid: int = 1) -> dict[str, Any]:
        """POST one JSON-RPC request and return the decoded response object."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.session.post(self.rpc_url, json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            result: dict[str, Any] = await response.json()
            return result


@contextlib.asynccontextmanager
async def running_daemon(data_dir: Path, *, access_log: bool = False,
                         **server: Any) -> AsyncIterator[Daemon]:
    """A daemon on port 0 with a token issued; ``server`` overrides ``[server]`` settings."""
    server_settings: dict[str, Any] = {"port": 0, "request_timeout_s": 5.0,
                                       "auth_failure_delay_s": 0.0, **server}
    config = GatewayConfig(
        data_dir=str(data_dir),
        server=ServerConfig(**server_settings),
        logging=LoggingConfig(access_log=access_log),
        bridge=BridgeConfig(port=0, heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
                            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S))
    store = LocalTokenStore(data_dir / "tokens.sqlite3")
    issued = store.issue(login=LOGIN, server=SERVER, owner_email="owner@example.com")
    app = create_app(config, token_store=store)
    runner, port = await start_http(app)
    try:
        async with aiohttp.ClientSession() as session:
            yield Daemon(app, runner, port, app[BRIDGE], store, issued, session)
    finally:
        await runner.cleanup()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path) as running:
        yield running


@pytest.fixture
async def emulator(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    terminal = EmulatedTerminal(daemon.token, port=daemon.bridge.port, settings=EmulatorSettings(
        login=LOGIN, server=SERVER, symbols=("EURUSD", "USDJPY", "BTCUSD"), tick_rate_hz=10))
    task = asyncio.create_task(terminal.run())
    await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    yield terminal
    await terminal.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
