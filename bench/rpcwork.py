"""``python -m bench.rpcwork``: the Python work on the daemon's event loop for one ``/rpc`` call,
counted, not timed: the daemon's figure beside ``bench.callwork``'s for the console.

Why counted: ``/rpc``'s CPU per call against the lean hop floor (``python -m bench --only rpc
--reps 2``) moves with the machine and with whatever else runs on it, more than one change
moves it; the number of Python function calls (built-ins included, as :mod:`cProfile` counts
them) the loop's thread makes to answer one call is the same run after run. It counts what the
daemon's own Python does per call (the llhttp edge, the door and its ladder, the token check,
the dispatcher, the method and its params model, the trading desk's read, the bridge's
frames); the loop's C parts, llhttp and orjson inside, and the kernel's socket work are not in
it, so it is read beside the CPU figure, not instead of it. In the compiled build (mypyc)
the compiled modules' own functions are not seen by the profiler: there the count is what
stays interpreted.

How: per variant (``--variant NAME[,tree=PATH]``: another checkout's daemon), ``mtgateway
run`` as ``bench.rpc`` starts it (a config, ``owner create``, ``token create``, logging at
WARNING, the emulated terminal in its own process, offering one symbol at one tick a
hundred seconds so its ticks stay out of the count), under the profiler's launcher
(``bench/loopprofile.py``: cProfile on the loop's thread from ``SIGUSR1`` to ``SIGUSR2``).
One client connection, kept alive, sends the bench's call (``symbol_info_tick("EURUSD")``,
with the headers wrk sends) ``--warmup`` times, then ``--calls`` times with the profiler on.
A row: Python calls per call, the part that are built-ins, and the calls by group (the code of
each part of the path, with the built-ins it calls); ``--top N`` lists the functions called
most and who calls them.

``--new-connections`` sends each call on a connection of its own, closed by the client once
answered (as a client that calls less often than it keeps a connection does): the count is then
the call's and the connection's (its accept, the guard's admission and deadlines, the edge's
set-up, the close).

``--instructions`` adds the second count the machine does not move: the machine instructions
the loop's thread executes per call, the daemon run again under valgrind's callgrind with its
instrumentation on for exactly the counted calls (the same windows). It sees everything the
Python count does not (the interpreter's own work for each call, uvloop, llhttp, orjson,
pydantic's core, and the compiled build's modules, where the Python count sees almost
nothing), and not the kernel's: a figure for a change whose Python calls do not tell its
cost. The same tree gives the same count to within a fraction of a percent; valgrind makes
the run a minute or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.common import ROOT, Pinning, Proc, daemon_package
from bench.daemon import RunDaemon
from bench.loopprofile import LAUNCHER, by_group, first_match, switch, top_functions
from bench.rpc import EA_LOGIN, EA_SERVER, RPC_BODY
from mtgateway_base.loop import run as run_on_loop

__all__ = ["GROUPS", "RpcClient", "callgrind_total", "count_instructions", "count_rpc",
           "group_of", "main"]

#: The emulated terminal's ticks a second: rare, so none lands among the counted calls.
_TICK_RATE_HZ: Final = 0.01
#: How long a daemon under valgrind has to start and answer a first call (~20x slower).
_VALGRIND_READY_S: Final = 300.0

#: The groups of the path, by the first fragment a function's file holds (a built-in counts
#: in its caller's group).
GROUPS: Final = (
    ("/gateway/edge/", "edge (llhttp, door, ladder)"),
    ("/mtgateway_base/", "base (guard, throttle, edge rules)"),
    ("/gateway/base/", "base (guard, throttle, edge rules)"),  # a tree before the split
    ("/gateway/rpc.py", "dispatcher (rpc, strictjson, errors)"),
    ("/gateway/strictjson.py", "dispatcher (rpc, strictjson, errors)"),
    ("/gateway/errors.py", "dispatcher (rpc, strictjson, errors)"),
    ("/gateway/context.py", "context"),
    ("/gateway/methods/", "method and params (pydantic)"),
    ("/gateway/schemas.py", "method and params (pydantic)"),
    ("/pydantic", "method and params (pydantic)"),
    ("/gateway/auth/", "auth"),
    ("/gateway/trading/", "trading desk"),
    ("/gateway/metrics.py", "metrics"),
    ("prometheus_client", "metrics"),
    ("/gateway/log.py", "logging"),
    ("/logging/", "logging"),
    ("/ea_bridge/", "EA bridge"),
    ("/asyncio/", "asyncio"),
    ("uvloop", "asyncio"),
    ("/gateway/", "gateway (other)"),
    ("<string>", "generated (dataclasses' __eq__, __hash__)"),
)


def group_of(file: str) -> str:
    """The group of a function's file (:data:`GROUPS`), ``other`` when none matches."""
    return first_match(file, GROUPS) or "other"


@dataclass(frozen=True)
class Variant:
    """Which daemon a row counts: ``NAME[,tree=PATH]`` (another checkout's daemon)."""

    name: str
    tree: Path = ROOT

    @classmethod
    def parse(cls, spec: str) -> Variant:
        """A variant from its command-line form.

        Raises:
            ValueError: no name, an item other than ``tree=``, or a tree without ``gateway/``.
        """
        name, *items = [part.strip() for part in spec.split(",")]
        if not name or "=" in name:
            raise ValueError(f"a variant starts with its name: {spec!r}")
        tree = ROOT
        for item in items:
            key, eq, value = item.partition("=")
            if key != "tree" or not eq:
                raise ValueError(f"{item!r} is not tree=PATH (in {spec!r})")
            tree = Path(value).resolve()
            if not (daemon_package(tree) / "__main__.py").exists():
                raise ValueError(f"{tree} holds no gateway/ package")
        return cls(name, tree)


class RpcClient:
    """One kept-alive HTTP/1.1 connection sending the bench's ``/rpc`` call, as wrk sends it."""

    def __init__(self, port: int, token: str, body: bytes = RPC_BODY) -> None:
        self._port = port
        self._request = (f"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def call(self) -> tuple[int, bytes]:
        """One call: the status and the body (a new connection if the last one closed).

        Raises:
            ConnectionError: the daemon closed the connection before answering.
        """
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writer.write(self._request)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise ConnectionError("the daemon closed the connection") from exc
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None


async def _until_live(client: RpcClient, daemon: RunDaemon, emulator: Proc,
                      wait_s: float = 30.0) -> None:
    """Until the call answers a result (the emulated terminal has connected).

    Raises:
        RuntimeError: either process exited, or not within ``wait_s``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        for proc, what in ((daemon.proc, "daemon"), (emulator, "emulated terminal")):
            if not proc.alive():
                raise RuntimeError(f"the {what} exited: {proc.stop()}")
        try:
            status, body = await client.call()
        except (ConnectionError, OSError):
            status, body = 0, b""
        if status == 200 and b'"result"' in body:
            return
        if loop.time() > deadline:
            raise RuntimeError(f"no result within {wait_s:g} s: {status} {body[:200]!r}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _serving(variant: Variant, *, launcher: Sequence[str] = ("-m", "gateway"),
                   wrapper: Sequence[str] = (), ready_s: float = 30.0,
                   stdout: int | None = subprocess.DEVNULL
                   ) -> AsyncIterator[tuple[RunDaemon, RpcClient]]:
    """``variant``'s daemon (run by ``launcher``, under ``wrapper``) with the emulated terminal
    connected, and a client whose call has answered once; both stopped after.

    Raises:
        RuntimeError: a process did not start, or the terminal was not live in time.
    """
    daemon = RunDaemon(Pinning(None, None), login=EA_LOGIN, server=EA_SERVER,
                       tree=variant.tree, launcher=launcher, stdout=stdout, wrapper=wrapper)
    emulator: Proc | None = None
    client = RpcClient(daemon.http_port, daemon.token)
    try:
        await daemon.wait_ready(ready_s)
        emulator = Proc(["-m", "ea_bridge.emulator", "--bridge",
                         f"127.0.0.1:{daemon.bridge_port}", "--login", str(EA_LOGIN),
                         "--server", EA_SERVER, "--symbols", "EURUSD",
                         "--tick-rate", str(_TICK_RATE_HZ)],
                        server=False, tree=variant.tree,
                        extra_env={"MTGATEWAY_TOKEN": daemon.token})
        await _until_live(client, daemon, emulator, ready_s)
        yield daemon, client
    finally:
        await client.close()
        if emulator is not None:
            emulator.stop()
        daemon.stop()


async def count_rpc(root: Path, variant: Variant, calls: int, warmup: int,
                    top: int = 0, rounds: int = 1, *, new_connections: bool = False
                    ) -> dict[str, Any]:
    """``variant``'s daemon's Python calls on its loop thread per ``/rpc`` call (``calls``
    counted in each of ``rounds`` windows, after ``warmup``; ``new_connections``: each on a
    connection of its own, closed by the client once answered): each window's, and over them
    all the total, the built-ins among them, by group, and the ``top`` functions called
    most. The profiles stay in ``root/profile.<window>``.

    Raises:
        RuntimeError: a call was not answered with a result, or a process did not start.
    """
    out = root / "profile"
    per_round: list[float] = []
    async with _serving(variant, launcher=("-c", LAUNCHER, str(out)),
                        stdout=subprocess.PIPE) as (daemon, client):
        for _ in range(warmup):
            await _checked(client)
            if new_connections:
                await client.close()
        popen = daemon.proc.popen
        for window in range(rounds):
            await switch(popen, signal.SIGUSR1, "callwork on")
            for _ in range(calls):
                await _checked(client)
                if new_connections:
                    await client.close()  # (the next call opens one)
            await switch(popen, signal.SIGUSR2, "callwork off")
            counted: Any = pstats.Stats(f"{out}.{window}")  # total_calls: not in its stubs
            per_round.append(counted.total_calls / calls)
    merged: Any = pstats.Stats(*(f"{out}.{window}" for window in range(rounds)))
    stats: dict[Any, Any] = merged.stats
    per = calls * rounds
    builtins = sum(row[1] for function, row in stats.items() if function[0] == "~")
    return {"python_calls_per_call": merged.total_calls / per,
            "builtin_calls_per_call": builtins / per, "rounds": per_round,
            "by_group": by_group(stats, group_of, per),
            "top": top_functions(stats, per, top) if top else []}


def callgrind_total(path: Path) -> int:
    """The instructions a callgrind dump counted (its ``totals:`` line; 0 when it has none).

    Raises:
        OSError: the file cannot be read.
    """
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    return 0


async def _callgrind_control(pid: int, *args: str) -> None:
    """``callgrind_control ARGS PID``: switch the instrumentation, or dump what it counted.

    Raises:
        RuntimeError: callgrind_control failed.
    """
    proc = await asyncio.create_subprocess_exec(
        "callgrind_control", *args, str(pid), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    said, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed: {said.decode()[-500:]}")


async def count_instructions(root: Path, variant: Variant, calls: int, warmup: int,
                             rounds: int = 1) -> list[float]:
    """Machine instructions on ``variant``'s loop thread per ``/rpc`` call, in each of
    ``rounds`` windows of ``calls`` (after ``warmup``): the daemon under valgrind's callgrind,
    its instrumentation switched on for exactly those calls (``callgrind_control``), one
    count per thread (the loop's is the first). Everything the thread runs is in it (the
    interpreter, uvloop, llhttp, orjson, pydantic's core, a compiled build's modules), the
    kernel's work is not.

    Raises:
        RuntimeError: a call was not answered, a process did not start, or callgrind failed.
    """
    out = root / "callgrind"
    wrapper = ("valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
               f"--callgrind-out-file={out}")
    per_round: list[float] = []
    async with _serving(variant, wrapper=wrapper, ready_s=_VALGRIND_READY_S) as (daemon,
                                                                                 client):
        for _ in range(warmup):
            await _checked(client)
        pid = daemon.proc.pid
        for window in range(1, rounds + 1):
            await _callgrind_control(pid, "-i", "on")
            for _ in range(calls):
                await _checked(client)
            await _callgrind_control(pid, "-i", "off")
            await _callgrind_control(pid, "-d")
            per_round.append(callgrind_total(Path(f"{out}.{window}-01")) / calls)
    return per_round


async def _checked(client: RpcClient) -> None:
    status, body = await client.call()
    if status != 200 or b'"result"' not in body:
        raise RuntimeError(f"/rpc answered {status}: {body[:300]!r}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.rpcwork", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", type=Variant.parse, default=None,
                        help="NAME[,tree=PATH]: a daemon to count (repeatable; default: this "
                             "tree as it is)")
    parser.add_argument("--calls", type=int, default=1000,
                        help="calls counted (default 1000)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="calls first, not counted (default 200)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="windows of --calls counted in the same daemon, each reported "
                             "(default 1): the count is the same in each")
    parser.add_argument("--new-connections", action="store_true",
                        help="each call on a connection of its own, closed by the client "
                             "once answered (the connection's work counted with the call's)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the machine instructions on the loop's thread per "
                             "call, the daemon run again under valgrind's callgrind (slow: "
                             "a minute or more; needs valgrind)")
    parser.add_argument("--top", type=int, default=0,
                        help="also list the N functions called most, with their callers")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--save", type=Path, metavar="DIR",
                        help="keep each variant's profile here as DIR/NAME.pstats (for "
                             "pstats or a viewer such as snakeviz)")
    return parser


def _print_row(name: str, row: dict[str, Any]) -> None:
    rounds = ""
    if len(row["rounds"]) > 1:
        rounds = "; windows " + ", ".join(f"{n:,.1f}" for n in row["rounds"])
    where = " on a connection of its own" if row.get("new_connections") else ""
    print(f"[{name}] Python calls on the loop per /rpc call{where}: "
          f"{row['python_calls_per_call']:,.1f} ({row['builtin_calls_per_call']:,.1f} of them "
          f"built-ins{rounds})", flush=True)
    if "instructions_per_call" in row:
        print(f"[{name}] instructions on the loop per /rpc call: "
              f"{row['instructions_per_call']:,.0f} (windows "
              + ", ".join(f"{n:,.0f}" for n in row["instruction_rounds"]) + ")", flush=True)
    for group, calls in row["by_group"].items():
        print(f"  {calls:7.1f}  {group}")
    for entry in row["top"]:
        callers = "; ".join(f"{c['function']} {c['calls']:.1f}" for c in entry["callers"])
        print(f"  {entry['calls']:7.1f}  {entry['function']}  <- {callers}")


async def _run(args: argparse.Namespace, variants: list[Variant]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mtgw-rpcwork-") as tmp:
        for variant in variants:
            root = Path(tmp) / variant.name
            root.mkdir()
            row = await count_rpc(root, variant, args.calls, args.warmup, args.top,
                                  args.rounds, new_connections=args.new_connections)
            row["new_connections"] = args.new_connections
            if args.instructions:
                instructions = await count_instructions(root, variant, args.calls,
                                                        args.warmup, args.rounds)
                row["instructions_per_call"] = sum(instructions) / len(instructions)
                row["instruction_rounds"] = instructions
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                merged: Any = pstats.Stats(*(str(root / f"profile.{window}")
                                             for window in range(args.rounds)))
                merged.dump_stats(args.save / f"{variant.name}.pstats")
            rows.append({"variant": variant.name, "tree": str(variant.tree),
                         "calls": args.calls, **row})
            _print_row(variant.name, row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.rpcwork``."""
    args = _parser().parse_args(argv)
    if sys.platform == "win32":
        print("bench.rpcwork switches the profiler with POSIX signals: Linux only",
              file=sys.stderr)
        return 2
    if args.calls < 1 or args.rounds < 1 or args.warmup < 0 or args.top < 0:
        print("--calls and --rounds must be at least 1, --warmup and --top at least 0",
              file=sys.stderr)
        return 2
    if args.instructions and args.new_connections:
        print("--instructions counts calls on one kept connection: not with "
              "--new-connections", file=sys.stderr)
        return 2
    if args.instructions and not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("--instructions runs the daemon under valgrind's callgrind: install valgrind "
              "(apt-get install valgrind)", file=sys.stderr)
        return 2
    names = [variant.name for variant in args.variant or []]
    if len(set(names)) != len(names):
        print("each --variant needs a name of its own", file=sys.stderr)
        return 2
    rows = run_on_loop(_run(args, args.variant or [Variant("this")]))
    if args.json:
        args.json.write_text(json.dumps({"rpcwork": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
