"""``[server] unix_socket``: the daemon on a 0600 UNIX socket, and both clients through it.

POSIX only by design (``gateway/unix_socket.py``: Windows is refused by the configuration, which
is tested here through the same function on any platform).
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

import mtgateway as mt5
import mtgateway.aio as amt5
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.config import GatewayConfig
from gateway.unix_socket import bind_unix, refusal, remove, start_unix
from tests.e2e.fixtures import LOGIN, WAIT_S, Daemon

posix = pytest.mark.not_on_windows("unix-socket")


def test_windows_is_refused_with_one_line_and_posix_paths_are_checked() -> None:
    """The config's check: Windows says why and what to do; a relative path is refused."""
    message = refusal("/tmp/x.sock", platform="win32")
    assert message is not None and "not offered on Windows" in message and "\n" not in message
    assert refusal(None, platform="win32") is None
    assert refusal("/run/mtgw.sock", platform="linux") is None
    assert "absolute" in (refusal("mtgw.sock", platform="linux") or "")
    with pytest.raises(ValidationError, match="not offered on Windows" if sys.platform == "win32"
                       else "absolute path"):  # Windows refuses any path, first
        GatewayConfig.model_validate({"server": {"unix_socket": "mtgw.sock"}})
    assert GatewayConfig.model_validate({}).server.unix_socket == ""  # off


@pytest.fixture
async def unix_daemon(daemon: Daemon, tmp_path: Path) -> AsyncIterator[str]:
    """The test daemon also served on a UNIX socket in a private directory."""
    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    path = str(private / "mtgw.sock")
    site = await start_unix(daemon.runner, bind_unix(path))
    try:
        yield path
    finally:
        await site.stop()
        remove(path)


@posix
async def test_the_socket_is_0600_and_serves_both_clients(
        unix_daemon: str, daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """Mode 0600; the sync and asyncio clients call and stream over http+unix://."""
    assert stat.S_IMODE(os.stat(unix_daemon).st_mode) == 0o600
    url = "http+unix://" + unix_daemon

    def run() -> tuple[int, int]:
        with mt5.Client() as client:
            assert client.initialize(token=daemon.token, url=url), client.last_error()
            info = client.account_info()
            assert info is not None
            return info.login, len(client.copy_rates_from_pos("BTCUSD", mt5.TIMEFRAME_M1, 0, 10))
    assert await asyncio.to_thread(run) == (LOGIN, 10)
    async with amt5.AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=url), client.last_error()
        info = await client.account_info()
        assert info is not None and info.login == LOGIN
        stream = client.ticks(["BTCUSD"])
        async with asyncio.timeout(WAIT_S):
            tick = await anext(stream)
        await stream.aclose()
        assert isinstance(tick, amt5.StreamTick)


@posix
def test_a_stale_socket_is_replaced_and_other_files_are_not(tmp_path: Path) -> None:
    """A dead daemon's socket file is replaced; a regular file or a live socket is refused;
    a directory others may write is refused."""
    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    path = str(private / "mtgw.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens
    live = bind_unix(path)
    try:
        with pytest.raises(OSError, match="another process is listening"):
            bind_unix(path)
    finally:
        live.close()
    remove(path)
    assert not os.path.exists(path)  # removed at shutdown
    regular = private / "file.sock"
    regular.write_text("data", encoding="utf-8")
    with pytest.raises(OSError, match="not a socket"):
        bind_unix(str(regular))
    remove(str(regular))
    assert regular.read_text(encoding="utf-8") == "data"  # never replaced, never removed
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OSError, match="writable by others"):
        bind_unix(str(shared / "mtgw.sock"))


@posix
async def test_mtgateway_run_serves_the_configured_socket(tmp_path: Path) -> None:
    """`mtgateway run` with [server] unix_socket: the file is 0600, answers /health and the
    challenge's refusal, and is removed at a clean stop."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    path = run_dir / "mtgw.sock"
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data_dir.as_posix()}"\n[server]\nport = 0\n'
                      f'unix_socket = "{path.as_posix()}"\n[bridge]\nport = 0\n'
                      '[device]\nkey_storage = "file"\n', encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        seen = b""
        async with asyncio.timeout(WAIT_S * 2):
            while b"HTTP on" not in seen:
                line = await proc.stderr.readline()
                assert line, seen.decode()
                seen += line
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        async with aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(path))) as http:
            async with http.get("http://localhost/health") as response:
                assert (await response.json())["status"] == "ok"
            async with http.post("http://localhost/auth/challenge", json={
                    "v": 2, "token_hint": "0" * 32, "client_nonce": "1" * 64}) as response:
                assert response.status == 401  # no such token: the challenge runs there too
        proc.terminate()
        async with asyncio.timeout(WAIT_S * 2):
            await proc.wait()
        assert not path.exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
