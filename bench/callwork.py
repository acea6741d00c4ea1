"""``python -m bench.callwork``: the Python work on the console's event loop for one call of
each kind a daemon makes, counted, not timed.

Why counted: a console's CPU per call at cadence (``bench.authority --mode cadence``) moves
5-10 % between runs of one tree on a shared VM (``docs/performance.md``), so a change that
adds 1 % to a call cannot be seen there however the runs are ordered. The number of Python
function calls the loop's thread makes to answer one request does not move: the same tree
gives the same count run after run. It is what the console's own code on the loop adds or
saves (the door, the routes, the middlewares, aiohttp); the database work on the worker
threads, the signature check inside libsodium and the C parts of the loop are not in it, so
it is read beside the CPU figure, not instead of it. The same count is made on the database
door's worker threads, where each call's transaction runs (psycopg, the statements, the
door's own work): a second row, the work a call costs off the loop.

How: per variant (``--variant NAME[,tree=PATH][,KEY=VALUE]``, as ``bench.authority`` takes
them), a throw-away PostgreSQL database, a daemon provisioned by the variant's own code, and
``mtgateway-console`` started from the variant's tree under a small launcher
(:data:`LAUNCHER`: ``bench/loopprofile.py``'s, shared with ``bench.rpcwork``, the daemon's
count, with the workers' count added) that turns :mod:`cProfile` on for the main thread (the
event loop's), and for each transaction a worker runs, on ``SIGUSR1`` and off, writing its
counts, on ``SIGUSR2`` (POSIX signals: Linux), and says so on its standard output, which
the bench reads. The daemon warms every kind up (``--warmup``
rounds), then makes ``--calls`` calls of each kind in turn, one at a time, with the profiler
on for exactly those. A row: per path, Python function calls per call on the loop's thread
(and on the workers').

A daemon's report comes every 30 s, longer than its client keeps an idle connection, so at
the daemons' real cadence most reports open a connection of their own: the connection's
accept, admission, timers and close are paid on top of the call. One more row counts that,
:data:`NEW_CONNECTION`: ``--calls`` reports, each on a connection opened for it and closed by
the client once answered (the count per report, the connection's work and the call's).

The console's own timers run whatever the calls (the collector's pacing, the readiness
check's transaction every second: some 125 Python calls a second here), so a window's count
holds them for as long as it lasted, and a slower or busier machine, whose windows last
longer, would count more a call. They are counted first, with the console idle for
:data:`IDLE_S`, and their rate for each window's length is taken off its count: what is left
is the calls'.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from bench.authority import _calls, _Signer, filled
from bench.consoles import ConsoleProcess, Variant, console_config, provision
from bench.loopprofile import LAUNCHER as LOOP_LAUNCHER
from bench.loopprofile import switch
from mtgateway_base.loop import run as run_on_loop
from tests.pgkit import PostgresServer

__all__ = ["CARRIED", "LAUNCHER", "NEW_CONNECTION", "count_calls", "main"]

#: How long the console is counted idle first (its own timers' rate).
IDLE_S: Final = 2.0
#: The row of a report on a connection of its own (opened for it, closed by the client once
#: answered): what a report costs at the daemons' cadence.
NEW_CONNECTION: Final = "/v1/terminals/report, a new connection"
#: The row of a revocation long-poll carrying the report (``poll_report``), answered at once
#: (``wait_s`` 0): a report and a poll's renewal in one call, as a daemon makes them every
#: 30 s to a console that takes it (counted only for a console that does).
CARRIED: Final = "/v1/device/revocations, carrying the report"
#: The kind of call that row makes (``bench.authority._calls``' order).
_REPORT: Final = 2
#: ``bench/loopprofile.py``'s launcher, and a profile of each database worker thread, on for
#: each transaction it runs while the loop's is on (``Database._execute`` wrapped before the
#: console starts); at each stop their Python calls in all are written to
#: ``<path>.workers.<turn>``.
LAUNCHER: Final = """
import cProfile, threading
from mtgateway_console.database import engine
_workers, _lock, _local, _on = [], threading.Lock(), threading.local(), [False]
_execute = engine.Database._execute
def _profiled(self, job):
    if not _on[0]:
        return _execute(self, job)
    profile = getattr(_local, "profile", None)
    if profile is None:
        profile = _local.profile = cProfile.Profile()
        with _lock:
            _workers.append(profile)
    profile.enable()
    try:
        return _execute(self, job)
    finally:
        profile.disable()
engine.Database._execute = _profiled
def _workers_on():
    with _lock:
        for profile in _workers:
            profile.clear()
    _on[0] = True
def _workers_off(path):
    _on[0] = False
    with _lock:
        total = sum(entry.callcount for profile in _workers for entry in profile.getstats())
    with open(path, "w", encoding="utf-8") as file:
        file.write(str(total))
""" + LOOP_LAUNCHER.replace(
    '    state["profile"] = cProfile.Profile()\n',
    '    _workers_on()\n    state["profile"] = cProfile.Profile()\n').replace(
    '    state["profile"].disable()\n', '    state["profile"].disable()\n'
    '    _workers_off(f"{out}.workers.{state[\'turn\']}")\n')
if LAUNCHER.count("_workers_o") != 4:  # defined twice, called twice
    raise RuntimeError("bench/loopprofile.py's launcher changed: bench.callwork's workers' "
                       "count no longer fits it")

async def _switch(console: ConsoleProcess, signum: int, line: str) -> None:
    """Send ``signum`` to the console and wait until its launcher acted on it.

    Raises:
        TimeoutError: not within ``loopprofile.SIGNAL_WAIT_S``.
        RuntimeError: the console ended first (with the end of its log).
    """
    assert console.proc is not None  # noqa: S101 - started
    try:
        await switch(console.proc, signum, line)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}: {console.log_tail()}") from None


async def count_calls(server: PostgresServer, root: Path, variant: Variant, calls: int,
                      warmup: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per path, Python function calls on ``variant``'s console loop thread per call, and on
    its database workers' threads (``calls`` of each kind, after ``warmup`` rounds of every
    kind).

    Raises:
        RuntimeError: a call was not answered 200, or the console did not start.
    """
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    data.mkdir(parents=True, mode=0o700)
    database_url = await asyncio.to_thread(server.new_database)
    daemon = (await provision(data, database_url, 1, variant.tree))[0]
    config, out = root / "console.toml", root / "profile"
    console_config(config, data, port=0, daemons=1, variant=variant)
    console = ConsoleProcess(variant, config, {**os.environ,
                                               "MTGATEWAY_DATABASE_URL": database_url},
                             root / "console.log", launcher=("-c", LAUNCHER, str(out)))
    await asyncio.to_thread(console.start)
    signer, kinds = _Signer(daemon), _calls(daemon)
    if kinds[_REPORT][1] != "/v1/terminals/report":
        raise RuntimeError("bench.authority's calls changed order: no report at "
                           f"{_REPORT}")
    # the poll carrying the daemon's report, held not at all (from the feed's start)
    kinds.append(("POST", "/v1/device/revocations", orjson.dumps(
        {"wait_s": 0, "cursor": 0, **orjson.loads(kinds[_REPORT][2])})))
    carrying = len(kinds) - 1
    counted: dict[str, float] = {}
    off_loop: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:

            async def call(kind: int, opened: bool = False) -> int:
                """One call of ``kind``; ``opened``: on a connection of its own, kept alive
                as a daemon's is and closed by the client once answered (as a daemon's
                client closes a connection idle past its keep-alive): a session of its
                own, closed after it. Its status: 200, or 400 for a poll carrying a report
                to a console that does not take it.

                Raises:
                    RuntimeError: any other answer.
                """
                method, path, body = kinds[kind]
                body = filled(body, daemon)
                headers = signer.headers(method, path, body) if path != "/v1/keys" else {}
                async with contextlib.AsyncExitStack() as own:
                    through = await own.enter_async_context(aiohttp.ClientSession()) \
                        if opened else session
                    async with through.request(method, console.url + path, data=body or None,
                                               headers=headers) as response:
                        text = await response.text()
                        if response.status != 200 and not (kind == carrying
                                                           and response.status == 400):
                            raise RuntimeError(
                                f"{path} answered {response.status}: {text[:300]}")
                        return response.status

            async def window(calling: int | None, opened: bool = False
                             ) -> tuple[int, int, float]:
                """One profiled window (``calls`` calls of kind ``calling``, each on a
                connection of its own if ``opened``, or :data:`IDLE_S` of none): the loop's
                Python calls, the workers', seconds."""
                await _switch(console, signal.SIGUSR1, "callwork on")
                started = loop.time()
                if calling is None:
                    await asyncio.sleep(IDLE_S)
                else:
                    for _ in range(calls):
                        await call(calling, opened)
                lasted = loop.time() - started
                await _switch(console, signal.SIGUSR2, "callwork off")
                turn = len(turns)
                turns.append(turn)
                stats: Any = pstats.Stats(f"{out}.{turn}")  # total_calls: not in its stubs
                workers = await asyncio.to_thread(Path(f"{out}.workers.{turn}").read_text,
                                                  encoding="utf-8")
                return stats.total_calls, int(workers), lasted

            loop, turns = asyncio.get_running_loop(), list[int]()
            if await call(carrying) != 200:  # a console older than poll_report: no row
                kinds.pop()
            for _ in range(warmup):
                for kind in range(len(kinds)):
                    await call(kind)
                await call(_REPORT, opened=True)
            idle_loop, idle_workers, idle_s = await window(None)
            for kind, (_, path, _) in enumerate(kinds):
                on_loop, on_workers, lasted = await window(kind)
                row = CARRIED if kind == carrying else path
                # the console's own timers, at their idle rate for as long as the window
                counted[row] = max(0.0, on_loop - idle_loop / idle_s * lasted) / calls
                off_loop[row] = max(0.0, on_workers - idle_workers / idle_s * lasted) / calls
            on_loop, on_workers, lasted = await window(_REPORT, opened=True)
            counted[NEW_CONNECTION] = max(0.0, on_loop - idle_loop / idle_s * lasted) / calls
            off_loop[NEW_CONNECTION] = max(0.0, on_workers - idle_workers / idle_s * lasted
                                           ) / calls
    finally:
        await asyncio.to_thread(console.stop)
    return counted, off_loop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.callwork", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", type=Variant.parse, default=None,
                        help="NAME[,tree=PATH][,KEY=VALUE...]: a console to count "
                             "(repeatable; default: this tree as it is)")
    parser.add_argument("--calls", type=int, default=300,
                        help="calls of each kind counted (default 300)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="rounds of every kind first, not counted (default 20)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    return parser


async def _run(args: argparse.Namespace, variants: list[Variant]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            counted, off_loop = await count_calls(server, Path(tmp) / variant.name, variant,
                                                  args.calls, args.warmup)
            rows.append({"variant": variant.name, "tree": str(variant.tree),
                         "calls": args.calls, "python_calls_per_call": counted,
                         "worker_python_calls_per_call": off_loop})
            print(f"[{variant.name}] Python calls on the loop per call: "
                  + ", ".join(f"{path} {n:,.1f}" for path, n in counted.items()), flush=True)
            print(f"[{variant.name}] Python calls on the database's workers per call: "
                  + ", ".join(f"{path} {n:,.1f}" for path, n in off_loop.items()),
                  flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.callwork``."""
    args = _parser().parse_args(argv)
    if sys.platform == "win32":
        print("bench.callwork switches the profiler with POSIX signals: Linux only",
              file=sys.stderr)
        return 2
    if args.calls < 1 or args.warmup < 0:
        print("--calls must be at least 1 and --warmup at least 0", file=sys.stderr)
        return 2
    rows = run_on_loop(_run(args, args.variant or [Variant("this")]))
    if args.json:
        args.json.write_text(json.dumps({"callwork": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
