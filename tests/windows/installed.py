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
* ``mtgateway setup`` once more, over six terminals of its own (a data directory of its own,
  no task, no wait), each stand-in MetaEditor writing another form of log (``form.txt``:
  both English summary forms, Russian in UTF-16, UTF-8, Windows' Cyrillic code page) and one
  that is no program at all: each compile is judged by the program it wrote, the logs setup
  cannot read shown, the one that never started said in a line, every preset written;
* each file setup wrote holding a token (the presets, ``check.json``, ``setup.json``) and each
  ``Presets`` folder it made has its ACL read back by the installed CPython
  (``tests/windows/acl.py``): the user's SID and SYSTEM only, nothing inherited, as far as
  Wine shows an ACL;
* a Linux client trades through the installed daemon; with nothing set, ``mtgateway check``
  and a bot written for the ``MetaTrader5`` package, unchanged, on the installed Python, find
  the daemon through what setup wrote for the user (the data directory is the default one);
* every command ``mtgateway --help`` (and ``python -m mtgateway_console --help``) lists on the
  installed product runs there past its arguments: the installed demo serves a trade, the
  installed emulator connects and a bot trades on it, the daemon and the console start;
* the installer's last page and the uninstaller's question are read back from the ``.exe``
  files (``nsis.py``: a silent install shows neither);
* ``setup --undo`` removes what it added and revokes the token; setup runs again, and the
  silent uninstaller takes that out itself (``setup --undo`` before it removes the program),
  removes the program, its PATH entry and Start-menu entries, and keeps the owner's data.

Wine 8 needs the same three adaptations the stage's own interpreter has (``wine.py``): they are
applied to the installed interpreter after the install (``adapt_for_wine``), and change nothing
the installer ships.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import stat
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
from tests.windows.nsis import header_text
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
    """The daemon's config: free ports, and no ``data_dir``: the default one,
    ``%LOCALAPPDATA%\\mtgateway``, where an owner's setup writes and a bot told nothing
    looks (emptied first: the prefix is kept between runs)."""
    data = _data_dir(machine)
    shutil.rmtree(data, ignore_errors=True)
    path = machine.run_dir / "config.toml"
    path.write_text(f'[server]\nport = {_free_port()}\n\n[bridge]\nport = {_free_port()}\n',
                    encoding="utf-8")
    yield path
    shutil.rmtree(data, ignore_errors=True)


def _ports(config: Path) -> tuple[int, int]:
    text = config.read_text(encoding="utf-8")
    http, bridge = (int(n) for n in re.findall(r"port = (\d+)", text))
    return http, bridge


def _data_dir(machine: Machine, config: Path | None = None) -> Path:
    """The daemon's data directory: the default one (the config names none)."""
    return machine.local / "mtgateway"


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
        self.ended = False
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
        with self._changed:  # the end is an event too: nothing more will come
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, what: str, timeout: float = SLOW_S) -> None:
        with self._changed:
            self._changed.wait_for(lambda: what in self.text or self.ended, timeout)
            assert what in self.text, (
                f"{'the output ended' if self.ended else f'waited {timeout:.0f} s'} without "
                f"{what!r}:\n{self.text}")


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


# -- every command the installed product lists, run there ------------------------------------
# The review's walk: `mtgateway --help` listed `demo`, and the installed demo ended in
# "ModuleNotFoundError: aiosmtpd" (`--help` imports none of what a command needs). Each command
# is run here past its arguments, on the installed Python, by the tests below, each noting it in
# RAN; the last of them holds RAN to what the installed help lists, so a new command must be
# run here too.

#: The commands (``mtgateway``'s, then ``python -m mtgateway_console``'s) the tests ran.
RAN: dict[str, set[str]] = {"mtgateway": set(), "mtgateway_console": set()}
#: A bot written for the ``MetaTrader5`` package, unchanged (it names no daemon and no token).
BOT = ROOT / "tests" / "e2e" / "unchanged_bot.py"
#: The second account of this step: the installed emulator's, with a token of its own.
OTHER_LOGIN = LOGIN + 1


def _mtgateway(machine: Machine, *args: str, env: dict[str, str] | None = None,
               codes: tuple[int, ...] = (0,)) -> str:
    """``mtgateway ARGS`` typed in a new Command Prompt (found on the PATH the installer set),
    run to its end; its output, after checking its exit code and that nothing crashed."""
    code, out = machine.wine("cmd", "/c", "mtgateway", *args, env=env)
    assert code in codes and "Traceback" not in out, out
    RAN["mtgateway"].add(args[0])
    return out


def _console_command(machine: Machine, *args: str, env: dict[str, str] | None = None) -> str:
    """``python -m mtgateway_console ARGS`` on the installed Python (the Start menu's *MT
    Gateway console* entry runs it so), run to its end; its output."""
    code, out = machine.wine(machine.program / "python" / "python.exe", "-m",
                             "mtgateway_console", *args, env=env)
    assert code == 0 and "Traceback" not in out, out
    RAN["mtgateway_console"].add(next(a for a in args if a in ("serve", "migrate", "owner")))
    return out


@contextlib.contextmanager
def _serving(machine: Machine, argv: list[str | Path], ready: str,
             env: dict[str, str] | None = None) -> Iterator[_Output]:
    """A server (``argv``, a Windows command line) until it prints ``ready``; then stopped with
    every process it started (its own session: the launcher, then the interpreter)."""
    proc = machine.windows.popen(["wine", *map(str, argv)], env=env, start_new_session=True)
    printed = _Output(proc)
    try:
        printed.wait_for(ready)
        yield printed
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        printed.thread.join(timeout=10)


def _bot(machine: Machine, env: dict[str, str] | None = None) -> str:
    """:data:`BOT` on the installed ``python.exe`` (nothing set but ``env``); its output,
    after checking it bought and closed."""
    code, out = machine.wine(machine.program / "python" / "python.exe", windows_path(BOT),
                             env=env)
    assert code == 0, out
    assert "order_send: 10009" in out and "close: 10009" in out, out
    return out


@pytest.fixture(scope="module")
def own_config(machine: Machine) -> Iterator[Path]:
    """A second config, its data directory this run's own, for the commands that would change
    the owner's (a second owner) or need their own ports (a second daemon, the console)."""
    data = machine.local / f"mtgateway-stage-{secrets.token_hex(4)}"
    path = machine.run_dir / "commands.toml"
    path.write_text(f"data_dir = {windows_path(data)!r}\n\n[server]\nport = {_free_port()}\n\n"
                    f"[bridge]\nport = {_free_port()}\n\n[console]\nport = {_free_port()}\n\n"
                    '[device]\nkey_storage = "file"\n', encoding="utf-8")
    yield path
    shutil.rmtree(data, ignore_errors=True)


def test_check_told_nothing_checks_what_setup_set_up(flow: Flow, machine: Machine) -> None:
    """The review's u6: ``mtgateway check`` with no flag, in a new Command Prompt, checks the
    daemon and the terminal setup set up (``check.json`` in the default data directory),
    instead of asking for a token."""
    out = _mtgateway(machine, "check", codes=(0, 1))
    written = windows_path(_data_dir(machine) / "check.json").replace(
        windows_path(machine.prefix / "drive_c"), "C:")
    assert f"the daemon and the token from {written} (written by `mtgateway setup`)" in out, out
    assert f"{LOGIN} @ {SERVER}" in out, out
    _every_check_passes_but_the_figure(out)


def test_an_unchanged_bot_trades_on_the_installed_python_with_nothing_set(
        flow: Flow, machine: Machine) -> None:
    """The review's u5: a bot written for the ``MetaTrader5`` package, unchanged, run with the
    installed ``python.exe`` after setup and nothing set, trades: ``initialize()`` reads what
    setup wrote for this user."""
    out = _bot(machine)
    assert f"account {LOGIN} on {SERVER}" in out and "rates: ndarray 1000" in out, out


def test_the_readmes_unchanged_bot_runs_on_the_installed_python(
        flow: Flow, machine: Machine) -> None:
    """The README's "On Windows" shows a bot written for the ``MetaTrader5`` package: run as
    it says, with the installed ``python.exe`` and nothing set, it reads the account and the
    bars."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(
        "## On Windows", 1)[1].split("\n## ", 1)[0]
    [block] = [part.split("```", 1)[0] for part in section.split("```python\n")[1:]]
    bot = machine.run_dir / "readme_bot.py"
    bot.write_text(block, encoding="utf-8")
    code, out = machine.wine(machine.program / "python" / "python.exe", windows_path(bot))
    assert code == 0 and f"AccountInfo(login={LOGIN}," in out and "\n[(" in out, out


def test_the_installed_demo_serves_a_trade(machine: Machine, installed: Path) -> None:
    """``mtgateway demo`` from the installer's ``bin`` (it once ended in ``ModuleNotFoundError:
    aiosmtpd``): it starts, and the unchanged bot on the installed Python trades on it."""
    state = machine.run_dir / "installed-demo.json"
    argv: list[str | Path] = [installed / "bin" / "mtgateway.exe", "demo", "--http-port", "0",
                              "--bridge-port", "0", "--state-file", windows_path(state),
                              "--start-time", START]
    with _serving(machine, argv, "Running."):
        RAN["mtgateway"].add("demo")
        _bot(machine, env={"MTGATEWAY_STATE_FILE": windows_path(state)})


def test_a_token_the_installed_emulator_and_the_audit_trail(
        flow: Flow, machine: Machine, installed: Path, config: Path) -> None:
    """``token create`` issues a second terminal's token; the installed ``mtgateway emulator``
    connects with it to the installed daemon, and a bot from this machine trades on it;
    ``token list`` and ``audit`` show it, ``token revoke`` ends it."""
    cfg = windows_path(config)
    out = _mtgateway(machine, "token", "create", "-c", cfg, "--login", str(OTHER_LOGIN),
                     "--server", SERVER, "--email", OWNER, "--label", "stage-emulator")
    token = re.search(r"^token:\s+(mtgw_\S+)", out, re.MULTILINE)
    token_id = re.search(r"^token_id:\s+(tok_\w+)", out, re.MULTILINE)
    assert token and token_id, out
    http, bridge = _ports(config)
    argv: list[str | Path] = [installed / "bin" / "mtgateway.exe", "emulator", "--bridge",
                              f"127.0.0.1:{bridge}", "--login", str(OTHER_LOGIN), "--server",
                              SERVER, "--start-time", START]
    with _serving(machine, argv, "markets at server time",
                  env={"MTGATEWAY_TOKEN": token.group(1)}) as emulator:
        RAN["mtgateway"].add("emulator")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
        done = subprocess.run(  # initialize() waits for the emulated terminal's hello
            [sys.executable, str(BOT)], cwd=ROOT, capture_output=True, timeout=SLOW_S,
            check=False, env={**env, "MTGATEWAY_TOKEN": token.group(1),
                              "MTGATEWAY_URL": f"http://127.0.0.1:{http}"})
        traded = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        assert done.returncode == 0, f"{traded}\nthe emulator said:\n{emulator.text}"
    assert f"account {OTHER_LOGIN} on {SERVER}" in traded and "close: 10009" in traded, traded
    listing = _mtgateway(machine, "token", "list", "-c", cfg, "--email", OWNER)
    assert f"{OTHER_LOGIN}@{SERVER}" in listing and "stage-emulator" in listing, listing
    trail = _mtgateway(machine, "audit", "-c", cfg)
    assert f"{OTHER_LOGIN}@{SERVER}" in trail and "10009" in trail, trail
    out = _mtgateway(machine, "token", "revoke", "-c", cfg, token_id.group(1), "--email", OWNER)
    assert "revoked" in out, out


def test_the_owners_other_commands_run_on_the_installed_python(
        flow: Flow, machine: Machine, config: Path, own_config: Path) -> None:
    """``ea``, ``service``, ``device``, ``paper`` on the setup's config (each what it is for,
    changing nothing setup made), ``owner`` on a data directory of its own."""
    cfg = windows_path(config)
    out = _mtgateway(machine, "ea", "path")
    assert "MetaTrader 5:" in out and "MetaTrader 4:" in out, out
    folder = machine.run_dir / "another-terminal"
    (folder / "MQL5" / "Experts").mkdir(parents=True)
    out = _mtgateway(machine, "ea", "install", "--terminal-dir", windows_path(folder))
    assert (folder / "MQL5" / "Experts" / "MTGateway.mq5").is_file(), out
    out = _mtgateway(machine, "service", "install", "-c", cfg, "--print")
    assert "schtasks /Create /TN MTGateway" in out, out
    out = _mtgateway(machine, "device", "status", "-c", cfg)
    assert "device id:" in out and "authority:   local" in out, out
    out = _mtgateway(machine, "paper", "on", "-c", cfg, "--login", str(LOGIN), "--server",
                     SERVER, "--email", OWNER, codes=(0, 2))
    assert f"{LOGIN}@{SERVER}" in out, out  # switched, or refused for an unregistered account
    out = _mtgateway(machine, "owner", "create", "-c", windows_path(own_config), "--email",
                     "second@example.com", env={"MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    assert "owner second@example.com created" in out, out


def test_the_daemon_and_the_console_start_on_the_installed_python(
        machine: Machine, installed: Path, own_config: Path) -> None:
    """``mtgateway run`` and ``mtgateway console`` (the old name) from the installer's ``bin``,
    and the console's own ``serve``, ``migrate`` and ``owner`` on the installed Python, on a
    data directory of their own: each serves, or does what it is for."""
    cfg = windows_path(own_config)
    text = own_config.read_text(encoding="utf-8")
    http, _, console = (int(n) for n in re.findall(r"port = (\d+)", text))
    launcher = installed / "bin" / "mtgateway.exe"
    with _serving(machine, [launcher, "run", "-c", cfg], f"HTTP on 127.0.0.1:{http}"):
        RAN["mtgateway"].add("run")
    with _serving(machine, [launcher, "console", "-c", cfg],
                  f"console listening on http://127.0.0.1:{console}") as served:
        RAN["mtgateway"].add("console")
    assert "`mtgateway-console`" in served.text, served.text
    out = _console_command(machine, "-c", cfg, "migrate")
    assert "schema version" in out, out
    out = _console_command(machine, "-c", cfg, "owner", "create", "--email",
                           "third@example.com", env={"MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    assert "third@example.com" in out, out
    python = installed / "python" / "python.exe"
    with _serving(machine, [python, "-m", "mtgateway_console", "-c", cfg, "serve"],
                  f"console listening on http://127.0.0.1:{console}"):
        RAN["mtgateway_console"].add("serve")


def _listed(help_text: str) -> set[str]:
    """The commands an argparse ``--help`` lists under its positional argument."""
    block = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return set(re.findall(r"^    ([a-z][\w-]*)", block, re.MULTILINE))


def test_every_command_the_installed_product_lists_ran(flow: Flow, machine: Machine) -> None:
    """What ``mtgateway --help`` and ``python -m mtgateway_console --help`` list on the
    installed product is what this step ran there (``setup``: the flow, from flags)."""
    RAN["mtgateway"].add("setup")
    listed = _listed(machine.wine("cmd", "/c", "mtgateway", "--help")[1])
    assert listed and listed == RAN["mtgateway"], (listed, RAN)
    console = _listed(machine.wine(machine.program / "python" / "python.exe", "-m",
                                   "mtgateway_console", "--help")[1])
    assert console and console == RAN["mtgateway_console"], (console, RAN)


def test_the_installers_words_read_back(installer: Path, installed: Path) -> None:
    """The review's u1 and u8, in the ``.exe`` files (a silent install shows neither): the
    installer's last page names the Start menu's entry and the Command Prompt and offers to
    set up now; the uninstaller asks before taking out what setup put into MetaTrader and
    says what stays if not."""
    words = header_text(installer)
    assert ("Next: Start menu → MT Gateway → Set up MT Gateway (or type mtgateway setup in a "
            "new Command Prompt).") in words
    assert "Set up MT Gateway now" in words and "terminal window" not in words
    unwords = header_text(installed / "Uninstall.exe")
    assert "Take them out first (mtgateway setup --undo)?" in unwords
    assert ("No: The EA stays in your MetaTrader terminals and its token stays valid until it "
            "expires or you revoke it.") in unwords
    assert "-m gateway setup --undo --yes" in unwords


#: The stand-in MetaEditors' log forms (``metaeditor.c``), one terminal each, and one
#: ``metaeditor64.exe`` that is no program (Windows refuses to start it).
LOG_FORMS = ("english", "legacy", "russian", "utf8", "unreadable", "refused")


@pytest.fixture(scope="module")
def log_form_terminals(machine: Machine) -> Iterator[dict[str, Terminal]]:
    """A MetaTrader 5 terminal per log form, laid out as :func:`terminal` lays its one out,
    its stand-in MetaEditor told its form by the ``form.txt`` beside it."""
    built = machine.run_dir / "metaeditor64.exe"
    subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-s", "-municode", "-o", str(built),
                    str(HERE / "metaeditor.c")], check=True)
    made: dict[str, Terminal] = {}
    for number, form in enumerate(LOG_FORMS):
        tag = secrets.token_hex(16).upper()
        install = machine.prefix / "drive_c" / "Program Files" / f"MTGW Stage {form} {tag[:8]}"
        data = machine.roaming / "MetaQuotes" / "Terminal" / tag
        install.mkdir(parents=True)
        if form == "refused":
            (install / "metaeditor64.exe").write_bytes(b"not a program")
        else:
            shutil.copyfile(built, install / "metaeditor64.exe")
            (install / "form.txt").write_text(form, encoding="ascii")
        (install / "terminal64.exe").write_bytes(b"MZ")
        for folder in ("MQL5/Experts", "MQL5/Indicators", "MQL5/Include", "config"):
            (data / folder).mkdir(parents=True)
        (data / "origin.txt").write_bytes(_utf16(windows_path(install).replace(
            windows_path(machine.prefix / "drive_c"), "C:")))
        (data / "config" / "common.ini").write_bytes(_utf16(
            f"[Common]\nLogin={OTHER_LOGIN + 1 + number}\nServer={SERVER}\n"))
        made[form] = Terminal(data, install)
    yield made
    for made_one in made.values():
        shutil.rmtree(made_one.data, ignore_errors=True)
        shutil.rmtree(made_one.install, ignore_errors=True)


@pytest.fixture(scope="module")
def log_forms_config(machine: Machine) -> Iterator[Path]:
    """A config of the log forms' setup alone: its own data directory (its own authority and
    owner), its own ports."""
    data = machine.local / f"mtgateway-forms-{secrets.token_hex(4)}"
    path = machine.run_dir / "forms.toml"
    path.write_text(f"data_dir = {windows_path(data)!r}\n\n[server]\nport = {_free_port()}\n\n"
                    f"[bridge]\nport = {_free_port()}\n\n[device]\nkey_storage = \"file\"\n",
                    encoding="utf-8")
    yield path
    shutil.rmtree(data, ignore_errors=True)


def test_setup_judges_each_metaeditor_log_form_by_what_it_wrote(
        machine: Machine, installed: Path, log_form_terminals: dict[str, Terminal],
        log_forms_config: Path) -> None:
    """Issue 89 item 1 on Windows' CPython: one ``mtgateway setup`` over the six terminals.
    Both English summary forms and the UTF-8 log show their counts; the Russian log and the
    one in code page 1251 are shown (path and lines) beside "Helper.ex5 written", never taken
    for a failure or a success unsaid, their letters the console lacks as "?" (this found
    setup ending with UnicodeEncodeError); the MetaEditor Windows will not start is one line
    with the next step, no traceback; every terminal's preset is written; setup exits 0."""
    args = ["setup", "-c", windows_path(log_forms_config), "--email", OWNER, "--no-service",
            "--wait", "0", "--yes"]
    for made in log_form_terminals.values():
        args += ["--terminal", made.data.name]
    out = _mtgateway(machine, *args, env={"MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    said = {form: out.split(f"== MetaTrader 5 in C:\\Program Files\\{made.install.name}")[1]
            .split("\n== ")[0] for form, made in log_form_terminals.items()}
    for form in ("english", "legacy", "utf8"):
        assert said[form].index("compiled Helper.mq5 with metaeditor64.exe: 0 errors, 0 "
                                "warnings") < said[form].index(
            "compiled MTGateway.mq5 with metaeditor64.exe: 0 errors, 0 warnings"), said[form]
    for form, why in (("russian", "has no summary setup can read"),
                      ("unreadable", "is neither UTF-16 nor UTF-8 text")):
        assert ("compiled Helper.mq5 with metaeditor64.exe: Helper.ex5 written (MetaEditor "
                f"writes it only from a compile without errors); its log {why}") in said[form]
        assert "compiled MTGateway.mq5 with metaeditor64.exe: MTGateway.ex5 written" in \
            said[form]
    for form in ("russian", "unreadable"):  # the log's lines, each letter the console's code
        # page (a pipe's: the ANSI one) lacks shown as "?"
        assert re.search(r"Helper\.mq5 : \?+: \?+ 'Helper\.mq5'\n +\?+: 0 \?+, 0 \?+",
                         said[form]), said[form]
    assert re.search(r"Helper\.mq5 not compiled: MetaEditor could not be started \(.+\); "
                     r"compile it in MetaEditor: F4 in the terminal", said["refused"]), \
        said["refused"]
    for form, made in log_form_terminals.items():
        assert (made.mql / "Presets" / "MTGateway.set").is_file(), (form, out)
        built = (made.mql / "Experts" / "MTGateway.ex5").is_file()
        assert built == (form != "refused"), (form, out)
    assert "error:" not in out, out


def test_setup_wrote_each_token_file_for_the_user_alone(
        flow: Flow, machine: Machine, installed: Path, terminal: Terminal, config: Path,
        log_form_terminals: dict[str, Terminal]) -> None:
    """T8-F4 on the installed product, each ACL read back by ``tests/windows/acl.py`` on the
    installed CPython (``GetNamedSecurityInfoW``): the preset setup wrote into MetaTrader's
    own ``Presets``, the ``Presets`` folders it made for the log forms' terminals and their
    presets, and ``check.json`` and ``setup.json`` hold entries for the user's SID and SYSTEM
    only, none inherited, the folders' inherited by what they hold. Wine keeps no security
    descriptor (it makes one up from the Linux mode bits), so what it shows is the part it
    can: a file written the ordinary way (0644) reads back with Everyone, these without, and
    on the Linux side others have no access to them (Wine turned the ACL into owner bits);
    that the DACL is protected, and that another Windows account is kept out, is Windows'
    own (docs/windows.md)."""
    from tests.windows.acl import read_back

    presets = terminal.mql / "Presets"
    made = [t.mql / "Presets" for t in log_form_terminals.values()]
    files = [presets / "MTGateway.set", *(folder / "MTGateway.set" for folder in made),
             _data_dir(machine, config) / "check.json", _data_dir(machine, config) / "setup.json"]
    ordinary = machine.run_dir / "ordinary.set"
    ordinary.write_bytes(b"AuthToken=x")
    ordinary.chmod(0o644)
    paths = [*files, *made, presets, ordinary]
    code, out = machine.wine(machine.program / "python" / "python.exe",
                             windows_path(HERE / "acl.py"), *map(windows_path, paths))
    assert code == 0, out
    user, dacls = read_back(out)
    alone = {user, "S-1-5-18"}
    by_path = {path: dacls[windows_path(path)] for path in paths}
    print(f"\n== setup's token files, their ACL read back under Wine (user {user}):",
          flush=True)
    for path, dacl in by_path.items():
        print(f"   {path.name}: {sorted(dacl.sids)}", flush=True)
    for path in [*files, *made]:
        dacl = by_path[path]
        assert dacl.sids == alone and not any(e.inherited for e in dacl.entries), (path, dacl)
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, (path, oct(path.stat().st_mode))
    for folder in made:
        assert {e.flags for e in by_path[folder].entries} == {"OICI"}, by_path[folder]
    assert "S-1-1-0" in by_path[ordinary].sids  # Everyone: what a 0644 file reads back as


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


@dataclass
class SetUpAgain:
    """What setup put into the terminal again, for the uninstaller to take out."""

    token_id: str
    files: list[Path]


@pytest.fixture(scope="module")
def set_up_again(flow: Flow, machine: Machine, terminal: Terminal,
                 config: Path) -> SetUpAgain:
    """``mtgateway setup`` once more after ``--undo`` (quickly: no compile, no task, no
    wait), so the uninstaller finds something of setup's to take out."""
    out = _mtgateway(machine, "setup", "-c", windows_path(config), "--terminal",
                     terminal.data.name, "--login", str(LOGIN), "--server", SERVER, "--email",
                     OWNER, "--no-compile", "--no-service", "--wait", "0", "--yes",
                     env={"MTGATEWAY_OWNER_PASSWORD": PASSWORD})
    token_id = re.search(rf"token (tok_\w+) for {LOGIN} @ {SERVER}: issued", out)
    assert token_id, out
    files = [terminal.mql / "Experts" / "MTGateway.mq5", terminal.mql / "Presets" /
             "MTGateway.set", terminal.mql / "Include" / "MTGateway" / "Session.mqh"]
    assert all(f.is_file() for f in files), out
    assert (_data_dir(machine) / "setup.json").is_file()
    return SetUpAgain(token_id.group(1), files)


def test_setup_ran_again_for_the_uninstaller(set_up_again: SetUpAgain) -> None:
    """The EA is in the terminal again, with a live token (what the uninstall below takes
    out: ``test_the_silent_uninstaller_took_out_what_setup_put_into_metatrader``)."""
    assert set_up_again.token_id.startswith("tok_")


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


def test_the_silent_uninstaller_took_out_what_setup_put_into_metatrader(
        set_up_again: SetUpAgain, machine: Machine, installed: Path) -> None:
    """The review's u8: uninstalling without ``setup --undo`` first left the EA and its live
    token without a word. The silent uninstall above ran ``setup --undo`` itself before it
    removed the program: the EA's files left the terminal, setup's record is gone, and the
    token is revoked in the authority the owner's data keeps."""
    assert not [f for f in set_up_again.files if f.exists()], set_up_again.files
    assert not (_data_dir(machine) / "setup.json").exists()
    with contextlib.closing(sqlite3.connect(_data_dir(machine) / "authority.sqlite3")) as db:
        row = db.execute("SELECT revoked_at FROM tokens WHERE token_id = ?",
                         (set_up_again.token_id,)).fetchone()
    assert row is not None and row[0] is not None, row
