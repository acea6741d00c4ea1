"""``.ci/budget.py``: CI says what each stage cost, says loudly (the figure, the budget, the
slowest tests) past the suite's CPU and wall budgets, and fails only past the CPU's hard cap
(docs/performance.md, "The test suite's time")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BUDGET = Path(__file__).resolve().parent.parent / ".ci" / "budget.py"
#: A command that spends some CPU (every command spends more than none).
WORK = [sys.executable, "-c", "sum(range(200_000))"]


def budget(*args: str | int | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BUDGET), *map(str, args)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_stage_within_its_budgets_passes_and_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "stages"
    done = budget("run", "--name", "tests", "--wall", 600, "--cpu", 600, "--log", log,
                  "--", *WORK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== tests: " in done.stdout and "(budget: 600 s wall, 600 s CPU)" in done.stdout
    assert "!!" not in done.stdout
    [line] = log.read_text(encoding="utf-8").splitlines()
    name, wall, cpu, budget_s = line.split()
    assert name == "tests" and float(wall) >= 0 and float(cpu) > 0 and float(budget_s) == 600


#: A pytest run of two tests that spend some time, with the slowest listed as CI lists them.
SLOW_TESTS = """\
import time


def test_slower() -> None:
    time.sleep(0.3)


def test_slow() -> None:
    time.sleep(0.1)
"""


def test_past_the_cpu_budget_it_says_so_names_the_slowest_and_passes(tmp_path: Path) -> None:
    (tmp_path / "test_slow_pair.py").write_text(SLOW_TESTS, encoding="utf-8")
    log = tmp_path / "stages"
    done = budget("run", "--name", "tests", "--cpu", 0, "--cpu-cap", 100_000, "--log", log, "--",
                  sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                  "--durations=30", tmp_path / "test_slow_pair.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout  # the command's own output passes through
    [said] = [line for line in done.stdout.splitlines() if "OVER BUDGET" in line]
    assert said.startswith("!! OVER BUDGET: tests spent ")
    assert "s of CPU, over its budget of 0 s by " in said
    assert said.endswith("; the run fails past 100,000 s")
    block = done.stdout[done.stdout.index(said):]
    named = [line for line in block.splitlines() if "test_slow_pair.py::" in line]
    # the calls, slowest first; a test's setup or teardown is named too when it passed
    # pytest's 5 ms (a busy machine: a clean clone's run named test_slower's twice)
    calls = [line.split("::")[-1] for line in named if " s  call " in line]
    assert calls == ["test_slower", "test_slow"], named
    assert all(any(f" s  {phase} " in line for phase in ("setup", "call", "teardown"))
               for line in named), named
    assert "docs/performance.md" in block
    name, _wall, cpu, budget_s = log.read_text(encoding="utf-8").split()
    assert name == "tests" and float(cpu) > 0 and float(budget_s) == 0


def test_past_the_hard_cap_the_stage_fails_and_says_where_to_look(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--cpu", 0, "--cpu-cap", 0, "--", *WORK)
    assert done.returncode == 1
    assert "FAILED: tests spent" in done.stdout
    assert "past its hard cap of 0 s (its budget: 0 s)" in done.stdout
    assert "OVER BUDGET" not in done.stdout  # one block, the failure's
    assert "pytest --durations=30" in done.stdout and "docs/performance.md" in done.stdout


def test_past_the_wall_budget_it_warns_and_passes(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--wall", 0, "--", *WORK)
    assert done.returncode == 0
    assert "WARNING: tests took" in done.stdout and "pytest --durations=30" in done.stdout
    assert "OVER BUDGET" not in done.stdout and "FAILED" not in done.stdout


def test_the_commands_own_failure_is_the_stages_status(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--cpu", 600, "--cpu-cap", 1200, "--",
                  sys.executable, "-c", "raise SystemExit(3)")
    assert done.returncode == 3
    over = budget("run", "--name", "tests", "--cpu", 0, "--", sys.executable, "-c",
                  "raise SystemExit(3)")
    assert over.returncode == 3 and "OVER BUDGET" in over.stdout


def test_the_report_totals_every_stage_and_warns_past_the_total(tmp_path: Path) -> None:
    log = tmp_path / "stages"
    log.write_text("setup 100.4\ntests 500.2 900.0 1000\nwindows 230.0\n", encoding="utf-8")
    within = budget("report", log, "--total", 1500)
    assert within.returncode == 0 and "!!" not in within.stdout
    assert [line.split()[:2] for line in within.stdout.splitlines()[1:]] == [
        ["setup", "100"], ["tests", "500"], ["windows", "230"], ["total", "831"]]
    assert "900 CPU (budget 1000)" in within.stdout and "(budget 1500 s)" in within.stdout
    over = budget("report", log, "--total", 600)
    assert over.returncode == 0
    assert "WARNING: the run took 831 s, over its budget of 600 s" in over.stdout


def test_the_report_repeats_a_stage_over_its_cpu_budget(tmp_path: Path) -> None:
    log = tmp_path / "stages"
    log.write_text("setup 100\ntests 900 1390.4 1000\n", encoding="utf-8")
    done = budget("report", log, "--total", 1500)
    assert done.returncode == 0
    assert ("!! OVER BUDGET: tests spent 1,390 s of CPU, over its budget of 1,000 s"
            in done.stdout)
