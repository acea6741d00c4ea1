"""``mtgateway run`` as a process, at its start: one daemon per data dir, ports bound before the
journal is opened, and a journal that cannot be trusted refused with one line, never forgotten.

The damaged WAL is made for real: a process writes orders into a journal and dies without
closing it (``os._exit``: no checkpoint, everything is still in the WAL), then one byte of an
early frame is flipped, as a bad sector or a torn copy would. SQLite alone would recover the
WAL up to that frame and silently drop every later commit.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp

from ea_bridge.connection import Welcomed
from gateway.app import JOURNAL_DB_NAME
from gateway.edge.listener import bind_tcp
from gateway.trading.journal import OrderJournal
from tests.bridgekit import ScriptedEA
from tests.e2e.daemonprocess import (
    LOGIN,
    SERVER,
    daemon_config,
    journal_state,
    run_daemon,
    seed_token,
    started,
)
from tests.e2e.fixtures import WAIT_S


async def _refused(config: Path) -> str:
    """Run the daemon, expecting it to refuse to start: its exit code is 1, its stderr one
    line (no traceback), returned."""
    proc = await run_daemon(config)
    try:
        async with asyncio.timeout(WAIT_S * 2):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:  # it started after all: stop it, then fail
            proc.kill()
            await proc.wait()
    text = err.decode()
    assert proc.returncode == 1, text
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    return text


_BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                        "symbol": "BTCUSD", "volume": 0.01, "type_filling": "ORDER_FILLING_IOC"}


async def test_second_daemon_on_the_data_dir_stops_at_the_lock_and_touches_nothing(
        tmp_path: Path) -> None:
    """While the first daemon has an order in flight (SENT), a second `mtgateway run` on the
    same data dir (and the same ports) exits 1 naming the first one's pid; the order is
    still SENT, and the first daemon completes it."""
    data_dir = tmp_path / "data"
    config = daemon_config(data_dir)
    token = await seed_token(data_dir)
    async with started(config) as first, aiohttp.ClientSession() as http:
        ea = ScriptedEA(token, login=LOGIN, server=SERVER)
        try:
            assert isinstance(await ea.connect(first.bridge_port), Welcomed)
            call = asyncio.create_task(http.post(
                f"http://127.0.0.1:{first.http_port}/rpc",
                json={"jsonrpc": "2.0", "id": 1, "method": "order_send",
                      "params": {"request": {**_BUY, "client_id": "in-flight"}}},
                headers={"Authorization": f"Bearer {token}"}))
            sent = await ea.next_request()
            if sent.method == "symbol_info":  # the desk looks the symbol up before a deal
                ea.respond(sent.id, {"name": "BTCUSD", "filling_mode": 2})
                sent = await ea.next_request()
            assert sent.method == "order_send" and journal_state(data_dir, "in-flight") == "SENT"
            second = daemon_config(data_dir, http_port=first.http_port,
                                   bridge_port=first.bridge_port)
            line = await _refused(second)
            assert f"in use by another mtgateway (pid {first.proc.pid})" in line
            assert journal_state(data_dir, "in-flight") == "SENT"
            ea.respond(sent.id, {"retcode": 10009, "order": 5, "deal": 6, "volume": 0.01,
                                 "price": 1.0, "bid": 1.0, "ask": 1.0, "comment": "",
                                 "request_id": 1, "retcode_external": 0,
                                 "request": sent.params["request"]})
            async with await call as response:
                result = (await response.json())["result"]
            assert (result["order"], journal_state(data_dir, "in-flight")) == (5, "ACCEPTED")
        finally:
            await ea.close()


def _journal_with_a_sent_order(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    journal = OrderJournal(data_dir / JOURNAL_DB_NAME)
    journal.open()
    row = journal.receive(token_id="tok_1", client_id="on-the-wire", terminal=f"{LOGIN}@{SERVER}",
                          params_hash="h", request={"action": 1})
    journal.mark_sent(row, {"action": 1, "comment": "g:on-the-wire"})
    journal.close()


async def test_a_port_in_use_stops_the_start_before_the_journal_is_opened(
        tmp_path: Path) -> None:
    """A daemon whose HTTP port is taken exits 1 with one line and leaves its journal as it
    was: the SENT row of the previous run is not settled by a start that did not happen."""
    data_dir = tmp_path / "data"
    _journal_with_a_sent_order(data_dir)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        line = await _refused(daemon_config(data_dir, http_port=taken.getsockname()[1]))
    assert "cannot listen on 127.0.0.1" in line
    assert journal_state(data_dir, "on-the-wire") == "SENT"


_CRASHING_WRITER = """
import os, sys
from pathlib import Path
from gateway.trading.journal import OrderJournal
journal = OrderJournal(Path(sys.argv[1]))
journal.open()
for i in range(20):
    row = journal.receive(token_id="tok_1", client_id=f"order-{i}", terminal="777@Broker-Live",
                          params_hash="h", request={"action": 1, "symbol": "BTCUSD"})
    journal.mark_sent(row, {"action": 1, "symbol": "BTCUSD", "comment": f"g:order-{i}"})
os._exit(0)  # a crash: no close, no checkpoint; every commit is only in the WAL
"""


async def _crash_after_writing(path: Path) -> None:
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", _CRASHING_WRITER,
                                                  str(path))
    assert await writer.wait() == 0


def _count_as_sqlite_would_recover(path: Path, tmp: Path) -> int:
    """How many orders SQLite alone recovers from a copy of the journal and its WAL."""
    copy = tmp / "copy.sqlite3"
    shutil.copyfile(path, copy)
    shutil.copyfile(path.with_name(path.name + "-wal"), tmp / "copy.sqlite3-wal")
    with closing(sqlite3.connect(copy)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself was in the dropped frames
            return 0


async def test_damaged_wal_after_a_crash_refuses_to_start(tmp_path: Path) -> None:
    """A WAL damaged in an early frame: SQLite would recover fewer orders than were sent;
    the daemon refuses to start with one line naming the file and the recovery step, and
    leaves the WAL as it was (the evidence of the orders in flight)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    journal = data_dir / JOURNAL_DB_NAME
    await _crash_after_writing(journal)
    wal = journal.with_name(journal.name + "-wal")
    page_size = int.from_bytes(wal.read_bytes()[8:12], "big")
    assert _count_as_sqlite_would_recover(journal, tmp_path) == 20  # a crash alone loses nothing
    damaged = bytearray(wal.read_bytes())
    damaged[32 + (24 + page_size) + 24 + page_size // 2] ^= 0xFF  # frame 2, mid-page
    wal.write_bytes(bytes(damaged))
    assert _count_as_sqlite_would_recover(journal, tmp_path) < 20  # what SQLite would forget
    line = await _refused(daemon_config(data_dir))
    assert f"the order journal {journal}" in line and "damaged write-ahead log" in line, line
    assert '"Recovering the order journal" in docs/security.md' in line
    assert wal.read_bytes() == bytes(damaged)


async def test_garbage_journal_is_a_one_line_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / JOURNAL_DB_NAME).write_bytes(b"this is not a database\n" * 200)
    (data_dir / JOURNAL_DB_NAME).chmod(0o600)  # private, as the data dir check requires
    line = await _refused(daemon_config(data_dir))
    assert "is not a usable SQLite database (file is not a database)" in line, line
    assert (data_dir / JOURNAL_DB_NAME).read_bytes() == b"this is not a database\n" * 200


async def test_locked_journal_is_a_one_line_error(tmp_path: Path) -> None:
    """Another process holding an exclusive lock on the journal (waited for 5 s, SQLite's
    busy timeout) is one line saying so, not a traceback."""
    data_dir = tmp_path / "data"
    _journal_with_a_sent_order(data_dir)
    with closing(sqlite3.connect(data_dir / JOURNAL_DB_NAME, isolation_level=None)) as locker:
        locker.execute("PRAGMA locking_mode=EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        line = await _refused(daemon_config(data_dir))
        locker.execute("ROLLBACK")
    assert "is locked by another process" in line, line
    assert journal_state(data_dir, "on-the-wire") == "SENT"  # nothing was settled


def test_ports_are_bound_on_ipv4_for_localhost() -> None:
    """The daemon binds one socket per port before it starts; for ``localhost`` (which may
    resolve to ::1 first) that is 127.0.0.1, the address EAs and clients use."""
    with bind_tcp("localhost", 0) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
