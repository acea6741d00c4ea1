"""The door itself: :class:`Database`, a SQLite file or a PostgreSQL pool behind ``run``.

``await database.run(fn, *args)`` runs ``fn(tx, *args)`` as one transaction on one of the
door's worker threads (``workers.py``) and answers on the loop; this module opens the
connection it runs on (a SQLite file, or a :class:`psycopg_pool.ConnectionPool`'s), commits
or rolls back, bounds the caller's wait, replaces a connection the server dropped, and tells
:attr:`Database.timed` what each transaction cost, by name (:class:`Timing`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, Concatenate, Final, NamedTuple, ParamSpec, Protocol, TypeVar

from mtgateway_base.configfile import redact_url
from mtgateway_base.wire.errors import AuthorityError, AuthorityUnreachable

from ..fairshare import CALLER, Lane
from .dialect import postgres_ddl, statements
from .tx import Tx, _Prepared
from .workers import Abandoned, Job, Workers, join

__all__ = ["APPLICATION_NAME", "CONNECT_TIMEOUT_S", "POOL_SIZE", "STATEMENT_TIMEOUT_S",
           "Database", "DatabaseError", "DatabaseUnavailable", "Door", "Timing",
           "TransactionOnLoop"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: PostgreSQL connections (and worker threads) of one :class:`Database` unless told
#: otherwise (``[authority] database_connections``). A console's transactions are short (one
#: request each); eight in flight keep a server on the same host busy (``python -m
#: bench.authority``; 2 and 4 were within the spread, ``docs/performance.md``), and the pool
#: bounds what one instance asks of the server's ``max_connections``.
POOL_SIZE: Final = 8
#: How the console's sessions are named in ``pg_stat_activity`` (operators, and the tests).
APPLICATION_NAME: Final = "mtgateway-console"
#: The defaults of ``[authority] database_connect_timeout_s`` and
#: ``database_statement_timeout_s``.
CONNECT_TIMEOUT_S: Final = 5.0
STATEMENT_TIMEOUT_S: Final = 5.0
#: How long a transaction waits for an idle pooled connection while the pool reconnects (it
#: then opens one of its own): only one already idle.
_IDLE_ONLY_S: Final = 0.001
#: SQLite's result codes that mean "not now", not "wrong" (``sqlite3`` names them on the
#: exception): a busy or locked file, one that cannot be opened, a full or failing disk.
_SQLITE_UNAVAILABLE: Final = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN",
                                        "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_PROTOCOL"})


class DatabaseError(AuthorityError):
    """The database cannot be opened or migrated (the message never holds a password)."""


class DatabaseUnavailable(DatabaseError, AuthorityUnreachable):
    """The database did not answer in time, refused the connection or dropped it: the console
    answers 503 ``database_unavailable``; the daemon's embedded authority counts as
    unreachable. Whatever the transaction did was rolled back, unless the message says its
    outcome is unknown (the connection broke during ``COMMIT``)."""

    reason = "database_unavailable"


class TransactionOnLoop(RuntimeError):
    """A transaction was started on a thread running an event loop: it must go through
    :meth:`Database.run`."""


class Door(Protocol):
    """What runs a transaction function off the event loop: a :class:`Database`, or the
    authority (which prepares the schema first)."""

    async def run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """``fn(tx, *args)`` as one transaction; its result."""
        ...


class Timing(NamedTuple):
    """What one transaction cost, told to :attr:`Database.timed` on its worker's thread."""

    #: The transaction's name (``workers.transaction_name``).
    name: str
    #: How long it waited for a free worker, and how long it ran (connection, statements,
    #: commit, retries), in seconds.
    waited_s: float
    ran_s: float
    #: The messages it sent to the server and waited for (PostgreSQL; 0 on SQLite).
    round_trips: int


def _reason(exc: BaseException) -> str:
    """A driver error's text on one line, without a password (psycopg may quote the
    conninfo)."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return redact_url(text or type(exc).__name__)[:300]


def _on_event_loop() -> bool:
    # ``_get_running_loop`` (asyncio's own, in its ``__all__``) answers None off a loop where
    # ``get_running_loop`` raises: asked on a worker for every transaction, no exception
    # made and caught each time
    return asyncio._get_running_loop() is not None


class Database:
    """A SQLite file (``path``) or a PostgreSQL server (``url``), behind :meth:`run`.

    ``connect_timeout_s`` bounds opening a connection (or, with every connection busy,
    waiting for one); ``statement_timeout_s`` is PostgreSQL's ``statement_timeout`` for each
    statement (SQLite: how long a busy file is waited for). A caller of :meth:`run` waits at
    most their sum, :attr:`bound_s`. ``batch=False`` sends each PostgreSQL statement alone
    and waits for its answer, as the door did before batches (:class:`Tx`; the tests and
    ``python -m bench.dbdoor --shape report`` compare the two).
    """

    def __init__(self, *, path: Path | None = None, url: str = "",
                 pool_size: int = POOL_SIZE, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 statement_timeout_s: float = STATEMENT_TIMEOUT_S,
                 batch: bool = True) -> None:
        if (path is None) == (not url):
            raise ValueError("give exactly one of a SQLite path or a PostgreSQL url")
        if connect_timeout_s <= 0 or statement_timeout_s <= 0:
            raise ValueError("the database timeouts must be positive")
        if pool_size < 1:
            raise ValueError(f"the database door needs at least one connection, not {pool_size}")
        self.path = path
        self.url = url
        self.postgres = bool(url)
        if self.postgres and not url.startswith(("postgresql://", "postgres://")):
            raise DatabaseError(f"database_url must be postgresql://..., not "
                                f"{redact_url(url)[:40]!r}")
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_s = statement_timeout_s
        #: The most a caller of :meth:`run` waits before :class:`DatabaseUnavailable`.
        self.bound_s = connect_timeout_s + statement_timeout_s
        #: The exceptions a violated UNIQUE constraint raises on this engine.
        self.integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
        self._pool_size = pool_size if self.postgres else 1
        self._pool: Any = None
        self._failures = _Failures()
        self._pool_lock = threading.Lock()
        #: Transactions asked for and not answered yet (the console's metrics read it).
        self.in_flight = 0
        #: The callers' shares of the door (``mtgateway_console.fairshare``: set by the console,
        #: whose door says whom each request's task works for): past its share a caller's
        #: transaction waits for its own earlier ones before it joins the workers' queue,
        #: so no one caller's flood stands in that queue ahead of everyone else. None: no
        #: caller waits (the CLI, a daemon's embedded authority).
        self.lane: Lane | None = None
        #: Told of each transaction a worker ran, on that worker's thread: its name, how long
        #: it waited for a worker and ran, its round trips (:class:`Timing`; the console's
        #: metrics; None: nobody asks).
        self.timed: Callable[[Timing], None] | None = None
        if self.postgres:
            import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver

            self.integrity_errors = (psycopg.errors.IntegrityError,)
        #: Whether a transaction's statements are queued and sent in batches (:class:`Tx`),
        #: and what each connection has prepared for them.
        self._batching = self.postgres and batch
        self._prepared = _Prepared()
        self._workers = Workers(self._pool_size, self._execute)

    @property
    def pool_size(self) -> int:
        """Connections this door holds at most, and the workers that run transactions on
        them (1 on SQLite: one writer at a time per file)."""
        return self._pool_size

    def describe(self) -> str:
        """Where the data is, fit to print (no password)."""
        return redact_url(self.url) if self.postgres else str(self.path)

    # -- the door --------------------------------------------------------------------------

    async def run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """Run ``fn(tx, *args)`` in one transaction on a worker thread; its result.

        Committed when ``fn`` returns, rolled back if it raises (its exception is raised
        here). ``tx.after_commit`` callbacks run here, on the loop, after the commit.

        One coroutine, not a chain: a device call's every transaction comes through here,
        and each level of a chain of coroutines runs again when the answer resumes it. The
        caller's turn in the lane is taken at once when it has room
        (:meth:`~mtgateway_console.fairshare.Lane.enter`), else waited for.

        Raises:
            DatabaseUnavailable: no answer within :attr:`bound_s`, or the connection failed.
        """
        lane = self.lane
        taken = None
        if lane is not None:
            who = CALLER.get()
            if who is not None:
                taken = lane.enter(who)
                if taken is None:  # past its share: in its own line
                    async with lane.turn(who):
                        return await self._queue(fn, args, kwargs, bounded=True)
        # (``_start`` and ``_stop``, in place: every transaction of every device call)
        loop = asyncio.get_running_loop()
        job = Job(fn, args, kwargs, loop, True)
        self.in_flight += 1
        self._workers.submit(job)
        deadline = job.deadline = loop.call_later(self.bound_s, self._overdue, job)
        try:
            result, hooks = await job.future
        except BaseException:
            job.abandoned = True
            raise
        finally:
            self.in_flight -= 1
            deadline.cancel()
            if taken is not None:
                lane.leave(taken)  # type: ignore[union-attr] # taken: there is a lane
        for hook in hooks:
            hook()
        return result  # type: ignore[no-any-return]

    async def run_unbounded(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                            **kwargs: P.kwargs) -> T:
        """:meth:`run` without the caller's deadline nor PostgreSQL's statement timeout:
        for migrations, which may rewrite a large table once."""
        return await self._queue(fn, args, kwargs, bounded=False)

    async def _queue(self, fn: Callable[..., T], args: tuple[Any, ...],
                     kwargs: dict[str, Any], *, bounded: bool) -> T:
        job = self._start(fn, args, kwargs, bounded=bounded)
        try:
            result, hooks = await job.future
        except BaseException:
            job.abandoned = True
            raise
        finally:
            self._stop(job)
        for hook in hooks:
            hook()
        return result  # type: ignore[no-any-return]

    def _start(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               *, bounded: bool) -> Job:
        """``fn``'s job queued for the workers, its deadline armed when ``bounded``: past
        :attr:`bound_s` its caller is answered :class:`DatabaseUnavailable` and the job is
        abandoned (a timer on the loop, not ``asyncio.timeout``, whose machinery would run
        in Python for each transaction). :meth:`run` holds these steps, and
        :meth:`_stop`'s, in place: a change here is made there too."""
        loop = asyncio.get_running_loop()
        job = Job(fn, args, kwargs, loop, bounded)
        self.in_flight += 1
        self._workers.submit(job)
        if bounded:
            job.deadline = loop.call_later(self.bound_s, self._overdue, job)
        return job

    def _stop(self, job: Job) -> None:
        """The job's caller has its answer (or stopped waiting)."""
        self.in_flight -= 1
        if job.deadline is not None:
            job.deadline.cancel()

    def _overdue(self, job: Job) -> None:
        """The job's caller waited :attr:`bound_s`: it is answered that the database did not
        answer, and the job is abandoned (rolled back if it runs, skipped if not)."""
        job.abandoned = True
        if not job.future.done():
            job.future.set_exception(DatabaseUnavailable(
                f"the authority's database ({self.describe()}) did not answer {job.name} "
                f"within {self.bound_s:g} s: {job.whereabouts(time.perf_counter())}"))

    # -- on a worker -------------------------------------------------------------------------

    def _execute(self, job: Job) -> tuple[Any, list[Callable[[], None]]]:
        timed = self.timed
        if timed is None:
            return self._transaction(job)
        started = time.perf_counter()
        try:
            return self._transaction(job)
        finally:
            timed(Timing(job.name, started - job.asked, time.perf_counter() - started,
                         job.round_trips))

    def _transaction(self, job: Job) -> tuple[Any, list[Callable[[], None]]]:
        if _on_event_loop():
            raise TransactionOnLoop(f"a database transaction ({job.name}) on an event loop's "
                                    "thread: go through `await Database.run(fn, ...)`")
        if self.postgres:
            return self._postgres(job)
        return self._sqlite(job)

    def _sqlite(self, job: Job) -> tuple[Any, list[Callable[[], None]]]:
        assert self.path is not None  # noqa: S101 - set when not postgres
        busy_s = self.statement_timeout_s if job.bounded else 30.0
        try:
            with closing(sqlite3.connect(self.path, timeout=busy_s)) as db:
                tx = Tx(db, postgres=False)
                with db:  # commits when the block ends cleanly, rolls back otherwise
                    result = job.fn(tx, *job.args, **job.kwargs)
                    if job.abandoned:
                        raise Abandoned
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") in _SQLITE_UNAVAILABLE:
                raise DatabaseUnavailable(f"the authority's database ({self.path}) is "
                                          f"unavailable to {job.name}: {exc}") from None
            raise
        return result, tx._after_commit  # noqa: SLF001 - the transaction's owner runs them

    def _connect_kwargs(self) -> dict[str, Any]:
        """libpq's settings for every connection, pooled or not."""
        return {"connect_timeout": max(2, round(self.connect_timeout_s)),
                "application_name": APPLICATION_NAME,
                "options": f"-c statement_timeout={round(self.statement_timeout_s * 1000)}",
                # every transaction says BEGIN and COMMIT itself (:meth:`_postgres`)
                "autocommit": True,
                # the door prepares what it sends often itself (:class:`_Prepared`); psycopg's
                # own count would only churn through each batch's text, every one unique
                "prepare_threshold": None,
                # a network that drops silently is noticed, not waited on forever
                "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                "keepalives_count": 3}

    def _open_pool(self) -> Any:
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool  # noqa: PLC0415

                # psycopg_pool says every borrow and return at INFO (a line per transaction),
                # and every failed connection attempt at WARNING (we say it, once, ourselves)
                logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self._pool_size, open=False,
                    connection_class=_recording_connection(self._failures),
                    name="mtgateway-authority", timeout=self.connect_timeout_s,
                    # A slot whose reconnection keeps failing is given up after this long
                    # and grown again on demand, so a server back after a long outage is
                    # found by the next request, not after a doubled back-off.
                    reconnect_timeout=max(10.0, 2 * self.connect_timeout_s),
                    reconnect_failed=_reconnect_failed, kwargs=self._connect_kwargs())
                self._pool.open(wait=False)
            return self._pool

    def _borrow(self, pool: Any) -> tuple[Any, bool]:
        """A connection, and whether it is the pool's. While the pool's last attempt to
        connect failed, its slots wait out a back-off (1 s, doubling) before they try again:
        a server that is back would go unused until then, so a transaction that finds no
        idle pooled connection at once connects on its own (at most one per worker) until
        the pool has reconnected (asking it at once also lets it grow)."""
        import psycopg  # noqa: PLC0415
        from psycopg_pool import PoolTimeout  # noqa: PLC0415

        if self._failures.last:
            try:
                return pool.getconn(timeout=_IDLE_ONLY_S), True
            except PoolTimeout:
                pass
            try:
                return psycopg.connect(self.url, **self._connect_kwargs()), False
            except psycopg.Error as exc:
                raise DatabaseUnavailable(f"cannot connect to {self.describe()}: "
                                          f"{_reason(exc)}") from None
        try:
            return pool.getconn(), True
        except PoolTimeout:
            why = self._failures.last or f"no connection within {self.connect_timeout_s:g} s"
            raise DatabaseUnavailable(f"cannot connect to {self.describe()}: {why}") from None

    def _postgres(self, job: Job) -> tuple[Any, list[Callable[[], None]]]:
        import psycopg  # noqa: PLC0415

        pool = self._open_pool()
        # A connection the server closed while idle in the pool (a restart, an administrator's
        # pg_terminate_backend) fails at its first statement: PostgreSQL rolled it back, so the
        # function runs again on another; each stale one fails at once, so trying one more
        # than the pool holds reaches a fresh one.
        for attempt in range(self._pool_size + 2):
            if job.abandoned:
                raise Abandoned
            conn, pooled = self._borrow(pool)
            committing = False
            # The connection is in autocommit mode and the transaction says BEGIN and
            # COMMIT itself: psycopg's own BEGIN would wait for its answer alone.
            tx = Tx(conn, postgres=True, batching=self._batching, prepared=self._prepared)
            try:
                tx.execute("BEGIN")
                if not job.bounded:
                    tx.execute("SET LOCAL statement_timeout = 0")
                result = job.fn(tx, *job.args, **job.kwargs)
                tx._ready_to_commit()  # noqa: SLF001 - the transaction's owner
                if job.abandoned:
                    raise Abandoned
                committing = True
                tx._commit()  # noqa: SLF001
            except psycopg.OperationalError as exc:
                broken = conn.broken or conn.closed
                self._give_back(pool if pooled else None, conn)
                if broken and not committing and attempt <= self._pool_size:
                    log.info("the database dropped a connection (%s); running the "
                             "transaction %s again on another", type(exc).__name__, job.name)
                    continue
                # a server that answered with an error rolled the transaction back
                outcome = " (its outcome is unknown: the connection broke during COMMIT)" \
                    if committing and broken else ""
                raise DatabaseUnavailable(f"the authority's database ({self.describe()}) "
                                          f"failed {job.name}: {_reason(exc)}{outcome}") \
                    from None
            except BaseException:
                self._give_back(pool if pooled else None, conn)
                raise
            finally:
                job.round_trips += tx.round_trips
            if pooled:
                pool.putconn(conn)
            else:
                conn.close()
            return result, tx._after_commit  # noqa: SLF001
        raise DatabaseUnavailable(f"the authority's database ({self.describe()}) keeps "
                                  "dropping its connections")

    @staticmethod
    def _give_back(pool: Any, conn: Any) -> None:
        """Return a connection whose transaction failed, rolled back, to ``pool`` (which
        closes and replaces a broken one), or close it (``None``: one of :meth:`_borrow`'s
        own)."""
        import psycopg  # noqa: PLC0415

        if not conn.broken and not conn.closed:
            with suppress(psycopg.Error):
                conn.rollback()
        if pool is not None:
            pool.putconn(conn)
        else:
            conn.close()

    # -- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the workers, waiting (off the loop) for the transactions queued and under
        way to end, so nothing writes to the database's files once this returns (a SQLite
        journal created after a shutdown removed its directory was a test's flake); then
        close the pool's connections. A later :meth:`run` starts workers again. The wait is
        bounded by the statement timeout (a worker stuck on a paused server is a daemon
        thread and does not hold the process's exit)."""
        stopped = self._workers.stop()
        if stopped:
            await asyncio.to_thread(join, stopped, self.statement_timeout_s + 1.0)
        pool, self._pool = self._pool, None
        if pool is not None:
            # pool.close() joins its maintenance threads: off the loop
            await asyncio.to_thread(pool.close, 5.0)

    # -- DDL -------------------------------------------------------------------------------

    @staticmethod
    def run_script(tx: Tx, script: str) -> None:
        """Run each statement of ``script`` (SQLite DDL, translated for PostgreSQL)."""
        for statement in statements(postgres_ddl(script) if tx.postgres else script):
            tx.execute(statement)


class _Failures:
    """Why the pool's last connection attempt failed ("" after a success)."""

    last = ""


def _recording_connection(failures: _Failures) -> type[Any]:
    """A psycopg connection class that notes why a connection attempt failed: the pool makes
    connections in the background, and a caller waiting for one deserves the reason."""
    import psycopg  # noqa: PLC0415

    class RecordingConnection(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            try:
                conn = super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                failures.last = _reason(exc)
                raise
            failures.last = ""
            return conn

    return RecordingConnection


def _reconnect_failed(pool: Any) -> None:
    log.warning("the authority's database has refused new connections for %.0f s; trying "
                "again at the next transaction", pool.reconnect_timeout)


