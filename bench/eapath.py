"""The path through the compiled MQL5 and MQL4 EAs, beside the emulated terminal and the hop floor.

``python -m bench --ea`` (also part of a full run) measures, interleaved in one run:

* **hop floor**: the aiohttp POST floor plus one TCP hop to another process (``bench.floors``),
  the least a gateway with an out-of-process EA can cost;
* **emulator**: ``mtgateway run`` with the emulated terminal in its own process (``bench.rpc``);
* **compiled EA**: ``mtgateway run`` with the real MQL5 EA, compiled as C++ by the test kit
  (``tests/ea_mql``), in its own process on the client CPU like the emulator, with its
  defaults (timer 10 ms, waiting inside ``SocketRead`` while requests come one after another).
* **compiled MT4 EA**: the same with the MQL4 EA (``tests/ea_mql/kit/mql4``), its own daemon,
  waiting in Winsock's ``select`` for the rest of each pass. Its ticks are conflated quotes
  without the kit's arrival stamp, so tick latency is measured through the MQL5 EA only.

The call is ``symbol_info_tick("EURUSD")``, sequential over one kept-alive connection (the
aiohttp client of ``bench.rpc``). The EA waits in its socket only while calls come one after
another (one in the last 50 ms), so a call after a quiet spell waits for its next wake-up (a
tick of a Market Watch symbol, or its timer): **spaced calls**, one every 100 ms on an EA with
no ticks arriving, measure that worst case.

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

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.ea_mql.eakit import build_ea, write_fixture
from tests.ea_mql.eakit4 import build_ea4, write_fixture4

from .common import Pinning, Proc, free_port, median, summarize_ns, wait_http
from .daemon import RunDaemon
from .floors import HTTP_FLOOR_BODY
from .rpc import EA_LOGIN, EA_SERVER, RPC_BODY, aiohttp_rtts, start_rpc_daemon

__all__ = ["ea_table", "run_ea_path", "summarize_ea_path"]

_LIVE_TICKS = 30000  # the MT4 EA's fixture: one per 10 ms pass, more than any run needs
#: Ticks a second per symbol in the tick runs (a busy FX symbol gives 5-20).
TICK_HZ = 20.0
#: Market Watch sizes measured.
TICK_SYMBOLS = (1, 20)


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


async def _spaced_rtts(url: str, token: str, count: int, gap_s: float) -> list[int]:
    """``count`` calls ``gap_s`` apart over one kept-alive connection; round trips in ns."""
    import aiohttp

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    samples: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                     headers=headers) as session:
        for _ in range(count):
            await asyncio.sleep(gap_s)
            started = time.perf_counter_ns()
            async with session.post(url, data=RPC_BODY) as response:
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


def _tick_fixture(path: Path, token: str, n: int, seconds: float) -> list[str]:
    """A fixture of ``n`` Market Watch symbols (EURUSD, the chart's, and copies of it named
    SYM02...), each with a Poisson stream of ``TICK_HZ`` stamped ticks; returns the names."""
    live = int(TICK_HZ * (seconds + 30))
    fx = write_fixture(path, EmulatedTerminal(token, settings=EmulatorSettings(
        login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)),
        live_ticks=live)
    base = fx["symbols"]["EURUSD"]
    base.update(live_poisson_hz=TICK_HZ, live_start_ms=1000)
    names = ["EURUSD"] + [f"SYM{k:02d}" for k in range(2, n + 1)]
    for name in names[1:]:
        fx["symbols"][name] = {**base, "info": {**base["info"], "name": name}}
    path.write_text(json.dumps(fx), encoding="utf-8")  # orjson would write NaN as null
    return names


async def _tick_run(binary: Path, daemon: RunDaemon, workdir: Path, n: int, wake: bool,
                    seconds: float) -> dict[str, Any]:
    """One compiled EA on a fresh fixture of ``n`` symbols: its ticks' latency summary."""
    fixture = workdir / f"ticks-{n}-{int(wake)}.json"
    names = _tick_fixture(fixture, daemon.token, n, seconds)
    env = {**os.environ, "MTGW_FIXTURE": str(fixture), "MTGW_TOKEN": daemon.token,
           "MTGW_PORT": str(daemon.bridge_port), "MTGW_STAMP_TICKS": "1",
           "MQL_INPUT_TickWake": "true" if wake else "false"}
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
    return {**summary, "symbols": n, "wake": wake, "tick_hz": TICK_HZ}


async def run_ea_path(pinning: Pinning, *, reps: int, calls: int, tick_s: float,
                      log: Any) -> dict[str, Any]:
    """Interleaved RPC round trips on the hop floor, the emulator and the compiled EA, then
    tick latency through the EA. Raises RuntimeError if a process does not come up."""
    binary, binary4 = build_ea(), build_ea4()
    log(f"compiled EAs: {binary}, {binary4}")
    out: dict[str, Any] = {"hop": [], "emulator": [], "compiled_ea": [], "compiled_ea_mt4": [],
                           "ea_spaced": [],
                           "ea_ticks": []}
    echo_port, hop_port = free_port(), free_port()
    echo = Proc(["-m", "bench.floors", "tcp", str(echo_port)], pinning=pinning, server=False)
    hop = emulated = ea_daemon = ea4_daemon = None
    ea: asyncio.subprocess.Process | None = None
    ea4: asyncio.subprocess.Process | None = None
    workdir = tempfile.TemporaryDirectory(prefix="mtgw-bench-ea-")
    try:
        hop = Proc(["-m", "bench.floors", "hop", str(hop_port), str(echo_port)], pinning=pinning)
        await wait_http(f"http://127.0.0.1:{hop_port}/health", hop)
        emulated = await start_rpc_daemon(pinning)
        ea_daemon = RunDaemon(pinning, login=EA_LOGIN, server=EA_SERVER)
        await ea_daemon.wait_ready()
        fixture = Path(workdir.name) / "terminal.json"
        write_fixture(fixture, EmulatedTerminal(ea_daemon.token, settings=EmulatorSettings(
            login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)),
            live_ticks=0)  # no tick wakes the EA: calls find it by themselves
        env = {**os.environ, "MTGW_FIXTURE": str(fixture), "MTGW_TOKEN": ea_daemon.token,
               "MTGW_PORT": str(ea_daemon.bridge_port)}
        # the bench process is pinned to the client CPU: the EA inherits it, like the emulator
        ea = await asyncio.create_subprocess_exec(
            str(binary), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        await _wait_live(ea_daemon.rpc_url, ea_daemon.token, ea, 30.0)
        ea4_daemon = RunDaemon(pinning, login=EA_LOGIN, server=EA_SERVER)
        await ea4_daemon.wait_ready()
        fixture4 = Path(workdir.name) / "terminal4.json"
        write_fixture4(fixture4, EmulatedTerminal(ea4_daemon.token, settings=EmulatorSettings(
            login=EA_LOGIN, server=EA_SERVER, symbols=("EURUSD",), tick_rate_hz=1.0)),
            live_ticks=_LIVE_TICKS)
        env4 = {**os.environ, "MTGW_FIXTURE": str(fixture4), "MTGW_TOKEN": ea4_daemon.token,
                "MTGW_PORT": str(ea4_daemon.bridge_port)}
        ea4 = await asyncio.create_subprocess_exec(
            str(binary4), env=env4, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        await _wait_live(ea4_daemon.rpc_url, ea4_daemon.token, ea4, 30.0)
        log("hop floor, emulator and compiled EAs up")
        sides = (("hop", f"http://127.0.0.1:{hop_port}/rpc", None, HTTP_FLOOR_BODY),
                 ("emulator", emulated.rpc_url, emulated.token, RPC_BODY),
                 ("compiled_ea", ea_daemon.rpc_url, ea_daemon.token, RPC_BODY),
                 ("compiled_ea_mt4", ea4_daemon.rpc_url, ea4_daemon.token, RPC_BODY))
        for rep in range(reps):
            for side, url, token, body in sides:
                out[side].append(summarize_ns(await aiohttp_rtts(url, body, calls, token=token)))
            log(f"ea path rep {rep + 1}/{reps} done")
        out["ea_spaced"].append(summarize_ns(await _spaced_rtts(
            ea_daemon.rpc_url, ea_daemon.token, max(20, calls // 30), 0.1)))
        log("spaced calls through the EA done")
        for running in (ea, ea4):  # the tick runs have the client CPU to themselves
            if running is not None:
                running.terminate()
                await running.wait()
        for n in TICK_SYMBOLS:
            for wake in (True, False):
                out["ea_ticks"].append(await _tick_run(binary, ea_daemon, Path(workdir.name), n,
                                                       wake, tick_s * 2))
                log(f"ticks through the EA: {n} symbol(s), "
                    f"{'woken' if wake else 'timer only'}: done")
    finally:
        for child in (ea, ea4):
            if child is not None and child.returncode is None:
                child.terminate()  # SIGTERM: the harness runs OnDeinit (bye) and exits
                try:
                    await asyncio.wait_for(child.wait(), 5)
                except TimeoutError:
                    child.kill()
                    await child.wait()
        for proc in (ea_daemon, ea4_daemon, emulated):
            if proc is not None:
                proc.stop()
        for floor in (hop, echo):
            if floor is not None:
                floor.stop()
        workdir.cleanup()
    return out


#: Issue 10's target: the compiled EA adds at most this much p50 over the hop floor.
EA_OVER_HOP_P50_LIMIT_US = 1000.0


def summarize_ea_path(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians over the repetitions, the EA's p50 over the hop floor, and the target."""
    s: dict[str, Any] = {}
    for side in ("hop", "emulator", "compiled_ea", "compiled_ea_mt4"):
        for key in ("p50_us", "p99_us"):
            s[f"{side}_{key}"] = median([r[key] for r in raw.get(side, []) if key in r])
    s["ea_over_hop_p50_us"] = s["compiled_ea_p50_us"] - s["hop_p50_us"]
    s["ea_mt4_over_hop_p50_us"] = s["compiled_ea_mt4_p50_us"] - s["hop_p50_us"]
    s["ea_over_emulator_p50_us"] = s["compiled_ea_p50_us"] - s["emulator_p50_us"]
    spaced = raw["ea_spaced"][0] if raw.get("ea_spaced") else {}
    s["ea_spaced_p50_us"], s["ea_spaced_p99_us"] = spaced.get("p50_us"), spaced.get("p99_us")
    s["ea_ticks"] = [{k: r.get(k) for k in ("symbols", "wake", "n", "p50_us", "p99_us")}
                     for r in raw["ea_ticks"]]
    over = s["ea_over_hop_p50_us"]
    s["target"] = {"rule": "compiled EA adds <= 1 ms p50 over the hop floor (simple read)",
                   "value_us": over,
                   "met": None if over != over else over <= EA_OVER_HOP_P50_LIMIT_US}
    return s


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
    lines.append(f"| spaced calls (one every 100 ms, no ticks): p50 / p99 (us) | | | "
                 f"{_f(s['ea_spaced_p50_us'])} / {_f(s['ea_spaced_p99_us'])} | | | |")
    lines += ["", "| ticks through the compiled EA, terminal -> /ws client | p50 (us) | p99 (us) "
              "| ticks |", "|---|---|---|---|"]
    for r in s["ea_ticks"]:
        how = "woken on each tick" if r["wake"] else "timer only"
        lines.append(f"| {r['symbols']} Market Watch symbol(s), {how} | {_f(r['p50_us'])} | "
                     f"{_f(r['p99_us'])} | {r['n']} |")
    t = s["target"]
    met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
    lines += ["", f"| {t['rule']} | {_f(t['value_us'], 1)} us | {met} |"]
    return "\n".join(lines)
