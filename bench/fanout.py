"""Tick fan-out, isolation from a stalled subscriber, and memory under a tick storm.

Set-up (see ``bench.benchea`` for why a bench EA): ``mtgateway run -c <tmp config>`` in
its own process with a token for the bench terminal (``bench.daemon``), the bench EA (in
this process) connected to its bridge port, and one subscriber process
(``bench.subscribers``) with N WebSocket clients subscribed to the bench symbol: the same
process for every N, the floor's and the isolation's, each set of sockets closed before the
next is opened (a set is measured alone, as if in a process of its own).

Phases, per N in (1, 10, 100):

* latency: 200 ticks/s, one row per EA event, for a few seconds; per delivered message the
  subscriber records ``monotonic_ns() - stamp`` (EA send → parsed by the subscriber);
* capacity: a rate search for the highest offered tick rate the set-up sustains. It starts
  at ``20k / N`` ticks/s (20k messages/s delivered) and multiplies the rate by 1.4 per step
  (a step lasts half the throughput phase) until a step is not *sustained*: more than 1 % of
  the messages due (ticks sent × N) were conflated by the daemon's slow-client policy, or
  delivery fell behind (delivered messages/s below 95 % of offered ticks/s × N, which means
  a backlog built up somewhere: daemon, kernel or subscriber), or the overload rate below is
  reached, then one step at the geometric middle between the failed step and the last
  sustained one. The capacity is the highest sustained step: its offered ticks/s and its
  delivered messages/s. Why a search: offered far above capacity, the daemon conflates per symbol by
  design, so what arrives measures the conflation policy under overload, not capacity;
* overload: the EA offers ``min(50k, 300k / N)`` ticks/s (more than the daemon and the
  subscriber process can take on 2 cores) for the throughput phase; slow-client conflation
  drops ticks, and delivered messages/s is what arrived. It shows that overload degrades
  to conflation rather than collapse.

Fan-out floor (``bench.floors``, ``fanout``): after each N's phases, the latency phase is
run again against the smallest relay of the same shape (tick source → TCP → one parse and one
encode → ``send_frame`` to N WebSocket clients), with the same subscriber process and rate:
the daemon's latency over the floor's is what our code adds, the floor's is what the machine
and the harness cost.

Isolation: 10 subscribers at 200 ticks/s without, then with, one stalled subscriber (a raw
socket that completes the upgrade, subscribes, then never reads, with a 4 KiB receive
buffer), the pair repeated as many times as the run's repetitions; the others' median p99
should move by less than 20 %. Storm: the same with the EA at 5k ticks/s and the last
stalled socket still open; the daemon's RSS is sampled every 100 ms from /proc and its peak
(VmHWM) read at the end: bounded means the RSS stops growing once the stalled socket's
buffers are full.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import socket
import sys
import time
from typing import Any, Final

import orjson

from .benchea import BenchEA, TickSource, connect_bench_ea, push_ticks
from .common import ROOT, Pinning, Proc, free_port, median, proc_cpu_s, wait_http
from .daemon import RunDaemon
from .rpc import EA_LOGIN, EA_SERVER

__all__ = ["FanoutDaemon", "FanoutFloor", "FloorSource", "Stalled", "Subscribers",
           "run_fanout"]

#: The bench terminal: the /rpc section's (``bench.rpc``), so that one run issues its owner and
#: token once (``bench.daemon``: a daemon gets a copy of what was issued for its terminal)
#: instead of once a section; each daemon still has a directory, a state, of its own.
LOGIN: Final = EA_LOGIN
SERVER: Final = EA_SERVER
SYMBOL: Final = "GBPUSD"
LATENCY_RATE_HZ: Final = 200.0
STORM_RATE_HZ: Final = 5000.0
#: The capacity search: first step (messages/s over all subscribers), growth per step, and
#: what a sustained step may lose to conflation or lag behind the offered rate.
SEARCH_START_MSGS: Final = 20_000.0
SEARCH_FACTOR: Final = 1.4
SEARCH_MAX_CONFLATED: Final = 0.01
SEARCH_MIN_DELIVERED: Final = 0.95


class FanoutDaemon(RunDaemon):
    """``mtgateway run`` (``bench.daemon``) for the bench terminal, and its bench EA."""

    def __init__(self, pinning: Pinning) -> None:
        super().__init__(pinning, login=LOGIN, server=SERVER)
        self.ea: BenchEA | None = None

    async def start(self) -> None:
        await self.wait_ready()
        self.ea = await connect_bench_ea(self.bridge_port, self.token, LOGIN, SERVER)

    def stop(self) -> str:
        if self.ea is not None:
            self.ea.close()
        return super().stop()


class FloorSource(asyncio.Protocol):
    """The fan-out floor's tick source (``bench.floors fanout``): the bench EA's rows as
    newline-delimited JSON, stamped the same way (``monotonic_ns()`` in ``volume`` right
    before the write), with no handshake and no framing beyond the newline."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def push(self, symbol: str, count: int) -> None:
        if self.transport is None:
            return
        wall_ms = time.time_ns() // 1_000_000
        stamp = time.monotonic_ns()
        row = orjson.dumps({"subscription": "s1", "symbol": symbol, "time": wall_ms // 1000,
                            "bid": 1.25, "ask": 1.25002, "last": 0.0, "volume": stamp,
                            "time_msc": wall_ms, "flags": 6, "volume_real": 0.0,
                            "conflated": 0}) + b"\n"
        self.transport.write(row * count)

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


class FanoutFloor:
    """The fan-out floor process (server CPU) and its tick source (this process)."""

    token = "floor"  # the floor does not check it; the subscriber process sends one anyway

    def __init__(self, pinning: Pinning) -> None:
        self.http_port, self.tick_port = free_port(), free_port()
        self.proc = Proc(["-m", "bench.floors", "fanout", str(self.http_port),
                          str(self.tick_port)], pinning=pinning)
        self.source: FloorSource | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws"

    async def start(self) -> None:
        await wait_http(f"http://127.0.0.1:{self.http_port}/health", self.proc)
        loop = asyncio.get_running_loop()
        _, self.source = await loop.create_connection(FloorSource, "127.0.0.1",
                                                      self.tick_port)

    def stop(self) -> str:
        if self.source is not None and self.source.transport is not None:
            self.source.transport.close()
        return self.proc.stop()


class Subscribers:
    """The subscriber child process (``bench.subscribers``) and its command protocol."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(cls, daemon: RunDaemon | FanoutFloor, n: int,
                    timeout_s: float = 30.0, tokens: list[str] | None = None) -> Subscribers:
        """``n`` sockets with the daemon's token, or ``n`` per token of ``tokens`` (one
        terminal each; ``bench.terminals``)."""
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.subscribers", daemon.ws_url, SYMBOL, str(n), cwd=ROOT,
            env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        subs = cls(proc)
        try:
            await subs._send(" ".join(tokens) if tokens else daemon.token)
            await subs._ready(timeout_s)
        except BaseException:
            await subs.close()
            raise
        return subs

    async def connect(self, daemon: RunDaemon | FanoutFloor, n: int,
                      timeout_s: float = 30.0) -> None:
        """Close this process's sockets, then open ``n`` to ``daemon`` (its token), as
        :meth:`start` would in a new process."""
        await self._send(f"connect {daemon.ws_url} {n}")
        await self._send(daemon.token)
        await self._ready(timeout_s)

    async def _ready(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            line = await self._line()
        if line != "READY":
            raise RuntimeError(f"subscribers did not start: {line!r}")

    async def _send(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line.encode() + b"\n")
        await self._proc.stdin.drain()

    async def _line(self) -> str:
        assert self._proc.stdout is not None
        return (await self._proc.stdout.readline()).decode().strip()

    async def record(self) -> None:
        """Reset the counters and start recording."""
        await self._send("start")
        await asyncio.sleep(0.05)

    async def summary(self) -> dict[str, Any]:
        """Stop recording (once the stream is quiet); what was recorded."""
        await self._send("stop")
        async with asyncio.timeout(30):
            summary: dict[str, Any] = orjson.loads(await self._line())
        return summary

    async def measure(self, ea: TickSource, rate_hz: float, duration_s: float,
                      server_pid: int | None = None) -> dict[str, Any]:
        """One phase: start recording, push for ``duration_s``, stop, read the summary.

        With the subscriber process's share of a CPU while ticks were pushed, and the
        server's (``server_pid``: the daemon or the floor), which say which side a latency
        waited on (``/proc``; None off Linux)."""
        await self.record()
        pids = {"subscriber": self.pid, "server": server_pid}
        before = {k: proc_cpu_s(pid) if pid else None for k, pid in pids.items()}
        started = time.monotonic()
        sent = await push_ticks(ea, SYMBOL, rate_hz, duration_s)
        offered_s = time.monotonic() - started
        shares: dict[str, float | None] = {}
        for name, pid in pids.items():
            after, was = (proc_cpu_s(pid) if pid else None), before[name]
            shares[f"{name}_cpu_share"] = (after - was) / offered_s \
                if after is not None and was is not None and offered_s > 0 else None
        summary = await self.summary()
        summary.update(shares)
        span = max(summary["span_s"] - 0.05, offered_s)
        summary.update(sent=sent, offered_rate=sent / offered_s,
                       delivered_per_s=summary["count"] / span if span > 0 else 0.0)
        return summary

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self._send("quit")
        try:
            async with asyncio.timeout(10):
                await self._proc.wait()
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


class Stalled:
    """A subscriber that completes the upgrade, subscribes, and never reads again."""

    def __init__(self, daemon: FanoutDaemon) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", daemon.http_port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{daemon.http_port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {daemon.token}\r\n"
                      f"\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise RuntimeError("stalled subscriber: upgrade refused")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"stalled subscriber: {head[:100]!r}")
        payload = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                "params": {"channel": "ticks", "symbols": [SYMBOL]}})
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        self.sock = sock

    def close(self) -> None:
        self.sock.close()


def _sustained(step: dict[str, Any], n: int) -> bool:
    """Whether a search step kept up: (almost) nothing conflated, delivery at the offered
    rate (see the module docstring)."""
    due = step["sent"] * n
    if due <= 0:
        return False
    return bool(step["conflated"] <= SEARCH_MAX_CONFLATED * due
                and step["delivered_per_s"] >= SEARCH_MIN_DELIVERED * step["offered_rate"] * n)


async def _capacity(subs: Subscribers, ea: BenchEA, n: int, step_s: float, overload_hz: float,
                    max_steps: int) -> dict[str, Any]:
    """The rate search: the highest sustained offered rate, and what it delivered.

    Steps grow by :data:`SEARCH_FACTOR`; after the first step that is not sustained, one more
    step at the geometric middle between it and the last sustained one (steps permitting)
    halves the search's granularity where it matters, so a capacity near a target is not
    decided by where the coarse steps happen to fall.
    """
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None

    async def attempt(rate: float) -> dict[str, Any]:
        step = await subs.measure(ea, rate, step_s)
        step["rate_hz"] = rate
        step["sustained"] = _sustained(step, n)
        steps.append({k: step[k] for k in ("rate_hz", "offered_rate", "sent", "count",
                                            "conflated", "delivered_per_s", "p50_us",
                                            "p99_us", "sustained")})
        return step

    rate = SEARCH_START_MSGS / n
    failed_at: float | None = None
    while rate < overload_hz and len(steps) < max_steps:
        step = await attempt(rate)
        if not step["sustained"]:
            failed_at = rate
            break
        best = step
        rate *= SEARCH_FACTOR
    if failed_at is not None and best is not None and len(steps) < max_steps:
        middle = await attempt(math.sqrt(best["rate_hz"] * failed_at))
        if middle["sustained"]:
            best = middle
    return {"steps": steps,
            "capacity_hz": best["offered_rate"] if best else 0.0,
            "delivered_per_s": best["delivered_per_s"] if best else 0.0,
            "p99_us": best["p99_us"] if best else None,
            "saturated": failed_at is not None}


async def _fanout_n(subs: Subscribers, daemon: FanoutDaemon, n: int, lat_s: float,
                    tp_s: float, search_steps: int) -> dict[str, Any]:
    assert daemon.ea is not None
    await subs.connect(daemon, n)
    latency = await subs.measure(daemon.ea, LATENCY_RATE_HZ, lat_s, daemon.proc.pid)
    overload_hz = min(50_000.0, 300_000.0 / n)
    capacity = await _capacity(subs, daemon.ea, n, tp_s / 2, overload_hz, search_steps)
    throughput = await subs.measure(daemon.ea, overload_hz, tp_s)
    return {"n": n, "latency": latency, "capacity": capacity, "throughput": throughput}


def _pooled(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Repetitions of one latency phase: medians of their percentiles, the counts summed."""
    return {"p50_us": median([r["p50_us"] for r in reps]),
            "p99_us": median([r["p99_us"] for r in reps]),
            "count": sum(r["count"] for r in reps), "reps": reps}


async def _isolation(subs: Subscribers, daemon: FanoutDaemon, lat_s: float, storm_s: float,
                     reps: int) -> dict[str, Any]:
    """Without / with a stalled subscriber, alternated ``reps`` times (a fresh stalled socket
    each time), then the storm with the last stalled socket still open. The change is taken
    between the medians, so one noisy phase on the VM cannot decide it."""
    assert daemon.ea is not None
    await subs.connect(daemon, 10)
    without: list[dict[str, Any]] = []
    with_stalled: list[dict[str, Any]] = []
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(daemon.memory().get("VmRSS", 0))
            await asyncio.sleep(0.1)

    for rep in range(reps):
        without.append(await subs.measure(daemon.ea, LATENCY_RATE_HZ, lat_s))
        stalled = Stalled(daemon)
        try:
            await asyncio.sleep(0.2)
            with_stalled.append(await subs.measure(daemon.ea, LATENCY_RATE_HZ, lat_s))
            if rep == reps - 1:  # the storm, with this stalled socket still open
                before = daemon.memory()
                sampler = asyncio.create_task(sample())
                storm = await subs.measure(daemon.ea, STORM_RATE_HZ, storm_s)
                sampler.cancel()
                after = daemon.memory()
        finally:
            stalled.close()
    baseline, stalled_summary = _pooled(without), _pooled(with_stalled)
    half = samples[len(samples) // 2:] or [0]
    return {
        "baseline": baseline, "with_stalled": stalled_summary,
        "p99_change": (stalled_summary["p99_us"] / baseline["p99_us"] - 1)
        if baseline["p99_us"] else None,
        "storm": {"rate_hz": STORM_RATE_HZ, "seconds": storm_s, "subscribers": storm,
                  "rss_kib_before": before.get("VmRSS"), "rss_kib_max": max(samples or [0]),
                  "rss_kib_after": after.get("VmRSS"),
                  "rss_kib_growth_second_half": max(half) - min(half),
                  "hwm_kib": after.get("VmHWM")},
    }


async def _floor_latency(subs: Subscribers, floor: FanoutFloor, n: int,
                         lat_s: float) -> dict[str, Any]:
    assert floor.source is not None
    await subs.connect(floor, n)
    return await subs.measure(floor.source, LATENCY_RATE_HZ, lat_s, floor.proc.pid)


async def run_fanout(pinning: Pinning, *, ns: tuple[int, ...], reps: int, lat_s: float,
                     tp_s: float, storm_s: float, search_steps: int = 12) -> dict[str, Any]:
    """Every fan-out phase against one daemon; repetitions interleave the N values, and
    each N's latency phase is repeated on the fan-out floor right after the daemon's."""
    daemon = FanoutDaemon(pinning)
    floor = FanoutFloor(pinning)
    subs: Subscribers | None = None
    try:
        await daemon.start()
        await floor.start()
        # one subscriber process for every set of sockets: each phase connects its own
        subs = await Subscribers.start(floor, 0)
        runs: dict[int, list[dict[str, Any]]] = {n: [] for n in ns}
        for _ in range(reps):
            for n in ns:
                run = await _fanout_n(subs, daemon, n, lat_s, tp_s, search_steps)
                run["floor_latency"] = await _floor_latency(subs, floor, n, lat_s)
                runs[n].append(run)
        isolation = await _isolation(subs, daemon, lat_s, storm_s, reps)
        memory = daemon.memory()
    finally:
        if subs is not None:
            await subs.close()
        floor.stop()
        daemon.stop()
    return {"runs": {str(n): r for n, r in runs.items()}, "isolation": isolation,
            "daemon_memory_kib": memory}
