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

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from .dialect import numbered_text, placeholders, postgres_text

if TYPE_CHECKING:
    from .link import Link

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

#: libpq's result statuses (``ExecStatusType``, fixed by its ABI; psycopg's
#: ``pq.ExecStatus``), as the plain integers a result's ``status`` answers: an empty statement
#: (none is sent; psycopg answers it as a command done), a command done (its row count), rows.
_EMPTY_QUERY: Final = 0
_COMMAND_OK: Final = 1
_TUPLES_OK: Final = 2

#: How a statement travels in a batch: the name it is prepared under (None: sent as it is),
#: its text in the batch in the connection's encoding, %-formatted with its values' literals
#: (psycopg's style: ``%s`` for each value, ``%%`` a ``%``; the statement, or ``EXECUTE
#: name(%s, ...)``), and the ``PREPARE`` that goes before its first ``EXECUTE`` on a
#: connection (sent as it is).
_Plan = tuple[str | None, bytes, bytes]


class _Prepared:
    """The door's record of how each statement travels (:data:`_Plan`) and of each
    connection's :class:`~.link.Link` (which holds the names prepared on it).

    A statement sent :data:`PREPARE_AFTER` times is given a name, and each connection
    prepares it with its next batch and runs it by name after. A plan that is final (named,
    or never to be: not a ``SELECT``, ``INSERT``, ...) is read from its encoding's
    :attr:`~.link.Link.plans` without a lock (a ``dict``'s ``get`` is atomic, and a plan is
    written once), so a batch pays one look-up a statement; a statement's first sends are
    counted under the lock."""

    def __init__(self) -> None:
        #: The final plans, by client encoding and statement.
        self._plans: dict[str, dict[str, _Plan]] = {}
        self._uses: dict[str, int] = {}
        #: The names given, by statement.
        self._names: dict[str, str] = {}
        self._links: weakref.WeakKeyDictionary[Any, Link] = weakref.WeakKeyDictionary()
        #: The door's workers share this record: one name must never be given to two
        #: statements (a connection would run the wrong one).
        self._lock = threading.Lock()

    def plan(self, sql: str, encoding: str) -> _Plan:
        """How ``sql`` travels now on a connection of ``encoding`` (counted as one more send
        of it)."""
        with self._lock:
            plans = self._plans.setdefault(encoding, {})
            plan = plans.get(sql)
            if plan is not None:
                return plan
            text = postgres_text(sql).encode(encoding)
            name = self._names.get(sql)
            if name is None:
                if not sql.lstrip()[:6].upper().startswith(_PREPARABLE):
                    plan = plans[sql] = (None, text, b"")
                    return plan
                uses = self._uses.get(sql, 0) + 1
                if uses < PREPARE_AFTER:
                    self._uses[sql] = uses
                    return (None, text, b"")
                del self._uses[sql]
                name = self._names[sql] = f"mtgw_{len(self._names)}"
            prepare = f"PREPARE {name} AS {numbered_text(sql)}"  # (sent as it is)
            values = placeholders(sql)
            run = f"EXECUTE {name}({', '.join(['%s'] * values)})" if values \
                else f"EXECUTE {name}"
            plan = plans[sql] = (name, run.encode(encoding), prepare.encode(encoding))
            return plan

    def link(self, conn: Any) -> Link:
        """``conn``'s :class:`~.link.Link` (made with its first batch)."""
        link = self._links.get(conn)
        if link is None:
            from .link import Link  # noqa: PLC0415 - only PostgreSQL transactions batch

            link = Link(conn)
            with self._lock:
                link.plans = self._plans.setdefault(link.encoding, {})
                link = self._links.setdefault(conn, link)
        return link


class Tx:
    """One transaction: statements with ``?`` placeholders and their values; committed when
    the function run through :meth:`Database.run` returns, rolled back if it raises.

    **On PostgreSQL the statements travel in batches.** A statement is queued, not sent; the
    queue goes to the server as one message (the values merged into the text by the driver's
    own quoting, as psycopg's :class:`~psycopg.ClientCursor` binds them, the statements
    separated by ``;``, sent through the connection's libpq link, ``link.py``) when an answer
    is wanted: the rows or row
    count of one of its statements, or the ``COMMIT``, which travels with the writes before
    it. A report is then two round trips, not eight; each one saved is a worker's sleep and
    wake, the GIL handed to the loop and back, and a server backend woken
    (``docs/performance.md``). A statement's error is raised by the read that sends it, at
    the latest by the commit: nothing is committed past one. :meth:`execute` queues;
    :meth:`query`, :meth:`query_one` and :meth:`changes` say at the call site that they wait.
    """

    __slots__ = ("_after_commit", "_batch", "_batching", "_conn", "_due", "_link",
                 "_prepared", "_read", "_sent", "postgres", "round_trips")

    def __init__(self, conn: Any, postgres: bool, batching: bool = False,
                 prepared: _Prepared | None = None) -> None:
        self._conn = conn
        #: Which engine runs it (for the few statements that differ).
        self.postgres = postgres
        self._after_commit: list[Callable[[], None]] = []
        #: Whether statements are queued until an answer is wanted (else each waits for its
        #: answer), the queue, and the connection's libpq link that sends it (``link.py``).
        self._batching = batching
        self._batch: list[tuple[str, tuple[Any, ...], _Queued]] = []
        self._link: Link | None = None
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
        queued = _Queued()
        queued._tx, queued._rows = self, None
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
        and then run by name (``EXECUTE``), so the server parses and plans it once.

        The batch is the statements' texts joined, with every value merged in as a literal
        by psycopg's quoting (:class:`~.link.Link`): the text is ours, the values never are.
        Each statement's values are merged into its own text (which refuses too few or too
        many), so that a statement can never take another's."""
        batch, self._batch = self._batch, []
        if batch:
            link = self._link
            if link is None:
                link = self._link = self._prepared.link(self._conn)  # type: ignore[union-attr]
            prepared: _Prepared = self._prepared  # type: ignore[assignment]
            plan_of, encoding, literal = link.plans.get, link.encoding, link.literal
            ours = link.names
            # unsure until the server has answered: a batch that fails from here on, sent or
            # not, leaves the connection's next one to start afresh
            link.names = None
            texts: list[bytes] = []
            answers: list[_Queued | None] = []
            if ours is None:  # unsure what the connection has prepared: nothing, now
                ours, texts, answers = set(), [b"DEALLOCATE ALL"], [None]
            for sql, args, queued in batch:
                name, text, prepare = plan_of(sql) or prepared.plan(sql, encoding)
                if name is not None and name not in ours:
                    texts.append(prepare)
                    answers.append(None)
                    ours.add(name)
                try:
                    # each statement's own values into its own text: a statement given too
                    # few or too many fails here, and can never take another's
                    texts.append(text % tuple(map(literal, args)))
                except TypeError:
                    if len(args) != placeholders(sql):
                        raise _miscounted(sql, args) from None
                    raise
                answers.append(queued)
            query = b";\n".join(texts)
            self.round_trips += 1
            results = link.round_trip(query)
            transformer = link.transformer
            # (not strict: a batch that failed is answered up to its failing statement)
            for result, answered in zip(results, answers, strict=False):
                status = result.status
                if status == _TUPLES_OK:
                    if answered is not None:
                        transformer.set_pgresult(result)
                        answered._rowcount = count = result.ntuples
                        answered._rows = transformer.load_rows(0, count, tuple)
                elif status == _COMMAND_OK or status == _EMPTY_QUERY:
                    if answered is not None:
                        count = result.command_tuples
                        answered._rowcount = -1 if count is None else count
                        answered._rows = []
                else:
                    raise link.failure(result)
            if len(results) != len(answers):
                raise _unanswered(len(answers), len(results))
            link.names = ours
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


def _miscounted(sql: str, args: tuple[Any, ...]) -> Exception:
    """A statement given more or fewer values than it has placeholders, as psycopg says it."""
    from psycopg import errors  # noqa: PLC0415 - only PostgreSQL transactions batch

    return errors.ProgrammingError(f"the query has {placeholders(sql)} placeholders but "
                                   f"{len(args)} parameters were passed: {sql[:80]!r}")


def _unanswered(statements: int, results: int) -> Exception:
    """A batch the server answered with fewer (or more) results than statements, none an
    error: not PostgreSQL's way, so nothing of it is trusted."""
    from psycopg import errors  # noqa: PLC0415 - only PostgreSQL transactions batch

    return errors.InternalError(f"a batch of {statements} statements got {results} results")


class _Queued:
    """A statement's cursor in a batch: reading its rows or row count sends the batch.

    Made without an ``__init__`` (:meth:`Tx.execute` sets its transaction and no rows yet)
    and answered by the batch setting its rows and row count: a call less each, on every
    statement of every transaction."""

    __slots__ = ("_rowcount", "_rows", "_tx")

    _tx: Tx
    _rows: list[Any] | None
    _rowcount: int

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
