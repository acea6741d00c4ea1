"""Simulated daemons at the real cadence: the open-loop load on the console, and its restart storm.

Each simulated daemon is made of the daemon's own parts (``gateway/auth/``), at their
defaults, so it calls the console exactly as ``mtgateway run`` in remote mode does:

* the console client, :class:`~gateway.auth.client.RemoteAuthority` (every call signed with
  the device key, 10 s per call), with an aiohttp session of its own: a real daemon's
  session keeps its connections open for 15 s after a call (aiohttp's default), so a daemon
  holds its long-poll's connection all the time, and a second one for its reports part of the
  time when they go on their own (the bench reports descriptors per daemon on both sides);
* the record cache, :class:`~gateway.auth.cache.RecordCache`: a lookup at start (with a
  fresh nonce and box key; the record's signature verified and its ``server_key`` box
  opened), then a refresh of its record every ``[authority] refresh_interval_s`` (300 s);
* the reporter, :class:`~gateway.auth.reporter.TerminalReporter`: its terminal ``active``
  with account figures and two open positions, every 30 s (retried every 2 s on failure);
* the revocation watcher, :func:`~gateway.auth.reporter.watch_revocations`: one long-poll
  held (``POLL_WAIT_S``, 50 s) and renewed, backing off 1 s doubling to 30 s on failure; to a
  console that takes it (``poll_report``), each poll held until the periodic report is due
  and the next one carrying it, as the daemon's watcher does (``Cadence.carry``; a carried
  report is timed as ``carried``, a held call, and counted among the calls answered).

A lookup that fails is retried at the pace of the EA's reconnections (a refused handshake:
250 ms doubling to 5 s, ``MTGW_BACKOFF_*`` in the EA's source), since it is the EA's
handshake that makes a daemon look a token up. Every call goes through :class:`TimedLink`,
which times it (a long-poll's time is its wait: counted apart, with how late its answer
came past the wait asked) and notes each daemon's first success of each kind.

Daemons start spread out (:meth:`Fleet.grow`), and each one's first refresh falls at a random
point of its interval, as in a fleet that has been running a while; each gets its own
loopback source address (``bench.consoles.daemon_address``), as N machines would. One
process runs a few thousand on its loop (uvloop when installed) within its descriptor limit
(about two a daemon); a larger fleet is split over client processes by
``bench/fleetshares.py``, each running one :class:`Fleet` share.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from bench.common import ROOT, percentile
from bench.consoles import SERVER, Provisioned, daemon_address
from ea_bridge import Hello, SessionInfo, TerminalId
from gateway.auth.cache import RecordCache
from gateway.auth.client import RemoteAuthority
from gateway.auth.reporter import TerminalReporter
from gateway.auth.watcher import POLL_WAIT_S, watch_revocations
from gateway.config import AuthorityConfig
from gateway.errors import Unauthorized, Unavailable
from mtgateway_base.wire.api import (
    AuthorityRefused,
    AuthorityUnreachable,
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_base.wire.reports import REPORT_INTERVAL_S, AccountFigures, Position, TerminalReport

__all__ = ["Cadence", "Fleet", "LoopWatch", "Recorder", "SimulatedDaemon", "TimedLink",
           "answered", "ea_backoff_s"]

#: The EA's source, where its reconnection back-off is defined.
_EA_SESSION: Final = (ROOT / "daemon" / "src" / "ea_bridge" / "mql" / "MQL5" / "Include"
                       / "MTGateway" / "Session.mqh")


def ea_backoff_s(source: Path = _EA_SESSION) -> tuple[float, float]:
    """The EA's reconnection back-off, first and longest wait in seconds, read from its
    source (``MTGW_BACKOFF_MIN_MS``, ``MTGW_BACKOFF_MAX_MS``): one definition."""
    text = source.read_text(encoding="utf-8")
    found = {name: int(ms) for name, ms in
             re.findall(r"#define\s+MTGW_BACKOFF_(MIN|MAX)_MS\s+(\d+)", text)}
    return found["MIN"] / 1000, found["MAX"] / 1000


def _default(callable_: Callable[..., Any], name: str) -> float:
    """A keyword's default in the daemon's code (the cadence is the daemon's, not ours)."""
    return float(inspect.signature(callable_).parameters[name].default)


@dataclass(frozen=True)
class Cadence:
    """How often a daemon calls, and how it backs off; the defaults are the daemon's own."""

    #: TerminalReporter's periodic report and its retry after a failure.
    report_s: float = float(REPORT_INTERVAL_S)
    report_retry_s: float = _default(TerminalReporter, "retry_s")
    #: ``[authority] refresh_interval_s``: the record cache's refresh.
    refresh_s: float = float(AuthorityConfig.model_fields["refresh_interval_s"].default)
    #: The revocation long-poll's wait, and the watcher's longest back-off.
    poll_s: float = POLL_WAIT_S
    poll_backoff_max_s: float = _default(watch_revocations, "max_backoff_s")
    #: ``[authority] request_timeout_s``: one call to the console.
    request_timeout_s: float = float(AuthorityConfig.model_fields["request_timeout_s"].default)
    #: How long the daemon's client keeps an idle connection: aiohttp's default, which
    #: ``gateway.auth.client`` keeps, so a report every 30 s opens one. 45 s (a report on the
    #: last one's connection) was measured and not kept:
    #: ``docs/history/performance-notes.md``, "A record's basis in one read".
    keepalive_s: float = 15.0
    #: Whether the long-poll carries the periodic report to a console that takes it
    #: (``poll_report``), as the daemon's watcher does (``--no-carry``: every report on its
    #: own, as a daemon before it; a console that does not take it gets them so anyway).
    carry: bool = True
    #: The EA's reconnection back-off (the pace of a failed lookup's retries).
    lookup_backoff_s: tuple[float, float] = field(default_factory=ea_backoff_s)

    def calls_per_s(self) -> float:
        """What one daemon asks per second at this cadence, long-poll renewals included."""
        return 1 / self.report_s + 1 / self.refresh_s + 1 / self.poll_s


class LoopWatch:
    """The bench's own event loop, watched while it plays the daemons.

    Why: every simulated daemon of a share (``bench/fleetshares.py``) shares its process's
    one loop, and a call is timed from its start to its answer as this loop sees them. A
    call answered by the console while the loop ran other daemons' work, or while the
    collector stopped it, is timed late by that much, which no real daemon (a process of its
    own) would see. A p99 can only be called the
    console's when this loop's lag and pauses are well below it, so each window reports them
    beside the calls.

    Lag: a task asks to wake every ``every_s`` and notes how late it woke. Pauses: each
    collection of the cyclic garbage collector, timed by ``gc.callbacks``.
    """

    def __init__(self, every_s: float = 0.02) -> None:
        self._every_s = every_s
        #: (when it woke, on the loop's clock; ms late)
        self.lags: list[tuple[float, float]] = []
        #: (when it ended, on the loop's clock; generation; ms)
        self.pauses: list[tuple[float, int, float]] = []
        self._gc_began = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ticked: asyncio.Event | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        elif self._loop is not None:
            self.pauses.append((self._loop.time(), info["generation"],
                                (time.perf_counter() - self._gc_began) * 1000))

    async def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            asked = time.perf_counter() + self._every_s
            await asyncio.sleep(self._every_s)
            self.lags.append((loop.time(), max(0.0, time.perf_counter() - asked) * 1000))
            if self._ticked is not None:
                self._ticked.set()

    async def next_tick(self) -> None:
        """Return once the watch has noted its next wake-up."""
        self._ticked = asyncio.Event()
        await self._ticked.wait()

    def start(self) -> None:
        """Watch from now on (from a coroutine on the loop watched)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            gc.callbacks.append(self._on_gc)
            self._task = self._loop.create_task(self._tick(self._loop))

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            gc.callbacks.remove(self._on_gc)

    def window(self, since: float, until: float) -> dict[str, float]:
        """The loop's lag (p50, p99, max in ms) and the collector's pauses (how many, their
        sum and the longest in ms) in ``[since, until)``, on the loop's clock as the
        :class:`Recorder`'s times are."""
        lags = [ms for at, ms in self.lags if since <= at < until]
        pauses = [ms for at, _, ms in self.pauses if since <= at < until]
        return {"lag_p50_ms": percentile(lags, 50), "lag_p99_ms": percentile(lags, 99),
                "lag_max_ms": max(lags, default=math.nan), "gc_pauses": len(pauses),
                "gc_ms": sum(pauses), "gc_max_ms": max(pauses, default=0.0)}


class Recorder:
    """Every completed call of every simulated daemon: what, when it ended, how long, how
    it failed ("" when answered)."""

    def __init__(self) -> None:
        #: (kind, ended at (loop time), milliseconds, error)
        self.calls: list[tuple[str, float, float, str]] = []
        #: (ended at, milliseconds past the wait asked) of long-polls held to their end
        self.late: list[tuple[float, float]] = []
        #: long-polls in flight now, and the most at once since :meth:`mark`
        self.polls_held = 0
        self.polls_held_max = 0

    def mark(self) -> None:
        """Start counting the most long-polls held at once afresh."""
        self.polls_held_max = self.polls_held

    def window(self, since: float, until: float) -> dict[str, Any]:
        """Figures of the calls that ended in ``[since, until)``: per kind and for every
        call but the long-polls' waits, the count, p50, p99 and max in ms, and the failures
        by reason."""
        chosen = [c for c in self.calls if since <= c[1] < until]
        out: dict[str, Any] = {}
        kinds = sorted({c[0] for c in chosen})
        for kind in ["all", *kinds]:
            # "all": the calls answered at once; a held poll's time is its wait, whether it
            # carried a report ("carried", counted apart) or not
            ms = [c[2] for c in chosen if not c[3] and (kind == "all" and c[0] not in _HELD
                                                        or c[0] == kind)]
            out[kind] = {"calls": len(ms), "p50_ms": percentile(ms, 50),
                         "p99_ms": percentile(ms, 99), "max_ms": max(ms, default=math.nan)}
        failures: dict[str, int] = {}
        for c in chosen:
            if c[3]:
                failures[f"{c[0]}: {c[3]}"] = failures.get(f"{c[0]}: {c[3]}", 0) + 1
        late = [ms for at, ms in self.late if since <= at < until]
        out["failures"] = failures
        out["poll_late_ms"] = {"p50": percentile(late, 50), "p99": percentile(late, 99),
                               "max": max(late, default=math.nan), "polls": len(late)}
        return out


#: The kinds of call the console holds (their time is their wait): a long-poll, and one
#: that carried the daemon's report.
_HELD: Final = frozenset({"poll", "carried"})


def answered(calls: Mapping[str, Any]) -> int:
    """The calls of a window (:meth:`Recorder.window`) the console answered, a console's CPU
    a call is read over: every call answered at once, and every report a long-poll carried
    (its poll's renewal is not counted, as no renewal is)."""
    carried = calls.get("carried")
    return int(calls["all"]["calls"]) + (int(carried["calls"]) if carried else 0)


def _error(exc: BaseException) -> str:
    """A failure's short name: the console's reason word for a refusal (4xx), else what kind
    of no-answer (a 5xx, a timeout, a connection refused or reset)."""
    if isinstance(exc, AuthorityRefused):
        return f"{exc.status} {exc.reason}"
    cause = exc.__cause__
    if isinstance(exc, AuthorityUnreachable) and cause is not None:
        return type(cause).__name__
    return str(exc)[:60] or type(exc).__name__


class TimedLink:
    """A daemon's console client with every call timed into a :class:`Recorder`, and the
    time of its first answered call of each kind (the storm's "served")."""

    def __init__(self, remote: RemoteAuthority, recorder: Recorder) -> None:
        self.remote = remote
        self._recorder = recorder
        self._loop = asyncio.get_running_loop()
        #: Loop time of the first answered call of each kind.
        self.first_ok: dict[str, float] = {}

    async def _timed(self, kind: str, call: Any) -> Any:
        started = time.perf_counter()
        error = ""
        try:
            return await call
        except (AuthorityUnreachable, AuthorityRefused) as exc:
            error = _error(exc)
            raise
        finally:
            now = self._loop.time()
            self._recorder.calls.append((kind, now, (time.perf_counter() - started) * 1000,
                                         error))
            if not error:
                self.first_ok.setdefault(kind, now)

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        return await self._timed("lookup", self.remote.lookup(  # type: ignore[no-any-return]
            device, token_hint=token_hint, device_name=device_name, os=os, nonce=nonce,
            box_key=box_key))

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        return await self._timed("refresh", self.remote.refresh(  # type: ignore[no-any-return]
            device, token_ids, nonce, box_key))

    async def report_terminals(self, device: DeviceInfo,
                               reports: list[TerminalReport]) -> int:
        return await self._timed("report", self.remote.report_terminals(  # type: ignore[no-any-return]
            device, reports))

    def takes_poll_reports(self) -> bool | None:
        """The client's (``reporter.PollReportHint``)."""
        return self.remote.takes_poll_reports()

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        """A long-poll: its first (no cursor, answered at once) is a call like the others;
        a held one counts apart, with how late it came back past ``timeout_s``, as
        ``carried`` when it carried the daemon's report."""
        if cursor is None:
            return await self._timed("poll_start",  # type: ignore[no-any-return]
                                     self.remote.wait_revocations(device, cursor, timeout_s,
                                                                  reports=reports))
        recorder = self._recorder
        recorder.polls_held += 1
        recorder.polls_held_max = max(recorder.polls_held_max, recorder.polls_held)
        started = time.perf_counter()
        try:
            answer = await self._timed("poll" if reports is None else "carried",
                                       self.remote.wait_revocations(device, cursor, timeout_s,
                                                                    reports=reports))
        finally:
            recorder.polls_held -= 1
        if not answer[1]:
            recorder.late.append((self._loop.time(),
                                  (time.perf_counter() - started - timeout_s) * 1000))
        return answer  # type: ignore[no-any-return]

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        return await self.remote.verify_device(device, code)

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        return await self.remote.resend(device)

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        return await self._timed("status",  # type: ignore[no-any-return]
                                 self.remote.device_status(device))

    async def public_keys(self) -> list[AuthorityKey]:
        return await self.remote.public_keys()


#: What each simulated terminal's account shows (a daemon reads it from its EA per report).
_FIGURES: Final = AccountFigures(10_000.0, 10_012.5, "USD", 2, 150.0, 6675.0)
_POSITIONS: Final = [Position(1001, "EURUSD", "buy", 0.1, 1.0812, 1.0824, 0.0, 0.0, 12.0, 0.0),
                     Position(1002, "XAUUSD", "sell", 0.01, 2391.5, 2392.0, 0.0, 0.0, 0.5, 0.0)]


async def _figures(terminal: TerminalId) -> AccountFigures:
    return _FIGURES


async def _positions(terminal: TerminalId) -> list[Position]:
    return _POSITIONS


class RefusedForGood(Exception):
    """The console refused the daemon's token or device (it would stop and ask its user)."""


class SimulatedDaemon:
    """One daemon of the fleet, from the daemon's own parts (see the module)."""

    def __init__(self, index: int, provisioned: Provisioned, url: str,
                 keys: Sequence[AuthorityKey], cadence: Cadence, recorder: Recorder, *,
                 spread_addresses: bool, rng: random.Random) -> None:
        self.index = index
        self._provisioned = provisioned
        self._cadence = cadence
        self._rng = rng
        connector = aiohttp.TCPConnector(
            local_addr=(daemon_address(index, spread_addresses), 0),
            keepalive_timeout=cadence.keepalive_s)
        self._session = aiohttp.ClientSession(connector=connector)
        remote = RemoteAuthority(url, provisioned.key, timeout_s=cadence.request_timeout_s,
                                 session=self._session)
        self.link = TimedLink(remote, recorder)
        self.device = remote.device
        self.cache = RecordCache(self.link, keys, self.device,
                                 device_name=f"bench daemon {index}", os_name="Linux bench",
                                 refresh_interval_s=cadence.refresh_s)
        self.reporter = TerminalReporter(self.link, self.device, interval_s=cadence.report_s,
                                         retry_s=cadence.report_retry_s, figures=_figures,
                                         positions=_positions)
        #: Loop time when it started (after its spread delay), and its refusal if any.
        self.started_at: float | None = None
        self.refused = ""

    def served_at(self) -> float | None:
        """When this daemon had its record, a report accepted and a long-poll answered
        (loop time), or ``None`` while any is missing."""
        first = self.link.first_ok
        if "lookup" not in first or "report" not in first or "poll_start" not in first:
            return None
        return max(first["lookup"], first["report"], first["poll_start"])

    async def run(self, delay_s: float) -> None:
        """Wait ``delay_s`` (the spread), look the token up as an EA's handshake makes it
        do, then report, refresh and hold the long-poll until cancelled."""
        await asyncio.sleep(delay_s)
        self.started_at = asyncio.get_running_loop().time()
        await self._look_up()
        terminal = TerminalId(self._provisioned.login, SERVER)
        hello = Hello(protocol_version=3, platform="MT5", build=4620, ea_version="1.3.0",
                      login=terminal.login, server=SERVER, company="Bench Broker")
        self.reporter.session_up(SessionInfo(terminal, f"s{self.index}",
                                             self._provisioned.token_id, hello, time.time()))
        await asyncio.gather(
            self.reporter.run(),
            watch_revocations(self.link, self.device, self.cache.refresh_once,
                              wait_s=self._cadence.poll_s,
                              max_backoff_s=self._cadence.poll_backoff_max_s,
                              carrier=self.reporter) if self._cadence.carry
            else watch_revocations(self.link, self.device, self.cache.refresh_once,
                                   wait_s=self._cadence.poll_s,
                                   max_backoff_s=self._cadence.poll_backoff_max_s),
            self._refresh())

    async def _look_up(self) -> None:
        wait, longest = self._cadence.lookup_backoff_s
        while True:
            try:
                await self.cache.find(token_hint=self._provisioned.token_hint)
                return
            except Unavailable:
                pass  # authority_unreachable: the EA is refused and reconnects after its wait
            except Unauthorized as exc:
                self.refused = exc.reason
                raise RefusedForGood(exc.reason) from None
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)

    async def _refresh(self) -> None:
        """The cache's refresh loop (``RecordCache.run``), its first at a random point of
        the interval: a fleet that has been running a while refreshes spread out."""
        await asyncio.sleep(self._rng.uniform(0, self._cadence.refresh_s))
        while True:
            try:
                await self.cache.refresh_once()
            except Exception:  # as RecordCache.run: keep refreshing whatever one pass hit
                logging.getLogger("bench.cadence").exception("record refresh failed")
            await asyncio.sleep(self._cadence.refresh_s)

    async def close(self) -> None:
        await self._session.close()


class Fleet:
    """Simulated daemons, started spread out, spread round-robin over the console URLs (a
    daemon keeps its console, as behind a balancer without stickiness it would keep its
    connections).

    ``share`` ``(k, K)``: this fleet runs only the daemons whose index is ``k`` modulo ``K``
    (one of K client processes, ``bench/fleetshares.py``); a daemon keeps its index in the
    whole fleet, so its console, its loopback address and its credentials are the ones it has
    when one process runs them all. ``provisioned`` is indexed the same way: the whole list,
    or a mapping holding at least this share's daemons.
    """

    def __init__(self, provisioned: Sequence[Provisioned] | Mapping[int, Provisioned],
                 urls: Sequence[str], keys: Sequence[AuthorityKey], cadence: Cadence,
                 recorder: Recorder, *, spread_addresses: bool, seed: int = 1,
                 share: tuple[int, int] = (0, 1)) -> None:
        self._provisioned: Mapping[int, Provisioned] = (
            provisioned if isinstance(provisioned, Mapping) else dict(enumerate(provisioned)))
        self._urls = list(urls)
        self._keys = list(keys)
        self._cadence = cadence
        self.recorder = recorder
        self._spread = spread_addresses
        self._rng = random.Random(seed)
        self._share = share
        #: Daemons of the whole fleet started so far (this share's among them are running).
        self._grown = 0
        self.daemons: list[SimulatedDaemon] = []
        self._tasks: list[asyncio.Task[None]] = []

    def __len__(self) -> int:
        return len(self.daemons)

    async def grow(self, count: int, spread_s: float) -> None:
        """Start this share's daemons among the whole fleet's first ``count``, each after a
        delay uniform in ``[0, spread_s)``; returns once the last has started.

        Raises:
            ValueError: a daemon asked for that was not provisioned.
        """
        k, of = self._share
        wanted = [i for i in range(self._grown, count) if i % of == k]
        missing = [i for i in wanted if i not in self._provisioned]
        if missing:
            raise ValueError(f"{count} daemons asked; daemon {missing[0]} (and "
                             f"{len(missing) - 1} more) not provisioned")
        self._grown = max(self._grown, count)
        added = []
        for i in wanted:
            daemon = SimulatedDaemon(i, self._provisioned[i], self._urls[i % len(self._urls)],
                                     self._keys, self._cadence, self.recorder,
                                     spread_addresses=self._spread, rng=self._rng)
            self.daemons.append(daemon)
            added.append(daemon)
            delay = self._rng.uniform(0, spread_s) if spread_s > 0 else 0.0
            self._tasks.append(asyncio.create_task(daemon.run(delay)))
        if spread_s > 0 and added:
            await asyncio.sleep(spread_s)

    def refused(self) -> dict[str, int]:
        """Daemons the console refused for good, by reason (none expected)."""
        out: dict[str, int] = {}
        for daemon in self.daemons:
            if daemon.refused:
                out[daemon.refused] = out.get(daemon.refused, 0) + 1
        return out

    def crashed(self) -> list[BaseException]:
        """Daemons whose run ended with anything but a refusal (a bench bug)."""
        return [t.exception() for t in self._tasks  # type: ignore[misc]
                if t.done() and not t.cancelled() and t.exception() is not None
                and not isinstance(t.exception(), RefusedForGood)]

    def served(self) -> list[float | None]:
        """Each daemon's :meth:`SimulatedDaemon.served_at`."""
        return [d.served_at() for d in self.daemons]

    async def stop(self) -> None:
        """Cancel every daemon and close its connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for daemon in self.daemons:
            with contextlib.suppress(Exception):
                await daemon.close()
        self._tasks.clear()
