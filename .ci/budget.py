"""CI's time budget: run a stage and say what it cost, and the table of every stage at the end.

``python .ci/budget.py run --name NAME [--wall S] [--cpu S] [--log FILE] -- COMMAND...`` runs
the command and prints its wall and CPU seconds (its own and every process it waited for:
pytest's workers and what they start). Over ``--cpu``: a loud block and exit 1, the run fails;
over ``--wall``: the same block as a warning, the run goes on. The CPU the suite spends moves
little with the machine's other load and grows with what the tests spend, so it is the gate;
its wall time on a shared machine moves 1.5-2x with other jobs (the same tree took 14.7 minutes
idle and 24 minutes while other jobs ran), so a wall gate would fail for the machine's load,
not for a change. ``--log`` appends ``NAME WALL CPU`` to FILE for the report. The command's
own failure is its exit status, whatever the budget says.

``python .ci/budget.py report FILE [--total S]`` prints the stages FILE holds (``NAME WALL``
or ``NAME WALL CPU`` lines) and their total, with a warning over ``--total``.

Standard library only: it runs before the environment is made.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

#: Where the slowest tests are listed and what to do about them (docs/performance.md).
_ADVICE = ("The slowest 30 tests are listed above (pytest --durations=30); "
           "docs/performance.md, \"The test suite's time\", says how to find what they spend "
           "and what keeps the suite fast.")


def _children_cpu_s() -> float:
    if sys.platform == "win32":  # no rusage: CI runs this on Linux
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _block(title: str, lines: list[str]) -> str:
    bar = "!" * 78
    return "\n".join([bar, f"!! {title}", *(f"!! {line}" for line in lines), bar])


def run(args: argparse.Namespace) -> int:
    """Run ``args.command`` and judge its wall and CPU seconds against the budgets."""
    if not args.command:
        print("budget.py run: no command after --", file=sys.stderr)
        return 2
    cpu0, wall0 = _children_cpu_s(), time.monotonic()
    code = subprocess.call(args.command)
    wall, cpu = time.monotonic() - wall0, _children_cpu_s() - cpu0
    budgets = []
    if args.wall is not None:
        budgets.append(f"{args.wall:.0f} s wall")
    if args.cpu is not None:
        budgets.append(f"{args.cpu:.0f} s CPU")
    said = f" (budget: {', '.join(budgets)})" if budgets else ""
    print(f"== {args.name}: {wall:.0f} s wall, {cpu:.0f} s CPU{said}", flush=True)
    if args.log is not None:
        with args.log.open("a", encoding="utf-8") as log:
            log.write(f"{args.name} {wall:.3f} {cpu:.3f}\n")
    over_cpu = args.cpu is not None and cpu > args.cpu
    over_wall = args.wall is not None and wall > args.wall
    if over_cpu:
        print(_block(f"FAILED: {args.name} spent {cpu:.0f} s of CPU, over its budget of "
                     f"{args.cpu:.0f} s", [
                         "The suite's CPU is what its time is made of on CI's two cores; it "
                         "grew past what fits the wall budget.", _ADVICE]), flush=True)
    if over_wall:
        print(_block(f"WARNING: {args.name} took {wall:.0f} s, over its budget of "
                     f"{args.wall:.0f} s", [
                         "Wall time also moves with the machine's other load (see the CPU "
                         "figure: it moves little).", _ADVICE]), flush=True)
    if code != 0:
        return code
    return 1 if over_cpu else 0


def report(args: argparse.Namespace) -> int:
    """Print the stages of ``args.file`` and their total; warn over ``args.total``."""
    rows = []
    if args.file.exists():
        for line in args.file.read_text(encoding="utf-8").splitlines():
            name, *figures = line.split()
            rows.append((name, [float(x) for x in figures]))
    total = sum(figures[0] for _, figures in rows)
    print("== stages (seconds of wall; CPU where measured)")
    for name, figures in rows:
        cpu = f"{figures[1]:8.0f} CPU" if len(figures) > 1 else ""
        print(f"   {name:<24}{figures[0]:8.0f}{cpu}")
    budget = f" (budget {args.total:.0f} s)" if args.total is not None else ""
    print(f"   {'total':<24}{total:8.0f}{budget}", flush=True)
    if args.total is not None and total > args.total:
        print(_block(f"WARNING: the run took {total:.0f} s, over its budget of "
                     f"{args.total:.0f} s", ["The stage that grew is in the table above.",
                                             _ADVICE]), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="budget.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    timed = sub.add_parser("run", help="run a command and judge its time")
    timed.add_argument("--name", required=True)
    timed.add_argument("--wall", type=float, help="warn past this many seconds")
    timed.add_argument("--cpu", type=float, help="fail past this many CPU seconds")
    timed.add_argument("--log", type=Path, help="append NAME WALL CPU here")
    timed.add_argument("command", nargs=argparse.REMAINDER)
    table = sub.add_parser("report", help="the table of the stages a file holds")
    table.add_argument("file", type=Path)
    table.add_argument("--total", type=float, help="warn past this many seconds in all")
    args = parser.parse_args(argv)
    if args.action == "run":
        if args.command[:1] == ["--"]:
            args.command = args.command[1:]
        return run(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
