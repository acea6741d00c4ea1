"""The database's second door, for PostgreSQL: a transaction written as steps runs on the
event loop that asks for it, over psycopg's async connections, instead of on a worker.

**Why a second door.** A daemon's report (every 30 s) and its revocation long-poll renewal
(every 50 s or so) are most of what a console serves at its daemons' cadence. On the
workers (``database.py``) each such transaction is a hand-off to a thread and back, and a
worker's sleep and wake on every round trip: ``futex`` was 15 % of the workers' time under
``perf``, and the workers 42 % of a console's CPU. On the loop the same statements, in the
same two round trips, cost the console process 0.47-0.56x the CPU with eight callers and
0.79-0.85x with one (``python -m bench.dbdoor --shape report``, ``docs/performance.md``).

**Steps.** A transaction cannot wait for the server on the loop, so the ones that come here
are written as steps (:data:`.database.Steps`): a generator of the :class:`~.database.Tx`
that yields where it wants the statements queued so far answered, then reads them. The same
definition runs on the workers (:func:`.database.stepped`: each yield sends the batch), so
SQLite, Windows' Proactor loop (where psycopg's async connections do not run) and a
transaction handed over keep one definition. A step that reads an answer it did not yield
for, somewhere deep in a helper written for the workers, raises :class:`.database.HandOver`
here: the transaction is rolled back and runs again on a worker, correct and only slower.
So does one that finds none of this door's connections idle (:meth:`LoopDoor._borrow`): on
the loop a connection stays held while the loop serves everyone else between its round
trips, so under a load that fills the loop the workers take the rest, and while the server
is unreachable the workers meet it, with their pool's reconnection and messages
(``Database.handed_over`` counts both). A transaction may already run more than once (a
connection found broken is replaced): it does nothing but its statements.

**The same promises as the workers'.** A caller waits at most ``bound_s`` (then
:class:`.database.DatabaseUnavailable`); the server's ``statement_timeout`` is the same; a
connection found broken before ``COMMIT`` was sent is replaced and the transaction run again;
one that broke during ``COMMIT`` says its outcome is unknown; a connection given back in the
middle of a statement (a caller's deadline, a cancellation) is closed, never reused with an
answer still due. What each connection has prepared is the workers' record
(``database._Prepared``), shared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .database import DatabaseUnavailable, HandOver, Steps, Tx, _reason

if TYPE_CHECKING:
    from .database import Database

__all__ = ["LoopDoor"]

log = logging.getLogger(__name__)

#: The loops psycopg's async connections cannot run on (Windows' default: no ``add_reader``).
_PROACTOR: Final = getattr(asyncio, "ProactorEventLoop", None)
#: After a failed connection attempt, the loop's door leaves the server to the workers'
#: pool this long before it tries again.
_RETRY_S: Final = 1.0


class LoopDoor:
    """Transactions of steps on the event loop, over up to ``pool_size`` psycopg async
    connections of its own, which belong to the loop that opened the first (a console
    process has one loop).

    Not ``psycopg_pool``'s async pool: its waiting clients, timers and ``asyncio.Lock``
    cost a few loop passes a borrow, and under a load that fills the loop each pass is
    long (the closed-loop bench's reports took 1.6-3.4 s at their median through it, against
    0.9 s on the workers). This door only ever takes a connection that is idle now, so it
    needs no queue: a list of idle ones on one loop, one more opened in the background when
    a transaction found none (and, for the first, waited for).
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Connections idle now, and how many are open or opening (at most the pool size).
        self._idle: list[Any] = []
        self._open = 0
        #: One connection opening in the background at a time; after one failed, none
        #: before this time (the loop's clock): the workers meet the server meanwhile.
        self._opening: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        #: Transactions whose callers' deadline passed, still ending (:meth:`run`).
        self._leftover: set[asyncio.Task[Any]] = set()

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a transaction asked for on ``loop`` can run here now (else: the
        workers): a connection is idle, or this is the first one (it opens it). When none
        is idle and the pool is not full, one more opens in the background for the next.

        Asked before anything is scheduled, so a transaction the workers take pays no pass
        of the loop for having been offered here first."""
        if self._loop is not None and self._loop is not loop:
            return False
        if self._idle:
            return True
        if self._loop is None:
            return _PROACTOR is None or not isinstance(loop, _PROACTOR)
        if self._open < self._db.pool_size and self._opening is None \
                and loop.time() >= self._retry_at:
            self._open += 1
            self._opening = loop.create_task(self._add())
        return False

    async def run(self, fn: Callable[..., Steps[Any]], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[Any, list[Callable[[], None]]]:
        """``fn(tx, *args, **kwargs)``'s steps as one transaction: its result and the
        callbacks to run after its commit.

        Raises:
            DatabaseUnavailable: no answer within the database's bound, or the connection
                failed.
            HandOver: a step read an answer it had not yielded for (rolled back), or no
                connection of this door was idle.
        """
        db = self._db
        # Its own task, so the caller's deadline does not wait for its cancellation: psycopg
        # meets a cancelled statement by asking the server to cancel it and waiting for the
        # answer, up to 10 s more from a server that has stopped answering. The task does
        # that, then closes its connection, after the caller has heard.
        attempt = asyncio.get_running_loop().create_task(
            self._attempts(fn, args, kwargs, time.perf_counter()))
        try:
            done, _ = await asyncio.wait((attempt,), timeout=db.bound_s)
        except BaseException:  # the caller was cancelled: the transaction rolls back
            attempt.cancel()
            raise
        if not done:
            attempt.cancel()
            self._leftover.add(attempt)
            attempt.add_done_callback(self._forget)
            raise DatabaseUnavailable(
                f"the authority's database ({db.describe()}) did not answer within "
                f"{db.bound_s:g} s")
        return attempt.result()

    def _forget(self, attempt: asyncio.Task[Any]) -> None:
        """A transaction its caller gave up on has ended (its outcome went unheard)."""
        self._leftover.discard(attempt)
        if not attempt.cancelled():
            attempt.exception()  # heard here: nobody else will

    async def _attempts(self, fn: Callable[..., Steps[Any]], args: tuple[Any, ...],
                        kwargs: dict[str, Any], asked: float
                        ) -> tuple[Any, list[Callable[[], None]]]:
        import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver

        db = self._db
        size = db.pool_size
        # as on the workers: a connection the server closed while idle fails at its first
        # batch, rolled back by the server; each stale one fails at once
        for attempt in range(size + 2):
            conn = await self._borrow()
            started = time.perf_counter()
            committing = False
            try:
                tx = Tx(conn, postgres=True, batching=True,
                        prepared=db._prepared, on_loop=True)  # noqa: SLF001 - its door
                tx.execute("BEGIN")
                steps = fn(tx, *args, **kwargs)
                try:
                    while True:
                        steps.send(None)
                        await tx._send_on_loop()  # noqa: SLF001 - the transaction's owner
                except StopIteration as done:
                    result = done.value
                if tx._wants_answers():  # noqa: SLF001 - see Tx._ready_to_commit
                    await tx._send_on_loop()  # noqa: SLF001
                committing = True
                tx.execute("COMMIT")
                await tx._send_on_loop()  # noqa: SLF001
            except psycopg.OperationalError as exc:
                broken = conn.broken or conn.closed
                await self._give_back(conn)
                self._timed(asked, started)
                if broken and not committing and attempt <= size:
                    log.info("the database dropped a connection (%s); running the "
                             "transaction again on another", type(exc).__name__)
                    continue
                outcome = " (its outcome is unknown: the connection broke during COMMIT)" \
                    if committing and broken else ""
                raise DatabaseUnavailable(f"the authority's database ({db.describe()}) "
                                          f"failed: {_reason(exc)}{outcome}") from None
            except BaseException:
                await self._give_back(conn)
                self._timed(asked, started)
                raise
            self._put(conn)
            self._timed(asked, started)
            return result, tx._after_commit  # noqa: SLF001
        raise DatabaseUnavailable(f"the authority's database ({db.describe()}) keeps "
                                  "dropping its connections")

    def _timed(self, asked: float, started: float) -> None:
        """Tell the database's metrics how long the transaction waited for a connection and
        how long it ran, as the workers do."""
        timed = self._db.timed
        if timed is not None:
            timed(started - asked, time.perf_counter() - started)

    async def _borrow(self) -> Any:
        """A connection idle now; the first one this door opens is waited for (up to the
        connect timeout).

        Raises:
            HandOver: none is idle (all busy, or one still opening, or the server refused
                the last attempt): the workers' door queues the transaction and meets the
                server's faults with its own pool. On the loop a busy connection stays held
                while the loop serves everyone else between its round trips, so a queue here
                would grow with the loop's load; the workers hold one only while they run.
        """
        if self._idle:
            return self._idle.pop()
        loop = asyncio.get_running_loop()
        if self._loop is not None or self._opening is not None \
                or loop.time() < self._retry_at:
            raise HandOver  # the others open in the background (:meth:`serves`)
        self._loop = loop
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            raise

    async def _add(self) -> None:
        """Open one more connection and keep it idle."""
        try:
            self._idle.append(await self._connect())
        except HandOver:
            self._open -= 1  # the workers meet the server until the retry time
        except BaseException:
            self._open -= 1
            raise
        finally:
            self._opening = None

    async def _connect(self) -> Any:
        """A new connection, with the workers' settings.

        Raises:
            HandOver: the server refused it or did not answer (no new attempt for a second).
        """
        import psycopg  # noqa: PLC0415

        db = self._db
        try:
            return await psycopg.AsyncConnection.connect(
                db.url, **db._connect_kwargs())  # noqa: SLF001 - the same for both doors
        except psycopg.Error:
            self._retry_at = asyncio.get_running_loop().time() + _RETRY_S
            raise HandOver from None

    def _put(self, conn: Any) -> None:
        """Keep a connection whose transaction ended cleanly for the next one."""
        from psycopg import pq  # noqa: PLC0415

        if not conn.closed and conn.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            self._idle.append(conn)
        else:
            self._open -= 1
            self._forget_connection(conn)

    def _forget_connection(self, conn: Any) -> None:
        """A connection not to use again: closed (its socket only: nothing to wait for)."""
        if not conn.closed:
            conn.pgconn.finish()

    async def _give_back(self, conn: Any) -> None:
        """Take back a connection whose transaction did not commit: rolled back and kept,
        or closed. One given back in the middle of a statement is closed: its answer is
        still due."""
        import psycopg  # noqa: PLC0415
        from psycopg import pq  # noqa: PLC0415

        try:
            if not conn.broken and not conn.closed and \
                    conn.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
                try:
                    await conn.rollback()
                except psycopg.Error:
                    pass
        finally:
            self._put(conn)

    async def close(self) -> None:
        """Close the idle connections. A transaction its caller gave up on is cancelled
        again, which makes psycopg close its connection at once; one under way closes its
        own when it ends (nothing is idle to keep it)."""
        leftover, self._leftover = self._leftover, set()
        for attempt in leftover:
            attempt.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=self._db.statement_timeout_s + 1.0)
        if self._opening is not None:
            self._opening.cancel()
        idle, self._idle = self._idle, []
        for conn in idle:
            self._forget_connection(conn)
        self._open -= len(idle)
        self._loop = None if self._open <= 0 else self._loop
