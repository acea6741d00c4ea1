"""Fixtures that run the real daemon and the real emulated terminal on loopback, port 0.

The daemon runs in local mode: its embedded token authority (a real ``Authority`` on a SQLite
file in ``tmp_path``) issues the tokens, and the record cache's clock is a :class:`FakeClock`
so expiry and staleness are reached without sleeping.

The console's own tests share the ``console`` fixture (the console with a real SMTP server and
injected clocks, ``tests/e2e/consolekit.py``) and ``browser`` (a cookie-keeping client of its
pages); the tests that drive Chromium share ``shots``, where their screenshots go.

A kit of the workspace, not a conftest: the daemon's end-to-end tests
(``daemon/tests/e2e/``) and the console's (``console/tests/e2e/``) each take these fixtures
into their folder's ``conftest.py`` by one import.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
from aiohttp import web

from ea_bridge import Bridge, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.app import create_app
from gateway.auth import MemorySecretStore, RecordCache
from gateway.config import (
    BridgeConfig,
    GatewayConfig,
    LoggingConfig,
    ServerConfig,
    TradingConfig,
    WsConfig,
)
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, CONFIG, RECORD_CACHE
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.e2e.consolekit import Browser, Console, running_console
from tests.e2e.hookkit import Receiver, running_receiver
from tests.ownerkit import add_owner

LOGIN, SERVER = 5012345, "MTG-Demo"
TERMINAL = TerminalId(LOGIN, SERVER)
# Upper bound for things that should happen at once; on Windows a process start costs seconds
# more (and under Wine, in the Windows stage, more again), so the bound is wider there.
WAIT_S = 40.0 if sys.platform == "win32" else 10.0
#: How soon a terminal whose token was revoked must be down (terminal state, newcomer tests).
REVOCATION_BUDGET_S = 2.0
#: Short heartbeats so a hung terminal is detected quickly in real time. The dead-peer timeout
#: is ten pings: at 0.6 s a compiled EA judged a live daemon dead when the test process (the
#: daemon's own loop) could not run for 0.6 s late in a 25-minute suite on a loaded 2-core
#: machine (CI: test_tick_history_pages[compiled_ea], "no word from the gateway for 600 ms").
HEARTBEAT_INTERVAL_S, HEARTBEAT_TIMEOUT_S = 0.2, 2.0
OWNER, OWNER_PASSWORD = "owner@example.com", "correct horse battery staple"


class FakeClock:
    """Epoch seconds that only move when told to (starts at the real time)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Issued:
    """A token issued by the authority: the plaintext (shown once) and its id."""

    token: str
    token_id: str


@dataclass
class Daemon:
    """A running daemon and what a test needs to talk to it."""

    app: web.Application
    runner: web.AppRunner
    http_port: int
    bridge: Bridge
    authority: Authority
    issued: Issued
    session: aiohttp.ClientSession
    clock: FakeClock

    @property
    def token(self) -> str:
        return self.issued.token

    @property
    def cache(self) -> RecordCache:
        return self.app[RECORD_CACHE]

    async def issue(self, login: int = LOGIN, server: str = SERVER, *,
                    scopes: tuple[str, ...] = ("read", "trade"),
                    expires_in_s: int | None = None) -> Issued:
        """Issue another token of the test owner through the embedded authority."""
        issued = await self.authority.tokens.issue(OWNER, login, server, scopes=scopes,
                                            expires_in_s=expires_in_s)
        return Issued(issued.token, issued.token_id)

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token at the authority and let the daemon's cache see it (a refresh)."""
        revoked = await self.authority.tokens.revoke(OWNER, token_id)
        await self.cache.refresh_once()
        return revoked

    def scrape_headers(self) -> dict[str, str]:
        """What Prometheus sends: the scrape token from the data directory's file (none with
        ``metrics_open``, or the configured ``metrics_token``)."""
        config = self.app[CONFIG]
        token = config.server.metrics_token.get_secret_value()
        path = config.resolved_data_dir() / "metrics.token"
        if not token and path.exists():
            token = path.read_text("utf-8").strip()
        return {"Authorization": f"Bearer {token}"} if token else {}

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
                         ws: dict[str, Any] | None = None,
                         auth_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         trading: dict[str, Any] | None = None,
                         bridge: dict[str, Any] | None = None,
                         monotonic: Callable[[], float] = time.monotonic,
                         **server: Any) -> AsyncIterator[Daemon]:
    """A daemon on port 0 with a token issued; ``server`` overrides ``[server]`` settings,
    ``ws`` the ``[ws]`` ones, ``trading`` the ``[trading]`` ones, ``bridge`` the ``[bridge]``
    ones; ``auth_sleep`` is the auth throttle's delay, ``monotonic`` the daemon's monotonic
    clock (the throttle's, the 421 log's)."""
    server_settings: dict[str, Any] = {"port": 0, "request_timeout_s": WAIT_S / 2,
                                       "auth_failure_delay_s": 0.0, **server}
    config = GatewayConfig(
        data_dir=str(data_dir),
        server=ServerConfig(**server_settings),
        logging=LoggingConfig(access_log=access_log),
        ws=WsConfig(**(ws or {})),
        trading=TradingConfig(**(trading or {})),
        bridge=BridgeConfig(**{"port": 0, "heartbeat_interval_s": HEARTBEAT_INTERVAL_S,
                               "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S, **(bridge or {})}))
    clock = FakeClock()
    authority = await Authority.open(data_dir, RecordingMailer(), clock=clock)
    await add_owner(authority, OWNER, OWNER_PASSWORD, clock)
    first = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    app = create_app(config, secret_store=MemorySecretStore(), authority=authority, clock=clock,
                     sleep=auth_sleep, monotonic=monotonic)
    runner, port = await start_http(app)
    try:
        async with aiohttp.ClientSession() as session:
            yield Daemon(app, runner, port, app[BRIDGE], authority,
                         Issued(first.token, first.token_id), session, clock)
    finally:
        if runner.server is not None:  # a test may already have shut the daemon down
            await runner.cleanup()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path) as running:
        yield running


@contextlib.asynccontextmanager
async def connected_terminal(daemon: Daemon, cls: type[EmulatedTerminal] = EmulatedTerminal,
                             *, symbols: tuple[str, ...] = ("EURUSD", "USDJPY", "BTCUSD"),
                             tick_rate_hz: float = 10,
                             utc_clock_ms: Callable[[], int] | None = None,
                             **more: Any) -> AsyncIterator[EmulatedTerminal]:
    """An emulated terminal (``cls``) connected to ``daemon`` for the block's duration;
    ``more`` sets other :class:`EmulatorSettings` fields (margin mode, time zone, ...)."""
    settings = EmulatorSettings(login=LOGIN, server=SERVER, symbols=symbols,
                                tick_rate_hz=tick_rate_hz, **more)
    extra: dict[str, Any] = {} if utc_clock_ms is None else {"utc_clock_ms": utc_clock_ms}
    terminal = cls(daemon.token, port=daemon.bridge.port, settings=settings, **extra)
    task = asyncio.create_task(terminal.run())
    info = None
    try:
        info = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield terminal
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if info is not None:
            # the block is left when the daemon has seen this EA go: a block that follows
            # then waits for its own EA's handshake, not for this one's session
            await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S,
                                                       session_id=info.session_id)


@pytest.fixture
async def emulator(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    async with connected_terminal(daemon) as terminal:
        yield terminal


def demo_env(state_file: Path) -> dict[str, str]:
    """The demo's environment: its temporary directory (where it makes its own data
    directory, keys and databases) is ``tmp`` beside the state file, inside the test's own
    directory, so a demo that could not clean up leaves nothing in the machine's ``/tmp``."""
    tmp = state_file.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}


@contextlib.asynccontextmanager
async def running_demo(state_file: Path, *extra: str
                       ) -> AsyncIterator[tuple[asyncio.subprocess.Process, bytes]]:
    """``mtgateway demo`` on free ports, ready; yields the process and what it printed.
    ``extra``: more demo options (``--netting``, ``--tz-offset``, ``--start-time``). Stopped
    as an owner stops it (SIGTERM, which removes its data directory), killed only if it has
    not stopped within ``WAIT_S``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "demo", "--http-port", "0", "--bridge-port", "0",
        "--state-file", str(state_file), *extra, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=demo_env(state_file))
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(WAIT_S * 2):
            output = b""
            while b"Running." not in output:
                line = await proc.stdout.readline()
                assert line, output.decode()
                output += line
        yield proc, output
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(WAIT_S):
                    await proc.communicate()  # reads what is left: a full pipe would block it
            except TimeoutError:
                proc.kill()
                await proc.wait()


@contextlib.contextmanager
def demo_process(state_file: Path, *extra: str,
                 command: Sequence[str | Path] = (sys.executable, "-m", "gateway"),
                 ) -> Iterator[bytes]:
    """``mtgateway demo`` on free ports, ready (its state file written); yields what it printed
    up to its "Running." line. Without a loop, for a module-scoped fixture one demo serves (a
    process per test costs ~2 s). ``extra``: more demo options; ``command``: the ``mtgateway``
    command to run it with (another environment's). Waits for "Running." at most
    ``WAIT_S * 2``: the lines are read by a thread, so a silent demo fails the wait instead of
    hanging it."""
    proc = subprocess.Popen(
        [*map(str, command), "demo", "--http-port", "0", "--bridge-port", "0",
         "--state-file", str(state_file), *extra], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=demo_env(state_file))
    assert proc.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()

    def read(out: IO[bytes]) -> None:  # to the end: a full pipe would stop the demo
        for line in out:
            lines.put(line)
        lines.put(b"")
    reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        output = b""
        while b"Running." not in output:
            try:
                line = lines.get(timeout=WAIT_S * 2)
            except queue.Empty:
                raise AssertionError(
                    f"the demo said no 'Running.':\n{output.decode()}") from None
            assert line, output.decode()
            output += line
        yield output
    finally:  # as running_demo: SIGTERM, killed only if it has not stopped within WAIT_S
        proc.terminate()
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join()
        proc.stdout.close()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    """The console on loopback with a real SMTP server and injected clocks (consolekit)."""
    async with running_console(tmp_path) as running:
        yield running


@pytest.fixture
async def browser(console: Console) -> AsyncIterator[Browser]:
    """A cookie-keeping client of ``console``'s pages, signed out."""
    b = Browser(console.url)
    yield b
    await b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: ``$MTGATEWAY_SCREENSHOTS`` or the test's temporary directory."""
    path = Path(os.environ.get("MTGATEWAY_SCREENSHOTS") or tmp_path / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback that checks each alert's signature (``hookkit.py``)."""
    async with running_receiver() as got:
        yield got
