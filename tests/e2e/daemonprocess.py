"""``mtgateway run`` as a child process, as a user starts it: its config file
(:func:`daemon_config`), a token written into its data dir before it starts
(:func:`seed_token`), the process up to serving with the ports it printed (:func:`started`),
and an order's state read from its journal file (:func:`journal_state`).

The start-up tests and the SIGTERM shutdown test run the daemon the same way, so this lives
here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from gateway.app import JOURNAL_DB_NAME
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.e2e.fixtures import WAIT_S

LOGIN, SERVER = 777, "Broker-Live"
OWNER = "owner@example.com"


def daemon_config(data_dir: Path, *, http_port: int = 0, bridge_port: int = 0) -> Path:
    """``DATA_DIR.toml`` beside ``data_dir`` (made, owner-only): the ports, the device key in
    a file."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = data_dir.parent / f"{data_dir.name}.toml"
    config.write_text(f'data_dir = "{data_dir.as_posix()}"\n[server]\nport = {http_port}\n'
                      f'[bridge]\nport = {bridge_port}\n[device]\nkey_storage = "file"\n',
                      encoding="utf-8")
    return config


async def seed_token(data_dir: Path) -> str:
    """An owner and a token in the data dir's authority, written before the daemon starts."""
    authority = await Authority.open(data_dir, RecordingMailer())
    try:
        await authority.owners.create(OWNER, "a long password")
        return (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
    finally:
        await authority.close()


@dataclass
class Started:
    """A ``mtgateway run`` process that got as far as serving."""

    proc: asyncio.subprocess.Process
    http_port: int
    bridge_port: int


async def run_daemon(config: Path,
                     env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """``mtgateway run -c CONFIG``, its stderr piped (where it says what it listens on);
    ``env``, when given, is its whole environment (a test's own ``HOME``, say)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "run", "-c", str(config), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


@contextlib.asynccontextmanager
async def started(config: Path, env: dict[str, str] | None = None) -> AsyncIterator[Started]:
    """The daemon of ``config`` once it serves, with the ports it printed; killed on exit.
    ``env``: its whole environment, as :func:`run_daemon`."""
    proc = await run_daemon(config, env)
    assert proc.stderr is not None
    try:
        seen = b""
        async with asyncio.timeout(WAIT_S * 2):
            while b"HTTP on" not in seen:
                line = await proc.stderr.readline()
                assert line, seen.decode()
                seen += line
        bridge = re.search(rb"EA bridge listening on 127\.0\.0\.1:(\d+)", seen)
        http = re.search(rb"HTTP on 127\.0\.0\.1:(\d+)", seen)
        assert bridge and http, seen.decode()
        yield Started(proc, int(http.group(1)), int(bridge.group(1)))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def journal_state(data_dir: Path, client_id: str) -> str | None:
    """The journal's state of the order ``client_id`` (``None`` if it has none)."""
    with closing(sqlite3.connect(data_dir / JOURNAL_DB_NAME)) as db:
        row = db.execute("SELECT state FROM orders WHERE client_id=?", (client_id,)).fetchone()
    return None if row is None else str(row[0])
