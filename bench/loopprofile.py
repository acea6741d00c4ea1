"""cProfile on a server's event-loop thread, switched on and off by signals, and what it counted.

Shared by the two counted benches, ``python -m bench.callwork`` (the console's device calls)
and ``python -m bench.rpcwork`` (the daemon's ``/rpc``): each starts ``mtgateway`` under
:data:`LAUNCHER`, makes its calls with the profiler on for exactly those, and reads the counts.

Why counted: CPU per call moves 5-10 % between runs of one tree on a shared VM, so a change
worth 1 % cannot be seen in a timing however the runs are ordered; the number of Python
function calls (built-ins included, as cProfile counts them) the loop's thread makes to answer
one request is the same run after run.

POSIX signals: Linux only (the benches say so and stop elsewhere).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import IO, Any, Final

__all__ = ["LAUNCHER", "SIGNAL_WAIT_S", "by_group", "first_match", "said", "switch",
           "top_functions"]

#: What starts the server (``python -c`` this, the profile's path, then ``mtgateway``'s
#: command line): the profiler on the main thread (the event loop's) from ``SIGUSR1`` to
#: ``SIGUSR2``, its counts written at each stop to ``<path>.<turn>``, each switch said on
#: standard output (which the bench reads).
LAUNCHER: Final = """
import cProfile, signal, sys
out = sys.argv[1]
state = {"profile": None, "turn": 0}
def on(signum, frame):
    state["profile"] = cProfile.Profile()
    state["profile"].enable()
    print("callwork on", flush=True)
def off(signum, frame):
    state["profile"].disable()
    state["profile"].dump_stats(f"{out}.{state['turn']}")
    state["turn"] += 1
    print("callwork off", flush=True)
signal.signal(signal.SIGUSR1, on)
signal.signal(signal.SIGUSR2, off)
from gateway.cli import main
sys.exit(main(sys.argv[2:]))
"""
#: How long the server has to act on a signal (it is idle: at once, in practice).
SIGNAL_WAIT_S: Final = 10.0

#: A profile's function: (file, line, name); built-ins have file ``~``.
Function = tuple[str, int, str]


def said(stream: IO[str] | IO[bytes], line: str) -> None:
    """Read ``stream`` (the server's standard output) until the launcher says ``line``.

    Raises:
        RuntimeError: the output ended first (the server exited).
    """
    while raw := stream.readline():
        text = raw if isinstance(raw, str) else raw.decode(errors="replace")
        if text.strip() == line:
            return
    raise RuntimeError(f"the server ended before saying {line!r}")


async def switch(proc: subprocess.Popen[Any], signum: int, line: str) -> None:
    """Send ``signum`` to ``proc`` and wait until its launcher said ``line`` (acted on it).

    Raises:
        TimeoutError: not within :data:`SIGNAL_WAIT_S`.
        RuntimeError: the server exited first.
    """
    assert proc.stdout is not None  # noqa: S101 - started with a pipe
    proc.send_signal(signum)
    await asyncio.wait_for(asyncio.to_thread(said, proc.stdout, line), SIGNAL_WAIT_S)


def _file_of(function: Function) -> str:
    return function[0].replace("\\", "/")


def by_group(stats: dict[Function, Any], group_of: Callable[[str], str],
             per: float) -> dict[str, float]:
    """The calls of a profile (``pstats.Stats.stats``) divided by ``per``, by the group
    ``group_of`` names for each function's file. A built-in (``len``, ``dict.get``) counts
    in the group of the function that called it (split by its callers' counts), so a group
    is what its code costs, built-ins included; one with no Python caller is ``other``."""
    groups: dict[str, float] = defaultdict(float)
    for function, (_, calls, _, _, callers) in stats.items():
        if function[0] != "~":
            groups[group_of(_file_of(function))] += calls
            continue
        placed = 0
        for caller, counts in callers.items():
            if caller[0] != "~":
                groups[group_of(_file_of(caller))] += counts[1]
                placed += counts[1]
        if calls > placed:
            groups["other"] += calls - placed
    return {name: total / per for name, total in sorted(groups.items(), key=lambda kv: -kv[1])}


def top_functions(stats: dict[Function, Any], per: float, count: int,
                  callers_shown: int = 3) -> list[dict[str, Any]]:
    """The ``count`` functions called most (calls divided by ``per``), each with the
    ``callers_shown`` callers that called it most: what a change would cut."""
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][1])[:count]
    rows = []
    for function, (_, calls, _, _, callers) in ranked:
        by_caller = sorted(callers.items(), key=lambda kv: -kv[1][1])[:callers_shown]
        rows.append({"function": _name(function), "calls": calls / per,
                     "callers": [{"function": _name(caller), "calls": counts[1] / per}
                                 for caller, counts in by_caller]})
    return rows


def _name(function: Function) -> str:
    """The function as ``<file>:<line>(<name>)``, the file named from its package down; a
    built-in by its name alone."""
    file, line, name = function
    if file == "~":
        return name
    parts = _file_of(function).split("/")
    for anchor in ("site-packages", "gateway", "ea_bridge", "asyncio", "lib"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            parts = parts[index + (anchor in ("site-packages", "lib")):]
            break
    return f"{'/'.join(parts)}:{line}({name})"


def first_match(file: str, table: Sequence[tuple[str, str]]) -> str | None:
    """The group of the first ``(fragment, group)`` of ``table`` whose fragment ``file``
    holds, or None."""
    for fragment, group in table:
        if fragment in file:
            return group
    return None
