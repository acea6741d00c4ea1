"""``python -m bench``: floors, the daemon, and every measurement, in one run.

One run starts the floors (``bench.floors``: TCP echo, minimal aiohttp POST, that POST
plus one TCP hop to another process, the "hop floor", and an httptools protocol plus the
same hop, the "lean hop floor" every ``/rpc`` target is a ratio to) and the
daemon under test (``mtgateway run`` with the emulated terminal in its own process, see
``bench.rpc``), then repeats, interleaved so that drift on the VM hits floor and daemon
alike: TCP echo RTT; wrk c=1 on the floor, the hop floor, the lean hop floor, then the
daemon; the aiohttp client on the four; wrk c=32 on the four. Then the in-process dispatch
cost, then the fan-out set-up (``mtgateway run`` + bench EA + subscriber process, see
``bench.fanout``), then many terminals on one daemon (10 and 50 emulated, 10 compiled EAs:
``bench.terminals``). It prints a table of absolute figures and ratios, the targets met or
missed, and writes everything as JSON.

``--quick`` shortens everything (CI runs it to prove the harness; no speed is asserted),
leaves out the many-terminals section (``tests/test_bench_terminals.py`` runs it with tiny
counts) and never installs wrk: without wrk on PATH the wrk parts are skipped and the JSON
says so.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from gateway.cli import build_note

from .common import (
    Pinning,
    Proc,
    free_port,
    proc_cpu_s,
    proc_memory_kib,
    summarize_ns,
    wait_http,
)
from .dispatch import measure_dispatch
from .eapath import ea_table, run_ea_path, summarize_ea_path
from .fanout import run_fanout
from .floors import HTTP_FLOOR_BODY, tcp_echo_rtts
from .report import SIDES, summarize, table, targets
from .rpc import RPC_BODY, aiohttp_rtts, start_rpc_daemon
from .terminals import run_terminals, terminals_table
from .wrkrun import find_wrk, run_wrk


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short run proving the harness works (CI); never installs wrk")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"),
                        help="where to write the results (default: bench-results.json)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 3, quick 1)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--ea", action="store_true",
                        help="only the path through the compiled MQL5 EA (bench.eapath); a "
                             "full run includes it, --quick leaves it out unless given")
    parser.add_argument("--spaced-calls", type=int, metavar="N",
                        help="with --ea: the spaced calls (one every 100 ms) per side "
                             "(default 60, quick 20)")
    parser.add_argument("--ea-compare", metavar="REV",
                        help="with --ea: also measure the EAs of this git revision (its "
                             "ea_bridge/mql built against its own test kit), beside today's")
    parser.add_argument("--rpc-edge", choices=("llhttp", "aiohttp"), default="llhttp",
                        help="the daemon's [server] rpc_edge (an A/B of the llhttp /rpc edge "
                             "against aiohttp's parser; default llhttp, as shipped)")
    parser.add_argument("--only", choices=("rpc", "terminals"),
                        help="measure only this section (for an A/B of one change; the "
                             "targets of the skipped sections show 'not measured')")
    return parser


def _plan(quick: bool, reps: int | None) -> dict[str, Any]:
    """What each section runs. ``terminal_reps`` and ``terminal_s``: the many-terminals
    section's isolation ratio (a p99 over a p99) moved by +-0.25 from one run of three 3 s
    repetitions to the next on a quiet machine (the baseline's own p99 moved 30-60 % from one
    phase to the next at 50 terminals), so its medians are taken over nine shorter ones."""
    if quick:
        # every phase of every section once, in the shortest window that still delivers
        # ticks and calls (a wrk run interrupted after 0.3 s, bench.wrkrun; the EA's
        # one-symbol tick runs need their second): the figures mean nothing
        return {"reps": reps or 1, "wrk_s": 0.3, "aiohttp_n": 100, "tcp_n": 200,
                "ns": (1, 10, 100), "lat_s": 0.25, "tp_s": 0.3, "storm_s": 0.5,
                "dispatch_calls": 200, "search_steps": 2, "terminal_reps": reps or 1,
                "terminal_s": 0.5, "ea_tick_s": 1.0}
    return {"reps": reps or 3, "wrk_s": 5, "aiohttp_n": 3000, "tcp_n": 5000,
            "ns": (1, 10, 100), "lat_s": 3.0, "tp_s": 3.0, "storm_s": 5.0,
            "dispatch_calls": 5000, "search_steps": 12, "terminal_reps": reps or 9,
            "terminal_s": 2.0, "ea_tick_s": 6.0}


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"nproc": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version()}


def _wait_tcp(port: int, proc: Proc, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"TCP floor did not start: {proc.stop()}") from None
            time.sleep(0.05)


async def _rpc_section(plan: dict[str, Any], pinning: Pinning, wrk: str | None,
                       log: Any, rpc_edge: str = "llhttp") -> dict[str, Any]:
    tcp_port, http_port, echo_port, hop_port = free_port(), free_port(), free_port(), free_port()
    lean_port = free_port()
    tcp = Proc(["-m", "bench.floors", "tcp", str(tcp_port)], pinning=pinning)
    http = Proc(["-m", "bench.floors", "http", str(http_port)], pinning=pinning)
    # The hop floor's upstream sits where the emulated terminal sits (the client CPU).
    echo = Proc(["-m", "bench.floors", "tcp", str(echo_port)], pinning=pinning, server=False)
    out: dict[str, Any] = {f"{client}_{side}": [] for client in ("wrk_c1", "aiohttp_c1", "wrk_c32")
                           for side in SIDES}
    out["tcp_floor"] = []
    daemon = hop = lean = None
    try:
        _wait_tcp(tcp_port, tcp)
        _wait_tcp(echo_port, echo)
        hop = Proc(["-m", "bench.floors", "hop", str(hop_port), str(echo_port)], pinning=pinning)
        # the lean hop floor: same pinning, same upstream echo (measured one at a time)
        lean = Proc(["-m", "bench.floors", "lean", str(lean_port), str(echo_port)],
                    pinning=pinning)
        floor_url = f"http://127.0.0.1:{http_port}/rpc"
        hop_url = f"http://127.0.0.1:{hop_port}/rpc"
        lean_url = f"http://127.0.0.1:{lean_port}/rpc"
        await wait_http(f"http://127.0.0.1:{http_port}/health", http)
        await wait_http(f"http://127.0.0.1:{hop_port}/health", hop)
        await wait_http(f"http://127.0.0.1:{lean_port}/health", lean)
        daemon = await start_rpc_daemon(pinning, rpc_edge=rpc_edge)
        log(f"floors, daemon (pid {daemon.proc.pid}) and emulated terminal up")
        sides = (("floor", floor_url, None, HTTP_FLOOR_BODY),
                 ("hop", hop_url, None, HTTP_FLOOR_BODY),
                 ("lean", lean_url, None, HTTP_FLOOR_BODY),
                 ("daemon", daemon.rpc_url, daemon.token, RPC_BODY))
        servers = {"floor": http.pid, "hop": hop.pid, "lean": lean.pid,
                   "daemon": daemon.proc.pid}
        for rep in range(plan["reps"]):
            out["tcp_floor"].append(summarize_ns(tcp_echo_rtts(tcp_port, plan["tcp_n"])))
            for conns in (1, 32):
                if wrk is None:
                    continue
                for side, url, token, body in sides:
                    cpu_before = proc_cpu_s(servers[side])
                    result = await run_wrk(wrk, url, body, connections=conns,
                                           duration_s=plan["wrk_s"], token=token)
                    cpu_after = proc_cpu_s(servers[side])
                    if cpu_before is not None and cpu_after is not None and result["requests"]:
                        # the server process's own CPU per request (the EA's or echo's not
                        # included): the figure the machine's load distorts least
                        result["server_cpu_us"] = ((cpu_after - cpu_before) * 1e6
                                                   / result["requests"])
                    out[f"wrk_c{conns}_{side}"].append(result)
                if conns == 1:
                    for side, url, token, _ in sides:
                        out[f"aiohttp_c1_{side}"].append(summarize_ns(await aiohttp_rtts(
                            url, RPC_BODY, plan["aiohttp_n"], token=token)))
            if wrk is None:
                for side, url, token, _ in sides:
                    out[f"aiohttp_c1_{side}"].append(summarize_ns(await aiohttp_rtts(
                        url, RPC_BODY, plan["aiohttp_n"], token=token)))
            log(f"rpc rep {rep + 1}/{plan['reps']} done")
        out["daemon_memory_kib"] = proc_memory_kib(daemon.proc.pid)
    finally:
        if daemon is not None:
            daemon.stop()
        for proc in (lean, hop, echo, tcp, http):
            if proc is not None:
                proc.stop()
    return out


async def _run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    plan = _plan(args.quick, args.reps)
    pinning = Pinning.choose(not args.no_pin)
    pinning.pin_self()
    wrk, wrk_note = find_wrk(allow_install=not (args.quick or args.no_install))
    log(wrk_note)
    started = time.monotonic()
    raw: dict[str, Any] = {
        "meta": {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                 "machine": _machine(), "pinning": pinning.describe(), "quick": args.quick,
                 "rpc_edge": args.rpc_edge,
                 # the daemons start from this interpreter and tree: their build is this one
                 "build": build_note().strip(" ()") or "pure Python",
                 "plan": {k: list(v) if isinstance(v, tuple) else v for k, v in plan.items()},
                 "wrk": {"path": wrk, "note": wrk_note}},
        "skipped": [] if wrk else ["wrk_c1", "wrk_c32"],
    }
    if args.only == "terminals":
        raw["terminals"] = await run_terminals(pinning, reps=plan["terminal_reps"],
                                               duration_s=plan["terminal_s"], log=log)
        raw["meta"]["seconds"] = round(time.monotonic() - started, 1)
        return raw
    if args.ea or not args.quick:
        raw["ea_path"] = await run_ea_path(pinning, reps=plan["reps"],
                                           calls=plan["aiohttp_n"], tick_s=plan["ea_tick_s"],
                                           log=log, compare=args.ea_compare,
                                           spaced_calls=args.spaced_calls
                                           or (20 if args.quick else 60))
        log("compiled EA path measured")
        raw["ea_summary"] = summarize_ea_path(raw["ea_path"])
    if args.ea:
        raw["meta"]["seconds"] = round(time.monotonic() - started, 1)
        return raw
    raw["rpc"] = await _rpc_section(plan, pinning, wrk, log, args.rpc_edge)
    if args.only is None:
        raw["dispatch"] = await measure_dispatch(calls=plan["dispatch_calls"])
        log("dispatch measured")
        raw["fanout"] = await run_fanout(pinning, ns=plan["ns"], reps=plan["reps"],
                                         lat_s=plan["lat_s"], tp_s=plan["tp_s"],
                                         storm_s=plan["storm_s"],
                                         search_steps=plan["search_steps"])
        log("fan-out measured")
        if not args.quick:
            raw["terminals"] = await run_terminals(pinning, reps=plan["terminal_reps"],
                                                   duration_s=plan["terminal_s"], log=log)
            log("many terminals measured")
    raw["summary"] = summarize(raw)
    raw["targets"] = targets(raw["summary"])
    raw["meta"]["seconds"] = round(time.monotonic() - started, 1)
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.spaced_calls is not None and args.spaced_calls < 1:
        parser.error(f"--spaced-calls must be at least 1, not {args.spaced_calls}")

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    try:
        import uvloop
    except ImportError:
        raw = asyncio.run(_run(args, log))
    else:
        raw = uvloop.run(_run(args, log))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    meta = raw["meta"]
    print(f"MT Gateway benchmark {meta['date']} on {meta['machine']['nproc']} x "
          f"{meta['machine']['cpu_model']} (pinning: {meta['pinning']}, quick: {meta['quick']}, "
          f"daemon build: {meta['build']})")
    if raw["skipped"] and "summary" in raw:
        print(meta["wrk"]["note"])
    if "summary" in raw:
        print(table(raw["summary"], raw["targets"]))
    if "ea_summary" in raw:
        print(ea_table(raw["ea_summary"]))
    if "terminals" in raw:
        print(terminals_table(raw["terminals"]["summary"]))
    print(f"\nJSON written to {args.json} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
