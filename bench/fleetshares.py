"""The simulated fleet split over client processes, its figures computed from every call.

Why: one process cannot play ten thousand daemons on this kind of machine. Each simulated
daemon holds about two descriptors (its long-poll's connection and, part of the time, its
report's), and a process's hard descriptor limit can be 20,000 with no way to raise it; and
one event loop running them all lags (a p99 lag of 87 ms at 6,000 daemons), which a call's
time includes and no real daemon, a process of its own, would see.

:class:`FleetShares` runs the fleet as K shares: share ``k`` is every daemon whose index is
``k`` modulo K (:class:`bench.cadence.Fleet`), so each step of a ramp grows every share
alike, and a daemon keeps its index, hence its loopback address, console and credentials.
With K = 1 the share runs in this process, on its loop, as the bench always did; with more,
each runs in a child process of its own (``multiprocessing``'s spawn: a fresh interpreter
on the same event loop choice, :func:`mtgateway_base.loop.run`, which inherits this process's
CPU affinity and niceness). The parent sends every share the same command at once (grow to
N daemons spread over S seconds, report a window) over a pipe; a share answers with its RAW
calls, long-poll lateness and loop-lag samples, their times on the machine's monotonic clock
(one clock for every process), and the parent computes each figure once over the merged
samples (:meth:`bench.cadence.Recorder.window`, :meth:`bench.cadence.LoopWatch.window`): a
p99 is never an average of p99s. What cannot be merged from samples is said so: the most
long-polls held at once is the sum of each share's most.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bench.cadence import Cadence, Fleet, LoopWatch, Recorder
from bench.consoles import Provisioned, raise_open_files
from mtgateway_base.wire.records import AuthorityKey

__all__ = ["DAEMONS_PER_PROCESS", "FleetShares", "ShareRunner", "ShareSpec", "client_processes",
           "process_stats"]

#: The most daemons one client process runs by default: about 8,000 descriptors, well within
#: a hard limit of 20,000, and two thirds of the load at which one loop's p99 lag was 87 ms.
DAEMONS_PER_PROCESS: Final = 4000


def client_processes(largest: int, chosen: int | None = None) -> int:
    """How many client processes play a fleet of at most ``largest`` daemons: ``chosen``,
    else enough that each runs at most :data:`DAEMONS_PER_PROCESS` (1 for a small fleet)."""
    if chosen is not None:
        if chosen < 1:
            raise ValueError(f"--client-processes {chosen}: at least 1")
        return chosen
    return max(1, math.ceil(largest / DAEMONS_PER_PROCESS))


def process_stats() -> dict[str, float]:
    """This process's memory, descriptors and CPU seconds (what its simulated daemons cost)."""
    times = os.times()
    rss = 0
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = 0
    return {"rss_kib": rss, "fds": fds, "cpu_s": times.user + times.system}


def _cpus() -> list[int]:
    """The CPUs this process may run on (all, where the platform cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class ShareSpec:
    """What a share needs, in a form a pipe carries (keys as raw bytes)."""

    index: int
    of: int
    #: daemon index -> (device key raw, device id, token, token hint, token id, login)
    daemons: dict[int, tuple[bytes, str, str, str, str, int]]
    urls: tuple[str, ...]
    authority_keys: tuple[bytes, ...]
    cadence: Cadence
    spread_addresses: bool

    @classmethod
    def of_fleet(cls, index: int, of: int, provisioned: Sequence[Provisioned],
                 urls: Sequence[str], keys: Sequence[AuthorityKey], cadence: Cadence,
                 spread_addresses: bool) -> ShareSpec:
        """Share ``index`` of ``of``: the provisioned daemons it runs, and the rest."""
        daemons = {i: (p.key.private_bytes_raw(), p.device_id, p.token, p.token_hint,
                       p.token_id, p.login)
                   for i, p in enumerate(provisioned) if i % of == index}
        return cls(index, of, daemons, tuple(urls), tuple(k.raw for k in keys), cadence,
                   spread_addresses)

    def provisioned(self) -> dict[int, Provisioned]:
        return {i: Provisioned(Ed25519PrivateKey.from_private_bytes(key), device_id, token,
                               hint, token_id, login)
                for i, (key, device_id, token, hint, token_id, login) in self.daemons.items()}

    def keys(self) -> list[AuthorityKey]:
        return [AuthorityKey.from_public_key(Ed25519PublicKey.from_public_bytes(raw))
                for raw in self.authority_keys]


class ShareRunner:
    """One share's fleets (a ramp has one; a storm a warm and a cold one, by name) and its
    loop's watch, driven by commands; in this process or in a child (:func:`_child`).

    Times go out on the machine's monotonic clock (``time.monotonic``), which every process
    shares: the loop's clock (uvloop's is its own) is converted by one offset.
    """

    def __init__(self, spec: ShareSpec) -> None:
        self.spec = spec
        self._provisioned = spec.provisioned()
        self._keys = spec.keys()
        self._fleets: dict[str, Fleet] = {}
        self._watch = LoopWatch()
        self._offset = 0.0

    async def start(self) -> dict[str, Any]:
        """Start watching the loop; what this process is (its CPUs, its descriptor limit)."""
        loop = asyncio.get_running_loop()
        self._offset = time.monotonic() - loop.time()
        self._watch.start()
        soft, hard = raise_open_files(3 * len(self._provisioned) + 1024)
        return {"pid": os.getpid(), "cpus": _cpus(), "open_files": [soft, hard],
                "loop": type(loop).__module__.split(".")[0]}

    def _fleet(self, name: str, seed: int) -> Fleet:
        if name not in self._fleets:
            spec = self.spec
            self._fleets[name] = Fleet(
                self._provisioned, spec.urls, self._keys, spec.cadence, Recorder(),
                spread_addresses=spec.spread_addresses, seed=seed * 1000 + spec.index,
                share=(spec.index, spec.of))
        return self._fleets[name]

    async def handle(self, command: tuple[Any, ...]) -> Any:
        """Run one command (see :class:`FleetShares` for each) and return its answer."""
        verb, *args = command
        if verb == "grow":
            name, seed, count, spread_s = args
            await self._fleet(name, seed).grow(count, spread_s)
            return None
        if verb == "mark":  # a fleet not grown yet has nothing to forget
            if args[0] in self._fleets:
                self._fleets[args[0]].recorder.mark()
            return None
        if verb == "status":
            fleet = self._fleets[args[0]]
            return {"served": [None if s is None else s + self._offset
                               for s in fleet.served()],
                    "refused": fleet.refused(), "crashed": [repr(e) for e in fleet.crashed()]}
        if verb == "window":
            return self._window(*args)
        if verb == "stats":
            return process_stats()
        if verb == "stop":
            if args[0] in self._fleets:
                await self._fleets[args[0]].stop()
            return None
        raise ValueError(f"unknown command {verb!r}")

    def _window(self, name: str, since: float, until: float) -> dict[str, Any]:
        """The raw samples in ``[since, until)`` (monotonic clock)."""
        off = self._offset
        low, high = since - off, until - off
        fleet = self._fleets[name]
        recorder = fleet.recorder
        return {
            "daemons": len(fleet),
            "calls": [(kind, at + off, ms, error) for kind, at, ms, error in recorder.calls
                      if low <= at < high],
            "late": [(at + off, ms) for at, ms in recorder.late if low <= at < high],
            "polls_held_max": recorder.polls_held_max,
            "lags": [(at + off, ms) for at, ms in self._watch.lags if low <= at < high],
            "pauses": [(at + off, gen, ms) for at, gen, ms in self._watch.pauses
                       if low <= at < high],
            "stats": process_stats()}

    async def close(self) -> None:
        for fleet in self._fleets.values():
            with contextlib.suppress(Exception):
                await fleet.stop()
        await self._watch.stop()


def _child(conn: Connection) -> None:
    """A client process: receive its :class:`ShareSpec`, then obey commands until ``quit``
    (each answered ``("ok", answer)`` or ``("error", text)``)."""
    from mtgateway_base.loop import run  # noqa: PLC0415 - the child's own loop

    # as the parent (``bench.authority``): no cyclic collector pausing the loop that times
    # every call, and the daemons' warnings counted rather than logged
    gc.collect()
    gc.freeze()
    gc.disable()
    logging.getLogger("gateway").setLevel(logging.ERROR)
    spec: ShareSpec = conn.recv()
    run(_serve(conn, ShareRunner(spec)))


async def _serve(conn: Connection, runner: ShareRunner) -> None:
    try:
        conn.send(("ok", await runner.start()))
        while True:
            command = await asyncio.to_thread(conn.recv)
            if command[0] == "quit":
                break
            try:
                answer: tuple[str, Any] = ("ok", await runner.handle(command))
            except Exception as exc:  # the parent raises it, with this share's number
                answer = ("error", repr(exc))
            await asyncio.to_thread(conn.send, answer)
    finally:
        await runner.close()
        conn.close()


class _LocalShare:
    """The only share, run on this process's loop (K = 1: as the bench always ran)."""

    def __init__(self, spec: ShareSpec) -> None:
        self._runner = ShareRunner(spec)

    async def start(self) -> dict[str, Any]:
        return await self._runner.start()

    async def ask(self, command: tuple[Any, ...]) -> Any:
        return await self._runner.handle(command)

    async def close(self) -> None:
        await self._runner.close()


class _ChildShare:
    """A share run by a child process, asked over a pipe."""

    def __init__(self, spec: ShareSpec) -> None:
        self.index = spec.index
        context = multiprocessing.get_context("spawn")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_child, args=(theirs,), daemon=True,
                                        name=f"bench-share-{spec.index}")
        self._process.start()
        theirs.close()
        self._spec: ShareSpec | None = spec

    async def _receive(self) -> Any:
        try:
            status, answer = await asyncio.to_thread(self._conn.recv)
        except (EOFError, OSError):
            await asyncio.to_thread(self._process.join, 5)
            raise RuntimeError(f"client process {self.index} ended (exit code "
                               f"{self._process.exitcode})") from None
        if status != "ok":
            raise RuntimeError(f"client process {self.index}: {answer}")
        return answer

    async def start(self) -> dict[str, Any]:
        await asyncio.to_thread(self._conn.send, self._spec)
        self._spec = None  # the keys need not stay in this process twice
        return await self._receive()  # type: ignore[no-any-return]

    async def ask(self, command: tuple[Any, ...]) -> Any:
        try:
            await asyncio.to_thread(self._conn.send, command)
        except OSError:
            pass  # it ended: _receive says how
        return await self._receive()

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self._conn.send, ("quit",))
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.kill()
            await asyncio.to_thread(self._process.join, 5)
        self._conn.close()


class FleetShares:
    """The fleet as ``processes`` shares (see the module), each fleet named (``"main"``; a
    storm's ``"warm"`` and ``"cold"``) and grown by every share at once."""

    def __init__(self, provisioned: Sequence[Provisioned], urls: Sequence[str],
                 keys: Sequence[AuthorityKey], cadence: Cadence, *, spread_addresses: bool,
                 processes: int) -> None:
        specs = [ShareSpec.of_fleet(k, processes, provisioned, urls, keys, cadence,
                                    spread_addresses) for k in range(processes)]
        self._shares: list[_LocalShare | _ChildShare] = (
            [_LocalShare(specs[0])] if processes == 1 else [_ChildShare(s) for s in specs])
        #: What each share's process is (its pid, CPUs, descriptor limit, loop), once started.
        self.processes: list[dict[str, Any]] = []

    @property
    def in_children(self) -> bool:
        return isinstance(self._shares[0], _ChildShare)

    async def _all(self, command: tuple[Any, ...]) -> list[Any]:
        return list(await asyncio.gather(*(s.ask(command) for s in self._shares)))

    async def start(self) -> None:
        """Start every share (its process, where it has one) and wait until each is ready."""
        self.processes = list(await asyncio.gather(*(s.start() for s in self._shares)))

    async def grow(self, name: str, count: int, spread_s: float, seed: int = 1) -> None:
        """Every share starts its daemons among the fleet's first ``count``, spread over
        ``spread_s`` (a share's random delays from ``seed`` and its number)."""
        await self._all(("grow", name, seed, count, spread_s))

    async def mark(self, name: str) -> None:
        """Count the most long-polls held at once afresh, in every share."""
        await self._all(("mark", name))

    async def status(self, name: str) -> tuple[list[float | None], dict[str, int], list[str]]:
        """Each daemon's time served (monotonic clock; None: not yet), the daemons refused
        for good by reason, and the crashed ones."""
        served: list[float | None] = []
        refused: dict[str, int] = {}
        crashed: list[str] = []
        for answer in await self._all(("status", name)):
            served += answer["served"]
            for reason, n in answer["refused"].items():
                refused[reason] = refused.get(reason, 0) + n
            crashed += answer["crashed"]
        return served, refused, crashed

    async def stats(self) -> dict[str, float]:
        """Memory, descriptors and CPU of every client process, this one included, summed."""
        totals = process_stats()
        if self.in_children:
            for answer in await self._all(("stats",)):
                for key, value in answer.items():
                    totals[key] += value
        return totals

    async def window(self, name: str, since: float, until: float) -> dict[str, Any]:
        """The figures of ``[since, until)`` (monotonic clock), each computed once over every
        share's raw samples: ``calls`` (:meth:`Recorder.window`), ``client_loop``
        (:meth:`LoopWatch.window`: the lag of every share's loop), ``long_polls_held_max``
        (the sum of each share's most at once), ``shares`` (per share: its daemons, the calls
        that count in ``calls["all"]``, its failures, its CPUs and loop lag) and ``stats``
        (:meth:`stats` at the window's end)."""
        answers = await self._all(("window", name, since, until))
        recorder, watch = Recorder(), LoopWatch()
        shares = []
        for k, answer in enumerate(answers):
            recorder.calls += answer["calls"]
            recorder.late += answer["late"]
            watch.lags += answer["lags"]
            watch.pauses += answer["pauses"]
            own = Recorder()
            own.calls = answer["calls"]
            counted = own.window(since, until)
            lags = LoopWatch()
            lags.lags = answer["lags"]
            process = self.processes[k] if self.processes else {}
            shares.append({"daemons": answer["daemons"], "calls": counted["all"]["calls"],
                           "failures": sum(counted["failures"].values()),
                           "pid": process.get("pid"), "cpus": process.get("cpus", []),
                           "loop": process.get("loop", ""),
                           "lag_p99_ms": lags.window(since, until)["lag_p99_ms"]})
        stats = process_stats()
        if self.in_children:
            for answer in answers:
                for key, value in answer["stats"].items():
                    stats[key] += value
        return {"calls": recorder.window(since, until),
                "client_loop": watch.window(since, until),
                "long_polls_held_max": sum(a["polls_held_max"] for a in answers),
                "shares": shares, "stats": stats}

    async def stop(self, name: str) -> None:
        """Stop a fleet's daemons in every share (the processes stay)."""
        await self._all(("stop", name))

    async def close(self) -> None:
        """Stop every share (and its process)."""
        await asyncio.gather(*(s.close() for s in self._shares), return_exceptions=True)
