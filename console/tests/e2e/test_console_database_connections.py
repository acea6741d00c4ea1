"""``[authority] database_connections``: a console on PostgreSQL runs its transactions on as
many connections (and worker threads) as it is given, no more, and queues the rest; the setting
refuses what is not a count. The door's size itself is measured in
``docs/history/performance-notes.md`` ("The door's size at a paced rate and at cadence"); here
only that the console keeps to it.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from console.tests.dbkit import sessions
from gateway.config import AuthorityConfig, load_config
from gateway.errors import ConfigError
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.database import POOL_SIZE, Tx
from mtgateway_console.mailer import RecordingMailer
from tests.e2e.consolekit import CountingClock, Pauses
from tests.pgkit import PostgresServer
from tests.testkit import until

ASKED = 6  # transactions asked for at once, past the connections given
GIVEN = 3


def _door_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("mtgw-db-")}


async def test_a_console_runs_its_transactions_on_the_connections_it_is_given(
        tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    before = _door_threads()
    config = ConsoleFile(
        data_dir=str(tmp_path), console=ConsoleConfig(port=0),
        authority=AuthorityConfig(database_url=SecretStr(url), database_connections=GIVEN))
    app = create_console_app(config, mailer=RecordingMailer(), throttle_clock=CountingClock(),
                             sleep=Pauses())
    runner, _ = await start_console(app, "127.0.0.1", 0)
    database = app[AUTHORITY].store.database
    held = threading.Semaphore(0)
    release = threading.Event()

    def hold(tx: Tx) -> None:
        tx.execute("SELECT 1").fetchone()  # sent: the session is now inside a transaction
        held.release()
        release.wait(timeout=30)

    running = [asyncio.create_task(database.run(hold)) for _ in range(ASKED)]
    try:
        await until(lambda: database.in_flight >= ASKED)  # every one handed to the door
        for _ in range(GIVEN):
            assert await asyncio.to_thread(held.acquire, timeout=30)
        # the door starts a worker per transaction asked for until it has its size (start-up's
        # own transactions included): with more connections than GIVEN, ASKED workers would
        # be running now, each holding one
        assert len(_door_threads() - before) == GIVEN
        assert await asyncio.to_thread(sessions, url, "idle in transaction") == GIVEN
        assert database.pool_size == GIVEN
    finally:
        release.set()
        await asyncio.gather(*running)
        await runner.cleanup()
    # the three that waited ran once a worker was free
    assert [held.acquire(blocking=False) for _ in range(ASKED - GIVEN + 1)] == \
        [True] * (ASKED - GIVEN) + [False]


def test_the_default_is_the_doors_own() -> None:
    assert AuthorityConfig().database_connections == POOL_SIZE


@pytest.mark.parametrize("value, why", [
    ("0", "greater than or equal to 1"), ("65", "less than or equal to 64"),
    ("\"four\"", "a valid integer"), ("2.5", "a valid integer")])
def test_database_connections_must_be_a_count(tmp_path: Path, value: str, why: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[authority]\ndatabase_connections = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"authority.database_connections: Input should be {why}" in str(info.value)


def test_a_count_in_range_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[authority]\ndatabase_connections = 2\n", encoding="utf-8")
    assert load_config(path).authority.database_connections == 2
