"""The database's door on the event loop (``gateway/authority/loopdoor.py``), on a real
PostgreSQL server, on both event loops (``network_edge``: uvloop is what the console ships
with): a transaction written as steps runs on the loop's own thread, in the round trips its
steps yield for; one that reads an answer it did not yield for is rolled back and run once
more on a worker, its writes kept once; and the workers' promises hold there too: a broken
connection replaced at no request's cost, a statement past its timeout and a paused server
each a ``DatabaseUnavailable`` within the bound, never a hang, and the connection a caller
gave up on in the middle of a statement never reused. On SQLite the same steps run on the
workers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.authority.database import Database, DatabaseUnavailable, Steps, Tx
from tests.gateway.authority.dbkit import Wire
from tests.pgkit import PostgresServer
from tests.testkit import until

pytestmark = pytest.mark.network_edge


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """This module's own server: a test pauses it."""
    with PostgresServer() as pg:
        yield pg


@pytest.fixture
async def db(server: PostgresServer) -> AsyncIterator[Database]:
    opened = Database(url=server.new_database(), pool_size=4)
    await opened.run(_create)
    yield opened
    await opened.close()


def _create(tx: Tx) -> None:
    tx.execute("CREATE TABLE IF NOT EXISTS notes (n INTEGER)")


def _noted(tx: Tx, n: int) -> Steps[tuple[int, int]]:
    """Write a note and read back how many there are: steps, one yield before the read."""
    tx.execute("INSERT INTO notes VALUES (?)", (n,))
    count = tx.execute("SELECT count(*) FROM notes")
    yield
    return int(count.fetchone()[0]), threading.get_ident()


def _noted_without_yield(tx: Tx, n: int) -> Steps[tuple[int, int]]:
    """:func:`_noted` that reads without yielding first, as a helper written for the workers
    would, deep inside a transaction of steps."""
    tx.execute("INSERT INTO notes VALUES (?)", (n,))
    count = int(tx.execute("SELECT count(*) FROM notes").fetchone()[0])
    yield
    return count, threading.get_ident()


def _backend(tx: Tx) -> Steps[int]:
    pid = tx.execute("SELECT pg_backend_pid()")
    yield
    return int(pid.fetchone()[0])


def _count(tx: Tx) -> int:
    return int(tx.execute("SELECT count(*) FROM notes").fetchone()[0])


async def test_steps_run_on_the_loop_in_the_round_trips_they_yield_for(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the event loop's own thread, no worker: ``BEGIN``, the write and the read in one
    round trip, ``COMMIT`` in the other, counted on the wire."""
    wire = Wire(tmp_path)
    traced: list[Tx] = []
    execute = Tx.execute

    def recorded(tx: Tx, sql: str, args: tuple[object, ...] = ()) -> object:
        if sql == "BEGIN":
            traced.append(tx)
            wire.begin(tx)
        return execute(tx, sql, args)

    monkeypatch.setattr(Tx, "execute", recorded)
    assert await db.run_steps(_noted, 1) == (1, threading.get_ident())
    assert (db.on_loop, db.steps_on_workers, db.handed_over) == (1, 0, 0)
    assert wire.round_trips(traced[-1]) == 2


async def test_on_sqlite_the_same_steps_run_on_the_workers(tmp_path: Path) -> None:
    db = Database(path=tmp_path / "t.sqlite3")
    await db.run(_create)
    count, thread = await db.run_steps(_noted, 1)
    assert count == 1 and thread != threading.get_ident()
    assert (db.on_loop, db.steps_on_workers, db.handed_over) == (0, 1, 0)
    await db.close()


async def test_a_read_not_yielded_for_hands_the_transaction_to_a_worker_once(
        db: Database) -> None:
    """The loop cannot wait for the answer: the transaction is rolled back there and run
    again on a worker, where the read waits. Its write is kept once, not twice."""
    count, thread = await db.run_steps(_noted_without_yield, 7)
    assert count == 1 and thread != threading.get_ident()
    assert (db.on_loop, db.steps_on_workers, db.handed_over) == (0, 1, 1)
    assert await db.run(_count) == 1
    # the connection the loop rolled back serves the next transaction of steps
    assert (await db.run_steps(_noted, 8))[0] == 2
    assert db.on_loop == 1


async def test_with_every_connection_of_the_loop_busy_the_workers_take_the_next(
        server: PostgresServer) -> None:
    """On the loop a connection stays held while the loop serves everyone else between its
    round trips: a transaction that finds none idle is not queued behind them but handed to
    the workers, which answer it while the loop's one connection still waits on a lock."""
    db = Database(url=server.new_database(), pool_size=1)
    await db.run(_create)
    assert (await db.run_steps(_noted, 0))[0] == 1
    assert (db.on_loop, db.steps_on_workers, db.handed_over) == (1, 0, 0)

    def waits_for_the_lock(tx: Tx) -> Steps[None]:
        tx.execute("SELECT pg_advisory_xact_lock(43)")
        yield

    with psycopg.connect(db.url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(43)")
        waiting = asyncio.create_task(db.run_steps(waits_for_the_lock))
        await until(lambda: _lock_waiters(db.url) == 1)
        count, thread = await db.run_steps(_noted, 1)
        assert count == 2 and thread != threading.get_ident()
        assert (db.on_loop, db.steps_on_workers, db.handed_over) == (1, 1, 0)
        assert not waiting.done()
        holder.execute("SELECT pg_advisory_unlock(43)")
        await waiting
    assert (db.on_loop, db.steps_on_workers, db.handed_over) == (2, 1, 0)
    await db.close()


def _lock_waiters(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                           "NOT granted").fetchone()
        assert row is not None
        return int(row[0])


async def test_a_failed_transaction_of_steps_is_rolled_back(db: Database) -> None:
    committed: list[str] = []

    def fails_after_its_read(tx: Tx) -> Steps[None]:
        tx.execute("INSERT INTO notes VALUES (1)")
        tx.after_commit(lambda: committed.append("never"))
        yield
        raise LookupError("refused after the read")

    with pytest.raises(LookupError, match="refused after the read"):
        await db.run_steps(fails_after_its_read)
    assert await db.run(_count) == 0 and committed == []
    assert (await db.run_steps(_noted, 2))[0] == 1


async def test_after_commit_runs_on_the_loop_once_committed(db: Database) -> None:
    seen: list[int] = []

    def announced(tx: Tx) -> Steps[None]:
        tx.execute("INSERT INTO notes VALUES (3)")
        tx.after_commit(lambda: seen.append(threading.get_ident()))
        yield

    await db.run_steps(announced)
    assert seen == [threading.get_ident()]
    assert await db.run(_count) == 1


async def test_connections_the_server_killed_cost_no_request_on_the_loop(
        db: Database) -> None:
    """Every pooled connection ended by the server (a restart, an administrator): the next
    transaction of steps finds each dead one at its first batch and runs on a fresh one."""
    pids = set(await asyncio.gather(*(db.run_steps(_backend) for _ in range(4))))
    with psycopg.connect(db.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
                      "= current_database() AND pid <> pg_backend_pid() AND "
                      "backend_type = 'client backend' AND application_name = "
                      "'mtgateway-console'")
    fresh = await db.run_steps(_backend)
    assert fresh not in pids


async def test_a_statement_past_its_timeout_on_the_loop_is_unavailable(
        server: PostgresServer) -> None:
    """A statement stuck on a lock ends at ``statement_timeout``: DatabaseUnavailable naming
    the database; the next transaction works."""
    db = Database(url=server.new_database(), statement_timeout_s=0.5, connect_timeout_s=5)

    def waits_for_the_lock(tx: Tx) -> Steps[None]:
        tx.execute("SELECT pg_advisory_xact_lock(42)")
        yield

    with psycopg.connect(db.url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(42)")
        with pytest.raises(DatabaseUnavailable, match="authority's database"):
            await db.run_steps(waits_for_the_lock)
        holder.rollback()
    assert await db.run_steps(_backend) > 0
    await db.close()


async def test_a_paused_server_is_unavailable_within_the_bound_then_served_again(
        server: PostgresServer) -> None:
    """The server stops answering (SIGSTOP) in the middle of a transaction on the loop: the
    caller hears DatabaseUnavailable within the bound (connect plus statement timeout), not
    after psycopg's own cancellation of the statement (up to 10 s more), and the loop goes
    on serving meanwhile. Once the server is back each next transaction gets its own
    answers; the stalled write never commits, and the stalled connection comes
    back only rolled back (psycopg cancelled its statement) or not at all, never with its
    answer still due."""
    db = Database(url=server.new_database(), statement_timeout_s=0.5, connect_timeout_s=0.5)
    await db.run(_create)
    await db.run_steps(_backend)
    stalled: list[int] = []

    def noted_on(tx: Tx) -> Steps[tuple[int, int]]:
        stalled.append(tx._conn.pgconn.backend_pid)  # noqa: SLF001 - which connection
        return (yield from _noted(tx, 1))

    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="did not answer within 1 s"):
            await db.run_steps(noted_on)
        waited = time.monotonic() - started
    finally:
        server.resume()
        ticker.cancel()
    assert waited < db.bound_s + 1.0  # the bound, not psycopg's cancellation after it
    assert ticks > 0  # the loop served others meanwhile
    # every answer after it is its own transaction's: the stalled one's connection came
    # back only once its statement was cancelled and rolled back, or not at all
    for n in range(2, 8):
        assert (await db.run_steps(_noted, n))[0] == n - 1  # the stalled write: never
    assert stalled
    await db.close()
