"""Helpers shared by the tests: an injectable clock, byte-splitting, and the time unit.

Tests never sleep to wait for something: they wait on events, or move a :class:`FakeClock`;
:func:`until` watches a state outside the process that no event reports.
Where a real deadline is unavoidable (a socket read that must not hang forever), it is a
multiple of :data:`MS`, which ``MTGATEWAY_TEST_TIME_SCALE`` stretches on a slow machine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator

#: One millisecond of test time, scaled for slow machines.
MS = 0.001 * float(os.environ.get("MTGATEWAY_TEST_TIME_SCALE", "1"))


class FakeClock:
    """A clock that moves only when told to: ``clock()`` returns ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def splits(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """Every way the tests cut a byte string: whole, byte by byte, and in two at every offset."""
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    for offset in range(1, len(data)):
        yield f"split@{offset}", [data[:offset], data[offset:]]


async def until(predicate: Callable[[], bool], *, timeout_s: float = 10.0,
                step_s: float = 0.01) -> None:
    """Return once ``predicate()`` holds, checked every ``step_s``: for a state nothing in the
    test can be told about by an event (a PostgreSQL session waiting on a lock, a server
    process gone from ``pg_stat_activity``). ``TimeoutError`` past ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(step_s)
