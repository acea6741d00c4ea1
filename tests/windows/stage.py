"""The Windows stage: the suite's Windows tests on Windows' own CPython, and a Windows demo
called from both sides.

Run from the repository's root, after the Linux tests (the README's test command and
``.ci/run`` both do)::

    .venv/bin/python -m tests.windows.stage

On Linux it runs the official Windows CPython under Wine (``tests/windows/wine.py`` sets it up,
cached); on Windows itself the same command runs everything on the interpreter that runs it,
in an environment made by the README's install line (docs/windows.md;
``.github/workflows/windows.yml``). In order:

1. **The Windows tests**: ``python.exe -m pytest`` over ``selection.txt``, the test files of
   the daemon, the bridge and emulator, the client (sync and asyncio), the secret store, files
   and ACL plans, signals, the service task and the console on SQLite. A test that cannot run
   on Windows is marked with its reason (``tests/windows/reasons.py``); any other skip fails
   the stage, so none is skipped silently.
2. **The crossing** (``crossing.py``, by this machine's pytest): ``mtgateway demo`` started on
   the Windows CPython by the ``mtgateway.exe`` pip made, then ``mtgateway check`` and the
   examples (sync and asyncio clients) from this machine and from the Windows CPython, and
   Ctrl-C stopping it.
3. **The installer** (``installed.py``, by this machine's pytest; under Wine only: it is built
   with Debian's tools): ``mtgateway-<version>-win64.exe`` built from this checkout and
   installed silently, ``mtgateway setup`` run from flags against a fake terminal with a
   stand-in MetaEditor (the ACL of each file it wrote holding a token read back), the
   installed daemon started from the log-on task setup registered, the emulated terminal
   connecting with the preset's token, a Linux client trading through it, ``mtgateway
   check`` and an unchanged ``import MetaTrader5`` bot on the installed Python finding it
   with nothing set, every command the installed product lists run there (the demo serving
   a trade), the installer's words read back, then ``setup --undo`` and the uninstaller
   (which undoes setup itself). Its size and install time are printed; the
   step waits for another stage run's installer step in the same Wine prefix.
4. **The count**: how many tests ran, passed, failed and were marked (by reason), and how
   long each step took. No figure measured under Wine is a Windows figure: the times say what
   the stage cost here, nothing about the daemon's speed on Windows.

Exit 0 only when nothing failed and every skip was a marked one.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.windows.reasons import PREFIX
from tests.windows.wine import (
    CACHE,
    ROOT,
    WindowsPython,
    cached_interpreter,
    checkout_interpreter,
)

__all__ = ["Count", "count_junit", "main", "selection"]

HERE = Path(__file__).resolve().parent


def selection() -> list[str]:
    """The test paths of ``selection.txt``, comments and blank lines left out."""
    lines = (HERE / "selection.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass
class Count:
    """What one pytest run's JUnit report says: outcomes, and the skips by reason."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    marked: Counter[str] = field(default_factory=Counter)
    unmarked: list[str] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.errors == 0 and not self.unmarked and self.ran > 0


def count_junit(report: str) -> Count:
    """Count a JUnit XML report; a skip is marked when its reason starts with ``PREFIX (key)``,
    counted under that key; any other skip is kept, named, in ``unmarked``."""
    count = Count()
    for case in ET.fromstring(report).iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None:
            count.failed += 1
        elif case.find("error") is not None:
            count.errors += 1
        elif (skipped := case.find("skipped")) is not None:
            reason = skipped.get("message", "")
            reason = reason.split("Skipped: ", 1)[-1] if reason.startswith("Skipped") else reason
            if reason.startswith(f"{PREFIX} (") and ")" in reason:
                count.marked[reason[len(PREFIX) + 2:reason.index(")")]] += 1
            else:
                count.unmarked.append(f"{name}: {reason}")
        else:
            count.passed += 1
    return count


@contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"== windows: {name}", flush=True)
    start = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - start


def _windows_tests(python: WindowsPython, run_dir: Path) -> Count:
    report = run_dir / "windows-tests.xml"
    code, out = python.run(
        # a test's bound: 60 s on Linux; a process start costs seconds more on Windows. Two
        # workers, as the stage has been measured and kept within its bounds (the Linux suite's
        # third worker fills what its waits leave idle; three have not been tried under Wine)
        ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "timeout=240", "-n", "2",
         f"--junitxml={python.path(report)}",
         *selection()], echo=sys.stdout, env={"PYTHONUNBUFFERED": "1"})
    if not report.exists():
        raise SystemExit(f"pytest on the Windows CPython wrote no report (exit {code})")
    count = count_junit(report.read_text(encoding="utf-8"))
    if code not in (0, 1):  # 1: some test failed, which the count says; else pytest broke
        count.errors += 1
    return count


def _host_step(python: WindowsPython, run_dir: Path, name: str) -> Count:
    """``name`` (``crossing.py``, ``installed.py``) run by this machine's pytest, in order."""
    report = run_dir / f"{Path(name).stem}.xml"
    env = {**os.environ, **python.describe(), "WINDOWS_STAGE_RUN_DIR": str(run_dir)}
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
                    "-s", "-o", "timeout=1200", f"--junitxml={report}", str(HERE / name)],
                   cwd=ROOT, env=env, check=False)
    if not report.exists():
        raise SystemExit(f"{name}'s pytest wrote no report")
    return count_junit(report.read_text(encoding="utf-8"))


@contextmanager
def _installer_lock() -> Iterator[None]:
    """The installer step alone in the cached Wine prefix: it installs into the Wine user's
    fixed places (the program's folder, PATH, the Start menu, the default data directory), so
    a second stage run on this machine (another checkout, another engineer) waits for it."""
    if sys.platform == "win32":  # no Wine prefix to share: the installer step does not run
        yield
        return
    import fcntl

    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "installer.lock").open("a", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("== windows: another stage's installer step runs in this Wine prefix: "
                  "waiting for it", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _summary(where: str, windows: Count, crossing: Count, installer: Count | None,
             timings: dict[str, float]) -> None:
    marked = ", ".join(f"{key} {n}" for key, n in sorted(windows.marked.items()))
    print(f"== windows: the Windows tests on {where}: {windows.ran} ran, {windows.passed} "
          f"passed, {windows.failed} failed, {windows.errors} errors; "
          f"{sum(windows.marked.values())} marked not on Windows ({marked or 'none'})")
    for name in windows.unmarked + crossing.unmarked + (installer.unmarked if installer else []):
        print(f"   skipped without a listed reason: {name}")
    print(f"== windows: the crossing (a Windows demo; clients on both sides): {crossing.ran} "
          f"ran, {crossing.passed} passed, {crossing.failed} failed, {crossing.errors} errors")
    if installer is not None:
        print(f"== windows: the installer (installed under Wine, set up, traded through, "
              f"uninstalled): {installer.ran} ran, {installer.passed} passed, "
              f"{installer.failed} failed, {installer.errors} errors")
    else:
        print("== windows: the installer: built and installed under Wine only (this is "
              "Windows: the installer is what an owner runs here)")
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"== windows: times here, not Windows figures: {steps}, "
          f"{sum(timings.values()):.0f} s in all")
    hosts = [crossing] + ([installer] if installer is not None else [])
    passed = windows.passed + sum(c.passed for c in hosts)
    failed = windows.failed + windows.errors + sum(c.failed + c.errors for c in hosts)
    skipped = (sum(windows.marked.values()) + len(windows.unmarked)
               + sum(len(c.unmarked) for c in hosts))
    print(f"windows: {passed} passed, {failed} failed, {skipped} skipped")


def main() -> int:
    """Set up, run both steps, print the count; 0 when everything passed."""
    timings: dict[str, float] = {}
    run_dir = Path(tempfile.mkdtemp(prefix="mtgw-windows-"))
    try:
        with _step("set-up", timings):
            if sys.platform == "win32":
                python = WindowsPython.native()
                where = f"Windows CPython {platform.python_version()} (this machine)"
            else:
                python = checkout_interpreter(cached_interpreter(sys.stdout), run_dir, sys.stdout)
                where = (f"the official Windows CPython {python.version()} under "
                         f"{python.wine_version()}")
        with _step("tests", timings):
            windows = _windows_tests(python, run_dir)
        with _step("crossing", timings):
            crossing = _host_step(python, run_dir, "crossing.py")
        installer = None
        if python.prefix is not None:
            with _step("installer", timings), _installer_lock():
                installer = _host_step(python, run_dir, "installed.py")
        _summary(where, windows, crossing, installer, timings)
        return 0 if windows.ok and crossing.ok and (installer is None or installer.ok) else 1
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
