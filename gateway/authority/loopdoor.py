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

from .database import _IDLE_ONLY_S, DatabaseUnavailable, HandOver, Steps, Tx, _reason

if TYPE_CHECKING:
    from .database import Database

__all__ = ["LoopDoor"]

log = logging.getLogger(__name__)

#: The loops psycopg's async connections cannot run on (Windows' default: no ``add_reader``).
_PROACTOR: Final = getattr(asyncio, "ProactorEventLoop", None)


class LoopDoor:
    """Transactions of steps on the event loop, over a pool of psycopg's async connections:
    the pool belongs to the loop that opened it (a console process has one)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        #: Whether the pool has given a connection yet (see :meth:`_borrow`).
        self._connected = False
        #: Transactions whose callers' deadline passed, still ending (:meth:`run`).
        self._leftover: set[asyncio.Task[Any]] = set()

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a transaction asked for on ``loop`` can run here (else: the workers)."""
        if self._loop is not None:
            return self._loop is loop
        return _PROACTOR is None or not isinstance(loop, _PROACTOR)

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
        pool = await self._open_pool()
        size = db.pool_size
        # as on the workers: a connection the server closed while idle fails at its first
        # batch, rolled back by the server; each stale one fails at once
        for attempt in range(size + 2):
            conn = await self._borrow(pool)
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
                await self._give_back(pool, conn)
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
                await self._give_back(pool, conn)
                self._timed(asked, started)
                raise
            await pool.putconn(conn)
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

    async def _open_pool(self) -> Any:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

                db = self._db
                logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # as the workers'
                # It says nothing of a failed connection: the workers' pool, which takes
                # the transactions this one cannot, says it once.
                pool = AsyncConnectionPool(
                    db.url, min_size=1, max_size=db.pool_size, open=False,
                    name="mtgateway-authority-loop", timeout=db.connect_timeout_s,
                    reconnect_timeout=max(10.0, 2 * db.connect_timeout_s),
                    kwargs=db._connect_kwargs())  # noqa: SLF001 - the same for both doors
                await pool.open(wait=False)
                self._pool, self._loop = pool, asyncio.get_running_loop()
        return self._pool

    async def _borrow(self, pool: Any) -> Any:
        """One of the pool's connections that is idle now (until the pool's first one is
        in, that one: up to the connect timeout).

        Raises:
            HandOver: none is (all busy, or the pool still connecting, or unable to): the
                workers' door queues the transaction and meets the server's faults with its
                own pool. On the loop a busy connection stays held while the loop serves
                everyone else between its round trips, so a queue here would grow with the
                loop's load; the workers hold one only while they run.
        """
        from psycopg_pool import PoolTimeout  # noqa: PLC0415

        try:
            conn = await pool.getconn(
                timeout=_IDLE_ONLY_S if self._connected else self._db.connect_timeout_s)
        except PoolTimeout:
            raise HandOver from None
        self._connected = True
        return conn

    @staticmethod
    async def _give_back(pool: Any, conn: Any) -> None:
        """Return a connection whose transaction did not commit to ``pool``, rolled back
        (the pool replaces a closed one). One given back in the middle of a statement is
        closed: its answer is still due."""
        import psycopg  # noqa: PLC0415
        from psycopg import pq  # noqa: PLC0415

        try:
            if not conn.broken and not conn.closed:
                if conn.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
                    await conn.close()
                else:
                    try:
                        await conn.rollback()
                    except psycopg.Error:
                        await conn.close()
        finally:
            await pool.putconn(conn)

    async def close(self) -> None:
        """Close the pool's connections (from the loop that opened it; a pool whose loop
        has ended is let go: its connections went with it). A transaction its caller gave
        up on is cancelled again, which makes psycopg close its connection at once."""
        leftover, self._leftover = self._leftover, set()
        for attempt in leftover:
            attempt.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=self._db.statement_timeout_s + 1.0)
        pool, self._pool = self._pool, None
        loop, self._loop = self._loop, None
        self._opening, self._connected = None, False
        if pool is None or loop is None:
            return
        if loop is asyncio.get_running_loop():
            await pool.close(timeout=5.0)
