"""One PostgreSQL connection as the door's batches drive it: libpq through psycopg's own C parts.

A batch (``tx.Tx``) is one message of statements with their values merged in by psycopg's
quoting, sent with one ``PQsendQuery`` and answered by one result a statement. psycopg's
``Cursor.execute`` did that, but around every batch its Python layers (the cursor's reset and
its query object, the generators, the wait, a result selected and a row maker made for each
statement, the rows fetched a statement at a time) cost a transaction on the worker threads
more interpreted work than the statements' own, and the interpreter on those threads was a
large part of the console's CPU at the daemons' cadence (``docs/performance.md``).
Here the same libpq calls are made straight: the values quoted by psycopg's C
``Transformer.as_literal`` (the escaping ``ClientCursor`` used), the message sent and its
results waited for by psycopg's C generator and wait (the GIL released while the server
works), each result's rows read (``tx.Tx``) by the same ``Transformer`` and loaders a cursor
uses, so the
values callers get are the same types, and an error is psycopg's own exception for the result
(``psycopg.errors.error_from_result``: a unique violation, a serialization failure, a server
that ended the session), or the ``OperationalError`` libpq's failure to send or read raises,
which leaves the connection ``broken`` for the door to see.

psycopg's :class:`~psycopg.Connection` stays the connection's owner: the pool opens, checks,
resets and closes it, and a failed transaction's ``ROLLBACK`` is its own; a :class:`Link` only
borrows its ``pgconn`` for a batch, between whole messages, and keeps what the door knows of
the connection (the statements it has prepared).
"""

from __future__ import annotations

from typing import Any

from psycopg import adapt, errors, pq
from psycopg.generators import execute
from psycopg.waiting import wait

__all__ = ["Link"]

#: How long one wait for the server blocks before it looks again (seconds): psycopg's own
#: ``Connection.wait`` interval. psycopg's ``wait`` defaults to 0, a poll that returns at
#: once: left at that, a worker spun on its socket (and on the GIL) for as long as the
#: server worked, which was a quarter of the console's CPU at the daemons' cadence.
WAIT_INTERVAL_S = 0.1


class Link:
    """One connection's libpq handle, the ``Transformer`` that quotes its values and loads its
    rows (one per connection, as its loaders depend on the connection's settings), and the
    names of the statements prepared on it (``None``: unsure, after a batch that failed:
    ``PREPARE`` is not undone by a rollback, so the next batch starts with ``DEALLOCATE
    ALL``)."""

    __slots__ = ("encoding", "literal", "names", "pgconn", "plans", "transformer")

    def __init__(self, conn: Any) -> None:
        self.pgconn: Any = conn.pgconn
        self.transformer: Any = adapt.Transformer(conn)
        #: A value as an SQL literal, by psycopg's quoting (the connection's own escaping;
        #: ``None`` is ``NULL``).
        self.literal = self.transformer.as_literal
        #: The client encoding the statements' text is sent in.
        self.encoding: str = self.transformer.encoding
        self.names: set[str] | None = set()
        #: How each statement travels in this encoding (``tx._Prepared``'s, shared by every
        #: connection of the encoding).
        self.plans: dict[str, Any] = {}

    def round_trip(self, query: bytes) -> list[Any]:
        """Send ``query`` (one or more statements) and wait for every result: one per
        statement, up to and including the first that failed (the server runs none after
        it). The wait is psycopg's, in C, with the GIL released, blocked in ``poll`` until
        the server answers (woken every ``WAIT_INTERVAL_S`` at most, as psycopg's own)."""
        pgconn = self.pgconn
        pgconn.send_query(query)
        return wait(execute(pgconn), pgconn.socket, WAIT_INTERVAL_S)

    def failure(self, result: Any) -> Exception:
        """The exception a result that is not an answer stands for, as psycopg's cursor
        raises it: the server's error as its class (``psycopg.errors.UniqueViolation``,
        ``SerializationFailure``, ``AdminShutdown``...), anything else psycopg's
        ``InternalError``."""
        status = result.status
        if status == pq.ExecStatus.FATAL_ERROR:
            return errors.error_from_result(result, encoding=self.encoding)
        return errors.InternalError(
            f"unexpected result status from query: {pq.ExecStatus(status).name}")
