"""The console's fair-share rule's parts (``mtgateway_console/fairshare.py``), without a
server: a share refused past its bound, a lane whose callers wait only for their own work, the
rows one address may make a server keep, the caller a task works for."""

from __future__ import annotations

import asyncio

from mtgateway_console.fairshare import (
    CALLER,
    Allowance,
    Bounds,
    Lane,
    Share,
    Who,
    current,
    server_work,
)

BOUNDS = Bounds(per_credential=2, per_owner=3, per_address=1)


def test_a_share_is_refused_past_each_bound_and_given_back() -> None:
    """Per credential, per owner (every credential of the owner together), per address for
    a caller without a credential; nothing is taken by a refusal."""
    share = Share("requests", BOUNDS)
    one, two = Who("session:a", "owner@x", "10.0.0.1"), Who("bearer:b", "owner@x", "10.0.0.2")
    assert share.take(one) is None and share.take(one) is None
    assert share.take(one) == "credential"
    assert share.take(two) is None
    assert share.take(two) == "owner"  # the owner's three are held
    assert share.held("credential", "session:a") == 2 and share.held("owner", "owner@x") == 3
    share.give(one)
    assert share.take(two) is None and share.most["owner"] == 3
    stranger = Who(address="10.0.0.9")
    assert share.take(stranger) is None and share.take(stranger) == "address"
    assert share.refused == {"credential": 1, "owner": 1, "address": 1}


async def test_a_caller_past_its_turn_waits_for_its_own_work_only() -> None:
    """Two callers share a lane: the first's third piece of work waits until one of its own
    ends, in the order it came; the second caller never waits for the first."""
    lane = Lane("the lane", BOUNDS)
    flood, other = Who("device:a", "", "10.0.0.1"), Who("device:b", "", "10.0.0.2")
    order: list[str] = []
    release = asyncio.Event()

    async def work(who: Who, name: str) -> None:
        async with lane.turn(who):
            order.append(name)
            await release.wait()

    tasks = [asyncio.ensure_future(work(flood, f"flood{n}")) for n in range(4)]
    await lane.until(lambda lane: lane.waiting("credential", "device:a") == 2)
    mine = asyncio.ensure_future(work(other, "other"))
    await lane.until(lambda lane: lane.held("credential", "device:b") == 1)
    assert order == ["flood0", "flood1", "other"]  # ahead of the flood's third and fourth
    release.set()
    await asyncio.gather(*tasks, mine)
    assert order[3:] == ["flood2", "flood3"]
    assert lane.most["credential"] == 2 and lane.waiting() == 0
    assert lane.held("credential", "device:a") == 0  # nothing left behind


async def test_a_caller_that_stops_waiting_passes_its_turn_on() -> None:
    """A waiter cancelled (its client went away) leaves the line; one cancelled just as the
    turn was handed to it passes it on, so no turn is lost."""
    lane = Lane("the lane", Bounds(per_credential=1, per_owner=1, per_address=1))
    who = Who(address="10.0.0.1")
    release = asyncio.Event()

    async def work() -> None:
        async with lane.turn(who):
            await release.wait()

    first = asyncio.ensure_future(work())
    second = asyncio.ensure_future(work())
    third = asyncio.ensure_future(work())
    await lane.until(lambda lane: lane.waiting("address", "10.0.0.1") == 2)
    second.cancel()
    release.set()
    await first  # hands the turn to the second, cancelled: passed on to the third
    await asyncio.wait_for(third, 5)
    assert second.cancelled() and lane.held("address", "10.0.0.1") == 0


async def test_the_servers_own_work_takes_no_turn() -> None:
    lane = Lane("the lane", BOUNDS)
    async with lane.turn(None):
        assert lane.held("address", "") == 0 and lane.waiting() == 0


def test_an_address_keeps_its_rows_within_the_window() -> None:
    """One address is let through ``limit`` times a window, then told how long to wait; the
    window slides; another address is not counted with it."""
    now = [1000.0]
    allowance = Allowance(3, 3600.0, clock=lambda: now[0])
    assert [allowance.admit("10.0.0.1") for _ in range(3)] == [None, None, None]
    assert allowance.admit("10.0.0.1") == 3600.0
    assert allowance.admit("10.0.0.2") is None
    now[0] += 3600.0
    assert allowance.admit("10.0.0.1") is None


def test_the_addresses_remembered_are_bounded() -> None:
    allowance = Allowance(1, 3600.0, clock=lambda: 0.0, addresses=2)
    for address in ("a", "b", "c"):
        assert allowance.admit(address) is None
    assert allowance.admit("a") is None  # forgotten: the least recently seen left first
    assert allowance.admit("c") is not None


async def test_work_started_for_everyone_is_no_callers() -> None:
    """A task the server starts while serving one caller (the revocation feed's reader)
    works for no caller: no share of the caller's bounds it. A task made without it copies
    its creator's caller."""
    async def whom() -> Who | None:
        return current()

    token = CALLER.set(Who("device:a", "", "10.0.0.1"))
    try:
        loop = asyncio.get_running_loop()
        assert await loop.create_task(whom()) == Who("device:a", "", "10.0.0.1")
        assert await loop.create_task(whom(), context=server_work()) is None
    finally:
        CALLER.reset(token)
