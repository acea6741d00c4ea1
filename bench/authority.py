"""The token authority under simulated daemons: a closed loop, the real cadence, a restart storm.

``python -m bench.authority [--mode closed|cadence|storm] [--variant SPEC ...] [--json PATH]``

Set-up (every mode): a throw-away PostgreSQL server (Debian's binaries, as ``tests/pgkit.py``
starts it), then per row a fresh database and K ``mtgateway-console`` processes on it sharing
one data directory (the key files), the daemons provisioned first through the authority's own
code (``bench/consoles.py``). ``--variant`` names which console is measured (repeatable, run
one after another in one invocation): ``branch`` (this tree), ``main,tree=$MAIN`` (another
checkout's console, driven by this tree's simulated daemons), ``loop,public_key_work=loop``
(a ``[console]`` setting: a lever switched). Rows carry the variant's name. ``--repeat N``
runs each variant N times, in a balanced order by default (A B, B A, A B: a drift of the
machine's speed cancels, ``bench/alternation.py``); a cadence run of several then prints,
per step and variant, the console's CPU per answered call, its median and the ratio to the
first variant's (``compared`` in the JSON).

**closed** (``--daemons 10,100 --instances 1,2 --duration 10``): each of N daemons calls as
fast as answers come, each call to the instance with the fewest calls in flight (``--balance
leastconn``, as the documented balancer routes; ``roundrobin``: each daemon alternates), the
first ``--warmup`` seconds (5) run and not counted: a record lookup by the token's hint
and a refresh by token id (each with a fresh nonce and box key), a terminal report, a device
status and the public keys, each device-signed; beside it one held revocation long-poll (25
s), counted apart. A row: requests per second, p50/p99 of one request, long-polls held, and
connections the consoles' guard closed or refused. This measures saturation. The daemons'
one loop times every call, and shares the cores with the consoles it measures:
``--client-nice -5`` gives it the CPU first, as a fleet on other machines has its own
(the row says the niceness it ran at, and the loop's lag).

**cadence** (``--steps 1000,2000,5000,10000,15000 --instances 1``): an open loop. Each step
adds daemons until there are N, started spread over ``--spread`` seconds, each made of the
daemon's own parts at their defaults (``bench/cadence.py``: a lookup at start, a report
every 30 s, a record refresh every 300 s, one revocation long-poll held and renewed), then
measures ``--window`` seconds more. The ramp stops after the first step whose p99 over every
call (held long-polls' waits apart) passes ``--p99-limit-ms`` (250) or where a call failed.
A row: N, calls and their p50/p99 by kind, failures by reason, long-polls held, how late held
polls came back, and what the consoles held: resident memory and descriptors (in all and per
daemon), CPU (cores busy over the step), PostgreSQL connections; and the bench's own memory
and descriptors (what 10,000 simulated daemons cost the client side).

**storm** (``--daemons 10000 --instances 1 --down 5``): N daemons at cadence; then every
console is stopped (SIGTERM), and the daemons restart with it, cold (a host reboot or an
upgrade of both: every daemon needs its record again); the consoles stay down ``--down``
seconds while the daemons' first tries fail and back off as the real ones do (lookups at the
EA's pace, 0.25 s doubling to 5 s; long-polls 1 s doubling to 30 s; reports every 2 s); then
the consoles start on the same ports. A row: the seconds from the consoles listening again
until every daemon has its record (lookup with a sealed box, verified), a report accepted and
its long-poll answered; p50/p99 of each daemon's time; refusals and failures by reason; and
daemons refused for good (none expected); ``--storm-limit`` bounds the wait.

Both open-loop modes split a fleet larger than 4,000 daemons over client processes, each
with its own loop and at most 4,000 daemons (``--client-processes K`` chooses; 1 runs them in
this process; ``bench/fleetshares.py``): one process's descriptor limit and one loop's lag
bound what one process can play. Every figure is computed over all their calls.

Figures depend on the machine: run it on a quiet one (``docs/performance.md`` has the lead's
commands). ``--console-cpus``/``--client-cpus`` pin the consoles and the bench (Linux);
``--pin-instances`` gives each instance a CPU of its own, as an operator running several on one
host gives each its own CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from bench.alternation import ORDERS, compare, print_comparison, rounds
from bench.cadence import Cadence, LoopWatch, answered
from bench.common import percentile
from bench.consoles import (
    SERVER,
    ConsoleProcess,
    Provisioned,
    Variant,
    console_config,
    postgres_sessions,
    provision,
    raise_open_files,
)
from bench.fleetshares import DAEMONS_PER_PROCESS, FleetShares, client_processes, process_stats
from mtgateway_base.curve25519 import SigningKey
from mtgateway_base.loop import run as run_on_loop
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.proofs import device_proof_headers
from mtgateway_base.wire.records import b64url_encode
from tests.pgkit import PostgresServer

#: What a daemon's watcher asks the console to hold a revocation long-poll for.
_POLL_S = 25.0


@dataclass(frozen=True)
class _Setup:
    """One row's consoles, started, and what they were started with."""

    consoles: list[ConsoleProcess]
    configs: list[Path]
    database_url: str
    daemons: list[Provisioned]

    @property
    def urls(self) -> list[str]:
        return [c.url for c in self.consoles]

    def stats(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for console in self.consoles:
            for key, value in console.stats().items():
                totals[key] = totals.get(key, 0.0) + value
        return totals

    def stop(self) -> None:
        for console in self.consoles:
            console.stop()


async def _set_up(server: PostgresServer, root: Path, variant: Variant, instances: int,
                  daemons: int, cpus: Sequence[Sequence[int]]) -> _Setup:
    """A fresh database with ``daemons`` provisioned, and ``instances`` consoles on it,
    instance k on the CPUs ``cpus[k]`` (round; all when empty)."""
    data = root / "data"
    data.mkdir(parents=True, mode=0o700)
    database_url = await asyncio.to_thread(server.new_database)
    provisioned = await provision(data, database_url, daemons, variant.tree)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": database_url}
    consoles, configs = [], []
    try:
        for k in range(instances):
            config = root / f"console-{k}.toml"
            console_config(config, data, port=0, daemons=daemons, variant=variant)
            console = ConsoleProcess(variant, config, env, root / f"console-{k}.log",
                                     cpus[k % len(cpus)] if cpus else ())
            consoles.append(console)
            await asyncio.to_thread(console.start)
            # the same port again when it restarts (the storm)
            console_config(config, data, port=console.port, daemons=daemons, variant=variant)
            configs.append(config)
    except BaseException:
        for console in consoles:
            console.stop()
        raise
    for console in consoles:
        if console.budget_capped():
            print(f"  note: {console.budget_capped()}", flush=True)
    return _Setup(consoles, configs, database_url, provisioned)


def _per(value: float, n: int) -> float:
    return value / n if n else math.nan


# -- the closed loop --------------------------------------------------------------------------

class _Signer:
    """Device-signed requests for one daemon (a fresh millisecond per proof: the console
    refuses a proof it has seen)."""

    def __init__(self, daemon: Provisioned) -> None:
        self.daemon = daemon
        # made once, as the daemon's client makes it (``gateway/auth/client.py``): a
        # ``cryptography`` key would be converted for every proof
        self._key = SigningKey(daemon.key)
        self._stamp = int(time.time() * 1000)

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        self._stamp = max(self._stamp + 1, int(time.time() * 1000))
        headers = device_proof_headers(self._key, method, path, body, time.time(),
                                       time_ms=self._stamp)
        if body:
            headers["Content-Type"] = "application/json"
        return headers


def _details(login: int) -> dict[str, object]:
    """A report's ``details`` as a daemon of this release sends them for a terminal holding
    two positions and a pending order, with five new deals (``docs/console.md``)."""
    position = {"ticket": 1, "time": 1_763_650_000, "type": 0, "magic": 0, "volume": 0.1,
                "price_open": 97_000.0, "sl": 0.0, "tp": 0.0, "price_current": 97_125.0,
                "swap": 0.0, "profit": 12.5, "symbol": "BTCUSD", "comment": ""}
    order = {"ticket": 3, "time_setup": 1_763_650_000, "type": 2, "magic": 0,
             "volume_current": 0.1, "price_open": 95_000.0, "sl": 0.0, "tp": 0.0,
             "price_current": 97_125.0, "time_expiration": 0, "symbol": "BTCUSD",
             "comment": ""}
    deal = {"ticket": 10, "order": 1, "time": 1_763_650_000, "type": 0, "entry": 0,
            "magic": 0, "position_id": 1, "volume": 0.1, "price": 97_000.0,
            "commission": 0.0, "swap": 0.0, "profit": 0.0, "symbol": "BTCUSD", "comment": ""}
    return {"account": {"login": login, "currency": "USD", "leverage": 100,
                        "balance": 10_000.0, "credit": 0.0, "equity": 10_012.5,
                        "margin": 194.0, "margin_free": 9_818.5, "margin_level": 5160.0},
            "positions": [position, {**position, "ticket": 2}], "orders": [order],
            "deals": [{**deal, "ticket": 10 + i} for i in range(5)],
            "positions_total": 2, "orders_total": 1}


def _calls(daemon: Provisioned, details: bool = False) -> list[tuple[str, str, bytes]]:
    """The loop's calls, in order: (method, path, body); a ``{nonce}`` and a ``{box}`` are
    filled per call. With ``details``, the report carries what a daemon of this release sends
    for the console's API and live page (its as-of, positions and ``details``)."""
    terminal: dict[str, object] = {
        "login": daemon.login, "server": SERVER, "state": "active",
        "token_id": daemon.token_id, "platform": "MT5", "ea_version": "1.2.0",
        "balance": 10_000.0, "equity": 10_012.5, "currency": "USD", "positions": 2}
    if details:
        terminal.update(as_of=time.time(), open_positions=[
            {"ticket": t, "symbol": "BTCUSD", "type": "buy", "volume": 0.1,
             "price_open": 97_000.0, "price_current": 97_125.0, "sl": 0.0, "tp": 0.0,
             "profit": 12.5, "swap": 0.0} for t in (1, 2)], details=_details(daemon.login))
    report = {"terminals": [terminal]}
    return [
        ("POST", "/v1/records/lookup",  # named, as a daemon names itself (``gateway.app``)
         b'{"token_hint": "%s", "device_name": "bench daemon %d", "os": "Linux bench", '
         b'"nonce": "{nonce}", "box_key": "{box}"}' % (daemon.token_hint.encode(), daemon.login)),
        ("POST", "/v1/records/refresh",
         b'{"token_ids": ["%s"], "nonce": "{nonce}", "box_key": "{box}"}'
         % daemon.token_id.encode()),
        ("POST", "/v1/terminals/report", orjson.dumps(report)),
        ("GET", "/v1/device/status", b""),
        ("GET", "/v1/keys", b""),
    ]


class Routes:
    """Which console instance each closed-loop call goes to.

    ``leastconn`` (the default) sends a call to the instance with the fewest of this bench's
    calls in flight, as the balancer ``docs/authority.md`` configures (HAProxy's ``balance
    leastconn``) sends it: a slower instance gets fewer calls. ``roundrobin`` makes each
    daemon alternate between the instances, call by call, whatever they answer: every
    instance gets the same number of calls, so in a closed loop the slower one holds almost
    every daemon waiting and sets the rate of all (the rows before 2026-11-25 evening were
    measured so).
    """

    POLICIES: Final = ("leastconn", "roundrobin")

    def __init__(self, urls: Sequence[str], policy: str = "leastconn") -> None:
        if policy not in self.POLICIES:
            raise ValueError(f"routing policy {policy!r}: one of {', '.join(self.POLICIES)}")
        self.urls = list(urls)
        self.policy = policy
        self.in_flight = [0] * len(self.urls)
        #: Calls sent to each instance (what the row reports as the split).
        self.sent = [0] * len(self.urls)

    def pick(self, turn: int) -> int:
        """The instance for a daemon's ``turn``-th call (ties go round, starting at
        ``turn``, so equal instances share the calls evenly)."""
        count = len(self.urls)
        if self.policy == "roundrobin" or count == 1:
            return turn % count
        in_flight = self.in_flight
        return min(range(count), key=lambda k: (in_flight[k], (k - turn) % count))


def filled(body: bytes, daemon: Provisioned) -> bytes:
    """A call's body with a fresh ``{nonce}`` and, where it asks for one, a fresh box key
    ``{box}`` (a record lookup or refresh): what a daemon makes for each request, and no
    more (it makes a box key only for the records it asks for, ``gateway/auth/cache.py``)."""
    if b"{nonce}" not in body:
        return body
    nonce = secrets.token_hex(16)
    body = body.replace(b"{nonce}", nonce.encode())
    if b"{box}" in body:
        box = BoxOpener(daemon.device_id, nonce)
        body = body.replace(b"{box}", b64url_encode(box.public_key).encode())
    return body


async def _loop(daemon: Provisioned, routes: Routes, offset: int, until: float,
                counted_from: float, session: aiohttp.ClientSession, latencies: list[float],
                by_path: dict[str, list[float]], details: bool = False) -> None:
    """One daemon calling as fast as answers come; each call's time also by its path. Only
    calls started at ``counted_from`` or later are counted (the warm-up's are not)."""
    signer = _Signer(daemon)
    calls = _calls(daemon, details)
    i = offset
    while time.monotonic() < until:
        instance = routes.pick(i)
        url = routes.urls[instance]
        method, path, body = calls[i % len(calls)]
        body = filled(body, daemon)
        headers = signer.headers(method, path, body) if path != "/v1/keys" else {}
        counted = time.monotonic() >= counted_from
        routes.in_flight[instance] += 1
        start = time.perf_counter()
        try:
            async with session.request(method, url + path, data=body or None,
                                       headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}{path} answered {response.status}")
        finally:
            routes.in_flight[instance] -= 1
        took = (time.perf_counter() - start) * 1000
        if counted:
            routes.sent[instance] += 1
            latencies.append(took)
            by_path.setdefault(path, []).append(took)
        i += 1


def poll_wait_s(cursor: int | None, left_s: float) -> float | None:
    """How long the next long-poll asks to be held with ``left_s`` of the run left, or None
    when the run is over. The first poll (no cursor yet) only reads the cursor. The time left
    is read once: read twice, a watcher woken just at the end asked a negative wait, which
    the console rightly refuses with 400."""
    if left_s <= 0:
        return None
    return 0.0 if cursor is None else min(_POLL_S, left_s)


async def _watch(daemon: Provisioned, url: str, until: float,
                 session: aiohttp.ClientSession, held: list[int]) -> None:
    """One revocation long-poll held at a time, as a daemon's watcher holds it."""
    signer = _Signer(daemon)
    cursor: int | None = None
    while (wait_s := poll_wait_s(cursor, until - time.monotonic())) is not None:
        body = orjson.dumps({"cursor": cursor, "wait_s": wait_s})
        path = "/v1/device/revocations"
        held[0] += 1
        try:
            async with session.post(url + path, data=body,
                                    headers=signer.headers("POST", path, body)) as response:
                answer = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}{path} answered {response.status}")
        finally:
            held[0] -= 1
        cursor = int(orjson.loads(answer)["cursor"])
        held[1] += 1


async def _measure(urls: list[str], daemons: list[Provisioned], duration_s: float,
                   details: bool = False, policy: str = "leastconn",
                   warmup_s: float = 0.0) -> dict[str, Any]:
    """``duration_s`` of the closed loop counted, after ``warmup_s`` run and not counted."""
    routes = Routes(urls, policy)
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {}
    held = [0, 0, 0]  # held now, answered, most held at once
    connector = aiohttp.TCPConnector(limit=0)
    loop = asyncio.get_running_loop()
    watch = LoopWatch()  # the bench's own loop: how much of a call's time is the client's
    watch.start()
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        began, loop_began = started + warmup_s, loop.time() + warmup_s
        until = began + duration_s
        watchers = [asyncio.create_task(_watch(d, urls[n % len(urls)], until, session, held))
                    for n, d in enumerate(daemons)]

        async def peak() -> None:
            while time.monotonic() < until:
                held[2] = max(held[2], held[0])
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(peak())
        await asyncio.gather(*(_loop(d, routes, n, until, began, session, latencies,
                                     by_path, details)
                               for n, d in enumerate(daemons)))
        elapsed = time.monotonic() - began
        # A watcher that failed (an error answer) ended early: that is a failed run, not a
        # quieter one.
        failed = [t.exception() for t in watchers if t.done() and not t.cancelled()
                  and t.exception() is not None]
        sampler.cancel()
        for task in watchers:
            task.cancel()
        await asyncio.gather(sampler, *watchers, return_exceptions=True)
        if failed:
            raise RuntimeError(f"{len(failed)} revocation long-poll(s) failed: {failed[0]}")
    client_loop = watch.window(loop_began, loop.time())
    await watch.stop()
    return {"client_loop": client_loop, "routing": policy, "warmup_s": warmup_s,
            "calls_per_instance": routes.sent, "requests": len(latencies),
            "req_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "long_polls_held_max": held[2],
            "by_path": {path: {"requests": len(times), "p50_ms": percentile(times, 50),
                               "p99_ms": percentile(times, 99)}
                        for path, times in sorted(by_path.items())}}


@contextlib.contextmanager
def _niced(nice: int) -> Iterator[int]:
    """The calling thread at ``nice`` (Linux: a thread's own; 0 leaves it), back at its own
    after; yields the niceness it ran at (its own when the change was refused).

    Why: in the closed loop the simulated daemons share the machine's cores with the consoles
    they measure, and a call is timed by their one loop, which is late by as long as the
    consoles keep it off a core (with two instances on two cores: ~1 s at its p99). A real
    fleet runs elsewhere. A negative niceness (``--client-nice -5``) gives the bench's loop
    the CPU first when it wants it, so a call's time is the consoles' and not the bench's own
    wait; the consoles still get every cycle the bench does not use. Only this thread: the
    consoles and PostgreSQL, started before, keep theirs."""
    if nice == 0 or not hasattr(os, "setpriority"):
        yield 0
        return
    own = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        print(f"note: niceness {nice} refused (needs CAP_SYS_NICE); the bench runs at {own}",
              file=sys.stderr)
        yield own
        return
    try:
        yield nice
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, own)
        except PermissionError:  # back up from a positive one needs CAP_SYS_NICE
            print(f"note: the bench stays at niceness {nice}", file=sys.stderr)


def run_closed(server: PostgresServer, tmp: Path, variant: Variant, daemons: list[int],
               instances: list[int], duration_s: float, cpus: Sequence[Sequence[int]],
               details: bool = False, policy: str = "leastconn",
               warmup_s: float = 0.0, client_nice: int = 0) -> list[dict[str, Any]]:
    """Every (instances, daemons) row of the closed loop (``details``: reports as a daemon of
    this release sends them, with positions and the details for the console's API), calls
    routed by ``policy`` (:class:`Routes`), each row counted after ``warmup_s``, the
    simulated daemons' thread at ``client_nice`` while they run (:func:`_niced`)."""
    rows: list[dict[str, Any]] = []
    for count in instances:
        setup = asyncio.run(_set_up(server, tmp / f"{variant.name}-closed-k{count}", variant,
                                    count, max(daemons), cpus))
        try:
            closed_before = 0
            for n in daemons:
                began, consoles_before, client_before = (time.monotonic(), setup.stats(),
                                                         process_stats())
                try:
                    # the simulated daemons on the daemon's loop (uvloop where installed),
                    # as in the open-loop modes
                    with _niced(client_nice) as nice:
                        measured = run_on_loop(_measure(setup.urls, setup.daemons[:n],
                                                        duration_s, details, policy,
                                                        warmup_s))
                    measured["client_nice"] = nice
                except Exception:
                    for k, console in enumerate(setup.consoles):
                        print(f"console {k}'s last log lines:", console.log_tail(),
                              sep="\n", file=sys.stderr)
                    raise
                closed = sum(c.guard_closes() for c in setup.consoles)
                wall = time.monotonic() - began
                row = {"variant": variant.name, "instances": count, "daemons": n, **measured,
                       "guard_closes": closed - closed_before,
                       "console_cores_busy": (setup.stats().get("cpu_s", 0.0)
                                              - consoles_before.get("cpu_s", 0.0)) / wall,
                       "client_cores_busy": (process_stats()["cpu_s"]
                                             - client_before["cpu_s"]) / wall}
                closed_before = closed
                split = "/".join(str(c) for c in row["calls_per_instance"])
                print(f"[{variant.name}] closed instances={count} daemons={n} "
                      f"({policy}, {warmup_s:g} s warm-up; calls per instance {split}): "
                      f"{row['req_per_s']:.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 "
                      f"{row['p99_ms']:.1f} ms ({row['requests']:.0f} requests, up to "
                      f"{row['long_polls_held_max']:.0f} long-polls held, "
                      f"{row['guard_closes']:.0f} connections closed by the guard); consoles "
                      f"{row['console_cores_busy']:.2f} cores, client "
                      f"{row['client_cores_busy']:.2f} cores (nice {row['client_nice']}), "
                      "client loop lag p99 "
                      f"{row['client_loop']['lag_p99_ms']:.0f} ms max "
                      f"{row['client_loop']['lag_max_ms']:.0f} ms; p50/p99 by "
                      "path: " + ", ".join(f"{path} {kind['p50_ms']:.0f}/{kind['p99_ms']:.0f}"
                                           for path, kind in row["by_path"].items()),
                      flush=True)
                rows.append(row)
        finally:
            setup.stop()
    return rows


# -- the real cadence ---------------------------------------------------------------------

@dataclass(frozen=True)
class CadenceRun:
    """How a cadence ramp or a storm runs."""

    cadence: Cadence
    spread_s: float
    window_s: float
    p99_limit_ms: float
    spread_addresses: bool
    #: The CPUs of each console instance (instance k: the k-th, round; all when empty).
    console_cpus: tuple[tuple[int, ...], ...] = ()
    #: Client processes the simulated daemons are split over (1: this one, on its loop).
    client_processes: int = 1
    #: Measure each step from the end of its spread (its daemons' starts left out: a fleet's
    #: steady hosting cost), not from its start.
    steady: bool = False
    #: With ``steady``, how long the fleet runs after its spread before the window: a
    #: daemon's first polls are held only until its first periodic report is due, until its
    #: console has said it takes the report on them (``gateway/auth/watcher.py``).
    settle_s: float = 0.0

    def shares(self, setup: _Setup) -> FleetShares:
        """The fleet of ``setup``'s daemons, split as this run says."""
        assert setup.consoles[0].key is not None  # noqa: S101 - set by start()
        return FleetShares(setup.daemons, setup.urls, [setup.consoles[0].key], self.cadence,
                           spread_addresses=self.spread_addresses,
                           processes=self.client_processes)


def _holdings(setup: _Setup, before: dict[str, float], n: int,
              client: dict[str, float]) -> dict[str, Any]:
    """What the consoles and the client (``client``: every client process's stats, summed)
    hold with ``n`` daemons, in all and per daemon."""
    after = setup.stats()
    sessions = postgres_sessions(setup.database_url)
    return {
        "console_rss_mib": after.get("rss_kib", 0) / 1024,
        "console_rss_kib_per_daemon": _per(after.get("rss_kib", 0) - before.get("rss_kib", 0),
                                           n),
        "console_fds": after.get("fds", 0),
        "console_fds_per_daemon": _per(after.get("fds", 0) - before.get("fds", 0), n),
        "console_threads": after.get("threads", 0),
        "console_processes": after.get("processes", 0),
        "postgres_sessions": sessions,
        "postgres_sessions_per_instance": _per(sum(sessions.values()), len(setup.consoles)),
        "client_rss_mib": client["rss_kib"] / 1024,
        "client_fds": client["fds"],
        "cpu_s": after.get("cpu_s", 0.0),
    }


def _stop_reason(row: dict[str, Any], limit_ms: float) -> str:
    calls = row["calls"]
    if row["refused_for_good"] or row["crashed"]:
        return "daemons refused for good or crashed"
    if calls["failures"]:
        return "a call failed"
    if calls["all"]["p99_ms"] > limit_ms:
        return f"p99 over {limit_ms:g} ms"
    return ""


async def run_cadence(server: PostgresServer, tmp: Path, variant: Variant,
                      steps: list[int], instances: int, how: CadenceRun
                      ) -> list[dict[str, Any]]:
    """The ramp: one row per step, until a step's p99 passes the limit or a call fails. The
    daemons run in ``how.client_processes`` processes (``bench/fleetshares.py``), every
    figure computed over all their calls."""
    setup = await _set_up(server, tmp / f"{variant.name}-cadence-k{instances}", variant,
                          instances, max(steps), how.console_cpus)
    rows: list[dict[str, Any]] = []
    baseline = setup.stats()
    fleet = how.shares(setup)
    try:
        await fleet.start()
        for n in steps:
            began, cpu_before = time.monotonic(), setup.stats()
            client_before = await fleet.stats()
            await fleet.mark("main")
            await fleet.grow("main", n, how.spread_s)
            if how.steady:  # the window alone: the step's starts (lookups, first polls) left out
                await asyncio.sleep(how.settle_s)
                began, cpu_before = time.monotonic(), setup.stats()
                client_before = await fleet.stats()
            await asyncio.sleep(how.window_s)
            ended = time.monotonic()
            wall = ended - began
            measured = await fleet.window("main", began, ended)
            client = measured["stats"]
            holdings = await asyncio.to_thread(_holdings, setup, baseline, n, client)
            cores = (holdings.pop("cpu_s") - cpu_before.get("cpu_s", 0.0)) / wall
            calls = measured["calls"]
            _, refused, crashed = await fleet.status("main")
            row: dict[str, Any] = {
                "variant": variant.name, "instances": instances, "daemons": n,
                "seconds": wall, "calls": calls,
                # the figure a change to the console is judged by (alternation.compare)
                # (a report a long-poll carried is a call the console answered too)
                "console_cpu_us_per_call": _per(cores * wall * 1e6, answered(calls)),
                "client_loop": measured["client_loop"],
                "client_processes": measured["shares"],
                "long_polls_held_max": measured["long_polls_held_max"],
                "console_cores_busy": cores,
                "daemons_per_busy_core": n / cores if cores > 0 else math.nan,
                "client_cores_busy": (client["cpu_s"] - client_before["cpu_s"]) / wall,
                **holdings, "client_rss_kib_per_daemon": _per(client["rss_kib"], n),
                "client_fds_per_daemon": _per(client["fds"], n),
                "guard_closes": sum(c.guard_closes() for c in setup.consoles),
                "budget_capped": [c.budget_capped() for c in setup.consoles
                                  if c.budget_capped()],
                "refused_for_good": refused,
                "crashed": crashed[:5]}
            row["stopped"] = _stop_reason(row, how.p99_limit_ms)
            rows.append(row)
            _print_cadence(row)
            if row["stopped"]:
                break
    finally:
        await fleet.close()
        await asyncio.to_thread(setup.stop)
    return rows


def _print_cadence(row: dict[str, Any]) -> None:
    calls, lag = row["calls"], row["client_loop"]
    kinds = ", ".join(f"{k} {v['calls']} p99 {v['p99_ms']:.0f}"
                      for k, v in calls.items() if k not in ("all", "failures", "poll_late_ms"))
    print(f"[{row['variant']}] cadence instances={row['instances']} daemons={row['daemons']} "
          f"in {len(row['client_processes'])} client process(es): "
          f"p50 {calls['all']['p50_ms']:.1f} ms, p99 {calls['all']['p99_ms']:.1f} ms over "
          f"{calls['all']['calls']} calls ({kinds}); {row['long_polls_held_max']} long-polls "
          f"held, late p99 {calls['poll_late_ms']['p99']:.0f} ms; failures "
          f"{sum(calls['failures'].values())}; console {row['console_cores_busy']:.2f} cores, "
          f"{row['console_rss_mib']:.0f} MiB ({row['console_rss_kib_per_daemon']:.1f} KiB/"
          f"daemon), {row['console_fds']:.0f} fds ({row['console_fds_per_daemon']:.2f}/daemon), "
          f"PostgreSQL {row['postgres_sessions_per_instance']:.0f}/instance; client "
          f"{row['client_cores_busy']:.2f} cores, {row['client_rss_mib']:.0f} MiB, "
          f"{row['client_fds']:.0f} fds, loop lag p99 {lag['lag_p99_ms']:.0f} ms max "
          f"{lag['lag_max_ms']:.0f} ms, {lag['gc_pauses']} GC pauses (longest "
          f"{lag['gc_max_ms']:.0f} ms)"
          + (f"; STOP: {row['stopped']}" if row["stopped"] else ""), flush=True)


# -- the restart storm --------------------------------------------------------------------

async def run_storm(server: PostgresServer, tmp: Path, variant: Variant, daemons: int,
                    instances: int, how: CadenceRun, down_s: float, limit_s: float
                    ) -> dict[str, Any]:
    """One storm row (see the module); the daemons split over client processes as the
    cadence ramp's are."""
    setup = await _set_up(server, tmp / f"{variant.name}-storm-k{instances}", variant,
                          instances, daemons, how.console_cpus)
    baseline = setup.stats()
    fleet = how.shares(setup)
    try:
        await fleet.start()
        await fleet.grow("warm", daemons, how.spread_s)
        await asyncio.sleep(how.window_s)
        warm_served = sum(1 for s in (await fleet.status("warm"))[0] if s is not None)
        await fleet.stop("warm")
        for console in setup.consoles:
            await asyncio.to_thread(console.stop)
        stopped = time.monotonic()
        # every daemon restarts at once, the consoles down
        await fleet.grow("cold", daemons, 0.0, seed=2)
        await asyncio.sleep(down_s)
        for console in setup.consoles:
            await asyncio.to_thread(console.start)
        back = time.monotonic()
        while time.monotonic() - back < limit_s:
            served, refused, crashed = await fleet.status("cold")
            if all(s is not None for s in served) or refused or crashed:
                break
            await asyncio.sleep(0.1)
        ended = time.monotonic()
        served, refused, crashed = await fleet.status("cold")
        times = [s - back for s in served if s is not None]
        measured = await fleet.window("cold", back, ended)
        while_down = await fleet.window("cold", stopped, back)
        row: dict[str, Any] = {
            "variant": variant.name, "instances": instances, "daemons": daemons,
            "down_s": back - stopped, "served_before": warm_served,
            "served": len(times), "not_served": daemons - len(times),
            "all_served_s": max(times) if len(times) == daemons else math.nan,
            "served_p50_s": percentile(times, 50), "served_p99_s": percentile(times, 99),
            "calls": measured["calls"],
            "failures_while_down": while_down["calls"]["failures"],
            "client_processes": measured["shares"],
            "client_processes_while_down": while_down["shares"],
            "refused_for_good": refused,
            "crashed": crashed[:5],
            **await asyncio.to_thread(_holdings, setup, baseline, daemons, measured["stats"])}
        row.pop("cpu_s")
        failures = row["calls"]["failures"]
        print(f"[{variant.name}] storm instances={instances} daemons={daemons}: "
              f"{row['served']} served in {row['all_served_s']:.1f} s (p50 "
              f"{row['served_p50_s']:.1f} s, p99 {row['served_p99_s']:.1f} s after the "
              f"consoles listened; down {row['down_s']:.1f} s), {row['not_served']} not "
              f"served, refused for good {row['refused_for_good'] or 0}; failures after the "
              f"restart {sum(failures.values())}: "
              f"{dict(sorted(failures.items(), key=lambda kv: -kv[1])[:6])}", flush=True)
        return row
    finally:
        await fleet.close()
        await asyncio.to_thread(setup.stop)


# -- the command ----------------------------------------------------------------------------

def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # (NaN too)
        raise argparse.ArgumentTypeError(f"{text}: seconds, at least 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.authority", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("closed", "cadence", "storm"), default="closed")
    parser.add_argument("--daemons", type=_ints, default=None,
                        help="closed: daemon counts, one row each (default 10,100); storm: "
                             "the fleet (default 1000)")
    parser.add_argument("--instances", type=_ints, default=None,
                        help="console instances, one set of rows each (default: closed 1,2; "
                             "cadence and storm 1)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="closed: seconds per row (default 10)")
    parser.add_argument("--balance", choices=Routes.POLICIES, default="leastconn",
                        help="closed: how calls are spread over the instances: leastconn "
                             "(the fewest in flight, as the documented HAProxy balances) or "
                             "roundrobin (each daemon alternates; default leastconn)")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="closed: seconds each row runs before its calls are counted "
                             "(every daemon's first connection, lookup and long-poll; "
                             "default 5)")
    parser.add_argument("--details", action="store_true",
                        help="closed: reports carry positions and details (the console API's "
                             "data), as a daemon holding positions sends them")
    parser.add_argument("--steps", type=_ints, default=[1000, 2000, 5000, 10_000, 15_000],
                        help="cadence: daemon counts of the ramp "
                             "(default 1000,2000,5000,10000,15000)")
    parser.add_argument("--spread", type=float, default=None,
                        help="cadence, storm: new daemons start spread over this many "
                             "seconds (default: one report interval)")
    parser.add_argument("--window", type=float, default=60.0,
                        help="cadence: seconds measured after each step's spread; storm: "
                             "seconds at cadence before the restart (default 60)")
    parser.add_argument("--steady", action="store_true",
                        help="cadence: measure each step's window alone, after its spread "
                             "(the daemons' starts, a lookup and a first poll each, left out)")
    parser.add_argument("--settle", type=_seconds, default=0.0,
                        help="cadence, with --steady: seconds the step's fleet runs after its "
                             "spread before its window (a daemon's first polls are held only "
                             "until its first periodic report is due; default 0)")
    parser.add_argument("--p99-limit-ms", type=float, default=250.0)
    parser.add_argument("--down", type=float, default=5.0,
                        help="storm: seconds the consoles stay down (default 5)")
    parser.add_argument("--storm-limit", type=float, default=180.0,
                        help="storm: the longest wait for every daemon to be served")
    parser.add_argument("--report-s", type=float, help="a daemon's report interval "
                        "(default: the daemon's, 30)")
    parser.add_argument("--refresh-s", type=float, help="its record refresh (default 300)")
    parser.add_argument("--poll-s", type=float,
                        help="its long-poll's wait (default: the daemon's, 50)")
    parser.add_argument("--keepalive-s", type=float, help="how long its client keeps an idle "
                        "connection (default: the daemon's, 15)")
    parser.add_argument("--no-carry", action="store_true",
                        help="every report on its own call, as a daemon before the long-poll "
                        "carried the periodic one (default: carried to a console that takes "
                        "it, as the daemon does)")
    parser.add_argument("--variant", action="append", type=Variant.parse, default=None,
                        help="NAME[,tree=PATH][,KEY=VALUE...]: a console to measure "
                             "(repeatable; default: this tree as it is)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every variant this many times, in --order")
    parser.add_argument("--order", choices=ORDERS, default=ORDERS[0],
                        help="balanced (A B, B A, A B: a steady drift of the machine's "
                             "speed cancels; the default) or alternate (A B, A B; "
                             "bench/alternation.py)")
    parser.add_argument("--console-cpus", type=_ints, default=[],
                        help="pin the consoles to these CPUs (taskset)")
    parser.add_argument("--pin-instances", action="store_true",
                        help="each console instance on a CPU of its own (taskset; instance k "
                             "on the k-th this bench may use), as an operator gives each "
                             "instance on one host its own CPU (systemd CPUAffinity=, docker "
                             "--cpuset-cpus)")
    parser.add_argument("--client-cpus", type=_ints, default=[],
                        help="pin the bench (the simulated daemons, in every client "
                             "process) to these CPUs")
    parser.add_argument("--client-processes", type=_at_least_one, default=None,
                        help="cadence, storm: split the simulated daemons over this many "
                             "client processes, each with its own loop (default: enough "
                             f"that each runs at most {DAEMONS_PER_PROCESS}; 1, this "
                             "process, for a smaller fleet; bench/fleetshares.py)")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="closed: the simulated daemons' niceness while they run (e.g. "
                             "-5: their loop first, as a fleet on other machines; Linux, "
                             "negative needs CAP_SYS_NICE; default 0: unchanged)")
    parser.add_argument("--one-address", action="store_true",
                        help="every simulated daemon from 127.0.0.1 (default: one loopback "
                             "address each, on Linux)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    return parser


def _console_cpus(args: argparse.Namespace) -> list[list[int]]:
    """The CPUs of each instance: ``--console-cpus`` for all, or one each
    (``--pin-instances``), or none chosen."""
    if args.console_cpus:
        return [list(args.console_cpus)]
    if args.pin_instances:
        return [[cpu] for cpu in sorted(os.sched_getaffinity(0))]
    return []


def _cadence(args: argparse.Namespace) -> Cadence:
    chosen = {name: value for name, value in (("report_s", args.report_s),
                                              ("refresh_s", args.refresh_s),
                                              ("poll_s", args.poll_s),
                                              ("keepalive_s", args.keepalive_s))
              if value is not None}
    return Cadence(**chosen, carry=not args.no_carry)


async def _run_open(args: argparse.Namespace, server: PostgresServer, tmp: Path,
                    variants: list[Variant]) -> dict[str, list[dict[str, Any]]]:
    cadence = _cadence(args)
    how = CadenceRun(cadence, args.spread if args.spread is not None else cadence.report_s,
                     args.window, args.p99_limit_ms,
                     spread_addresses=not args.one_address and sys.platform == "linux",
                     console_cpus=tuple(tuple(c) for c in _console_cpus(args)),
                     client_processes=args.processes, steady=args.steady,
                     settle_s=args.settle)
    instances = args.instances or [1]
    out: dict[str, list[dict[str, Any]]] = {"cadence": [], "storm": []}
    for round_, ordered in enumerate(rounds(variants, args.repeat, args.order)):
        for variant in ordered:
            for k in instances:
                sub = tmp / f"r{round_}"
                if args.mode == "cadence":
                    out["cadence"] += await run_cadence(server, sub, variant, args.steps, k,
                                                        how)
                else:
                    fleet = (args.daemons or [1000])[0]
                    out["storm"].append(await run_storm(server, sub, variant, fleet, k, how,
                                                        args.down, args.storm_limit))
    return out


def _no_collector_pauses() -> None:
    """No cyclic collection in this process while it plays the daemons (every mode).

    Why: a share of the simulated daemons lives in one process (this one, or each client
    process, which does the same: ``bench/fleetshares.py``), so its heap holds thousands of
    daemons' sessions and records, and a full collection of it stopped the loop that times
    every call for up to 495 ms at 3,000 daemons (``LoopWatch``, 11 full collections in two
    minutes; they reclaimed 69 objects), a wait on the console's answers no real daemon has:
    each is a process of its own with a heap of one daemon's. Almost everything here dies
    by reference counting, so the cost is the little cyclic garbage a run of minutes makes.
    Start-up's objects are frozen first; ``LoopWatch`` still reports the loop's lag."""
    gc.collect()
    gc.freeze()
    gc.disable()


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.authority``."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.settle and not args.steady:
        parser.error("--settle measures a --steady window later: give both")
    _no_collector_pauses()
    variants = args.variant or [Variant("this")]
    if args.client_cpus:
        os.sched_setaffinity(0, set(args.client_cpus))
    largest = max(args.steps) if args.mode == "cadence" else max(args.daemons or [1000])
    args.processes = 1 if args.mode == "closed" else client_processes(largest,
                                                                        args.client_processes)
    # each client process opens the descriptors of its share of the daemons
    share = math.ceil(largest / args.processes)
    soft, hard = raise_open_files(3 * share + 1024)
    if args.mode != "closed" and soft < 2 * share + 256:
        print(f"warning: a client process may open {soft} files (hard limit {hard}); "
              f"{share} simulated daemons may need {2 * share + 256} (--client-processes)",
              file=sys.stderr)
    meta: dict[str, Any] = {"mode": args.mode, "argv": sys.argv[1:] if argv is None else argv,
                            "variants": [v.describe() for v in variants],
                            "repeat": args.repeat, "order": args.order,
                            "cadence": asdict(_cadence(args)),
                            "calls_per_s_per_daemon": _cadence(args).calls_per_s(),
                            "cpus": os.cpu_count(), "open_files": [soft, hard],
                            "client_processes": args.processes,
                            "steady": args.steady, "settle_s": args.settle}
    results: dict[str, Any] = {"meta": meta}
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        if args.mode == "closed":
            rows = []
            for round_, ordered in enumerate(rounds(variants, args.repeat, args.order)):
                for variant in ordered:
                    rows += run_closed(server, Path(tmp) / f"r{round_}", variant,
                                       args.daemons or [10, 100], args.instances or [1, 2],
                                       args.duration, _console_cpus(args), args.details,
                                       args.balance, args.warmup, args.client_nice)
            results["authority"] = rows
        else:
            # the simulated daemons' warnings (a failed report, a lookup unanswered) are
            # counted by the recorder, by reason; thousands of lines would cost the client
            logging.getLogger("gateway").setLevel(logging.ERROR)
            results.update(run_on_loop(_run_open(args, server, Path(tmp), variants)))
            if args.mode == "cadence" and (len(variants) > 1 or args.repeat > 1):
                compared = results["compared"] = compare(results["cadence"],
                                                         "console_cpu_us_per_call")
                print_comparison(compared, "console CPU per call", "µs")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
