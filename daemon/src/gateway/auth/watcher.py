"""Hearing the token authority's revocations: the daemon's long-poll, and what it carries.

:func:`watch_revocations` keeps the authority's revocation long-poll open and refreshes the
record cache the moment a revocation concerning this device is announced; the refresh (signed
records, verified) is what ends the token, as it does every five minutes anyway. How long a
poll is held, and how a poll cut by something between (a proxy) is asked for less, is here.

To a console that takes it (``poll_report`` among what its answers say it ``takes``), the
long-poll also carries the periodic report of the reporter (``reporter.TerminalReporter``,
the watcher's :class:`ReportCarrier`): each poll is held until that report is due and the
next carries it, one signed call on one connection every interval where a report on a
connection of its own (the daemon's client keeps an idle one 15 s; it reports every 30 s)
and the poll's renewal were two (``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, cast, overload

from mtgateway_base.wire.api import AuthorityRefused, AuthorityUnreachable, DeviceInfo
from mtgateway_base.wire.reports import TerminalReport

__all__ = ["MIN_POLL_WAIT_S", "POLL_WAIT_S", "SHORTENED_FOR_S", "Carried", "CarryingSource",
           "ReportCarrier", "RevocationSource", "watch_revocations"]

log = logging.getLogger(__name__)

#: How long the daemon asks the console to hold one revocation long-poll. A revocation is
#: answered at once whatever it is: the wait only decides how often an idle daemon renews,
#: and each renewal is a signed call with a proof to check and a transaction, half of what
#: a fleet asks of its console at 25 s. 50 s stays under the console's bound (55 s) and the
#: idle timeouts of the documented balancer (65 s), nginx and AWS's (60 s). Something between
#: that cuts held requests sooner is learnt (``watch_revocations``), and the console's
#: ``[console] long_poll_s`` holds its polls shorter behind its own proxy. To a console that
#: takes the periodic report on the poll, each poll is held until that report is due (30 s)
#: and the next carries it: the renewal is then the report's call, not one more.
POLL_WAIT_S: Final = 50.0
#: The shortest wait asked, however soon something cut a held poll.
MIN_POLL_WAIT_S: Final = 10.0
#: How long a wait shortened after a cut stays so before the full one is tried again (a
#: console restart also ends a held poll, once, and is no proxy).
SHORTENED_FOR_S: Final = 3600.0


class RevocationSource(Protocol):
    """The authority's revocation long-poll."""

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        """The next cursor and the token ids revoked past ``cursor`` (may be empty)."""
        ...


class CarryingSource(Protocol):
    """A revocation long-poll that can carry the periodic report (``client.RemoteAuthority``):
    one signed call on one connection every interval, where a report on a connection of its
    own (a daemon's client keeps an idle one 15 s; it reports every 30 s) and the poll's
    renewal were two."""

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        """As :meth:`RevocationSource.wait_revocations`, carrying ``reports``."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class Carried:
    """A periodic report given to the long-poll to carry: what was read, what goes to the
    console, and whether the console was known to keep books apart when it was composed."""

    read: list[TerminalReport]
    reports: list[TerminalReport]
    books: bool | None


class ReportCarrier(Protocol):
    """What the revocation watcher asks of the reporter to carry its periodic report
    (:class:`TerminalReporter`)."""

    def carrying(self, on: bool) -> None:
        """A watcher starts (``on``) or stops carrying the periodic report."""
        ...

    def carry_in(self) -> tuple[float, bool] | None:
        """Seconds until the periodic report is due, and whether the poll may carry it (not
        while its console has not said); None when the poll has nothing to do with it."""
        ...

    async def take(self) -> Carried | None:
        """The periodic report, to carry now (None: nothing to report)."""
        ...

    def carried(self, taken: Carried, ok: bool) -> None:
        """Whether the poll carrying ``taken`` was answered."""
        ...


@overload
async def watch_revocations(source: RevocationSource, device: DeviceInfo,
                            refresh: Callable[[], Awaitable[object]], *,
                            wait_s: float = ..., max_backoff_s: float = ...,
                            sleep: Callable[[float], Awaitable[None]] = ...,
                            clock: Callable[[], float] = ..., carrier: None = ...) -> None: ...


@overload
async def watch_revocations(source: CarryingSource, device: DeviceInfo,
                            refresh: Callable[[], Awaitable[object]], *,
                            wait_s: float = ..., max_backoff_s: float = ...,
                            sleep: Callable[[float], Awaitable[None]] = ...,
                            clock: Callable[[], float] = ...,
                            carrier: ReportCarrier) -> None: ...


async def watch_revocations(source: RevocationSource | CarryingSource, device: DeviceInfo,
                            refresh: Callable[[], Awaitable[object]], *,
                            wait_s: float = POLL_WAIT_S, max_backoff_s: float = 30.0,
                            sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                            clock: Callable[[], float] = time.monotonic,
                            carrier: ReportCarrier | None = None) -> None:
    """Hold the revocation long-poll open; ``refresh`` the records when one arrives.

    An unreachable authority is retried with a doubling wait (1 s up to
    ``max_backoff_s``); the five-minute refresh covers the gap meanwhile. Two held polls in a
    row that fail after about the same time (at least :data:`MIN_POLL_WAIT_S`, before their
    wait was up) were cut by something between, a proxy closing requests held that long:
    the next polls ask for 5 s less (at least :data:`MIN_POLL_WAIT_S`) for
    :data:`SHORTENED_FOR_S`, then the full wait again. Otherwise every poll would be cut the
    same way and revocations would arrive only with the five-minute refresh. One cut alone
    (a console restarting ends every held poll once, each after its own time) changes
    nothing: a fleet would otherwise renew twice as often for an hour after each restart.

    With a ``carrier`` (the reporter; ``source`` then carries reports), a console that takes
    it has each poll end when the periodic report is due and the next one carry it: one
    signed call on one connection every report interval, instead of a report on a
    connection of its own and 0.6 renewals (``docs/performance.md``). A report due sooner
    than :data:`MIN_POLL_WAIT_S` goes with the poll starting now; a poll that fails hands its
    report back to the reporter, which sends it itself.
    """
    if carrier is None:
        await _watch(source, device, refresh, wait_s, max_backoff_s, sleep, clock, None)
        return
    carrier.carrying(True)
    try:
        await _watch(source, device, refresh, wait_s, max_backoff_s, sleep, clock, carrier)
    finally:
        carrier.carrying(False)


async def _watch(source: RevocationSource | CarryingSource, device: DeviceInfo,
                 refresh: Callable[[], Awaitable[object]], wait_s: float, max_backoff_s: float,
                 sleep: Callable[[float], Awaitable[None]], clock: Callable[[], float],
                 carrier: ReportCarrier | None) -> None:
    """:func:`watch_revocations`' loop."""
    cursor: int | None = None
    backoff = 1.0
    asked, full_again_at = wait_s, 0.0
    last_cut: float | None = None
    while True:
        if asked < wait_s and clock() >= full_again_at:
            asked = wait_s
        this, taken = asked, None
        if carrier is not None:
            due = carrier.carry_in()
            if due is not None and due[1] and due[0] < MIN_POLL_WAIT_S:
                taken = await carrier.take()
                due = carrier.carry_in()
            if due is not None:  # held until the next one is due (to carry it, or the one
                # after once the console has said it takes them)
                this = min(asked, max(MIN_POLL_WAIT_S, due[0]))
        started = clock()
        try:
            if taken is None:
                cursor, token_ids = await source.wait_revocations(device, cursor, this)
            else:  # (a carrier comes with a source that carries: the overloads)
                carrying = cast("CarryingSource", source)
                cursor, token_ids = await carrying.wait_revocations(device, cursor, this,
                                                                    reports=taken.reports)
        except (AuthorityUnreachable, AuthorityRefused) as exc:
            if taken is not None and carrier is not None:
                carrier.carried(taken, ok=False)
            held = clock() - started
            cut = isinstance(exc, AuthorityUnreachable) and cursor is not None \
                and MIN_POLL_WAIT_S <= held < this - 1
            if cut and last_cut is not None and abs(held - last_cut) <= max(3.0,
                                                                             0.2 * last_cut):
                asked = max(MIN_POLL_WAIT_S, min(held, last_cut) - 5)
                full_again_at = clock() + SHORTENED_FOR_S
                last_cut = None
                log.warning("the revocation long-poll was cut twice after %.0f s (a proxy "
                            "between this machine and the console closes requests held that "
                            "long); asking for %.0f s for the next hour", held, asked)
            else:
                last_cut = held if cut else None
            log.debug("revocation feed unavailable (%s); retrying in %.0f s",
                      type(exc).__name__, backoff)
            await sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        except Exception:
            if taken is not None and carrier is not None:
                carrier.carried(taken, ok=False)
            log.exception("revocation feed failed")
            await sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        if taken is not None and carrier is not None:
            carrier.carried(taken, ok=True)
        backoff, last_cut = 1.0, None
        if token_ids:
            # The feed names every token whose record changed: a revocation, and also a new
            # risk policy or paper switch of its account (registering an account is one), so
            # the line says "changed", not "revoked" (an owner reading "revoked" after
            # registering an account would look for a revocation that never happened).
            log.info("token authority announced %d changed token record(s) (revoked, or a new "
                     "account policy); refreshing records now", len(token_ids))
            await refresh()
