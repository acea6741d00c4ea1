"""The door's worker threads: where every transaction runs, off the event loop.

A transaction asked for on the loop becomes a :class:`Job` on one queue; ``size`` daemon
threads (:class:`Workers`) take jobs off it, run them, and answer each on its loop. The
workers are as many as the pool's connections (PostgreSQL) or one (SQLite, whose file takes
one writer at a time: in-process transactions queue here instead of failing ``database is
locked`` on a read-to-write upgrade). A job whose caller stopped waiting (its deadline, a
cancellation) is :attr:`~Job.abandoned`: skipped if not started, rolled back if running.

Every job carries its transaction's name (:func:`transaction_name`: the function's qualified
name, ``AuthorityStore.owner_password_hash``), which the door's timings, its log lines and
its errors say: Synapse's ``runInteraction(desc, ...)``, with the description taken from the
code it describes so that it cannot drift from it.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

__all__ = ["Abandoned", "Job", "Workers", "join", "transaction_name"]


def transaction_name(fn: Callable[..., Any]) -> str:
    """The name a transaction is known by: its function's qualified name without
    ``<locals>`` (``Manager.move_money.instruct``), through a ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return str(name).replace(".<locals>", "")


class Abandoned(Exception):  # noqa: N818 - never reaches a caller
    """The caller stopped waiting: the transaction is rolled back, nobody reads the result."""


class Job:
    """One transaction asked for on the loop: run by a worker, answered on the loop."""

    __slots__ = ("abandoned", "args", "asked", "bounded", "deadline", "ended", "fn", "future",
                 "kwargs", "loop", "round_trips", "started")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 loop: asyncio.AbstractEventLoop, bounded: bool) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.loop, self.bounded = loop, bounded
        #: The caller's deadline on the loop (the door's timer; None: unbounded).
        self.deadline: asyncio.TimerHandle | None = None
        self.future: asyncio.Future[tuple[Any, list[Callable[[], None]]]] = \
            loop.create_future()
        #: Set on the loop when the caller stopped waiting (deadline, cancellation): a job
        #: not started is skipped, one running rolls back instead of committing.
        self.abandoned = False
        #: When it was asked for (``time.perf_counter``): its wait for a worker starts here.
        self.asked = time.perf_counter()
        #: The messages its attempts sent to the server and waited for (``Tx.round_trips``).
        self.round_trips = 0
        #: When a worker took it and when the worker was done with it (``time.perf_counter``;
        #: 0.0: not yet), so a caller that stopped waiting can say where the time went.
        self.started = 0.0
        self.ended = 0.0

    def whereabouts(self, now: float) -> str:
        """Where this job was at ``now`` (``time.perf_counter``), for the message of a
        caller that stopped waiting: still queued for a worker, running (for how long), or
        done by its worker with the answer not yet seen on the loop (the loop was not woken,
        or was busy)."""
        if not self.started:
            return f"it waited {now - self.asked:.2f} s for a worker, every one busy"
        queued = self.started - self.asked
        if not self.ended:
            return (f"it had run {now - self.started:.2f} s (after {queued:.2f} s waiting for "
                    "a worker)")
        return (f"its worker was done {now - self.ended:.2f} s before, after {queued:.2f} s "
                f"waiting and {self.ended - self.started:.2f} s running: the answer had not "
                "reached the event loop")

    @property
    def name(self) -> str:
        """The transaction's name (:func:`transaction_name`): worked out where it is read (the
        worker's timing, a log line, an error), not on the loop for every job."""
        return transaction_name(self.fn)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def join(threads: list[threading.Thread], timeout_s: float) -> None:
    """Wait for ``threads`` to end, ``timeout_s`` at most in all."""
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


class Workers:
    """``size`` daemon threads taking jobs off one queue (daemon threads: one stuck on a
    paused server must not hold up the process's exit)."""

    def __init__(self, size: int, run: Callable[[Job], Any]) -> None:
        self._size = size
        self._run = run
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        #: Every thread is started (read without the lock: set once the last has been).
        self._full = False
        self._lock = threading.Lock()

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the next free worker (started here, up to ``size``)."""
        if not self._full:
            with self._lock:
                if len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, args=(self._queue,),
                                              daemon=True,
                                              name=f"mtgw-db-{len(self._threads)}")
                    self._threads.append(thread)
                    thread.start()
                self._full = len(self._threads) >= self._size
        self._queue.put(job)

    def stop(self) -> list[threading.Thread]:
        """Let every thread end once the jobs queued before are done (the threads, for the
        caller to wait for); a later job starts new ones, on a queue of their own."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._full = False
            for _ in threads:
                self._queue.put(None)
            self._queue = queue.SimpleQueue()
        return threads

    def _work(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        # this generation's queue: stop() gives the next one its own
        while (job := jobs.get()) is not None:
            if job.abandoned:
                continue
            job.started = time.perf_counter()
            try:
                result = self._run(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller on the loop
                job.ended = time.perf_counter()
                self._answer(job, None, exc)
            else:
                job.ended = time.perf_counter()
                self._answer(job, result, None)

    @staticmethod
    def _answer(job: Job, result: Any, error: BaseException | None) -> None:
        with suppress(RuntimeError):  # the loop has closed: nobody waits for the answer
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)
