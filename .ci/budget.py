"""CI's time budget: run a stage and say what it cost, and the table of every stage at the end.

``python .ci/budget.py run --name NAME [--wall S] [--cpu S] [--cpu-cap S] [--log FILE] --
COMMAND...`` runs the command, its output passed through as it comes, and prints its wall and
CPU seconds (its own and every process it waited for: pytest's workers and what they start).

- Over ``--cpu`` (the budget): one line that says so, naming the figure, the budget and the
  cap, in a loud block that lists the slowest tests the command's ``--durations`` printed; the
  run goes on. The suite grows each round, so passing the budget is news to act on, not a
  reason to stop every landing.
- Over ``--cpu-cap`` (the hard cap, well past the budget): the same block, and exit 1, the run
  fails: past it the suite would take CI to its time limit.
- Over ``--wall``: the same block as a warning, the run goes on.

The CPU the suite spends moves little with the machine's other load and grows with what the
tests spend, so it is what the budget and the cap are judged on; its wall time on a shared
machine moves 1.5-2x with other jobs (the same tree took 14.7 minutes idle and 24 minutes while
other jobs ran), so a wall gate would fail for the machine's load, not for a change. ``--log``
appends ``NAME WALL CPU [BUDGET]`` to FILE for the report. The command's own failure is its exit
status, whatever the budget says.

``python .ci/budget.py report FILE [--total S]`` prints the stages FILE holds (``NAME WALL``,
``NAME WALL CPU`` or ``NAME WALL CPU BUDGET`` lines) and their total, with a warning over
``--total`` and for a stage over its CPU budget.

Standard library only: it runs before the environment is made.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

#: Where the slowest tests are listed and what to do about them (docs/performance.md).
_ADVICE = ("docs/performance.md, \"The test suite's time\", says how to find what the slowest "
           "tests spend and what keeps the suite fast.")
#: How many of the slowest tests the block names (the whole list is in the output above it).
_NAMED = 10
#: A line of pytest's ``--durations`` list: seconds, the phase, the test's id.
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(\S.*)$")


def _children_cpu_s() -> float:
    if sys.platform == "win32":  # no rusage: CI runs this on Linux
        return 0.0
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _block(title: str, lines: list[str]) -> str:
    bar = "!" * 78
    return "\n".join([bar, f"!! {title}", *(f"!! {line}" for line in lines), bar])


def _passed_through(command: list[str]) -> tuple[int, list[str]]:
    """Run ``command`` with its output passed to ours line by line as it comes; its exit
    status and the lines of the ``slowest N durations`` list it printed, slowest first."""
    slowest: list[str] = []
    listing = False
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, errors="replace",
                          bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if "slowest" in line and "durations" in line and line.startswith("="):
                listing = True
            elif listing:
                found = _DURATION.match(line.strip())
                if found is None:
                    listing = False
                else:
                    seconds, phase, test = found.groups()
                    slowest.append(f"{float(seconds):8.2f} s  {phase:<8} {test}")
    return process.returncode, slowest


def _slowest(named: list[str]) -> list[str]:
    if not named:
        return ["(the command printed no --durations list: run pytest --durations=30 to see "
                "the slowest tests)"]
    return [f"The slowest {min(len(named), _NAMED)} (the list of {len(named)} is above, "
            "--durations):", *named[:_NAMED]]


def run(args: argparse.Namespace) -> int:
    """Run ``args.command`` and judge its wall and CPU seconds against the budgets."""
    if not args.command:
        print("budget.py run: no command after --", file=sys.stderr)
        return 2
    cpu0, wall0 = _children_cpu_s(), time.monotonic()
    code, named = _passed_through(args.command)
    wall, cpu = time.monotonic() - wall0, _children_cpu_s() - cpu0
    budgets = []
    if args.wall is not None:
        budgets.append(f"{args.wall:,.0f} s wall")
    if args.cpu is not None:
        budgets.append(f"{args.cpu:,.0f} s CPU")
    if args.cpu_cap is not None:
        budgets.append(f"fails past {args.cpu_cap:,.0f} s CPU")
    said = f" (budget: {', '.join(budgets)})" if budgets else ""
    print(f"== {args.name}: {wall:,.0f} s wall, {cpu:,.0f} s CPU{said}", flush=True)
    if args.log is not None:
        with args.log.open("a", encoding="utf-8") as log:
            budget = f" {args.cpu:.3f}" if args.cpu is not None else ""
            log.write(f"{args.name} {wall:.3f} {cpu:.3f}{budget}\n")
    cap = f"; the run fails past {args.cpu_cap:,.0f} s" if args.cpu_cap is not None else ""
    over_cap = args.cpu_cap is not None and cpu > args.cpu_cap
    if over_cap:
        print(_block(f"FAILED: {args.name} spent {cpu:,.0f} s of CPU, past its hard cap of "
                     f"{args.cpu_cap:,.0f} s (its budget: {args.cpu or 0:,.0f} s)", [
                         "Past the cap the suite takes CI to its time limit: cut what the "
                         "slowest tests spend.", *_slowest(named), _ADVICE]), flush=True)
    elif args.cpu is not None and cpu > args.cpu:
        print(_block(f"OVER BUDGET: {args.name} spent {cpu:,.0f} s of CPU, over its budget of "
                     f"{args.cpu:,.0f} s by {cpu - args.cpu:,.0f} s{cap}", [
                         "The suite's CPU is what its time is made of on CI's two cores; it "
                         "grew past what fits the wall budget.", *_slowest(named), _ADVICE]),
              flush=True)
    if args.wall is not None and wall > args.wall:
        print(_block(f"WARNING: {args.name} took {wall:,.0f} s, over its budget of "
                     f"{args.wall:,.0f} s", [
                         "Wall time also moves with the machine's other load (see the CPU "
                         "figure: it moves little).", *_slowest(named), _ADVICE]), flush=True)
    if code != 0:
        return code
    return 1 if over_cap else 0


def report(args: argparse.Namespace) -> int:
    """Print the stages of ``args.file`` and their total; warn over ``args.total`` and for a
    stage over its CPU budget."""
    rows = []
    if args.file.exists():
        for line in args.file.read_text(encoding="utf-8").splitlines():
            name, *figures = line.split()
            rows.append((name, [float(x) for x in figures]))
    total = sum(figures[0] for _, figures in rows)
    print("== stages (seconds of wall; CPU where measured)")
    for name, figures in rows:
        cpu = f"{figures[1]:8.0f} CPU" if len(figures) > 1 else ""
        budget = f" (budget {figures[2]:.0f})" if len(figures) > 2 else ""
        print(f"   {name:<24}{figures[0]:8.0f}{cpu}{budget}")
    budget = f" (budget {args.total:.0f} s)" if args.total is not None else ""
    print(f"   {'total':<24}{total:8.0f}{budget}", flush=True)
    for name, figures in rows:
        if len(figures) > 2 and figures[1] > figures[2]:
            print(f"!! OVER BUDGET: {name} spent {figures[1]:,.0f} s of CPU, over its budget "
                  f"of {figures[2]:,.0f} s (the slowest tests are listed under its "
                  "stage above)", flush=True)
    if args.total is not None and total > args.total:
        print(_block(f"WARNING: the run took {total:,.0f} s, over its budget of "
                     f"{args.total:,.0f} s", ["The stage that grew is in the table above.",
                                              _ADVICE]), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="budget.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    timed = sub.add_parser("run", help="run a command and judge its time")
    timed.add_argument("--name", required=True)
    timed.add_argument("--wall", type=float, help="warn past this many seconds")
    timed.add_argument("--cpu", type=float, help="warn past this many CPU seconds (the budget)")
    timed.add_argument("--cpu-cap", type=float,
                       help="fail past this many CPU seconds (the hard cap)")
    timed.add_argument("--log", type=Path, help="append NAME WALL CPU [BUDGET] here")
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
