"""``.ci/budget.py``: CI says what each stage cost, fails past the suite's CPU budget and warns
past its wall budget (docs/performance.md, "The test suite's time")."""

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
    name, wall, cpu = line.split()
    assert name == "tests" and float(wall) >= 0 and float(cpu) > 0


def test_past_the_cpu_budget_the_stage_fails_and_says_where_to_look(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--cpu", 0, "--", *WORK)
    assert done.returncode == 1
    assert "FAILED: tests spent" in done.stdout and "over its budget of 0 s" in done.stdout
    assert "pytest --durations=30" in done.stdout and "docs/performance.md" in done.stdout


def test_past_the_wall_budget_it_warns_and_passes(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--wall", 0, "--", *WORK)
    assert done.returncode == 0
    assert "WARNING: tests took" in done.stdout and "pytest --durations=30" in done.stdout


def test_the_commands_own_failure_is_the_stages_status(tmp_path: Path) -> None:
    done = budget("run", "--name", "tests", "--cpu", 600, "--",
                  sys.executable, "-c", "raise SystemExit(3)")
    assert done.returncode == 3


def test_the_report_totals_every_stage_and_warns_past_the_total(tmp_path: Path) -> None:
    log = tmp_path / "stages"
    log.write_text("setup 100.4\ntests 500.2 900.0\nwindows 230.0\n", encoding="utf-8")
    within = budget("report", log, "--total", 1500)
    assert within.returncode == 0 and "!!" not in within.stdout
    assert [line.split()[:2] for line in within.stdout.splitlines()[1:]] == [
        ["setup", "100"], ["tests", "500"], ["windows", "230"], ["total", "831"]]
    assert "900 CPU" in within.stdout and "(budget 1500 s)" in within.stdout
    over = budget("report", log, "--total", 600)
    assert over.returncode == 0
    assert "WARNING: the run took 831 s, over its budget of 600 s" in over.stdout
