"""The authority's database door (``mtgateway_console/database/``) on a real SQLite file and
a real PostgreSQL server: every transaction runs on the database's workers, never on the event
loop; pooled connections are reused and a connection the server killed costs no request;
statements keep a literal ``?`` or ``%``; a statement that outlives its timeout is
``DatabaseUnavailable``, not a hang; on PostgreSQL statements travel in batches, their round
trips counted on the wire, and a check of a queued statement still rolls its transaction back.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import functools
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.tests.dbkit import Wire, sessions
from mtgateway_console.database import (
    Cursor,
    Database,
    DatabaseUnavailable,
    Timing,
    TransactionOnLoop,
    Tx,
    postgres_text,
    transaction_name,
)
from mtgateway_console.database.workers import Job
from tests.pgkit import PostgresServer
from tests.testkit import until


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    """A fresh database on the run's PostgreSQL server."""
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database on either engine, closed at the end."""
    if request.param == "sqlite":
        opened = Database(path=tmp_path / "t.sqlite3")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        opened = Database(url=server.new_database())
    yield opened
    await opened.close()


def _backend(tx: Tx) -> int:
    return int(tx.execute("SELECT pg_backend_pid()").fetchone()[0])


async def _settles_at(url: str, expected: int) -> int:
    """The session count once it reaches ``expected``: a closed connection's server process
    leaves ``pg_stat_activity`` a moment after the client hung up (bounded, then the count)."""
    await until(lambda: sessions(url) == expected)
    return expected


def _thread_of(tx: Tx) -> int:
    return threading.get_ident()


async def test_every_transaction_runs_off_the_event_loop(db: Database) -> None:
    """The door's workers run the function; the loop's thread never does."""
    threads = {await db.run(_thread_of) for _ in range(5)}
    assert threading.get_ident() not in threads


async def test_a_transaction_started_on_the_loop_is_refused(db: Database) -> None:
    """The guard under the door: a transaction that bypassed it (run on a thread that runs an
    event loop) is refused before it takes a connection."""
    from mtgateway_console.database.workers import Job  # the door's own: nothing else makes one

    job = Job(_thread_of, (), {}, asyncio.get_running_loop(), True)
    with pytest.raises(TransactionOnLoop, match="_thread_of"):
        db._execute(job)


async def test_the_door_times_each_transaction_and_its_wait_for_a_worker(
        tmp_path: Path) -> None:
    """Issue 35 item 6 (the console's database metrics): ``Database.timed`` hears, on the
    worker, how long each transaction waited for a worker and how long it ran; one queued
    behind a held transaction (SQLite: one worker) waited at least as long as it was held
    after it was asked for, and the held one ran at least as long as it was held."""
    db = Database(path=tmp_path / "t.sqlite3")
    heard: list[tuple[str, float, float]] = []
    db.timed = lambda t: heard.append((threading.current_thread().name, t.waited_s, t.ran_s))
    held, release = threading.Event(), threading.Event()

    def hold(tx: Tx) -> None:
        tx.execute("SELECT 1")
        held.set()
        release.wait(timeout=30)

    first = asyncio.create_task(db.run(hold))
    assert await asyncio.to_thread(held.wait, 30)
    held_at = time.perf_counter()
    second = asyncio.create_task(db.run(_thread_of))
    await until(lambda: db.in_flight == 2)  # the second is asked for, and queued
    asked_by = time.perf_counter()
    released_at = time.perf_counter()
    release.set()
    await asyncio.gather(first, second)
    await db.close()
    assert [name.startswith("mtgw-db-") for name, _, _ in heard] == [True, True]
    (_, _, first_ran), (_, second_waited, second_ran) = heard
    assert first_ran >= released_at - held_at
    assert second_waited >= released_at - asked_by
    assert second_ran >= 0


def _create(tx: Tx) -> None:
    tx.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")


def _literals(tx: Tx, value: str) -> list[object]:
    """A ``?`` and a ``%`` inside literals, a placeholder beside them, and a comment."""
    row = tx.execute("SELECT 'what? 100%', ? -- a comment? 50%\n, 'it''s ?'",
                     (value,)).fetchone()
    return list(row)


async def test_literal_question_marks_and_percent_signs_stay_literal(db: Database) -> None:
    """One statement text, both engines: the values go as the driver's parameters."""
    assert await db.run(_literals, "x%?") == ["what? 100%", "x%?", "it's ?"]


def test_the_postgres_text_of_a_statement() -> None:
    """Placeholders outside literals become %s; every % is escaped; what the lexer does not
    follow is refused rather than translated wrong."""
    assert postgres_text("SELECT a FROM t WHERE b = ? AND c LIKE '%?%' AND \"d?\" = ?") \
        == "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%' AND \"d?\" = %s"
    assert postgres_text("SELECT 5 % ? /* ? % */") == "SELECT 5 %% %s /* ? %% */"
    for refused in ("SELECT E'\\\\'' ?", "SELECT $$?$$", "SELECT 'open"):
        with pytest.raises(ValueError):
            postgres_text(refused)


def _fail_after_insert(tx: Tx, k: int) -> None:
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))
    raise RuntimeError("the caller's own failure")


def _insert_twice(tx: Tx, k: int) -> None:
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))


def _count(tx: Tx) -> int:
    return int(tx.execute("SELECT count(*) FROM t").fetchone()[0])


async def test_a_failed_transaction_is_rolled_back(db: Database) -> None:
    """The function's exception reaches the caller, and nothing it wrote stays."""
    await db.run(_create)
    with pytest.raises(RuntimeError, match="own failure"):
        await db.run(_fail_after_insert, 1)
    with pytest.raises(db.integrity_errors):
        await db.run(_insert_twice, 2)
    assert await db.run(_count) == 0


async def test_after_commit_runs_on_the_loop_after_the_commit(db: Database) -> None:
    """What a transaction announces is announced on the loop, and only if it committed."""
    await db.run(_create)
    seen: list[int] = []

    def announce(tx: Tx, k: int, fail: bool) -> None:
        tx.execute("INSERT INTO t (k) VALUES (?)", (k,))
        tx.after_commit(lambda: seen.append(threading.get_ident()))
        if fail:
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await db.run(announce, 1, True)
    assert seen == []
    await db.run(announce, 2, False)
    assert seen == [threading.get_ident()]


async def test_transactions_reuse_pooled_connections(url: str) -> None:
    """Twenty transactions one after another fork no server process each: they share the
    pool's (one, and a second the pool may open while the first is being made)."""
    db = Database(url=url)
    pids = {await db.run(_backend) for _ in range(20)}
    assert len(pids) <= 2 and sessions(url) <= 2
    await db.close()
    assert await _settles_at(url, 0) == 0


async def test_connections_the_server_killed_cost_no_request(url: str) -> None:
    """The server ends every pooled connection (as a restart, or an administrator, would):
    the next transaction finds each dead one at its first statement, before anything was
    committed, and runs again on a fresh one."""
    db = Database(url=url, pool_size=4)
    barrier = threading.Barrier(4)

    def hold(tx: Tx) -> int:
        pid = _backend(tx)
        barrier.wait(timeout=30)  # four workers at once hold four connections
        return pid

    pids = await asyncio.gather(*(db.run(hold) for _ in range(4)))
    assert len(set(pids)) == 4 and sessions(url) == 4
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
                      "= current_database() AND pid <> pg_backend_pid() AND "
                      "backend_type = 'client backend'")
    await _settles_at(url, 0)
    fresh = await db.run(_backend)
    assert fresh not in pids
    await db.close()


def test_a_door_without_a_connection_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="at least one connection, not 0"):
        Database(url=url, pool_size=0)


async def test_the_pool_holds_at_most_its_size(url: str) -> None:
    db = Database(url=url, pool_size=2)
    held = threading.Semaphore(0)
    release = threading.Event()

    def hold(tx: Tx) -> None:
        tx.execute("SELECT 1")
        held.release()
        release.wait(timeout=30)

    running = [asyncio.create_task(db.run(hold)) for _ in range(5)]
    for _ in range(2):
        await asyncio.to_thread(held.acquire, timeout=30)
    assert sessions(url) == 2  # two workers, two connections; three transactions queued
    release.set()
    await asyncio.gather(*running)
    # (the first count's own session may still be leaving ``pg_stat_activity``: a pool past
    # its size would keep its third connection, and this would time out)
    await until(lambda: sessions(url) <= 2, step_s=0.1)
    await db.close()


def _wait_for_lock(tx: Tx) -> None:
    tx.execute("SELECT pg_advisory_xact_lock(42)")


async def test_a_statement_past_its_timeout_is_unavailable_not_a_hang(url: str) -> None:
    """A statement stuck on a lock ends at ``statement_timeout``: the caller hears
    DatabaseUnavailable naming the database, and the next transaction works."""
    db = Database(url=url, statement_timeout_s=0.5, connect_timeout_s=5)
    with psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(42)")  # held until the block ends
        with pytest.raises(DatabaseUnavailable, match="authority's database"):
            await db.run(_wait_for_lock)
        holder.rollback()
    assert await db.run(_backend) > 0
    await db.close()


async def test_a_caller_waits_at_most_the_bound(tmp_path: Path) -> None:
    """On SQLite, a file another process holds locked: the caller gets DatabaseUnavailable
    after the busy timeout, and the door's worker is free again afterwards."""
    path = tmp_path / "t.sqlite3"
    db = Database(path=path, statement_timeout_s=0.2, connect_timeout_s=0.2)
    await db.run(_create)
    import sqlite3

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await db.run(_insert_twice, 1)
    assert time.monotonic() - started < 30  # bounded, never a hang
    holder.execute("ROLLBACK")
    holder.close()
    assert await db.run(_count) == 0
    await db.close()


async def test_a_caller_past_its_bound_is_told_where_the_time_went(tmp_path: Path) -> None:
    """A caller that stopped waiting hears where its transaction was: running on the worker
    (and for how long), or queued behind it. A Windows run once failed with only "did not
    answer within 10 s" for a one-row read, which could not tell a busy worker from a stuck
    statement or an answer the loop never saw."""
    db = Database(path=tmp_path / "t.sqlite3", statement_timeout_s=0.1, connect_timeout_s=0.1)
    await db.run(_create)
    started, release = threading.Event(), threading.Event()

    def held(tx: Tx) -> None:
        started.set()
        assert release.wait(30)

    running = asyncio.create_task(db.run(held))
    assert await asyncio.to_thread(started.wait, 30)
    with pytest.raises(DatabaseUnavailable,
                       match=r"did not answer _count within 0.2 s: it waited [0-9.]+ s for a "
                             r"worker, every one busy"):
        await db.run(_count)
    with pytest.raises(DatabaseUnavailable,
                       match=r"did not answer .*held within 0.2 s: it had run [0-9.]+ s "
                             r"\(after [0-9.]+ s waiting for a worker\)"):
        await running
    release.set()
    assert await db.run(_count) == 0  # the worker is free again
    await db.close()


async def test_a_job_done_by_its_worker_but_unseen_says_so() -> None:
    """The third place the time can go: the worker finished, the loop never took the answer
    (it was not woken, or was busy) — said with the figures of each step."""
    job = Job(_count, (), {}, asyncio.get_running_loop(), True)
    job.asked, job.started, job.ended = 100.0, 100.5, 101.0
    assert job.whereabouts(110.0) == ("its worker was done 9.00 s before, after 0.50 s "
                                      "waiting and 0.50 s running: the answer had not "
                                      "reached the event loop")


async def test_close_waits_for_the_transaction_under_way(db: Database) -> None:
    """``close`` returns only once the transaction a worker is running has ended, so nothing
    writes to the database's files afterwards (a SQLite journal appearing after a console's
    shutdown removed its directory failed a test run); the transaction commits."""
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow(tx: Tx) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS waited (x INTEGER)")
        started.set()
        assert release.wait(30)
        tx.execute("INSERT INTO waited VALUES (1)")
        order.append("transaction ended")

    running = asyncio.create_task(db.run(slow))
    assert await asyncio.to_thread(started.wait, 30)
    closing = asyncio.create_task(db.close())
    closing.add_done_callback(lambda _: order.append("closed"))
    for _ in range(10):  # the loop turns; a close that does not wait is done by now
        await asyncio.sleep(0)
    assert not closing.done()
    release.set()
    await closing
    await running
    assert order == ["transaction ended", "closed"]
    assert await db.run(lambda tx: tx.execute("SELECT count(*) FROM waited").fetchone()[0]) == 1


def _traced(monkeypatch: pytest.MonkeyPatch, wire: Wire, seen: list[Tx]) -> None:
    """Trace every transaction on the wire from its ``BEGIN`` (``seen``: in order)."""
    execute = Tx.execute

    def traced(tx: Tx, sql: str, args: Sequence[Any] = ()) -> Cursor:
        if sql == "BEGIN":
            wire.begin(tx)
            seen.append(tx)
        return execute(tx, sql, args)

    monkeypatch.setattr(Tx, "execute", traced)


def _writes_around_a_read(tx: Tx, first: int) -> int:
    tx.execute("INSERT INTO t (k) VALUES (?)", (first,))
    tx.execute("INSERT INTO t (k) VALUES (?)", (first + 1,))
    counted = int(tx.execute("SELECT count(*) FROM t").fetchone()[0])
    tx.execute("INSERT INTO t (k) VALUES (?)", (first + 2,))
    tx.execute("UPDATE t SET v = 'seen' WHERE k = ?", (first,))
    return counted


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "one-by-one"])
async def test_a_transaction_waits_for_the_server_at_its_reads_and_its_commit_only(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: bool) -> None:
    """Counted on the wire (libpq's trace): a transaction of four writes around one read
    takes two round trips in batches (``BEGIN``, two writes and the read; two writes and
    ``COMMIT``), seven with each statement sent alone (the door before batches); both store
    the same rows."""
    db = Database(url=url, batch=batch)
    await db.run(_create)
    seen: list[Tx] = []
    wire = Wire(tmp_path)
    _traced(monkeypatch, wire, seen)
    assert await db.run(_writes_around_a_read, 10) == 2
    assert wire.round_trips(seen[-1]) == (2 if batch else 7)
    assert await db.run(_count) == 4 - 1  # the read saw two rows, the commit kept three
    await db.close()


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "one-by-one"])
async def test_each_transaction_is_timed_by_name_with_the_round_trips_on_the_wire(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: bool) -> None:
    """``Database.timed`` hears each transaction by its function's name, and the round trips
    it reports are the ones libpq's trace counts on the wire (2 in batches, 7 one by one)."""
    db = Database(url=url, batch=batch)
    await db.run(_create)
    heard: list[Timing] = []
    db.timed = heard.append
    seen: list[Tx] = []
    wire = Wire(tmp_path)
    _traced(monkeypatch, wire, seen)
    await db.run(_writes_around_a_read, 10)
    await db.close()
    [timing] = heard
    assert timing.name == "_writes_around_a_read"
    assert timing.round_trips == wire.round_trips(seen[-1]) == (2 if batch else 7)


class _Named:
    def method(self, tx: Tx) -> int:
        return 1

    def closure(self) -> Callable[[Tx], int]:
        def inner(tx: Tx) -> int:
            return 2
        return inner


async def test_a_transaction_is_named_by_its_function(db: Database) -> None:
    """A method is ``Class.method``, a function defined in another ``outer.inner`` (no
    ``<locals>``), a partial its function's; on SQLite no round trip is counted."""
    heard: list[Timing] = []
    db.timed = heard.append
    named = _Named()
    await db.run(named.method)
    await db.run(named.closure())
    await db.run(_create)
    await db.run(functools.partial(_writes_around_a_read, first=20))
    assert [t.name for t in heard] == ["_Named.method", "_Named.closure.inner", "_create",
                                       "_writes_around_a_read"]
    assert transaction_name(functools.partial(named.method)) == "_Named.method"
    if not db.postgres:
        assert {t.round_trips for t in heard} == {0}


def _verbs(tx: Tx) -> tuple[int, Any, Any, list[Any]]:
    changed = tx.changes("INSERT INTO t (k, v) VALUES (?, ?), (?, ?)", (1, "a", 2, "b"))
    one = tx.query_one("SELECT v FROM t WHERE k = ?", (2,))
    none = tx.query_one("SELECT v FROM t WHERE k = ?", (3,))
    return changed, one, none, tx.query("SELECT k, v FROM t ORDER BY k")


async def test_the_waiting_verbs_answer_as_a_cursor_would(db: Database) -> None:
    """``changes``, ``query_one`` and ``query`` (the calls that wait for the server) answer
    what ``execute(...).rowcount``, ``.fetchone()`` and ``.fetchall()`` would, on both
    engines."""
    await db.run(_create)
    changed, one, none, rows = await db.run(_verbs)
    assert (changed, tuple(one), none) == (2, ("b",), None)
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]


def _insert_then_check(tx: Tx, k: int, reads: list[int]) -> None:
    sent = tx.execute("INSERT INTO t (k) VALUES (?) ON CONFLICT DO NOTHING", (k,))

    def inserted() -> None:
        if sent.rowcount != 1:
            raise LookupError(f"{k} was there already")

    tx.when_answered(inserted)
    reads.append(int(tx.execute("SELECT count(*) FROM t").fetchone()[0]))
    tx.execute("INSERT INTO t (k) VALUES (?)", (k + 100,))


async def test_a_check_waiting_for_an_answer_runs_before_the_read_returns(
        db: Database) -> None:
    """A check handed to ``when_answered`` runs once the statement before it has answered,
    when the next read sends it (on SQLite at once): a check that fails stops the function
    before the read's rows reach it, and nothing the transaction sent stays."""
    await db.run(_create)
    reads: list[int] = []
    await db.run(_insert_then_check, 1, reads)
    assert reads == [1]
    with pytest.raises(LookupError, match="1 was there already"):
        await db.run(_insert_then_check, 1, reads)
    assert reads == [1]  # the second read never returned
    assert await db.run(_count) == 2


def _only_writes(tx: Tx, k: int) -> None:
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))
    tx.execute("INSERT INTO t (k) VALUES (?)", (k + 1,))


async def test_a_transaction_of_writes_only_on_a_killed_connection_costs_no_request(
        url: str) -> None:
    """A transaction that reads nothing still hears from the server before its ``COMMIT``
    is sent: on a connection the server ended while it sat in the pool, it fails there, and
    runs again on a fresh one, instead of failing at its commit with an unknown outcome.
    Its rows are stored once."""
    db = Database(url=url, pool_size=1)
    await db.run(_create)
    pid = await db.run(_backend)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(?)".replace("?", "%s"), (pid,))
    await _settles_at(url, 0)
    await db.run(_only_writes, 1)
    assert await db.run(_count) == 2
    await db.close()


def _round_trip(tx: Tx, values: list[tuple[int, str]], blob: bytes) -> list[Any]:
    tx.execute("CREATE TABLE IF NOT EXISTS odd (k INTEGER PRIMARY KEY, v TEXT, b BLOB)"
               if not tx.postgres else
               "CREATE TABLE IF NOT EXISTS odd (k INTEGER PRIMARY KEY, v TEXT, b BYTEA)")
    for k, v in values:
        tx.execute("INSERT INTO odd VALUES (?, ?, ?)", (k, v, blob))
    return [tuple(r) for r in tx.execute("SELECT k, v, b FROM odd ORDER BY k").fetchall()]


async def test_values_in_a_batch_arrive_exactly_as_given(db: Database) -> None:
    """A batch carries its values merged into its text by the driver's quoting: a quote, a
    semicolon, a backslash, a comment, a dollar quote, a placeholder mark and bytes come back
    exactly as given, and none of them ends a statement or starts another."""
    hostile = ["it's", "'); DROP TABLE odd; --", "back\\slash\\'", "$$ dollar $tag$",
               "a ? and a %s and %%", "line\nbreak\ttab", "naïve ☃ 日本"]
    values = list(enumerate(hostile))
    blob = bytes(range(256))
    assert await db.run(_round_trip, values, blob) == [(k, v, blob) for k, v in values]


def _insert_and_count(tx: Tx, k: int) -> int:
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))
    return int(tx.execute("SELECT count(*) FROM t WHERE k <= ?", (k,)).fetchone()[0])


def _insert_other(tx: Tx, k: int) -> None:
    tx.execute("INSERT INTO t (k, v) VALUES (?, 'other')", (k,))


def _prepared_here(tx: Tx) -> dict[str, int]:
    """The statements prepared on this connection, by name, and how often each was run."""
    return {str(r[0]): int(r[1]) for r in tx.execute(
        "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements").fetchall()}


def _psycopg_prepares(tx: Tx) -> int | None:
    return tx._conn.prepare_threshold  # type: ignore[no-any-return]  # noqa: SLF001


async def test_the_door_alone_prepares_and_psycopg_counts_nothing(url: str) -> None:
    """The door prepares what it sends often itself; psycopg's own count, on by default,
    would take every batch's text (unique with its values) into its cache and out again at
    each send, for nothing: the door's client-side cursor never prepares. Off, the door's
    transaction of a report costs ~5 % less CPU (``bench.dbdoor --shape report``)."""
    db = Database(url=url, pool_size=1)
    await db.run(_create)
    for k in range(6):
        await db.run(_insert_and_count, k)
    assert await db.run(_psycopg_prepares) is None
    assert await db.run(_prepared_here) == {"mtgw_0": 2, "mtgw_1": 2}
    await db.close()


async def test_a_statement_sent_often_is_prepared_once_per_connection(url: str) -> None:
    """A batched statement sent five times is prepared on the connection (the server parses
    and plans it once) and run by name after; a batch that fails after a ``PREPARE`` leaves
    the connection's statements unknown, and the next batch starts afresh (``DEALLOCATE
    ALL``) instead of failing on a name prepared twice or missing."""
    db = Database(url=url, pool_size=1)
    await db.run(_create)
    for k in range(8):
        assert await db.run(_insert_and_count, k) == k + 1
    # the INSERT and the SELECT, each prepared with its fifth send and run by name since
    assert await db.run(_prepared_here) == {"mtgw_0": 4, "mtgw_1": 4}
    for k in range(100, 104):
        await db.run(_insert_other, k)
    with pytest.raises(db.integrity_errors):
        await db.run(_insert_other, 3)  # its fifth send: PREPARE ran, then EXECUTE failed
    for k in range(8, 12):
        assert await db.run(_insert_and_count, k) == k + 1
    await db.run(_insert_other, 104)
    # all prepared again after the failed batch: the runs since
    assert await db.run(_prepared_here) == {"mtgw_0": 4, "mtgw_1": 4, "mtgw_2": 1}
    await db.close()



def _many_in_one_batch(tx: Tx, first: int, rows: int) -> list[Any]:
    """``rows`` writes of three values each queued, a literal ``%`` and ``?`` among them, then
    one read: a batch of more values and text than one binding of the driver keeps."""
    for k in range(first, first + rows):
        tx.execute("INSERT INTO t (k, v) VALUES (?, ? || '%?' || ?)", (k, f"v{k}%", "?"))
    return tx.query("SELECT k, v FROM t WHERE k >= ? ORDER BY k", (first,))


async def test_a_large_batch_travels_whole_with_its_literals(db: Database) -> None:
    """Past the values and text a batch's binding takes at once, and past the count after
    which a statement is prepared on its connection: every value lands as sent, every literal
    ``%`` and ``?`` stays literal, one round trip for the writes and the read."""
    await db.run(_create)
    for first in (0, 1000, 2000, 3000, 4000, 5000, 6000):  # prepared from the fifth batch
        rows = await db.run(_many_in_one_batch, first, 70)
        assert [tuple(r) for r in rows] == [(k, f"v{k}%%??") for k in
                                            range(first, first + 70)]


def _miscounted(tx: Tx) -> list[Any]:
    """Two statements, the first given one value too many and the second one too few: as
    many values as placeholders in all."""
    tx.execute("INSERT INTO t (k) VALUES (?)", (1, 2))
    tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("3",))
    return tx.query("SELECT k, v FROM t ORDER BY k")


async def test_a_statement_given_too_many_or_too_few_values_fails_alone(db: Database) -> None:
    """A statement's values never go to another statement of its batch: the first statement's
    extra value is not the second's missing one; the transaction fails (as the driver says a
    miscount) and writes nothing."""
    await db.run(_create)
    errors: tuple[type[Exception], ...] = (psycopg.ProgrammingError,) if db.postgres \
        else (sqlite3.ProgrammingError,)
    with pytest.raises(errors, match=r"1 placeholders but 2 parameters|[Ii]ncorrect number"):
        await db.run(_miscounted)
    assert await db.run(_count) == 0


_TYPED = ("SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BYTEA), "
          "CAST(? AS REAL), CAST(? AS DOUBLE PRECISION), CAST(? AS BOOLEAN), CAST(NULL AS TEXT), "
          "CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMP), CAST(? AS DATE), CAST(? AS NUMERIC), "
          "CAST(? AS JSON), 1.5, 7, 'text', true")


def _typed(tx: Tx) -> list[Any]:
    stamp = datetime.datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=datetime.UTC)
    values = (2 ** 62, -7, "naïve ☃ 'q'", b"\x00\xffbytes", 0.25, 1e-300, True, stamp,
              stamp.replace(tzinfo=None), stamp.date(), decimal.Decimal("12.3400"),
              json.dumps({"a": [1, 2]}))
    # twice in one batch, the second run by name once prepared (``PREPARE_AFTER``)
    first = tx.execute(_TYPED, values)
    return [first.fetchall(), tx.query(_TYPED, values),
            tx.query("SELECT k, v FROM t WHERE k < ? ORDER BY k", (10,))]


async def test_rows_read_through_the_batch_are_what_psycopgs_cursor_reads(url: str) -> None:
    """Every column type the console's schema uses (and the few a literal makes): a batch,
    read through the connection's libpq link, answers the same values of the same Python
    types as psycopg's own cursor does (the door one statement at a time), prepared by name
    or not."""
    answers = []
    for batch in (False, True):
        db = Database(url=url, batch=batch)
        if not batch:
            await db.run(_create)
            await db.run(_insert_and_count, 5)
        answers.append([await db.run(_typed) for _ in range(4)])
        await db.close()
    by_cursor, by_batch = answers
    assert by_batch == by_cursor
    types = [[[type(value) for row in rows for value in row] for rows in one]
             for one in by_cursor]
    assert [[[type(value) for row in rows for value in row] for rows in one]
            for one in by_batch] == types
    row = by_batch[-1][0][0]
    assert row[:7] == (2 ** 62, -7, "naïve ☃ 'q'", b"\x00\xffbytes", 0.25, 1e-300, True)
    assert row[7] is None and row[13:] == (decimal.Decimal("1.5"), 7, "text", True)


def test_the_batchs_result_statuses_are_libpqs() -> None:
    """The statuses a batch's results are read by are libpq's, as psycopg names them."""
    from mtgateway_console.database import tx as txmodule  # noqa: PLC0415

    assert (txmodule._EMPTY_QUERY, txmodule._COMMAND_OK, txmodule._TUPLES_OK) == (  # noqa: SLF001
        psycopg.pq.ExecStatus.EMPTY_QUERY, psycopg.pq.ExecStatus.COMMAND_OK,
        psycopg.pq.ExecStatus.TUPLES_OK)


def _insert_then_miscount(tx: Tx, k: int) -> None:
    tx.execute("INSERT INTO t (k) VALUES (?)", (k,))  # its fifth send: PREPARE queued with it
    tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k + 1,))  # refused before anything went
    tx.query("SELECT 1")


async def test_a_batch_refused_before_it_was_sent_leaves_no_name_behind(url: str) -> None:
    """A batch that fails before it is sent (a statement given too few values), with a
    ``PREPARE`` in it that never reached the server: the connection's next batch does not
    take the name for prepared (it would run a statement the server does not know), it
    starts afresh."""
    db = Database(url=url, pool_size=1)
    await db.run(_create)
    for k in range(4):
        await db.run(_insert_and_count, k)
    with pytest.raises(psycopg.ProgrammingError, match="2 placeholders but 1 parameters"):
        await db.run(_insert_then_miscount, 10)
    assert await db.run(_insert_and_count, 4) == 5
    assert await db.run(_count) == 5
    await db.close()


def _cpu_spent_waiting(tx: Tx, seconds: float) -> float:
    """The worker thread's CPU seconds while the server sleeps ``seconds``."""
    began = time.thread_time()
    tx.query("SELECT pg_sleep(?)", (seconds,))
    return time.thread_time() - began


async def test_a_worker_waiting_for_the_server_sleeps_and_does_not_spin(url: str) -> None:
    """While PostgreSQL works on a batch, its worker thread is blocked on the socket, not
    polling it: a half-second statement costs the thread almost no CPU. (psycopg's ``wait``
    defaults to a poll that returns at once; given that, the worker spun for the whole wait,
    at least a third of a core even on a loaded machine.)"""
    db = Database(url=url, pool_size=1)
    spent = await db.run(_cpu_spent_waiting, 0.5)
    await db.close()
    assert spent < 0.05, f"{spent:.3f} s of CPU in a 0.5 s wait"
