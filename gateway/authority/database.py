"""The authority's database: one async door to an embedded SQLite file or a PostgreSQL server.

One store (``store.py``) speaks to either through :class:`Database`: SQLite stays the default
(local mode, the demo, one console), PostgreSQL (``[authority] database_url``, e.g.
``postgresql://mtgw@db.internal/mtgw``) lets several console instances share one authority.

**The door.** Every transaction is one synchronous function of a :class:`Tx`, run by
``await database.run(fn, *args)`` on one of the database's own worker threads, never on the
event loop (Synapse's ``runInteraction``): the loop goes on serving ``/health``, pages and
long-polls while a statement waits on the network, a lock or a paused server. The workers are
as many as the pool's connections (PostgreSQL) or one (SQLite, whose file takes one writer at a
time: in-process transactions queue here instead of failing ``database is locked`` on a
read-to-write upgrade). A transaction is passed its :class:`Tx` explicitly, so nothing joins
a transaction by thread and no ``await`` can sit inside one. :meth:`Database._transaction`
refuses to run on a thread with a running event loop (:class:`TransactionOnLoop`), so a
store call that bypassed the door fails at once instead of stalling the console.

**Faults.** A transaction's caller waits at most :attr:`Database.bound_s` (the connect
timeout plus the statement timeout): past it, or when the server refused or dropped the
connection, it gets :class:`DatabaseUnavailable` (the console answers 503 naming the
database) and the transaction is rolled back if it has not committed yet (a worker still
stuck on a paused server rolls back when it returns); nothing the caller was told succeeded
is lost. A connection found broken before ``COMMIT`` was sent is replaced and the function
run again (PostgreSQL rolled the broken one back), so a restarted server costs no request.
``fn`` may therefore run more than once: it must do nothing but its statements.

**Statements** are written once, with ``?`` placeholders (the DB-API "qmark" style, SQLite's
own) and the SQL both engines accept (``INSERT ... ON CONFLICT``, ``RETURNING``); the values
always travel as the driver's parameters, never formatted into the text by our code. For
psycopg, whose style is ``%s``, each statement's text is translated once (cached) by a small
lexer that knows string literals, quoted identifiers and comments: a ``?`` or ``%`` inside
them stays what it is, one outside is a placeholder or escaped. On PostgreSQL a transaction's
statements are sent in batches (:class:`Tx`): psycopg's client-side binding merges each
statement's values with the driver's own quoting, and the batch travels as one message.
Connections come from :class:`psycopg_pool.ConnectionPool` (health on return,
reconnection in the background); psycopg 3 and psycopg_pool are imported only when a
PostgreSQL URL is given: the daemon on Windows never needs them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, Protocol, TypeVar

from .errors import AuthorityUnreachable

__all__ = ["POOL_SIZE", "Cursor", "Database", "Door", "DatabaseError", "DatabaseUnavailable",
           "TransactionOnLoop", "Tx", "postgres_text", "redact_url"]

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


class DatabaseError(Exception):
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


class Cursor(Protocol):
    """What a statement returns, on either engine."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE."""
        ...

    def fetchone(self) -> Any:
        """The next row (a tuple) or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row (tuples)."""
        ...


# -- statements ---------------------------------------------------------------------------

#: A dollar quote's opening tag (``$$`` or ``$name$``).
_DOLLAR_TAG: Final = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_quoted(sql: str, start: int, quote: str) -> int:
    """The index after the literal or identifier opened at ``start`` (a doubled quote is
    one quote character inside it)."""
    i = start + 1
    while True:
        end = sql.find(quote, i)
        if end < 0:
            raise ValueError(f"unterminated {quote} in SQL: {sql[:60]!r}")
        if sql.startswith(quote * 2, end):
            i = end + 2
            continue
        return end + 1


@lru_cache(maxsize=2048)
def postgres_text(sql: str) -> str:
    """``sql`` (``?`` placeholders) in psycopg's style: each ``?`` outside literals, quoted
    identifiers and comments becomes ``%s``, and every ``%`` becomes ``%%`` (psycopg reads a
    lone ``%`` as the start of a placeholder, inside a literal too).

    Raises:
        ValueError: an unterminated literal, identifier or comment, or an escape-string
            (``E'...'``) or dollar-quoted literal, which this lexer does not follow: refused
            rather than translated wrong.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            if c == "'" and i > 0 and sql[i - 1] in "eE" and (
                    i == 1 or not (sql[i - 2].isalnum() or sql[i - 2] == "_")):
                raise ValueError("escape-string literals (E'...') are not supported")
            end = _skip_quoted(sql, i, c)
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated comment in SQL")
            out.append(sql[i:end + 2].replace("%", "%%"))
            i = end + 2
        elif c == "$" and _DOLLAR_TAG.match(sql, i) and (i == 0 or not (
                sql[i - 1].isalnum() or sql[i - 1] == "_")):
            raise ValueError("dollar-quoted literals are not supported")
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            j = i + 1
            while j < n and sql[j] not in "'\"-/$?%":
                j += 1
            out.append(sql[i:j])
            i = j
    return "".join(out)


@lru_cache(maxsize=2048)
def numbered_text(sql: str) -> str:
    """``sql`` (``?`` placeholders) with ``$1``, ``$2``, ... for its placeholders: the text
    a server-side ``PREPARE`` takes (from :func:`postgres_text`'s, whose ``%%`` is one ``%``)."""
    text = postgres_text(sql)
    out: list[str] = []
    k, i, n = 0, 0, len(text)
    while i < n:
        j = text.find("%", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        if text.startswith("%s", j):
            k += 1
            out.append(f"${k}")
        else:  # "%%", the only other "%" postgres_text writes
            out.append("%")
        i = j + 2
    return "".join(out)


#: How many times a statement is sent, in this process, before each connection has the server
#: prepare it (psycopg's own threshold): a statement the console sends with every call is
#: parsed and planned once per connection, a rare one each time.
PREPARE_AFTER: Final = 5
_PREPARABLE: Final = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class _Prepared:
    """The statements prepared on each connection, by name: ``PREPARE`` is not undone by a
    rollback, so a batch that failed leaves its connection "unsure" (whichever of its
    ``PREPARE`` ran stays), and that connection's next batch starts with ``DEALLOCATE ALL``."""

    def __init__(self) -> None:
        self._uses: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._on: weakref.WeakKeyDictionary[Any, set[str] | None] = \
            weakref.WeakKeyDictionary()
        #: The door's workers share this record: one name must never be given to two
        #: statements (a connection would run the wrong one).
        self._lock = threading.Lock()

    def name_for(self, sql: str) -> str | None:
        """The name ``sql`` is prepared under once it has been sent often enough, or None."""
        with self._lock:
            name = self._names.get(sql)
            if name is not None:
                return name
            uses = self._uses.get(sql, 0) + 1
            self._uses[sql] = uses
            if uses < PREPARE_AFTER or not sql.lstrip()[:6].upper().startswith(_PREPARABLE):
                return None
            name = self._names[sql] = f"mtgw_{len(self._names)}"
            return name

    def on(self, conn: Any) -> set[str] | None:
        """The names prepared on ``conn`` (None: unsure, after a failed batch)."""
        with self._lock:
            return self._on.setdefault(conn, set())

    def settle(self, conn: Any, names: set[str] | None) -> None:
        """What ``conn`` has prepared now (None: unsure until its next batch resets it)."""
        with self._lock:
            self._on[conn] = names


class Tx:
    """One transaction: statements with ``?`` placeholders and their values; committed when
    the function run through :meth:`Database.run` returns, rolled back if it raises.

    **On PostgreSQL the statements travel in batches.** A statement is queued, not sent; the
    queue goes to the server as one message (psycopg's client-side binding,
    :class:`psycopg.ClientCursor`: the values merged into the text by the driver's own
    quoting, the statements separated by ``;``) when an answer is wanted: the rows or row
    count of one of its statements, or the ``COMMIT``, which travels with the writes before
    it. A report is then two round trips, not eight; each one saved is a worker's sleep and
    wake, the GIL handed to the loop and back, and a server backend woken
    (``docs/performance.md``). A statement's error is raised by the read that sends it, at
    the latest by the commit: nothing is committed past one.
    """

    __slots__ = ("_after_commit", "_batch", "_batching", "_conn", "_cursor", "_due",
                 "_prepared", "_read", "_sent", "postgres")

    def __init__(self, conn: Any, postgres: bool, batching: bool = False,
                 prepared: _Prepared | None = None) -> None:
        self._conn = conn
        #: Which engine runs it (for the few statements that differ).
        self.postgres = postgres
        self._after_commit: list[Callable[[], None]] = []
        #: Whether statements are queued until an answer is wanted (else each waits for its
        #: answer), the queue, and the client-side cursor that sends it.
        self._batching = batching
        self._batch: list[tuple[str, tuple[Any, ...], _Queued]] = []
        self._cursor: Any = None
        #: The door's record of what each connection has prepared (batches only).
        self._prepared = prepared
        #: Checks to run once the answers sent for are read (:meth:`when_answered`).
        self._due: list[Callable[[], None]] = []
        #: Statements queued, and whether a batch has been sent since the first.
        self._sent = 0
        self._read = False

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        """Run one statement (on PostgreSQL: queue it; it is sent when an answer is wanted)."""
        if not self._batching:
            cursor: Cursor = self._conn.execute(postgres_text(sql) if self.postgres else sql,
                                                args)
            return cursor
        queued = _Queued(self)
        self._batch.append((sql, tuple(args), queued))
        self._sent += 1
        return queued

    def when_answered(self, check: Callable[[], None]) -> None:
        """Call ``check`` once the statements queued so far have answered: at once, unless
        they wait in a batch; then when the batch is sent, at this transaction's next read,
        or before its ``COMMIT``. What ``check`` raises ends the transaction as a statement's
        error would. A statement that only decides whether the transaction goes on (a proof's
        replay row, ``store.ProofClaim``) thus travels with the read after it: one round
        trip, not two. ``check`` must read nothing but the answers of statements already
        queued (a function of a transaction does nothing else: it may run twice)."""
        if not self._batching:
            check()
        else:
            self._due.append(check)

    def lock(self, name: str) -> None:
        """Serialise this transaction with every other one that locks ``name``, on any
        instance, until it ends: check-then-write decisions (a terminal's claim) cannot race.
        PostgreSQL: a transaction-scoped advisory lock on the name's hash. SQLite: the
        database's write lock, taken now instead of at the first write (one writer at a time
        per file)."""
        if self.postgres:
            self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))
        else:
            self.execute("UPDATE schema_version SET version = version WHERE 0")

    def lock_key(self, key: int) -> None:
        """PostgreSQL: the advisory lock ``key`` until the transaction ends (SQLite: none
        needed, one writer at a time)."""
        if self.postgres:
            self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the event loop once this transaction has committed (never if
        it rolls back): what it announces is then visible to every other connection."""
        self._after_commit.append(callback)

    # -- the batch (the door and :class:`_Queued` call these) ---------------------------

    def _send(self) -> None:
        """Send the statements queued as one message (one round trip) and hand each its
        answer; then run the checks waiting for them (their own reads find nothing queued).
        A statement sent often is prepared on the connection once (``PREPARE`` in the batch)
        and then run by name (``EXECUTE``), so the server parses and plans it once."""
        batch, self._batch = self._batch, []
        if batch:
            import psycopg  # noqa: PLC0415 - only PostgreSQL transactions batch

            if self._cursor is None:
                self._cursor = psycopg.ClientCursor(self._conn)
            cursor, prepared = self._cursor, self._prepared
            assert prepared is not None  # noqa: S101 - the door gives one to every batching Tx
            known = prepared.on(self._conn)
            parts: list[str] = [] if known is not None else ["DEALLOCATE ALL"]
            ours = set() if known is None else set(known)
            answers: list[_Queued | None] = [None] * len(parts)
            for sql, args, queued in batch:
                name = prepared.name_for(sql)
                if name is None:
                    parts.append(cursor.mogrify(postgres_text(sql), args))
                else:
                    if name not in ours:
                        parts.append(f"PREPARE {name} AS {numbered_text(sql)}")
                        answers.append(None)
                        ours.add(name)
                    parts.append(cursor.mogrify(
                        f"EXECUTE {name}({', '.join(['%s'] * len(args))})" if args
                        else f"EXECUTE {name}", args))
                answers.append(queued)
            prepared.settle(self._conn, None)  # until the server has answered
            cursor.execute(";\n".join(parts))
            prepared.settle(self._conn, ours)
            for k, answered in enumerate(answers):
                if k:
                    cursor.nextset()
                if answered is not None:
                    answered.answer(cursor.fetchall() if cursor.description is not None
                                    else [], cursor.rowcount)
        self._read = True
        while self._due:
            due, self._due = self._due, []
            for check in due:
                check()

    def _ready_to_commit(self) -> None:
        """Before ``COMMIT`` is queued: the checks still waiting run, and a transaction that
        has sent no batch yet sends one, so that a connection the server closed while it sat
        in the pool fails before anything could be committed (the door then runs the
        function again on another), not at a commit whose outcome it cannot know."""
        if self._batching and self._sent and (self._due or not self._read):
            self._send()

    def _commit(self) -> None:
        """``COMMIT``, sent with the writes queued before it."""
        self.execute("COMMIT")
        if self._batching:
            self._send()


class _Queued:
    """A statement's cursor in a batch: reading its rows or row count sends the batch."""

    __slots__ = ("_rowcount", "_rows", "_tx")

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._rows: list[Any] | None = None
        self._rowcount = -1

    def answer(self, rows: list[Any], rowcount: int) -> None:
        """The statement's answer, from the batch that carried it."""
        self._rows, self._rowcount = rows, rowcount

    def _answered(self) -> list[Any]:
        if self._rows is None:
            self._tx._send()  # noqa: SLF001 - the cursor's transaction
        assert self._rows is not None  # noqa: S101 - the batch answered every statement
        return self._rows

    @property
    def rowcount(self) -> int:
        self._answered()
        return self._rowcount

    def fetchone(self) -> Any:
        rows = self._answered()
        return rows.pop(0) if rows else None

    def fetchall(self) -> list[Any]:
        rows = self._answered()
        self._rows = []
        return rows


#: ``scheme://user:`` then the password, up to the authority's LAST ``@`` (a raw ``@`` or
#: ``/`` in an unencoded password must not leave its tail): the authority ends at ``?``, ``#``
#: or white space. An ``@`` in the query is not the authority's.
_USERINFO_PASSWORD: Final = re.compile(r"(://[^:/@?#\s]*:)[^?#\s]*@")
#: libpq's ``password=`` keyword: a URL parameter (up to ``&``/``#``) or a key=value
#: conninfo value, quoted or not, as a driver's message may quote it.
_PASSWORD_PARAMETER: Final = re.compile(
    r"\b(password)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^&#\s]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` (or a message quoting one) with every password replaced by ``***``.

    Both of libpq's places for it (``postgresql://user:password@host`` and a
    ``password=`` parameter, PostgreSQL 16 docs §34.1.1) are hidden, each occurrence.
    """
    url = _USERINFO_PASSWORD.sub(r"\1***@", url)
    return _PASSWORD_PARAMETER.sub(r"\1=***", url)


def _reason(exc: BaseException) -> str:
    """A driver error's text on one line, without a password (psycopg may quote the
    conninfo)."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return redact_url(text or type(exc).__name__)[:300]


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- the workers ---------------------------------------------------------------------------

class _Job:
    """One transaction asked for on the loop: run by a worker, answered on the loop."""

    __slots__ = ("abandoned", "args", "asked", "bounded", "fn", "future", "kwargs", "loop")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 loop: asyncio.AbstractEventLoop, bounded: bool) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.loop, self.bounded = loop, bounded
        self.future: asyncio.Future[tuple[Any, list[Callable[[], None]]]] = \
            loop.create_future()
        #: Set on the loop when the caller stopped waiting (deadline, cancellation): a job
        #: not started is skipped, one running rolls back instead of committing.
        self.abandoned = False
        #: When it was asked for (``time.perf_counter``): its wait for a worker starts here.
        self.asked = time.perf_counter()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _join(threads: list[threading.Thread], timeout_s: float) -> None:
    """Wait for ``threads`` to end, ``timeout_s`` at most in all."""
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


class _Workers:
    """``size`` daemon threads taking jobs off one queue (daemon threads: one stuck on a
    paused server must not hold up the process's exit)."""

    def __init__(self, size: int, run: Callable[[_Job], Any]) -> None:
        self._size = size
        self._run = run
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job: _Job) -> None:
        if len(self._threads) < self._size:
            with self._lock:
                if len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, args=(self._queue,),
                                              daemon=True,
                                              name=f"mtgw-db-{len(self._threads)}")
                    self._threads.append(thread)
                    thread.start()
        self._queue.put(job)

    def stop(self) -> list[threading.Thread]:
        """Let every thread end once the jobs queued before are done (the threads, for the
        caller to wait for); a later job starts new ones, on a queue of their own."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(None)
            self._queue = queue.SimpleQueue()
        return threads

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        # this generation's queue: stop() gives the next one its own
        while (job := jobs.get()) is not None:
            if job.abandoned:
                continue
            try:
                result = self._run(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller on the loop
                self._answer(job, None, exc)
            else:
                self._answer(job, result, None)

    @staticmethod
    def _answer(job: _Job, result: Any, error: BaseException | None) -> None:
        with suppress(RuntimeError):  # the loop has closed: nobody waits for the answer
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)


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
        #: Told of each transaction a worker ran, on that worker's thread: how long it waited
        #: for a worker and how long it ran (connection, statements, commit, retries), in
        #: seconds (the console's metrics; None: nobody asks).
        self.timed: Callable[[float, float], None] | None = None
        if self.postgres:
            import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver

            self.integrity_errors = (psycopg.errors.IntegrityError,)
        #: Whether a transaction's statements are queued and sent in batches (:class:`Tx`),
        #: and what each connection has prepared for them.
        self._batching = self.postgres and batch
        self._prepared = _Prepared()
        self._workers = _Workers(self._pool_size, self._execute)

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

        Raises:
            DatabaseUnavailable: no answer within :attr:`bound_s`, or the connection failed.
        """
        return await self._submit(fn, args, kwargs, bounded=True)

    async def run_unbounded(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                            **kwargs: P.kwargs) -> T:
        """:meth:`run` without the caller's deadline nor PostgreSQL's statement timeout:
        for migrations, which may rewrite a large table once."""
        return await self._submit(fn, args, kwargs, bounded=False)

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...],
                      kwargs: dict[str, Any], *, bounded: bool) -> T:
        job = _Job(fn, args, kwargs, asyncio.get_running_loop(), bounded)
        self.in_flight += 1
        try:
            self._workers.submit(job)
            try:
                if bounded:
                    async with asyncio.timeout(self.bound_s):
                        result, hooks = await job.future
                else:
                    result, hooks = await job.future
            except TimeoutError:
                job.abandoned = True
                raise DatabaseUnavailable(
                    f"the authority's database ({self.describe()}) did not answer within "
                    f"{self.bound_s:g} s") from None
            except BaseException:
                job.abandoned = True
                raise
        finally:
            self.in_flight -= 1
        for hook in hooks:
            hook()
        return result  # type: ignore[no-any-return]

    # -- on a worker -------------------------------------------------------------------------

    def _execute(self, job: _Job) -> tuple[Any, list[Callable[[], None]]]:
        timed = self.timed
        if timed is None:
            return self._transaction(job)
        started = time.perf_counter()
        try:
            return self._transaction(job)
        finally:
            timed(started - job.asked, time.perf_counter() - started)

    def _transaction(self, job: _Job) -> tuple[Any, list[Callable[[], None]]]:
        if _on_event_loop():
            raise TransactionOnLoop("a database transaction on an event loop's thread: go "
                                    "through `await Database.run(fn, ...)`")
        if self.postgres:
            return self._postgres(job)
        return self._sqlite(job)

    def _sqlite(self, job: _Job) -> tuple[Any, list[Callable[[], None]]]:
        assert self.path is not None  # noqa: S101 - set when not postgres
        busy_s = self.statement_timeout_s if job.bounded else 30.0
        try:
            with closing(sqlite3.connect(self.path, timeout=busy_s)) as db:
                tx = Tx(db, postgres=False)
                with db:  # commits when the block ends cleanly, rolls back otherwise
                    result = job.fn(tx, *job.args, **job.kwargs)
                    if job.abandoned:
                        raise _Abandoned
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") in _SQLITE_UNAVAILABLE:
                raise DatabaseUnavailable(f"the authority's database ({self.path}) is "
                                          f"unavailable: {exc}") from None
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

    def _postgres(self, job: _Job) -> tuple[Any, list[Callable[[], None]]]:
        import psycopg  # noqa: PLC0415

        pool = self._open_pool()
        # A connection the server closed while idle in the pool (a restart, an administrator's
        # pg_terminate_backend) fails at its first statement: PostgreSQL rolled it back, so the
        # function runs again on another; each stale one fails at once, so trying one more
        # than the pool holds reaches a fresh one.
        for attempt in range(self._pool_size + 2):
            if job.abandoned:
                raise _Abandoned
            conn, pooled = self._borrow(pool)
            committing = False
            try:
                # The connection is in autocommit mode and the transaction says BEGIN and
                # COMMIT itself: psycopg's own BEGIN would wait for its answer alone.
                tx = Tx(conn, postgres=True, batching=self._batching,
                        prepared=self._prepared)
                tx.execute("BEGIN")
                if not job.bounded:
                    tx.execute("SET LOCAL statement_timeout = 0")
                result = job.fn(tx, *job.args, **job.kwargs)
                tx._ready_to_commit()  # noqa: SLF001 - the transaction's owner
                if job.abandoned:
                    raise _Abandoned
                committing = True
                tx._commit()  # noqa: SLF001
            except psycopg.OperationalError as exc:
                broken = conn.broken or conn.closed
                self._give_back(pool if pooled else None, conn)
                if broken and not committing and attempt <= self._pool_size:
                    log.info("the database dropped a connection (%s); running the "
                             "transaction again on another", type(exc).__name__)
                    continue
                # a server that answered with an error rolled the transaction back
                outcome = " (its outcome is unknown: the connection broke during COMMIT)" \
                    if committing and broken else ""
                raise DatabaseUnavailable(f"the authority's database ({self.describe()}) "
                                          f"failed: {_reason(exc)}{outcome}") from None
            except BaseException:
                self._give_back(pool if pooled else None, conn)
                raise
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
            await asyncio.to_thread(_join, stopped, self.statement_timeout_s + 1.0)
        pool, self._pool = self._pool, None
        if pool is not None:
            # pool.close() joins its maintenance threads: off the loop
            await asyncio.to_thread(pool.close, 5.0)

    # -- DDL -------------------------------------------------------------------------------

    @staticmethod
    def run_script(tx: Tx, script: str) -> None:
        """Run each statement of ``script`` (SQLite DDL, translated for PostgreSQL)."""
        for statement in _statements(postgres_ddl(script) if tx.postgres else script):
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


class _Abandoned(Exception):  # noqa: N818 - never reaches a caller
    """The caller stopped waiting: the transaction is rolled back, nobody reads the result."""


def _reconnect_failed(pool: Any) -> None:
    log.warning("the authority's database has refused new connections for %.0f s; trying "
                "again at the next transaction", pool.reconnect_timeout)


def postgres_ddl(script: str) -> str:
    """SQLite DDL as PostgreSQL's: identity keys, 64-bit integers, ``BYTEA``."""
    script = script.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    return re.sub(r"\bBLOB\b", "BYTEA", script)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
