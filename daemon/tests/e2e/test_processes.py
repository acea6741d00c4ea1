"""Whole processes, as a user runs them: a killed or hung terminal, and ``mtgateway demo``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.commands import read_until
from tests.e2e.fixtures import (
    HEARTBEAT_TIMEOUT_S,
    LOGIN,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
    running_daemon,
    running_demo,
)

pytestmark = pytest.mark.not_on_windows("posix-signals")

#: A read's timeout here: a second past the heartbeat's, so a read in flight on a frozen
#: terminal that ends in -32013 was ended by its own timeout and not the heartbeat (which
#: would have dropped the session a second sooner, -32001), without waiting the suite's
#: WAIT_S / 2 for it.
REQUEST_TIMEOUT_S = HEARTBEAT_TIMEOUT_S + 1.0


class EmulatorProcess:
    """``python -m ea_bridge.emulator`` as a child process."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ea_bridge.emulator", "--bridge",
            f"127.0.0.1:{self.daemon.bridge.port}", "--login", str(LOGIN), "--server", SERVER,
            "--symbols", "EURUSD", env={**os.environ, "MTGATEWAY_TOKEN": self.daemon.token},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await self.daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path, request_timeout_s=REQUEST_TIMEOUT_S) as running:
        yield running


@pytest.fixture
async def make_emulator(daemon: Daemon) -> AsyncIterator[list[EmulatorProcess]]:
    made: list[EmulatorProcess] = []
    yield made
    for emulator in made:
        await emulator.stop()


async def test_killed_terminal_answers_offline_and_a_restart_restores_service(
        daemon: Daemon, make_emulator: list[EmulatorProcess]) -> None:
    """kill -9 of the terminal gives -32001; a new terminal process is served by the same daemon."""
    first = EmulatorProcess(daemon)
    make_emulator.append(first)
    await first.start()
    assert (await daemon.call("account_info"))["result"]["login"] == LOGIN
    first.signal(signal.SIGKILL)
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    assert (await daemon.call("account_info"))["error"]["code"] == -32001
    second = EmulatorProcess(daemon)
    make_emulator.append(second)
    await second.start()
    assert (await daemon.call("account_info"))["result"]["login"] == LOGIN


async def test_hung_terminal_is_dropped_within_the_heartbeat_timeout(
        daemon: Daemon, make_emulator: list[EmulatorProcess]) -> None:
    """A frozen terminal (SIGSTOP) is declared dead by the heartbeat; it reconnects on SIGCONT.
    While one of the daemon's requests is in flight, that request's timeout governs instead
    (an MQL EA blocked in OrderSend cannot answer pings): the read times out (-32013), not
    -32001, and the session is dropped only then."""
    emulator = EmulatorProcess(daemon)
    make_emulator.append(emulator)
    await emulator.start()
    emulator.signal(signal.SIGSTOP)
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    detected_after = loop.time() - stopped_at
    assert detected_after < HEARTBEAT_TIMEOUT_S + 1.0
    assert (await daemon.call("account_info"))["error"]["code"] == -32001
    emulator.signal(signal.SIGCONT)
    await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    assert (await daemon.call("account_info"))["result"]["login"] == LOGIN
    emulator.signal(signal.SIGSTOP)
    asked_at = loop.time()
    pending = await daemon.call("account_info")  # frozen with this read in flight
    assert pending["error"]["code"] == -32013, pending
    assert loop.time() - asked_at >= REQUEST_TIMEOUT_S - 0.1  # its own timeout, in full
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    emulator.signal(signal.SIGCONT)
    await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    assert (await daemon.call("account_info"))["result"]["login"] == LOGIN


async def test_demo_command_end_to_end(tmp_path: Path) -> None:
    """`mtgateway demo` writes its state file, serves the curl call, stops cleanly on SIGTERM
    and removes the data directory it made (its keys and databases)."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file) as (proc, output):
        assert proc.stdout is not None
        (own,) = (tmp_path / "tmp").glob("mtgateway-demo-*")  # under the TMPDIR it was given
        assert (own / "console" / "authority-signing.key").exists()
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert set(state) == {"rpc_url", "ws_url", "health_url", "bridge", "token", "login",
                              "server", "open_symbols", "pid", "console_url", "owner_email",
                              "owner_password", "api_url", "mail_url", "console_config"}
        # It holds the token and the owner's one-time password: the owner alone may read it.
        if os.name != "nt":
            assert state_file.stat().st_mode & 0o077 == 0
        assert state["owner_password"] in output.decode()
        assert state["pid"] == proc.pid and state["token"] in output.decode()
        curl_line = next(line for line in output.decode().splitlines() if "curl -s" in line)
        assert state["rpc_url"] in curl_line and "account_info" in curl_line
        async with aiohttp.ClientSession() as session:
            async with session.post(state["rpc_url"], json={"jsonrpc": "2.0", "id": 1,
                                                            "method": "account_info"},
                                    headers={"Authorization": f"Bearer {state['token']}"}) as r:
                account = (await r.json())["result"]
        assert (account["login"], account["server"]) == (state["login"], state["server"])
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT_S):
            rest = await proc.stdout.read()
            assert await proc.wait() == 0
        assert b"Stopped." in rest and b"Traceback" not in output + rest
        assert not state_file.exists() and not own.exists()


async def test_token_create_run_and_emulator_as_separate_processes(tmp_path: Path) -> None:
    """The manual path: `owner create`, `token create`, `run -c`, `emulator --token`, a call."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n[server]\nport = 0\n'
                      f'[bridge]\nport = 0\n', encoding="utf-8")
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "owner", "create", "-c", str(config), "--email",
        "owner@example.com", env={**os.environ, "MTGATEWAY_OWNER_PASSWORD": "a long password"},
        stdout=asyncio.subprocess.DEVNULL)
    assert await owner.wait() == 0
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "token", "-c", str(config), "create", "--login", "777",
        "--server", "Broker-Live", "--expires-in", "1d", stdout=asyncio.subprocess.PIPE)
    out, _ = await created.communicate()
    assert created.returncode == 0
    token = next(line.split()[1] for line in out.decode().splitlines()
                 if line.startswith("token:"))
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE)
    emulator: asyncio.subprocess.Process | None = None
    assert daemon.stderr is not None
    try:
        log = await read_until(daemon.stderr, b"HTTP on")
        assert token.encode() not in log
        bridge_port = re.search(rb"EA bridge listening on 127\.0\.0\.1:(\d+)", log)
        http_port = re.search(rb"HTTP on 127\.0\.0\.1:(\d+)", log)
        assert bridge_port and http_port
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ea_bridge.emulator", "--token", token, "--login", "777",
            "--server", "Broker-Live", "--bridge", f"127.0.0.1:{bridge_port.group(1).decode()}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await read_until(daemon.stderr, b"EA 127.0.0.1")  # the daemon logs the EA session
        url = f"http://127.0.0.1:{http_port.group(1).decode()}/rpc"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "account_info"},
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                account = (await r.json())["result"]
        assert (account["login"], account["server"]) == (777, "Broker-Live")
        daemon.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT_S):
            assert await daemon.wait() == 0
    finally:
        for proc in (emulator, daemon):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
