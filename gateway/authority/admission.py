"""Admission: how many device calls one console process works on at once, and how long a call
waits for its turn before it is told to come back.

Why: a console that takes every call it is sent works on all of them at once, and when more
arrive than it can answer (every daemon of a fleet looking its record up after a restart),
each one waits behind all the others. The restart storm of 10,000 daemons measured it: half
the lookups were answered after 8.6 s, and ~15,000 more waited past the daemon's own 10 s
timeout, were given up by their daemon and still worked to their end, the proof checked, the
record read, signed and sealed for nobody. A call that waits for a turn instead waits at most
``wait_s``; past it the console answers ``503 console_busy`` with ``Retry-After`` before any
public-key or database work, for the price of reading its head. A daemon treats a 503 as the
console unreachable and tries again at its own pace (a lookup at the EA's reconnection
back-off, a report 2 s later), so the console works only on calls it answers in time.

What counts: the device calls that do public-key and database work (a record's lookup or
refresh, a terminal report, an approval code, a device's status). Not a revocation long-poll:
it holds its connection while it waits, by design, and is bounded on its own
(``max_long_polls_per_key``). Not the owner's pages and API: a person waits for those, and
they are few. One process's turns are its own: each of an instance's processes has its own.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

__all__ = ["Admission", "Busy", "RETRY_AFTER_S"]

T = TypeVar("T")

#: What a shed call is told to wait (``Retry-After``, whole seconds): a daemon's own pace is
#: the real bound (its lookups back off from 0.25 s to 5 s); this is for other clients.
RETRY_AFTER_S: Final = 1


class Busy(Exception):
    """No turn came within the wait: the call was not worked on."""

    def __init__(self, waited_s: float) -> None:
        super().__init__(f"no turn within {waited_s:g} s")
        self.waited_s = waited_s


class Admission:
    """At most ``limit`` calls at once; a call beyond it waits ``wait_s`` at most for a turn,
    in the order calls came (``0``: none waits, a call beyond the limit is turned away)."""

    def __init__(self, limit: int, wait_s: float) -> None:
        if limit < 1 or not wait_s >= 0 or math.isinf(wait_s):
            raise ValueError("admission needs a limit of at least 1 and a finite wait >= 0")
        self.limit = limit
        self.wait_s = wait_s
        self._turns = asyncio.Semaphore(limit)
        #: Calls turned away so far (the console's metrics read it).
        self.shed = 0

    @property
    def working(self) -> int:
        """Calls holding a turn now."""
        return self.limit - self._turns._value  # noqa: SLF001 - asyncio keeps the count there

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` once it has a turn; the turn is given back when it ends, however.

        Raises:
            Busy: no turn within ``wait_s`` (``call`` was not started).
        """
        turns = self._turns
        if turns.locked():
            if not self.wait_s:
                self.shed += 1
                raise Busy(0.0)
            try:
                async with asyncio.timeout(self.wait_s):
                    await turns.acquire()
            except TimeoutError:
                self.shed += 1
                raise Busy(self.wait_s) from None
        else:
            await turns.acquire()  # free: taken at once, nothing waits
        try:
            return await call()
        finally:
            turns.release()
