"""The PostgreSQL connection pool of :class:`gateway.authority.database.Database`, on a real
server: transactions reuse a connection instead of forking a server process each, a failed
transaction leaves nothing behind, and a connection the server killed costs one transaction,
not one per pooled connection.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from gateway.authority.database import Database
from tests.pgkit import PostgresServer


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    """A fresh database on the run's PostgreSQL server."""
    return postgres.new_database()


def _backend(db: Database) -> int:
    with db.tx() as tx:
        return int(tx.execute("SELECT pg_backend_pid()").fetchone()[0])


def _sessions(url: str) -> int:
    """Connections the server holds to ``url``'s database (this query's own left out)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def _settles_at(url: str, expected: int) -> int:
    """The session count once it reaches ``expected``: a closed connection's server process
    leaves ``pg_stat_activity`` a moment after the client hung up (bounded, then the count)."""
    deadline = time.monotonic() + 10
    while (seen := _sessions(url)) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return seen


def test_transactions_reuse_one_connection(url: str) -> None:
    db = Database(url=url)
    first = _backend(db)
    assert [_backend(db) for _ in range(5)] == [first] * 5
    assert _sessions(url) == 1
    db.close()
    assert _settles_at(url, 0) == 0


def test_a_failed_transaction_is_rolled_back_and_its_connection_stays_usable(url: str) -> None:
    db = Database(url=url)
    with db.tx() as tx:
        tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    with pytest.raises(RuntimeError), db.tx() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("the caller's own failure")
    with pytest.raises(psycopg.errors.UniqueViolation), db.tx() as tx:
        tx.execute("INSERT INTO t VALUES (2)")
        tx.execute("INSERT INTO t VALUES (2)")
    with db.tx() as tx:
        assert tx.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert _sessions(url) == 1
    db.close()


def test_a_killed_connection_fails_one_transaction_and_empties_the_pool(url: str) -> None:
    db = Database(url=url, pool_size=4)
    # Four threads at once hold four connections, which all go back to the pool.
    barrier = threading.Barrier(4)

    def hold() -> None:
        with db.tx() as tx:
            tx.execute("SELECT 1")
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _sessions(url) == 4
    # The server ends every one of them (as a restart would).
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
                      "= current_database() AND pid <> pg_backend_pid()")
    with pytest.raises(psycopg.OperationalError), db.tx() as tx:
        tx.execute("SELECT 1")
    # The one failure closed the other three idle connections: the next call works.
    assert _backend(db) > 0
    assert _settles_at(url, 1) == 1
    db.close()


def test_the_pool_keeps_at_most_its_size(url: str) -> None:
    db = Database(url=url, pool_size=2)
    barrier = threading.Barrier(5)

    def hold() -> None:
        with db.tx() as tx:
            tx.execute("SELECT 1")
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=hold) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the three beyond the pool were closed; their server processes leave a moment later
    assert _settles_at(url, 2) == 2
    db.close()


def test_a_collected_database_closes_its_connections(url: str) -> None:
    db = Database(url=url)
    _backend(db)
    assert _sessions(url) == 1
    del db
    assert _settles_at(url, 0) == 0
