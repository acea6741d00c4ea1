"""The readiness state the console's ``/ready`` answers from (``mtgateway_console/readiness.py``),
on an injected sleep the test steps: each check's finding becomes the state at once; a check
that has not answered at its timeout makes the state ``database_unreachable`` there, and no
second check starts until it has ended (a stall holds one of the database door's workers, not
one more each interval)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mtgateway_console.database import DatabaseUnavailable
from mtgateway_console.readiness import Readiness, ReadyState

VERSION = 11


class Steps:
    """An injected sleep that ends only when the test says: ``expire(seconds)`` ends the
    oldest pending sleep of that length."""

    def __init__(self) -> None:
        self._pending: list[tuple[float, asyncio.Future[None]]] = []
        self._added = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        entry = (seconds, done)
        self._pending.append(entry)
        self._added.set()
        try:
            await done
        finally:
            self._pending.remove(entry)

    async def expire(self, seconds: float) -> None:
        while True:
            for length, done in self._pending:
                if length == seconds and not done.done():
                    done.set_result(None)
                    await asyncio.sleep(0)
                    return
            self._added.clear()
            await self._added.wait()


class Database:
    """The check: each call takes the next scripted answer (a version, an exception, or a
    future the test resolves later)."""

    def __init__(self) -> None:
        self.answers: list[int | Exception | asyncio.Future[int]] = []
        self.asked = 0

    async def __call__(self) -> int:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, asyncio.Future):
            return await answer
        return answer


def _readiness(database: Database, steps: Steps) -> Readiness:
    return Readiness(database, VERSION, interval_s=1.0, timeout_s=0.8, clock=lambda: 0.0,
                     sleep=steps)


def _is(reason: str) -> Callable[[ReadyState], bool]:
    return lambda state: state.reason == reason


async def test_each_answer_becomes_the_state() -> None:
    """This program's version: ready; a failure: database_unreachable; another version:
    schema_mismatch naming it; before any check: not ready."""
    database, steps = Database(), Steps()
    readiness = _readiness(database, steps)
    assert readiness.state.reason == "database_unreachable"
    database.answers = [VERSION, DatabaseUnavailable("gone"), VERSION + 1, VERSION - 1,
                        VERSION]
    assert (await readiness.check_once()) == ReadyState("", VERSION, 0.0)
    assert readiness.state.ready
    assert (await readiness.check_once()).reason == "database_unreachable"
    assert (await readiness.check_once()) == ReadyState("schema_mismatch", VERSION + 1, 0.0)
    assert (await readiness.check_once()) == ReadyState("schema_mismatch", VERSION - 1, 0.0)
    assert (await readiness.check_once()).ready


async def test_a_stalled_check_is_unreachable_at_its_timeout_and_never_doubled() -> None:
    """The database stops answering mid-run: the state says so when the check's timeout
    passes, while the check itself still waits; the next interval starts no second check
    until that one has ended; once the database answers, the next check finds it ready."""
    database, steps = Database(), Steps()
    readiness = _readiness(database, steps)
    stalled: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    database.answers = [VERSION, stalled, VERSION]
    runner = asyncio.create_task(readiness.run())
    try:
        await steps.expire(1.0)  # the interval: the first check answers at once
        await readiness.wait_for(lambda state: state.ready)
        await steps.expire(1.0)  # the second check stalls
        await steps.expire(0.8)  # its timeout
        await readiness.wait_for(_is("database_unreachable"))
        assert not stalled.done() and database.asked == 2
        await steps.expire(1.0)  # an interval passes: the stalled check is waited for
        for _ in range(10):
            await asyncio.sleep(0)
        assert database.asked == 2
        # it answers, late: the interval has passed, so the next check starts at once
        stalled.set_result(VERSION)
        await readiness.wait_for(lambda state: state.ready)
        assert database.asked == 3
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_check_still_running_when_the_console_stops_is_cancelled() -> None:
    """Cancelling the run cancels a check past its timeout: nothing is left pending."""
    database, steps = Database(), Steps()
    readiness = _readiness(database, steps)
    stalled: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    database.answers = [VERSION, stalled]
    runner = asyncio.create_task(readiness.run())
    await steps.expire(1.0)
    await readiness.wait_for(lambda state: state.ready)
    await steps.expire(1.0)
    await steps.expire(0.8)
    await readiness.wait_for(_is("database_unreachable"))
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    for _ in range(5):
        await asyncio.sleep(0)
    assert stalled.cancelled()


def test_the_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Readiness(Database(), VERSION, interval_s=0)
