"""The path through the compiled MQL5 and MQL4 EAs, beside the emulated terminal and the hop floor.

``python -m bench --ea`` (also part of a full run) measures, interleaved in one run:

* **hop floor**: the aiohttp POST floor plus one TCP hop to another process (``bench.floors``),
  the least a gateway with an out-of-process EA can cost;
* **emulator**: ``mtgateway run`` with the emulated terminal in its own process (``bench.rpc``);
* **compiled EA**: ``mtgateway run`` with the real MQL5 EA, compiled as C++ by the test kit
  (``daemon/tests/ea_mql``), in its own process on the client CPU like the emulator, with its
  defaults (timer 10 ms, each pass waiting inside ``SocketRead`` until just before the next).
* **compiled MT4 EA**: the same with the MQL4 EA (``daemon/tests/ea_mql/kit/mql4``), its own daemon,
  waiting in Winsock's ``select`` until just before the next pass. Its ticks are conflated
  quotes without the kit's arrival stamp, so tick latency is measured through the MQL5 EA only.

The call is ``symbol_info_tick("EURUSD")``, sequential over one kept-alive connection (the
aiohttp client of ``bench.rpc``): back to back, and **spaced** (one every 100 ms, each after a
quiet spell) on the hop floor and through each EA, with no tick arriving, with ticks flowing
(20 Market Watch symbols at 2 Hz each: the EA is woken by ticks, not by calls), and through the
MT4 EA (whose quotes change every 20 ms). Each EA runs with its own daemon, every side in every
repetition; ``--ea-compare REV`` adds the EAs of a git revision (its ``ea_bridge/mql`` built
against its own kit) as ``baseline_*`` sides, and their tick runs, for an A/B in one run.

**Ticks, terminal -> /ws client**, through the same compiled EA, for 1 and for 20 Market Watch
symbols. The kit's clock runs at a real terminal's resolution (Windows' 15.625 ms: the EA's
timer fires on its ticks, GetTickCount steps by it, socket timeouts end on it). Each symbol's
ticks arrive at random (a Poisson stream, ``TICK_HZ`` a symbol) while the EA runs, and the fake
terminal stamps each one's ``volume`` with ``CLOCK_MONOTONIC`` at its arrival; a WebSocket
subscriber to every symbol computes ``monotonic_ns() - volume``: the wait until the EA notices
the tick, its copy, encode and send, the bridge hop, the daemon's fan-out, the WebSocket hop,
the client's parse. Two EA settings: ticks woken (its default: OnTick for the chart's symbol,
its helper indicator's chart events for the others) and timer only (``TickWake=false``: every
symbol polled on the timer, as EAs commonly do), so the difference is the timer's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from daemon.tests.ea_mql.eakit import build_ea, write_fixture
from daemon.tests.ea_mql.eakit4 import build_ea4, write_fixture4
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings

from .common import ROOT, Pinning, Proc, free_port, median, summarize_ns, wait_http, wait_tcp
from .daemon import RunDaemon
from .floors import HTTP_FLOOR_BODY
from .rpc import EA_LOGIN, EA_SERVER, RPC_BODY, RpcDaemon, aiohttp_rtts, start_rpc_daemon

__all__ = ["ea_table", "run_ea_path", "summarize_ea_path"]

_LIVE_TICKS = 30000  # the MT4 EA's fixture: one per 10 ms pass, more than any run needs
#: Ticks a second per symbol in the tick runs (a busy FX symbol gives 5-20).
TICK_HZ = 20.0
#: Market Watch sizes measured.
TICK_SYMBOLS = (1, 20)
#: Spaced calls: this many a side and repetition, this far apart (a "quiet spell" before each).
SPACED_CALLS = 60
SPACED_GAP_S = 0.1
#: The spaced calls' "ticks flowing" EA: this many Market Watch symbols at this rate each.
SPACED_TICK_SYMBOLS = 20
SPACED_TICK_HZ = 2.0


async def _wait_live(url: str, token: str, ea: asyncio.subprocess.Process,
                     timeout_s: float) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:
            if ea.returncode is not None:
                raise RuntimeError(f"the compiled EA exited with {ea.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.post(url, data=RPC_BODY) as response:
                    if response.status == 200 and b'"result"' in await response.read():
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the compiled EA was not live within {timeout_s:g} s")
            await asyncio.sleep(0.05)


async def _spaced_rtts(url: str, token: str | None, count: int, gap_s: float,
                       body: bytes = RPC_BODY) -> list[int]:
    """``count`` calls ``gap_s`` apart over one kept-alive connection; round trips in ns."""
    import aiohttp

    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    samples: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                     headers=headers) as session:
        for _ in range(count):
            await asyncio.sleep(gap_s)
            started = time.perf_counter_ns()
            async with session.post(url, data=body) as response:
                payload = await response.read()
            samples.append(time.perf_counter_ns() - started)
            if response.status != 200 or b'"result"' not in payload:
                raise RuntimeError(f"{url} answered {response.status}: {payload[:200]!r}")
    return samples


async def _tick_latencies(ws_url: str, token: str, symbols: list[str],
                          seconds: float) -> list[int]:
    """Subscribe to ``symbols``' ticks and keep ``monotonic_ns() - volume`` for ``seconds``."""
    import aiohttp

    out: list[int] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.ws_connect(ws_url) as ws:
            await ws.send_str(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                            "params": {"channel": "ticks",
                                                       "symbols": symbols}}).decode())
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = await ws.receive(timeout=left)
                except TimeoutError:
                    break
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                params = orjson.loads(msg.data).get("params")
                if params is not None and "volume" in params:
                    out.append(time.monotonic_ns() - int(params["volume"]))
    return out


def _tick_fixture(path: Path, token: str, n: int, seconds: float,
                  hz: float = TICK_HZ) -> list[str]:
    """A fixture of ``n`` Market Watch symbols (EURUSD, the chart's, and copies of it named
    SYM02...), each with a Poisson stream of ``hz`` ticks a second; returns the names."""
    live = int(hz * (seconds + 30))
    fx = write_fixture(path, EmulatedTerminal(token, settings=EmulatorSettings(
        login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)),
        live_ticks=live)
    base = fx["symbols"]["EURUSD"]
    base.update(live_poisson_hz=hz, live_start_ms=1000)
    names = ["EURUSD"] + [f"SYM{k:02d}" for k in range(2, n + 1)]
    for name in names[1:]:
        fx["symbols"][name] = {**base, "info": {**base["info"], "name": name}}
    path.write_text(json.dumps(fx), encoding="utf-8")  # orjson would write NaN as null
    return names


async def _tick_run(binary: Path, daemon: RunDaemon, workdir: Path, n: int, wake: bool,
                    seconds: float, tick_first: bool = False) -> dict[str, Any]:
    """One compiled EA on a fresh fixture of ``n`` symbols: its ticks' latency summary."""
    fixture = workdir / f"ticks-{n}-{int(wake)}-{int(tick_first)}-{binary.parent.name}.json"
    names = _tick_fixture(fixture, daemon.token, n, seconds)
    env = {**os.environ, "MTGW_FIXTURE": str(fixture), "MTGW_TOKEN": daemon.token,
           "MTGW_PORT": str(daemon.bridge_port), "MTGW_STAMP_TICKS": "1",
           "MQL_INPUT_TickWake": "true" if wake else "false"}
    if tick_first:  # an input the EA of an older revision may not have
        env["MQL_INPUT_TickFirst"] = "true"
    ea = await asyncio.create_subprocess_exec(
        str(binary), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL)
    try:
        await _wait_live(daemon.rpc_url, daemon.token, ea, 30.0)
        latencies = await _tick_latencies(daemon.rpc_url.replace("http://", "ws://")
                                          .replace("/rpc", "/ws"), daemon.token, names, seconds)
    finally:
        if ea.returncode is None:
            ea.terminate()  # SIGTERM: the harness runs OnDeinit (bye) and exits
            try:
                await asyncio.wait_for(ea.wait(), 5)
            except TimeoutError:
                ea.kill()
                await ea.wait()
    summary = summarize_ns(latencies) if latencies else {"n": 0}
    return {**summary, "symbols": n, "wake": wake, "tick_first": tick_first, "tick_hz": TICK_HZ}


class _EA:
    """A compiled EA (MQL5 or MQL4) on a fixture, connected to a daemon of its own."""

    def __init__(self, binary: Path, daemon: RunDaemon, proc: asyncio.subprocess.Process) -> None:
        self.binary, self.daemon, self.proc = binary, daemon, proc

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()  # SIGTERM: the harness runs OnDeinit (bye) and exits
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.daemon.stop()


async def _start_ea(pinning: Pinning, binary: Path, workdir: Path, name: str,
                    make_fixture: Any) -> _EA:
    """``binary`` on the fixture ``make_fixture(path, token)`` writes, with its own daemon,
    once calls are answered through it."""
    daemon = RunDaemon(pinning, login=EA_LOGIN, server=EA_SERVER)
    try:
        await daemon.wait_ready()
        fixture = workdir / f"{name}.json"
        make_fixture(fixture, daemon.token)
        env = {**os.environ, "MTGW_FIXTURE": str(fixture), "MTGW_TOKEN": daemon.token,
               "MTGW_PORT": str(daemon.bridge_port)}
        # the bench process is pinned to the client CPU: the EA inherits it, like the emulator
        proc = await asyncio.create_subprocess_exec(
            str(binary), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
    except BaseException:
        daemon.stop()
        raise
    ea = _EA(binary, daemon, proc)
    try:
        await _wait_live(daemon.rpc_url, daemon.token, proc, 30.0)
    except BaseException:
        await ea.stop()
        raise
    return ea


def _quiet_fixture(path: Path, token: str) -> None:
    """EURUSD alone, no live tick: nothing wakes the EA but the calls."""
    write_fixture(path, EmulatedTerminal(token, settings=EmulatorSettings(
        login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)), live_ticks=0)


def _flowing_fixture(path: Path, token: str) -> None:
    """SPACED_TICK_SYMBOLS symbols with Poisson ticks at SPACED_TICK_HZ each, for long enough."""
    _tick_fixture(path, token, SPACED_TICK_SYMBOLS, 900.0, hz=SPACED_TICK_HZ)


def _mt4_fixture(path: Path, token: str) -> None:
    write_fixture4(path, EmulatedTerminal(token, settings=EmulatorSettings(
        login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)),
        live_ticks=_LIVE_TICKS)


def _build_at(rev: str, workdir: Path) -> tuple[Path, Path]:
    """The MQL5 and MQL4 EAs of git revision ``rev``, built against that revision's kit and
    measured, not judged (its EAs were written against that kit's rules: an older EA need not
    build clean against today's stricter warnings)."""
    tree = workdir / f"rev-{rev}"
    tree.mkdir()
    # the EA and the kit where the revision keeps them: in the daemon's folder since the
    # workspace, at the root before it
    for mql_at, kit_at in (("daemon/src/ea_bridge/mql", "daemon/tests/ea_mql/kit"),
                           ("ea_bridge/mql", "tests/ea_mql/kit")):
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, mql_at, kit_at],
                                 capture_output=True, check=False)
        if archive.returncode == 0:
            break
    else:
        raise RuntimeError(f"git cannot give revision {rev}'s EAs: "
                           f"{archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    mql, kit = tree / mql_at, tree / kit_at
    return (build_ea(mql / "MQL5", tree / "bin5", kit=kit, judge=False),
            build_ea4(mql / "MQL4", tree / "bin4", mql5_dir=mql / "MQL5", kit=kit, judge=False))


async def run_ea_path(pinning: Pinning, *, reps: int, calls: int, tick_s: float, log: Any,
                      compare: str | None = None,
                      spaced_calls: int = SPACED_CALLS) -> dict[str, Any]:
    """Interleaved RPC round trips on the hop floor, the emulator and the compiled EAs (back
    to back, and spaced), then tick latency through the MT5 EA. ``compare``: a git revision
    whose EAs are measured beside (``baseline_*`` sides). Raises RuntimeError if a process
    does not come up."""
    binary, binary4 = build_ea(), build_ea4()
    log(f"compiled EAs: {binary}, {binary4}")
    out: dict[str, Any] = {"hop": [], "emulator": [], "compiled_ea": [], "compiled_ea_mt4": [],
                           "spaced": {}, "ea_ticks": [], "compare": compare}
    echo_port, hop_port = free_port(), free_port()
    echo = Proc(["-m", "bench.floors", "tcp", str(echo_port)], pinning=pinning, server=False)
    hop: Proc | None = None
    emulated: RpcDaemon | None = None
    eas: dict[str, _EA] = {}
    workdir = tempfile.TemporaryDirectory(prefix="mtgw-bench-ea-")
    work = Path(workdir.name)
    try:
        baseline = _build_at(compare, work) if compare else None
        await wait_tcp(echo_port, echo)  # the hop floor connects to it as it starts
        hop = Proc(["-m", "bench.floors", "hop", str(hop_port), str(echo_port)], pinning=pinning)
        await wait_http(f"http://127.0.0.1:{hop_port}/health", hop)
        builds = [("", binary, binary4)] + ([("baseline_", *baseline)] if baseline else [])
        starts = {f"{prefix}{name}": (build, fixture) for prefix, b5, b4 in builds
                  for name, build, fixture in (("ea", b5, _quiet_fixture),
                                               ("ea_ticks", b5, _flowing_fixture),
                                               ("ea_mt4", b4, _mt4_fixture))}
        # the emulator's daemon and every EA with its own come up at once (nothing is measured
        # until all are up): each waits on its process's start, not on the one before
        started = await asyncio.gather(
            start_rpc_daemon(pinning),
            *(_start_ea(pinning, build, work, name, fixture)
              for name, (build, fixture) in starts.items()), return_exceptions=True)
        emulated = started[0] if isinstance(started[0], RpcDaemon) else None
        eas.update((name, ea) for name, ea in zip(starts, started[1:], strict=True)
                   if isinstance(ea, _EA))
        for failed in started:
            if isinstance(failed, BaseException):
                raise failed  # the finally below stops what did come up
        assert emulated is not None
        log(f"hop floor, emulator and {len(eas)} compiled EAs up")
        sides = (("hop", f"http://127.0.0.1:{hop_port}/rpc", None, HTTP_FLOOR_BODY),
                 ("emulator", emulated.rpc_url, emulated.token, RPC_BODY),
                 ("compiled_ea", eas["ea"].daemon.rpc_url, eas["ea"].daemon.token, RPC_BODY),
                 ("compiled_ea_mt4", eas["ea_mt4"].daemon.rpc_url, eas["ea_mt4"].daemon.token,
                  RPC_BODY))
        spaced = [("hop", f"http://127.0.0.1:{hop_port}/rpc", None, HTTP_FLOOR_BODY)] + [
            (name, ea.daemon.rpc_url, ea.daemon.token, RPC_BODY) for name, ea in eas.items()]
        for rep in range(reps):
            for side, url, token, body in sides:
                out[side].append(summarize_ns(await aiohttp_rtts(url, body, calls, token=token)))
            for side, url, token, body in spaced:
                out["spaced"].setdefault(side, []).append(summarize_ns(await _spaced_rtts(
                    url, token, spaced_calls, SPACED_GAP_S, body)))
            log(f"ea path rep {rep + 1}/{reps} done")
        for ea in eas.values():  # the tick runs have the client CPU to themselves
            await ea.stop()
        eas.clear()
        ticks_daemon = RunDaemon(pinning, login=EA_LOGIN, server=EA_SERVER)
        try:
            await ticks_daemon.wait_ready()
            for prefix, b5, _ in builds:
                modes = [(True, False), (False, False)] + ([] if prefix else [(True, True)])
                for n in TICK_SYMBOLS:
                    for wake, first in modes:
                        run = await _tick_run(b5, ticks_daemon, work, n, wake, tick_s * 2,
                                              tick_first=first)
                        out["ea_ticks"].append({**run, "ea": prefix + "ea"})
                        log(f"ticks through the {prefix or 'current '}EA: {n} symbol(s), "
                            f"{_tick_mode(run)}: done")
        finally:
            ticks_daemon.stop()
    finally:
        for ea in eas.values():
            await ea.stop()
        if emulated is not None:
            emulated.stop()
        for floor in (hop, echo):
            if floor is not None:
                floor.stop()
        workdir.cleanup()
    return out


#: The target: the compiled EA adds at most this much p50 over the hop floor.
EA_OVER_HOP_P50_LIMIT_US = 1000.0
#: The target: a spaced call through the MT5 EA adds at most this much p50 over the
#: spaced hop floor (the same calls, the same gap, in the same run).
EA_SPACED_OVER_HOP_P50_LIMIT_US = 500.0
#: The spaced sides, in the table's order, with their labels.
SPACED_SIDES = (("ea", "MT5 EA, no ticks"),
                ("ea_ticks", f"MT5 EA, {SPACED_TICK_SYMBOLS} symbols ticking at "
                             f"{SPACED_TICK_HZ:g} Hz each"),
                ("ea_mt4", "MT4 EA (quotes every 20 ms)"))


def summarize_ea_path(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians over the repetitions, the EAs' p50 over the hop floor, and the targets."""
    s: dict[str, Any] = {}
    for side in ("hop", "emulator", "compiled_ea", "compiled_ea_mt4"):
        for key in ("p50_us", "p99_us"):
            s[f"{side}_{key}"] = median([r[key] for r in raw.get(side, []) if key in r])
    s["ea_over_hop_p50_us"] = s["compiled_ea_p50_us"] - s["hop_p50_us"]
    s["ea_mt4_over_hop_p50_us"] = s["compiled_ea_mt4_p50_us"] - s["hop_p50_us"]
    s["ea_over_emulator_p50_us"] = s["compiled_ea_p50_us"] - s["emulator_p50_us"]
    spaced: dict[str, Any] = {}
    for side, runs in raw.get("spaced", {}).items():
        spaced[side] = {key: median([r[key] for r in runs if key in r])
                        for key in ("p50_us", "p99_us")}
        spaced[side]["n"] = sum(int(r.get("n", 0)) for r in runs)
    floor = spaced.get("hop", {}).get("p50_us", float("nan"))
    for row in spaced.values():
        row["over_hop_p50_us"] = row["p50_us"] - floor
    s["spaced"] = spaced
    s["compare"] = raw.get("compare")
    s["ea_ticks"] = [{k: r.get(k) for k in ("ea", "symbols", "wake", "tick_first", "n",
                                           "p50_us", "p99_us")} for r in raw["ea_ticks"]]
    over = s["ea_over_hop_p50_us"]
    spaced_over = spaced.get("ea_ticks", {}).get("over_hop_p50_us", float("nan"))
    s["target"] = {"rule": "compiled EA adds <= 1 ms p50 over the hop floor (simple read)",
                   "value_us": over,
                   "met": None if over != over else over <= EA_OVER_HOP_P50_LIMIT_US}
    s["spaced_target"] = {
        "rule": "a spaced call (ticks flowing) through the MT5 EA adds <= 0.5 ms p50 over the "
                "spaced hop floor",
        "value_us": spaced_over,
        "met": None if spaced_over != spaced_over
        else spaced_over <= EA_SPACED_OVER_HOP_P50_LIMIT_US}
    return s


def _tick_mode(run: dict[str, Any]) -> str:
    if not run.get("wake"):
        return "timer only"
    return "woken on each tick, TickFirst" if run.get("tick_first") else "woken on each tick"


def _f(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:,.{digits}f}"


def ea_table(s: dict[str, Any]) -> str:
    """The EA path's rows, in docs/performance.md's format."""
    lines = ["", "| /rpc symbol_info_tick, aiohttp c=1 | hop floor | emulator | compiled EA | "
             "EA over hop floor | compiled MT4 EA | MT4 EA over hop floor |",
             "|---|---|---|---|---|---|---|"]
    for key, label in (("p50_us", "p50 (us)"), ("p99_us", "p99 (us)")):
        lines.append(f"| {label} | {_f(s[f'hop_{key}'], 1)} | {_f(s[f'emulator_{key}'], 1)} | "
                     f"{_f(s[f'compiled_ea_{key}'], 1)} | "
                     f"{_f(s[f'compiled_ea_{key}'] - s[f'hop_{key}'], 1)} | "
                     f"{_f(s[f'compiled_ea_mt4_{key}'], 1)} | "
                     f"{_f(s[f'compiled_ea_mt4_{key}'] - s[f'hop_{key}'], 1)} |")
    spaced = s.get("spaced", {})
    lines += ["", f"| spaced calls, one every {SPACED_GAP_S * 1000:g} ms | p50 (us) | p99 (us) "
              "| p50 over the spaced hop floor (us) | calls |", "|---|---|---|---|---|"]
    hop = spaced.get("hop", {})
    lines.append(f"| hop floor | {_f(hop.get('p50_us'), 1)} | {_f(hop.get('p99_us'), 1)} | | "
                 f"{hop.get('n', 0)} |")
    prefixes = [("", "")] + ([("baseline_", f" at {s['compare']}")] if s.get("compare") else [])
    for prefix, suffix in prefixes:
        for side, label in SPACED_SIDES:
            row = spaced.get(prefix + side)
            if row is None:
                continue
            lines.append(f"| {label}{suffix} | {_f(row['p50_us'], 1)} | {_f(row['p99_us'], 1)} | "
                         f"{_f(row['over_hop_p50_us'], 1)} | {row['n']} |")
    lines += ["", "| ticks through the compiled EA, terminal -> /ws client | p50 (us) | p99 (us) "
              "| ticks |", "|---|---|---|---|"]
    for r in s["ea_ticks"]:
        how = _tick_mode(r)
        which = f" (EA at {s['compare']})" if str(r.get("ea", "")).startswith("baseline_") else ""
        lines.append(f"| {r['symbols']} Market Watch symbol(s), {how}{which} | {_f(r['p50_us'])} | "
                     f"{_f(r['p99_us'])} | {r['n']} |")
    lines.append("")
    for t in (s["target"], s["spaced_target"]):
        met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append(f"| {t['rule']} | {_f(t['value_us'], 1)} us | {met} |")
    return "\n".join(lines)
