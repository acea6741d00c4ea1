"""Helpers for the authority's database tests: the database a parametrized test runs on, a
migrated store that closes, two instances of one authority sharing a database, and a raw query
through the door (``mtgateway_console/database/``)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq

from mtgateway_console.address import ConsoleAddress
from mtgateway_console.database import Database, Tx
from mtgateway_console.mailer import Mailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.store import DATA_KEY_FILE, SIGNING_KEY_FILE, AuthorityStore
from tests.pgkit import PostgresServer

__all__ = ["Clock", "Wire", "database_url_of", "fetch", "migrated_store", "round_trips_in",
           "sessions", "two_instances"]


class Clock:
    """Epoch seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def two_instances(tmp_path: Path, url: str, mailer: Mailer, clock: Clock,
                        address: str = "") -> AsyncIterator[tuple[Authority, Authority]]:
    """Two instances of one authority on one database (``url``: PostgreSQL, each instance
    with its own data directory holding copies of the key files, as two consoles behind a
    load balancer are; empty: both on one SQLite file), on one clock and one mailer, their
    links naming ``address``; both closed at the end."""
    where = {"address": ConsoleAddress(address)} if address else {}
    first = await Authority.open(tmp_path / "a", mailer, database_url=url, clock=clock, **where)
    if url:
        (tmp_path / "b").mkdir(mode=0o700)
        for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
            shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    try:
        second = await Authority.open(tmp_path / ("b" if url else "a"), mailer,
                                      database_url=url, clock=clock, **where)
    except BaseException:
        await first.close()
        raise
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def sessions(url: str, state: str = "") -> int:
    """Client connections the server holds to ``url``'s database (this query's own left out),
    only those in ``state`` (``pg_stat_activity.state``, e.g. ``idle in transaction``) if
    given."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid() AND "
                           "backend_type = 'client backend' AND (%s = '' OR state = %s)",
                           (state, state)).fetchone()
    assert row is not None
    return int(row[0])


def database_url_of(request: pytest.FixtureRequest) -> str:
    """The database of a fixture parametrized ``"sqlite"`` / ``"postgres"``: ``""`` (the SQLite
    file in the data directory) or a fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@asynccontextmanager
async def migrated_store(data_dir: Path, database_url: str = "") -> AsyncIterator[AuthorityStore]:
    """An :class:`AuthorityStore` on ``data_dir`` (SQLite) or ``database_url``, migrated; its
    database closed at the end."""
    store = AuthorityStore(data_dir, database_url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.database.close()


def _fetch(tx: Tx, sql: str, args: Sequence[Any]) -> list[Any]:
    return tx.execute(sql, args).fetchall()


async def fetch(database: Database, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """Every row of one statement, in a transaction of its own."""
    return await database.run(_fetch, sql, args)


def round_trips_in(trace: str) -> int:
    """How many times the client waited for the server in libpq's trace of a connection: a
    run of the client's messages (``F``) followed by the server's (``B``) is one round trip,
    whatever the messages (a statement's Sync, a batch's Query)."""
    sides = [line.split("\t", 1)[0] for line in trace.splitlines() if line[:2] in ("F\t",
                                                                                  "B\t")]
    return sum(1 for a, b in itertools.pairwise(sides) if (a, b) == ("F", "B"))


class Wire:
    """What each PostgreSQL transaction sent and received, as libpq traces it (its
    ``PQtrace``, Linux only): the round trips a transaction costs are counted on the wire,
    not by the code that makes them. A transaction's trace starts with its ``BEGIN`` (in
    :meth:`begin`, called from a wrapper of :meth:`Tx.execute`) and ends when the next one
    on its connection begins, or at :meth:`round_trips`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._names = itertools.count()
        #: The trace file of each transaction, and the connection being traced into each.
        self._file_of: dict[Tx, Path] = {}
        self._open: dict[int, tuple[Any, int]] = {}

    def begin(self, tx: Tx) -> None:
        """Trace ``tx`` from its ``BEGIN``, on a worker, before it is sent."""
        conn = tx._conn  # noqa: SLF001 - the connection under the transaction
        self._stop(conn)
        path = self._directory / f"wire-{next(self._names)}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        conn.pgconn.trace(fd)
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self._open[id(conn)] = (conn, fd)
        self._file_of[tx] = path

    def _stop(self, conn: Any) -> None:
        found = self._open.pop(id(conn), None)
        if found is not None:
            conn.pgconn.untrace()  # flushes libpq's stream
            os.close(found[1])

    def round_trips(self, tx: Tx) -> int:
        """The round trips of ``tx`` (once it has ended)."""
        for conn, _ in list(self._open.values()):
            self._stop(conn)
        return round_trips_in(self._file_of[tx].read_text(encoding="utf-8"))
