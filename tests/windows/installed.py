"""The Windows installer as an owner meets it, under Wine (the Windows stage's step 3).

Run by ``tests/windows/stage.py`` with this machine's pytest (``-n 0``, in order), never by the
Linux suite (the file is not named ``test_*``), in the stage's Wine prefix. In order:

* the installer is built (``python -m deploy.windows.build``, reusing the wheels the stage built
  for this checkout, with NSIS's zlib instead of the release's lzma: the same files, built in a
  third of the time) and installed silently (``/S``) for the Wine user, its size and install
  time printed; ``mtgateway`` then runs from where it installed, found on the user's PATH;
* a fake MetaTrader 5 terminal is laid out as MetaTrader lays one out (a data folder under
  ``%APPDATA%\\MetaQuotes\\Terminal\\<hash>`` with ``origin.txt`` naming an install folder,
  ``MQL5\\Experts``, ``config\\common.ini``), its install folder holding a stand-in
  ``metaeditor64.exe`` (``metaeditor.c``, built with mingw-w64) that writes a MetaEditor-style
  log;
* ``mtgateway setup`` runs from flags against the local authority: it finds the terminal,
  installs and compiles the EA (helper first), writes the preset with the token and registers
  the log-on task, then waits for the EA; meanwhile the daemon is started from the task's own
  ``Command`` and ``Arguments`` (Wine's Task Scheduler accepts a task but runs none) and the
  emulated terminal connects with the preset's token, so setup sees the hello and runs the check;
* a Linux client trades through the installed daemon;
* ``setup --undo`` removes what it added and revokes the token; the uninstaller removes the
  program, its PATH entry and Start-menu entries, and keeps the owner's data.

Wine 8 needs the same three adaptations the stage's own interpreter has (``wine.py``): they are
applied to the installed interpreter after the install (``adapt_for_wine``), and change nothing
the installer ships.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.windows.build import INSTALL_DIR, build
from tests.windows.crossing import START, _every_check_passes_but_the_figure
from tests.windows.wine import ROOT, WindowsPython, adapt_for_wine, windows_path

HERE = Path(__file__).resolve().parent
#: A Wine process start costs seconds on a loaded two-core machine; setup's whole run, minutes.
SLOW_S = 600.0
LOGIN, SERVER = 5012345, "MTG-Demo"
OWNER, PASSWORD = "owner@example.com", "a-long-stage-password"
_TASK = ("{http://schemas.microsoft.com/windows/2004/02/mit/task}Actions/"
         "{http://schemas.microsoft.com/windows/2004/02/mit/task}Exec/"
         "{http://schemas.microsoft.com/windows/2004/02/mit/task}")


@dataclass
class Machine:
    """The Wine prefix as the owner's Windows: the user's folders, and where things went."""

    windows: WindowsPython
    prefix: Path
    profile: Path
    run_dir: Path

    @property
    def local(self) -> Path:
        return self.profile / "AppData" / "Local"

    @property
    def roaming(self) -> Path:
        return self.profile / "AppData" / "Roaming"

    @property
    def program(self) -> Path:
        return self.local / Path(*INSTALL_DIR.split("\\"))

    def wine(self, *argv: str | Path, env: dict[str, str] | None = None,
             timeout: float = SLOW_S) -> tuple[int, str]:
        """``argv`` (a Windows program and its arguments) run under Wine to its end."""
        return self.windows.run([], argv=["wine", *map(str, argv)], env=env, timeout=timeout)

    def registry(self, key: str, value: str) -> str | None:
        """A value of the prefix's registry, or None."""
        code, out = self.wine("reg", "query", key, "/v", value, timeout=120)
        match = re.search(rf"^\s*{re.escape(value)}\s+REG_\w+\s+(.*)$", out, re.MULTILINE)
        return match.group(1).strip() if code == 0 and match else None


@pytest.fixture(scope="module")
def machine() -> Machine:
    windows = WindowsPython.described(os.environ)
    assert windows.prefix is not None, "the installer step runs under Wine"
    users = windows.prefix / "drive_c" / "users"
    [profile] = [p for p in users.iterdir() if p.name != "Public" and p.is_dir()]
    return Machine(windows, windows.prefix, profile, Path(os.environ["WINDOWS_STAGE_RUN_DIR"]))


@pytest.fixture(scope="module")
def installer(machine: Machine) -> Path:
    own = sorted((machine.run_dir / "build" / "wheels").glob("*.whl"))
    start = time.monotonic()
    built = build(machine.run_dir / "dist", sys.stdout, own or None, compressor="zlib")
    print(f"\n== installer: built {built.name} (zlib: the release's lzma build is about a "
          f"quarter smaller), {built.stat().st_size / 1e6:.1f} MB, in "
          f"{time.monotonic() - start:.0f} s", flush=True)
    return built


@pytest.fixture(scope="module")
def installed(machine: Machine, installer: Path) -> Iterator[Path]:
    """The installer run silently, as ``mtgateway-<version>-win64.exe /S``."""
    start = time.monotonic()
    code, out = machine.wine(installer, "/S")
    took = time.monotonic() - start
    assert code == 0, out
    print(f"\n== installer: installed silently in {took:.0f} s (under Wine on a shared "
          f"machine: not a Windows figure) into {machine.program}", flush=True)
    adapt_for_wine(machine.program / "python")
    yield machine.program
    if (machine.program / "Uninstall.exe").exists():  # a failed run: leave no install behind
        machine.wine(machine.program / "Uninstall.exe", "/S",
                     f"_?={windows_path(machine.program)}")
        shutil.rmtree(machine.program, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Terminal:
    """The fake terminal: its data folder and its install folder."""

    data: Path
    install: Path

    @property
    def mql(self) -> Path:
        return self.data / "MQL5"


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


@pytest.fixture(scope="module")
def terminal(machine: Machine) -> Iterator[Terminal]:
    """A MetaTrader 5 terminal as MetaTrader lays it out, with a stand-in MetaEditor."""
    tag = secrets.token_hex(16).upper()
    install = machine.prefix / "drive_c" / "Program Files" / f"MTGW Stage Terminal {tag[:8]}"
    data = machine.roaming / "MetaQuotes" / "Terminal" / tag
    install.mkdir(parents=True)
    subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-s", "-municode", "-o",
                    str(install / "metaeditor64.exe"), str(HERE / "metaeditor.c")], check=True)
    (install / "terminal64.exe").write_bytes(b"MZ")  # named by origin.txt; never run
    for folder in ("MQL5/Experts", "MQL5/Indicators", "MQL5/Include", "MQL5/Presets",
                   "MQL5/Libraries", "MQL5/Scripts", "config", "logs"):
        (data / folder).mkdir(parents=True)
    (data / "origin.txt").write_bytes(_utf16(windows_path(install).replace(
        windows_path(machine.prefix / "drive_c"), "C:")))
    (data / "config" / "common.ini").write_bytes(_utf16(
        f"[Common]\nLogin={LOGIN}\nServer={SERVER}\nProxyEnable=0\n"))
    yield Terminal(data, install)
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(install, ignore_errors=True)


@pytest.fixture(scope="module")
def config(machine: Machine) -> Iterator[Path]:
    """The daemon's config: free ports, a data directory of this run's inside the profile."""
    data = machine.local / f"mtgateway-stage-{secrets.token_hex(4)}"
    path = machine.run_dir / "config.toml"
    path.write_text(f'data_dir = {windows_path(data)!r}\n\n[server]\nport = {_free_port()}\n\n'
                    f'[bridge]\nport = {_free_port()}\n', encoding="utf-8")
    yield path
    shutil.rmtree(data, ignore_errors=True)


def _ports(config: Path) -> tuple[int, int]:
    text = config.read_text(encoding="utf-8")
    http, bridge = (int(n) for n in re.findall(r"port = (\d+)", text))
    return http, bridge


def _data_dir(machine: Machine, config: Path) -> Path:
    name = re.search(r"mtgateway-stage-\w+", config.read_text(encoding="utf-8"))
    assert name is not None
    return machine.local / name.group(0)


def test_the_installer_installs_for_the_user_without_admin_rights(
        machine: Machine, installed: Path) -> None:
    """Everything under ``%LOCALAPPDATA%\\Programs\\MT Gateway``; ``bin`` on the user's PATH;
    the Start-menu entries; the uninstaller registered for the user; and ``mtgateway`` found on
    that PATH by a new command prompt, running the installed CPython."""
    for part in ("python/python.exe", "python/python313._pth", "bin/mtgateway.exe",
                 "docs/windows.md", "docs/terminal.md", "docs/README.md", "Uninstall.exe"):
        assert (installed / part).is_file(), part
    site = installed / "python" / "Lib" / "site-packages"
    for package in ("gateway", "ea_bridge", "mtgateway", "MetaTrader5", "numpy", "aiohttp"):
        assert (site / package).is_dir(), package
    path = machine.registry("HKCU\\Environment", "Path") or ""
    assert windows_path(installed / "bin").replace(windows_path(machine.prefix / "drive_c"),
                                                   "C:") in path.split(";"), path
    menu = machine.roaming / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "MT Gateway"
    assert {p.name for p in menu.iterdir()} >= {
        "Set up MT Gateway.lnk", "Check MT Gateway.lnk", "MT Gateway console.lnk",
        "Open the console.url", "MT Gateway docs.lnk", "Uninstall MT Gateway.lnk"}
    key = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\MTGateway"
    assert machine.registry(key, "DisplayName") == "MT Gateway"
    code, out = machine.wine("cmd", "/c", "mtgateway --version")
    assert code == 0 and re.search(r"^mtgateway \d", out, re.MULTILINE), out


@dataclass
class Flow:
    """What the setup step left for the steps after it."""

    setup_output: str
    setup_code: int
    daemon: subprocess.Popen[bytes]
    emulator: subprocess.Popen[bytes]
    token: str


def _task_argv(machine: Machine) -> list[str]:
    """The log-on task's ``Command`` and ``Arguments``, as Task Scheduler would start them."""
    task = machine.local / "mtgateway" / "mtgateway-task.xml"
    root = ET.fromstring(task.read_bytes().decode("utf-16"))
    command = root.findtext(f"{_TASK}Command")
    arguments = root.findtext(f"{_TASK}Arguments")
    assert command and arguments is not None
    return [command, *(a.strip('"') for a in shlex.split(arguments, posix=False))]


class _Output:
    """A process's output read to its end on a thread (a full pipe would stop it), with a
    wait for a line holding a given text: what the process says is the event waited on."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.text = ""
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self.text += line.decode(errors="replace").replace("\r\n", "\n")
                self._changed.notify_all()
        proc.stdout.close()

    def wait_for(self, what: str, timeout: float = SLOW_S) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: what in self.text, timeout), (
                f"waited {timeout:.0f} s for {what!r}:\n{self.text}")


@pytest.fixture(scope="module")
def flow(machine: Machine, installed: Path, terminal: Terminal,
         config: Path) -> Iterator[Flow]:
    """``mtgateway setup`` from flags, the daemon started from its task, the emulated
    terminal connecting with the preset's token while setup waits for it."""
    http, bridge = _ports(config)
    task = machine.local / "mtgateway" / "mtgateway-task.xml"
    task.unlink(missing_ok=True)
    argv = ["wine", "cmd", "/c", "mtgateway", "setup", "-c", windows_path(config),
            "--terminal", terminal.data.name, "--login", str(LOGIN), "--server", SERVER,
            "--email", OWNER, "--check-seconds", "3", "--wait", "500", "--yes"]
    setup = machine.windows.popen(argv, env={"MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    printed = _Output(setup)
    preset = terminal.mql / "Presets" / "MTGateway.set"
    daemon = emulator = None
    try:
        began = time.monotonic()
        printed.wait_for("mtgateway-task.xml")  # service install's "wrote <the task file>"
        print(f"\n== setup: the preset and the task after {time.monotonic() - began:.0f} s",
              flush=True)
        daemon = machine.windows.popen(["wine", *_task_argv(machine)], start_new_session=True)
        _Output(daemon).wait_for(f"HTTP on 127.0.0.1:{http}")
        print(f"== setup: the daemon listens after {time.monotonic() - began:.0f} s", flush=True)
        raw = preset.read_bytes()
        assert raw.startswith(b"\xff\xfe"), raw[:16]
        token = dict(line.split("=", 1) for line in raw.decode("utf-16").splitlines()
                     if "=" in line and not line.startswith(";"))["AuthToken"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
        emulator = subprocess.Popen(
            [sys.executable, "-m", "gateway", "emulator", "--bridge", f"127.0.0.1:{bridge}",
             "--login", str(LOGIN), "--server", SERVER, "--start-time", START],
            cwd=ROOT, env={**env, "MTGATEWAY_TOKEN": token}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        setup.wait(timeout=SLOW_S)
        # a Wine service setup started (winedevice.exe) may hold the pipe open after setup
        # ended: what setup printed is read by then
        printed.thread.join(timeout=10)
        print(f"== setup: done after {time.monotonic() - began:.0f} s", flush=True)
        yield Flow(printed.text, setup.returncode, daemon, emulator, token)
    finally:
        for proc in (setup, emulator, daemon):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_setup_from_flags_finds_the_terminal_compiles_and_writes_the_preset(
        flow: Flow, terminal: Terminal, machine: Machine, config: Path) -> None:
    """Setup found the fake terminal by its ``origin.txt``, installed the EA, compiled the
    helper then the EA with the terminal's own (stand-in) MetaEditor and showed each log's
    counts, wrote the preset in MetaTrader 5's format with the token for the account, and
    registered the task whose command is the installed CPython's ``-m gateway run -c``."""
    out = flow.setup_output
    assert f"\\{terminal.data.name}" in out, out
    assert out.index("compiled Helper.mq5 with metaeditor64.exe: 0 errors, 0 warnings") < \
        out.index("compiled MTGateway.mq5 with metaeditor64.exe: 0 errors, 0 warnings"), out
    assert (terminal.mql / "Experts" / "MTGateway.ex5").is_file()
    assert (terminal.mql / "Indicators" / "MTGateway" / "Helper.ex5").is_file()
    assert (terminal.mql / "Include" / "MTGateway" / "Session.mqh").is_file()
    text = (terminal.mql / "Presets" / "MTGateway.set").read_bytes().decode("utf-16")
    assert "\r\n" in text and flow.token.startswith("mtgw_")
    _, bridge = _ports(config)
    assert f"GatewayPort={bridge}||" in text and "GatewayHost=127.0.0.1\r\n" in text
    argv = _task_argv(machine)
    assert argv[0].endswith("\\MT Gateway\\python\\python.exe"), argv
    assert argv[1:4] == ["-m", "gateway", "run"] and argv[4] == "-c", argv
    assert f"for {LOGIN} @ {SERVER}: issued" in out, out


def test_setup_waited_for_the_ea_and_its_check_passed(flow: Flow) -> None:
    """The emulated terminal connected with the preset's token; setup saw its hello and ran
    the check, every check passing but the latency figure (not judged under Wine)."""
    out = flow.setup_output
    assert "the EA said hello; running `mtgateway check`" in out, out
    _every_check_passes_but_the_figure(out)
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert flow.setup_code == 0 or errors == [line for line in errors
                                             if "the check did not pass" in line], out


def test_a_linux_client_trades_through_the_installed_daemon(
        flow: Flow, machine: Machine, config: Path) -> None:
    """The package-style script from this machine, with the check state file setup wrote
    (the daemon's address and the terminal's token): an order and its close."""
    state = _data_dir(machine, config) / "check.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mt5_script.py"),
                           "--state-file", str(state)], cwd=ROOT, env=env,
                          capture_output=True, timeout=SLOW_S, check=False)
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, out
    for step in ("1. order_send()", "3. close position #", "done"):
        assert step in out, out


def test_setup_undo_removes_what_it_added(flow: Flow, machine: Machine, terminal: Terminal,
                                          config: Path) -> None:
    """``setup --undo``: the EA's files, compiled programs and preset leave the terminal, the
    token is revoked (the daemon cuts the emulated terminal off), the task goes."""
    code, out = machine.wine("cmd", "/c", "mtgateway", "setup", "-c", windows_path(config),
                             "--undo", "--yes")
    assert code == 0, out
    assert "revoked" in out, out
    for gone in ("Experts/MTGateway.mq5", "Experts/MTGateway.ex5", "Presets/MTGateway.set",
                 "Indicators/MTGateway", "Include/MTGateway"):
        assert not (terminal.mql / gone).exists(), gone
    assert not (machine.local / "mtgateway" / "mtgateway-task.xml").exists()
    assert (_data_dir(machine, config) / "authority.sqlite3").is_file()  # the owner's data


def test_the_uninstaller_removes_the_program_and_keeps_the_data(
        flow: Flow, machine: Machine, installed: Path, config: Path) -> None:
    """The silent uninstall (waited for: ``_?=`` runs it in place) removes the program, its
    PATH entry, its Start-menu entries and its Apps entry, and keeps the owner's data."""
    flow.daemon.kill()
    flow.daemon.wait()
    code, out = machine.wine(installed / "Uninstall.exe", "/S",
                             f"_?={windows_path(installed)}")
    assert code == 0, out
    for gone in ("python", "bin", "docs"):
        assert not (installed / gone).exists(), gone
    path = machine.registry("HKCU\\Environment", "Path") or ""
    assert "MT Gateway" not in path, path
    assert not (machine.roaming / "Microsoft" / "Windows" / "Start Menu" / "Programs" /
                "MT Gateway").exists()
    key = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\MTGateway"
    assert machine.registry(key, "DisplayName") is None
    assert (_data_dir(machine, config) / "authority.sqlite3").is_file()
    shutil.rmtree(installed, ignore_errors=True)  # Uninstall.exe itself, run in place
