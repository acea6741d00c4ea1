"""``Admission``: at most ``limit`` calls at once, a call beyond it waits ``wait_s`` for a
turn in the order calls came, and past the wait it is turned away without being started."""

from __future__ import annotations

import asyncio

import pytest

from gateway.authority.admission import Admission, Busy


class Held:
    """A call that holds its turn until released."""

    def __init__(self, admission: Admission, log: list[str], name: str) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self._log, self._name = log, name
        self.task = asyncio.create_task(admission.run(self._call))

    async def _call(self) -> str:
        self._log.append(self._name)
        self.started.set()
        await self.release.wait()
        return self._name


async def test_a_call_beyond_the_limit_is_turned_away_without_being_started() -> None:
    admission, log = Admission(2, 0), []
    first, second = Held(admission, log, "a"), Held(admission, log, "b")
    await first.started.wait()
    await second.started.wait()
    assert admission.working == 2
    started: list[str] = []

    async def third() -> None:
        started.append("c")

    with pytest.raises(Busy):
        await admission.run(third)
    assert started == [] and admission.shed == 1
    first.release.set()
    assert await first.task == "a"
    await admission.run(third)  # a turn is free again
    assert started == ["c"] and admission.working == 1
    second.release.set()
    assert await second.task == "b" and admission.working == 0


async def test_waiting_calls_are_served_in_the_order_they_came() -> None:
    admission, log = Admission(1, 30), []
    first = Held(admission, log, "a")
    await first.started.wait()
    later = [Held(admission, log, name) for name in "bcd"]
    await asyncio.sleep(0)  # each asks for its turn
    assert log == ["a"] and admission.working == 1
    first.release.set()
    for held in later:
        await held.started.wait()
        held.release.set()
        await held.task
    assert log == ["a", "b", "c", "d"] and admission.shed == 0 and admission.working == 0


async def test_a_call_that_waited_past_its_wait_is_turned_away() -> None:
    admission, log = Admission(1, 0.01), []
    first = Held(admission, log, "a")
    await first.started.wait()

    async def never() -> None:
        log.append("never")

    with pytest.raises(Busy):
        await admission.run(never)
    assert log == ["a"] and admission.shed == 1
    first.release.set()
    await first.task


async def test_a_turn_comes_back_when_the_call_fails_or_its_waiter_is_cancelled() -> None:
    admission, log = Admission(1, 30), []

    async def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await admission.run(fails)
    assert admission.working == 0
    first = Held(admission, log, "a")
    await first.started.wait()
    waiter = Held(admission, log, "b")
    await asyncio.sleep(0)
    waiter.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter.task
    first.release.set()
    await first.task
    assert log == ["a"] and admission.working == 0
    after = Held(admission, log, "c")  # the cancelled waiter took no turn with it
    await after.started.wait()
    after.release.set()
    await after.task


@pytest.mark.parametrize(("limit", "wait_s"), [(0, 1.0), (1, -1.0), (1, float("inf")),
                                               (1, float("nan"))])
def test_a_limit_below_one_or_a_wait_that_is_not_a_finite_non_negative_is_refused(
        limit: int, wait_s: float) -> None:
    with pytest.raises(ValueError, match="admission needs"):
        Admission(limit, wait_s)
