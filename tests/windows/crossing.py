"""A demo on the Windows CPython, called by clients on both sides (the Windows stage's step 2).

Run by ``tests/windows/stage.py`` with this machine's pytest (``-n 0``: one demo, in order),
never by the Linux suite (the file is not named ``test_*``). The demo is started as the
README's PowerShell line starts it: ``.venv\\Scripts\\mtgateway demo``, the ``mtgateway.exe``
pip made when it installed this checkout into the Windows CPython. Then:

* this machine's ``mtgateway check`` and its sync and asyncio clients (the examples) call it;
* the Windows ``mtgateway check`` and the same examples on the Windows CPython call it;
* Ctrl-C (SIGINT to its process group, which Wine turns into the console's Ctrl-C event)
  stops it with exit 0 and its state file removed, as an owner stops it.

On Windows itself both sides are that machine (``WindowsPython.native``), and the stop is
Ctrl-Break to the demo's process group.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.commands import readme_demo_install
from tests.windows.wine import ROOT, WindowsPython

#: A Wednesday: every market the emulator has is open, whatever today is.
START = "2026-11-18T10:00:00Z"
#: Starting the demo under Wine took 14-60 s on a loaded two-core machine.
READY_S = 300.0
EXAMPLES = ROOT / "examples"


@dataclass
class Demo:
    """The Windows demo: its process, its state file, what it printed until ready."""

    proc: subprocess.Popen[bytes]
    state_file: Path
    printed: str
    lines: queue.Queue[bytes]


@pytest.fixture(scope="module")
def windows() -> WindowsPython:
    return WindowsPython.described(os.environ)


@pytest.fixture(scope="module")
def demo(windows: WindowsPython) -> Iterator[Demo]:
    run_dir = Path(os.environ["WINDOWS_STAGE_RUN_DIR"])
    state_file = run_dir / "demo.json"
    argv = windows.script("mtgateway", "demo", "--http-port", "0", "--bridge-port", "0",
                          "--state-file", windows.path(state_file), "--start-time", START)
    group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
             if sys.platform == "win32" else {"start_new_session": True})
    proc = windows.popen(argv, **group)
    assert proc.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()

    def read() -> None:  # to the end: a full pipe would stop the demo
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(b"")
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    printed = b""
    try:
        while b"Running." not in printed:
            try:
                line = lines.get(timeout=READY_S)
            except queue.Empty:
                raise AssertionError(f"the Windows demo said no 'Running.':\n"
                                     f"{printed.decode(errors='replace')}") from None
            assert line, printed.decode(errors="replace")
            printed += line
        yield Demo(proc, state_file, printed.decode(errors="replace"), lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=READY_S)
        proc.stdout.close()


def _here(*argv: str | Path, timeout: float = 300, codes: tuple[int, ...] = (0,)) -> str:
    """``argv`` run by this machine's Python from the repository's root; its output, after
    checking it exited with one of ``codes``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    done = subprocess.run([sys.executable, *map(str, argv)], cwd=ROOT, env=env,
                          capture_output=True, timeout=timeout, check=False)
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode in codes, out
    return out


def _there(windows: WindowsPython, argv: list[str], timeout: float = 600,
           codes: tuple[int, ...] = (0,)) -> str:
    """``argv`` (a Windows command line) run from the repository's root; its output, after
    checking it exited with one of ``codes``."""
    code, out = windows.run([], argv=argv, timeout=timeout)
    assert code in codes, out
    return out


#: The one check whose verdict is a figure: calls answered within a timer period. Under Wine
#: on a loaded machine it says nothing about Windows, so its outcome is shown, not judged.
_FIGURE = "latency"


def _every_check_passes_but_the_figure(out: str) -> None:
    """Every check of ``mtgateway check``'s report passed, :data:`_FIGURE` aside, and it ran."""
    outcomes = dict((name, outcome) for outcome, name in
                    re.findall(r"^\s*(PASS|FAIL|N/A)\s+(\w+)", out, re.MULTILINE))
    assert _FIGURE in outcomes and len(outcomes) >= 10, out
    assert {n for n, o in outcomes.items() if o == "FAIL"} <= {_FIGURE}, out


def test_the_powershell_line_installs_what_the_sh_line_does() -> None:
    """The README's quick start gives Windows a PowerShell line with the same install as the
    sh line and the same demo, through ``.venv\\Scripts``: the fixture runs its
    ``mtgateway demo`` (the venv and PowerShell themselves are not here: the embeddable CPython
    has no venv module, and Wine no PowerShell)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [part.split("```", 1)[0] for part in readme.split("```powershell\n")[1:]]
    [line] = [line for block in blocks for line in block.splitlines() if "pip install" in line]
    venv, install, demo_command = (part.strip() for part in line.split(";"))
    assert venv == "py -m venv .venv"
    words = install.split()
    assert words[:2] == [".venv\\Scripts\\pip", "install"]
    assert [w.strip("'") for w in words[2:]] == readme_demo_install()
    assert demo_command == ".venv\\Scripts\\mtgateway demo --state-file demo.json"


def test_the_windows_demo_says_where_it_runs(demo: Demo) -> None:
    """The demo on Windows prints its token and addresses and writes its state file."""
    state = json.loads(demo.state_file.read_text(encoding="utf-8"))
    assert state["token"].startswith("mtgw_") and state["token"] in demo.printed
    assert re.search(r"http://127\.0\.0\.1:\d+", demo.printed), demo.printed


def test_a_linux_check_passes_against_the_windows_daemon(demo: Demo) -> None:
    """This machine's ``mtgateway check`` finds every check passing on the Windows daemon
    (the latency check's verdict is a figure, shown but not judged under Wine)."""
    out = _here("-m", "gateway", "check", "--state-file", demo.state_file, codes=(0, 1))
    _every_check_passes_but_the_figure(out)


def test_a_linux_client_trades_and_streams_on_the_windows_daemon(demo: Demo) -> None:
    """The sync client (the package-style script: account, a round trip, history, 50 000 bars
    into numpy) and the asyncio client (ticks on ``/ws``) from this machine."""
    out = _here(EXAMPLES / "mt5_script.py", "--state-file", demo.state_file)
    for step in ("1. order_send()", "3. close position #", "5. copy_rates_from_pos(): 50000 bars",
                 "done"):
        assert step in out, out
    out = _here(EXAMPLES / "stream.py", "--symbols", "BTCUSD", "--max-messages", "5",
                "--state-file", demo.state_file)
    assert out.count("tick  BTCUSD") >= 3 and "lost" not in out, out


def test_a_windows_check_passes_against_the_windows_daemon(
        windows: WindowsPython, demo: Demo) -> None:
    """The Windows ``mtgateway check`` (``Scripts\\mtgateway.exe``) passes every check, the
    latency figure aside."""
    out = _there(windows, windows.script("mtgateway", "check", "--state-file",
                                         windows.path(demo.state_file)), codes=(0, 1))
    _every_check_passes_but_the_figure(out)


def test_a_windows_client_trades_and_streams_on_the_windows_daemon(
        windows: WindowsPython, demo: Demo) -> None:
    """The same examples on the Windows CPython: the sync client with numpy, then the asyncio
    client's round trip and live ticks."""
    state = windows.path(demo.state_file)
    out = _there(windows, windows.command(windows.path(EXAMPLES / "mt5_script.py"),
                                          "--state-file", state))
    for step in ("1. order_send()", "3. close position #", "5. copy_rates_from_pos(): 50000 bars",
                 "done"):
        assert step in out, out
    out = _there(windows, windows.command(windows.path(EXAMPLES / "mt5_script_async.py"),
                                          "--state-file", state))
    for step in ("3. close position #", "7. ticks(): 3 live ticks", "done"):
        assert step in out, out


def test_ctrl_c_stops_the_windows_demo(demo: Demo) -> None:
    """Ctrl-C (under Wine: SIGINT to the demo's processes, delivered as the console's Ctrl-C
    event; on Windows: Ctrl-Break to its process group) stops the demo with exit 0, and it
    removes its state file."""
    if sys.platform == "win32":
        os.kill(demo.proc.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
    else:
        os.killpg(demo.proc.pid, signal.SIGINT)
    assert demo.proc.wait(timeout=READY_S) == 0
    rest = b""
    while (line := demo.lines.get(timeout=READY_S)) != b"":
        rest += line
    assert "Traceback" not in rest.decode(errors="replace"), rest
    assert not demo.state_file.exists()
