"""One transaction's statements (:class:`Tx`), and how they travel to PostgreSQL in batches.

A transaction is one synchronous function of a :class:`Tx`, run by the door
(``engine.Database.run``) on one of its worker threads. On SQLite each statement runs at once,
in-process. On PostgreSQL a statement is queued, not sent: the queue travels to the server as
one message when an answer is wanted, so where the round trips are is a matter of which
method the function calls:

* :meth:`Tx.execute` queues a statement (a write, or a read whose answer the function wants
  later): no wait;
* :meth:`Tx.query`, :meth:`Tx.query_one` and :meth:`Tx.changes` send what is queued with their
  statement and wait for its answer: **one round trip**, visible at the call site;
* a cursor :meth:`Tx.execute` gave sends its batch when read (its rows or row count), so two
  reads queued before either is read cost one round trip, not two;
* ``COMMIT`` travels with the writes queued before it.

Each transaction counts the batches it sent (:attr:`Tx.round_trips`); the door reports the
count with the transaction's name and times (``engine.Timing``), so the console's metrics
show which transactions wait on the network how often.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from .dialect import numbered_text, postgres_text

__all__ = ["PREPARE_AFTER", "Cursor", "Tx"]


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
    the latest by the commit: nothing is committed past one. :meth:`execute` queues;
    :meth:`query`, :meth:`query_one` and :meth:`changes` say at the call site that they wait.
    """

    __slots__ = ("_after_commit", "_batch", "_batching", "_conn", "_cursor", "_due",
                 "_prepared", "_read", "_sent", "postgres", "round_trips")

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
        #: Messages sent to the server and waited for (PostgreSQL; 0 on SQLite, in-process).
        self.round_trips = 0

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        """Run one statement (on PostgreSQL: queue it; it is sent when an answer is wanted,
        with the statements queued before and after it until then)."""
        if not self._batching:
            cursor: Cursor = self._conn.execute(postgres_text(sql) if self.postgres else sql,
                                                args)
            if self.postgres:
                self.round_trips += 1
            return cursor
        queued = _Queued(self)
        self._batch.append((sql, tuple(args), queued))
        self._sent += 1
        return queued

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of one statement (tuples), now: on PostgreSQL the statements queued so
        far travel with it, one round trip."""
        return self.execute(sql, args).fetchall()

    def query_one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of one statement (a tuple) or ``None``, now: one round trip on
        PostgreSQL, with the statements queued so far."""
        return self.execute(sql, args).fetchone()

    def changes(self, sql: str, args: Sequence[Any] = ()) -> int:
        """The rows one INSERT, UPDATE or DELETE changed, now: one round trip on PostgreSQL,
        with the statements queued so far."""
        return self.execute(sql, args).rowcount

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
            # The batch's statements in psycopg's style with their values, bound by the driver
            # for the whole batch at once (a binding per statement was some twenty Python
            # calls each, on the worker, for every statement of every call); a batch larger
            # than psycopg keeps its parse of (:data:`_CHUNK_VALUES`) is bound a chunk at a
            # time, so it is not parsed anew on every call either.
            pieces: list[tuple[str, tuple[Any, ...]]] = [] if known is not None \
                else [("DEALLOCATE ALL", ())]
            values: list[Any] = []
            ours = set() if known is None else set(known)
            answers: list[_Queued | None] = [None] * len(pieces)
            for sql, args, queued in batch:
                name = prepared.name_for(sql)
                if name is None:
                    pieces.append((postgres_text(sql), args))
                else:
                    if name not in ours:
                        # (its ``%``, one again in ``numbered_text``, doubled for the binding)
                        pieces.append((f"PREPARE {name} AS {numbered_text(sql)}".replace(
                            "%", "%%"), ()))
                        answers.append(None)
                        ours.add(name)
                    pieces.append((f"EXECUTE {name}({', '.join(['%s'] * len(args))})"
                                   if args else f"EXECUTE {name}", args))
                values.extend(args)
                answers.append(queued)
            query = ";\n".join([text for text, _ in pieces])
            prepared.settle(self._conn, None)  # until the server has answered
            self.round_trips += 1
            if len(values) <= _CHUNK_VALUES and len(query) <= _CHUNK_TEXT:
                cursor.execute(query, values)  # the usual batch
            else:
                cursor.execute(_bound(cursor, pieces))
            prepared.settle(self._conn, ours)
            for k, answered in enumerate(answers):
                if k:
                    cursor.nextset()
                if answered is not None:
                    answered.answer(cursor.fetchall() if _has_rows(cursor.pgresult) else [],
                                    cursor.rowcount)
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


#: A chunk of a batch bound at once holds this many values and characters at most: psycopg
#: keeps its parse of a query up to 50 values and 4,096 bytes (``_queries``), and parses a
#: larger one again on every call.
_CHUNK_VALUES: Final = 50
_CHUNK_TEXT: Final = 3000


def _bound(cursor: Any, pieces: list[tuple[str, tuple[Any, ...]]]) -> str:
    """A large batch's statements with their values bound (``cursor.mogrify``) a chunk at a
    time, each within what psycopg keeps its parse of, and joined."""
    chunks: list[str] = []
    texts: list[str] = []
    values: list[Any] = []
    size = 0
    for text, args in pieces:
        if texts and (len(values) + len(args) > _CHUNK_VALUES
                      or size + len(text) > _CHUNK_TEXT):
            chunks.append(cursor.mogrify(";\n".join(texts), values))
            texts, values, size = [], [], 0
        texts.append(text)
        values.extend(args)
        size += len(text)
    chunks.append(cursor.mogrify(";\n".join(texts), values))
    return ";\n".join(chunks)


@functools.cache
def _row_statuses() -> frozenset[int]:
    """The results that say "rows" even without a column (``SELECT ;``), as psycopg's
    ``Cursor.description`` reads them: libpq's ``TUPLES_OK``, ``SINGLE_TUPLE`` and (libpq 17)
    ``TUPLES_CHUNK``."""
    from psycopg import pq  # noqa: PLC0415 - only PostgreSQL transactions batch

    return frozenset(int(getattr(pq.ExecStatus, name)) for name in (
        "TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK") if hasattr(pq.ExecStatus, name))


def _has_rows(result: Any) -> bool:
    """Whether a statement's result carries rows (``fetchall`` reads them), as psycopg's
    ``Cursor.description`` says, without building that description: a ``Column`` for each
    column, its type looked up and its name decoded (most of a lookup's Python calls on the
    worker, for a yes or no)."""
    return bool(result) and (result.nfields > 0 or result.status in _row_statuses())


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
