"""Readiness a probe can use: a state kept by a background check, read by ``/ready`` at once.

A load balancer's health check or an orchestrator's readiness probe gives up after about a
second (Kubernetes' ``timeoutSeconds`` defaults to 1). When ``/ready`` asked the database on
every request, a stalled database (a paused server, a dropped network) held each probe for the
database's whole bound (connect timeout plus statement timeout, 10 s by default): the probe
timed out instead of hearing ``database_unreachable``, and every probe held one more of the
database door's workers.

So :class:`Readiness` checks in the background, every ``interval_s``, each check bounded by
its own ``timeout_s`` (below a probe's second), and ``/ready`` answers from the last result
without touching the database. The rules:

* a check that answers with this program's schema version: ``ready``; another version:
  ``schema_mismatch`` (naming it); a check that fails, or that has not answered within
  ``timeout_s``: ``database_unreachable`` (a database that takes seconds to answer one
  query is not one to send traffic to);
* a check still running past its timeout is waited for before the next one starts (it ends
  by the database's own bound), so a stall holds at most one worker for readiness, and the
  state stays ``database_unreachable`` meanwhile;
* each change of state is logged once, not each check.

The clock and the sleep are injected (tests step them); the check is any coroutine function
returning the schema version (the console's asks the authority, preparing the schema first if
the console started without its database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CHECK_INTERVAL_S", "CHECK_TIMEOUT_S", "ReadyState", "Readiness"]

log = logging.getLogger(__name__)

#: How often the database is asked (a change shows on ``/ready`` within this plus the
#: timeout).
CHECK_INTERVAL_S: Final = 1.0
#: How long one check may take before the database counts as unreachable: below the
#: 1 s a probe waits by default, so a stall shows as an answer, never as a probe timeout.
CHECK_TIMEOUT_S: Final = 0.8

Reason = Literal["", "database_unreachable", "schema_mismatch"]


@dataclass(frozen=True, slots=True)
class ReadyState:
    """What the last check found."""

    #: Empty when ready; else why not.
    reason: Reason
    #: The schema version the database answered (``None``: it did not answer).
    schema_version: int | None
    #: When the check ended (the injected clock).
    checked_at: float

    @property
    def ready(self) -> bool:
        """Whether traffic may be sent here."""
        return self.reason == ""


class Readiness:
    """The readiness state and the background check that keeps it.

    Args:
        check: asks the database; the schema version it holds. Any exception means the
            database is unreachable.
        expected_version: this program's schema version.
        interval_s: the wait between checks (from the end of one to the start of the next).
        timeout_s: the longest one check may take.
        clock: the time a state was found (seconds).
        sleep: waits (the interval, and a check's timeout); tests step it.
    """

    def __init__(self, check: Callable[[], Awaitable[int]], expected_version: int, *,
                 interval_s: float = CHECK_INTERVAL_S, timeout_s: float = CHECK_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if interval_s <= 0 or timeout_s <= 0:
            raise ValueError("the readiness interval and timeout must be positive")
        self._check = check
        self._expected = expected_version
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._sleep = sleep
        self._state = ReadyState("database_unreachable", None, clock())
        self._changed = asyncio.Event()
        #: A check still running past its timeout (the next waits for it).
        self._late: asyncio.Future[tuple[ReadyState, str]] | None = None
        #: Checks started so far (tests read it).
        self.checks = 0

    @property
    def state(self) -> ReadyState:
        """The last check's finding (before the first: ``database_unreachable``)."""
        return self._state

    async def wait_for(self, wanted: Callable[[ReadyState], bool]) -> ReadyState:
        """Until the state satisfies ``wanted`` (tests, and a start that waits for its first
        answer)."""
        while not wanted(self._state):
            changed = self._changed
            await changed.wait()
        return self._state

    async def check_once(self) -> ReadyState:
        """One check, bounded by the timeout; the state it leaves. A check still running at
        its timeout is left to end by itself (:meth:`run` waits for it before the next)."""
        if self._late is not None:
            await asyncio.wait({self._late})
            self._late = None
        self.checks += 1
        task = asyncio.ensure_future(self._ask())
        timer = asyncio.ensure_future(self._sleep(self._timeout_s))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if task.done():
            self._set(*task.result())
        else:
            # its finding, whenever it comes, can only say "not ready" late: not kept
            self._set(ReadyState("database_unreachable", None, self._clock()),
                      f"no answer within {self._timeout_s:g} s")
            self._late = task
        return self._state

    async def run(self) -> None:
        """Check every ``interval_s`` until cancelled (one check at a time: one past its
        timeout is waited for, and it ends by the database's own bound)."""
        try:
            while True:
                await self._sleep(self._interval_s)
                await self.check_once()
        finally:
            if self._late is not None:
                self._late.cancel()

    async def _ask(self) -> tuple[ReadyState, str]:
        """The state the check's answer means, and why when not ready."""
        try:
            version = await self._check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return ReadyState("database_unreachable", None, self._clock()), type(exc).__name__
        if version != self._expected:
            return ReadyState("schema_mismatch", version, self._clock()), ""
        return ReadyState("", version, self._clock()), ""

    def _set(self, found: ReadyState, why: str) -> None:
        before = self._state
        self._state = found
        if (before.reason, before.schema_version) != (found.reason, found.schema_version):
            if found.ready:
                log.info("readiness: ready (schema version %s)", found.schema_version)
            elif found.reason == "schema_mismatch":
                log.warning("readiness: the database holds schema version %s, this program "
                            "knows %s", found.schema_version, self._expected)
            else:
                log.warning("readiness: the database does not answer (%s)", why or "failed")
            self._changed.set()
            self._changed = asyncio.Event()
