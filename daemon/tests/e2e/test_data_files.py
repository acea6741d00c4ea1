"""The data directory is the user's alone: what the daemon creates there is 0600 whatever the
umask (SQLite's side files included), and a directory or file others could read, or a key file
that is a symbolic link, stops the daemon at start with one clear line."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.app import create_app
from gateway.config import BridgeConfig, DeviceConfig, GatewayConfig, ServerConfig
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE
from mtgateway.credential import TokenKeys, token_hint
from mtgateway_base.files import InsecurePath
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.store import load_or_create_secret
from tests.e2e.fixtures import LOGIN, OWNER, OWNER_PASSWORD, SERVER, TERMINAL, WAIT_S

pytestmark = pytest.mark.not_on_windows("posix-modes")


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _config(data_dir: Path) -> GatewayConfig:
    return GatewayConfig(data_dir=str(data_dir), server=ServerConfig(port=0),
                         bridge=BridgeConfig(port=0), device=DeviceConfig(key_storage="file"))


@contextlib.asynccontextmanager
async def _daemon(data_dir: Path) -> AsyncIterator[str]:
    """A daemon on its own data dir (file key store, embedded authority), with a token."""
    authority = await Authority.open(data_dir, RecordingMailer())
    await authority.owners.create(OWNER, OWNER_PASSWORD)
    token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
    app = create_app(_config(data_dir), authority=authority)
    runner, _ = await start_http(app)
    try:
        terminal = EmulatedTerminal(token, port=app[BRIDGE].port,
                                    settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                              symbols=("BTCUSD",)))
        task = asyncio.create_task(terminal.run())
        try:
            await app[BRIDGE].wait_for_terminal(TERMINAL, WAIT_S)
            yield token
        finally:
            await terminal.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await runner.cleanup()


def _modes(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
async def test_every_data_file_is_created_0600_whatever_the_umask(tmp_path: Path,
                                                                   mask: int) -> None:
    """With umask 0, 022 or 277, the data dir is 0700 and the authority database, the order
    journal with its live -wal and -shm, and all three key files are exactly 0600."""
    data_dir = tmp_path / "data"
    with umask(mask):
        async with _daemon(data_dir):
            modes = _modes(data_dir)
    assert {"authority.sqlite3", "orders.sqlite3", "orders.sqlite3-wal", "orders.sqlite3-shm",
            "authority-signing.key", "authority-data.key", "device.key"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


async def _first_start(data_dir: Path) -> None:
    async with _daemon(data_dir):
        pass


async def _start(data_dir: Path) -> None:
    app = create_app(_config(data_dir))
    runner, _ = await start_http(app)
    await runner.cleanup()


@pytest.mark.parametrize("name, mode, fix", [
    (".", 0o755, "chmod 700"),
    (".", 0o711, "chmod 700"),
    ("authority.sqlite3", 0o644, "chmod 600"),
    ("orders.sqlite3", 0o640, "chmod 600"),
    ("orders.sqlite3-wal", 0o644, "chmod 600"),
    ("authority-signing.key", 0o604, "chmod 600"),
    ("device.key", 0o660, "chmod 600"),
])
async def test_a_data_dir_or_file_others_can_reach_is_refused_at_start(
        tmp_path: Path, name: str, mode: int, fix: str) -> None:
    """After a first run, loosening the directory or any one data file makes the next start
    refuse, naming the path and the command that fixes it."""
    data_dir = tmp_path / "data"
    await _first_start(data_dir)
    target = data_dir if name == "." else data_dir / name
    target.touch(exist_ok=True)  # a -wal may have been checkpointed away at close
    target.chmod(mode)
    with pytest.raises(InsecurePath, match=re.escape(f"{target} ") + f".*{fix}") as caught:
        await _start(data_dir)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["device.key", "authority-signing.key", "authority-data.key"])
async def test_a_symlinked_key_file_is_refused_with_a_clear_error(tmp_path: Path,
                                                                   name: str) -> None:
    """A key file replaced by a symbolic link (even to a private file of the same user) is
    refused as a symbolic link, not with ``Too many levels of symbolic links``."""
    data_dir = tmp_path / "data"
    await _first_start(data_dir)
    key = data_dir / name
    elsewhere = tmp_path / "elsewhere.key"
    os.rename(key, elsewhere)
    key.symlink_to(elsewhere)
    with pytest.raises(InsecurePath, match="is a symbolic link") as caught:
        await _start(data_dir)
    assert "levels" not in str(caught.value)


def test_a_symlinked_secret_is_refused_by_the_authority_store(tmp_path: Path) -> None:
    """``load_or_create_secret`` does not follow a link to a private file."""
    real = tmp_path / "real.key"
    load_or_create_secret(real, 32)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(InsecurePath, match="symbolic link"):
        load_or_create_secret(link, 32)


async def test_mtgateway_run_refuses_a_readable_data_dir_with_one_line(tmp_path: Path) -> None:
    """``mtgateway run`` on a data dir the user made 0755 exits non-zero at once with a
    one-line error and no traceback, creating nothing in it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    config = tmp_path / "gateway.toml"
    config.write_text(f'data_dir = "{data_dir}"\n[server]\nport = 0\n[bridge]\nport = 0\n'
                      '[device]\nkey_storage = "file"\n', encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(WAIT_S * 2):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode != 0
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.decode(), err.decode()
    assert lines[0] == (f"error: {data_dir} is accessible to group or others (mode 755); "
                        f"refusing to use it. Run: chmod 700 {data_dir}")
    assert list(data_dir.iterdir()) == []


async def test_the_token_hash_and_hint_reach_no_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issuing a token, a client lookup, an EA handshake and a session leave neither the
    token's SHA-256, its hint nor any of its keys (client_key, stored_key, server_key) in any
    log record, at DEBUG (the keys are what a fake EA or a fake daemon would need)."""
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    async with _daemon(data_dir) as token:
        pass
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records
    keys = TokenKeys.of(token)
    for secret in (token, hashlib.sha256(token.encode()).hexdigest(), token_hint(token),
                   keys.client_key.hex(), keys.verifier.stored_key.hex(),
                   keys.verifier.server_key.hex()):
        assert secret not in text
