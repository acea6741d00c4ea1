"""Issue 89 item 4: ``mtgateway setup`` on Linux against MetaTrader under Wine.

A terminal is laid out in a Wine prefix of the tests' own (``winekit``) as MetaQuotes' Linux
install leaves one: under ``drive_c/Program Files``, its data (``MQL5``, ``config``) beside
``terminal64.exe`` (Wine has no User Account Control), its folder's name with a blank and a
non-ASCII letter. Its ``metaeditor64.exe`` is the Windows stage's stand-in
(``tests/windows/metaeditor.c``, built with Debian's mingw-w64), run by Debian's Wine: setup
must find the terminal through ``$WINEPREFIX``, start that Windows program under Wine with the
command line Windows would give it (the prefix's ``C:``/``Z:`` paths, quotes after each
switch's colon, ``/portable``), read its log, pair, write the preset and wait for the EA; the
emulated terminal then connects with the preset's token, setup's check passes, and a client
trades through the daemon. Before, setup started ``metaeditor64.exe`` as a Linux program with
Linux paths: "Exec format error", a traceback, no preset.

A MetaEditor under Wine stuck past its time is stopped with what ``cmd`` started (MetaEditor is
its child, a process of its own).

The prefix is made once per machine (``wineboot``, 12-40 s) and kept: each test costs Wine's
start (about a second) and its own run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.eafiles import install_ea
from gateway.setup.metaeditor import NotRun, compile_source
from gateway.setup.preset import preset_values
from tests.e2e import winekit
from tests.e2e.commands import read_until
from tests.e2e.consolekit import OWNER
from tests.e2e.daemonprocess import started
from tests.e2e.fixtures import WAIT_S

LOGIN, SERVER = 5012345, "MTG-Demo"
#: A Wednesday: every market the emulator has is open, whatever today is.
START = "2026-11-18T10:00:00Z"
ROOT = Path(__file__).resolve().parents[3]


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prefix() -> Path:
    return winekit.prefix()


@pytest.fixture
def installed(prefix: Path) -> Iterator[Path]:
    """MetaTrader 5 installed in the prefix's ``Program Files`` under a name of this test's
    own (a blank, a non-ASCII letter), the stand-in MetaEditor beside the terminal; removed
    after."""
    folder = prefix / "drive_c" / "Program Files" / f"MTGW Test {secrets.token_hex(4)} é"
    for sub in ("MQL5/Experts", "MQL5/Indicators", "MQL5/Include", "config"):
        (folder / sub).mkdir(parents=True)
    (folder / "terminal64.exe").write_bytes(b"MZ")  # marks the install folder; never run
    shutil.copyfile(winekit.metaeditor(), folder / "metaeditor64.exe")
    (folder / "config" / "common.ini").write_bytes(_utf16(
        f"[Common]\nLogin={LOGIN}\nServer={SERVER}\n"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(240)
async def test_setup_under_wine_compiles_pairs_and_trades(
        prefix: Path, installed: Path, tmp_path: Path) -> None:
    """Setup finds the terminal in ``$WINEPREFIX``'s ``Program Files``, compiles the helper
    then the EA with its MetaEditor under Wine, given exactly MetaEditor's command line with
    the prefix's paths and ``/portable``, issues the token into the preset and waits; the
    emulated terminal connects with that token, the check passes, and a client trades
    through the daemon with the state file setup wrote."""
    state = tmp_path / "data"
    state.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{state}"\n[server]\nport = {_free_port()}\n[bridge]\n'
                      f'port = {_free_port()}\n[device]\nkey_storage = "file"\n',
                      encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MTGATEWAY_", "WINE"))}
    owner = {**base, "WINEPREFIX": str(prefix), "HOME": str(tmp_path / "home"),
             "MTGATEWAY_OWNER_PASSWORD": "a long password"}
    async with started(config) as daemon:
        setup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "setup", "-c", str(config), "--no-service",
            "--email", OWNER, "--yes", "--terminal", str(installed), "--login", str(LOGIN),
            "--server", SERVER, "--wait", str(WAIT_S * 6), "--check-seconds", "2", env=owner,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert setup.stdout is not None
        try:
            async with asyncio.timeout(WAIT_S * 6):  # two Wine starts, each about a second
                printed = await read_until(setup.stdout, b"MTGateway.set (the EA's inputs")
        except (TimeoutError, AssertionError):
            setup.kill()
            raise
        preset = installed / "MQL5" / "Presets" / "MTGateway.set"
        token = preset_values(preset.read_bytes())["AuthToken"]
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "emulator", "--bridge",
            f"127.0.0.1:{daemon.bridge_port}", "--login", str(LOGIN), "--server", SERVER,
            "--start-time", START, env={**base, "MTGATEWAY_TOKEN": token},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(WAIT_S * 6):
                rest, _ = await setup.communicate()
            out = (printed + rest).decode()
            assert setup.returncode == 0 and " FAIL " not in out, out
            trade = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "examples" / "mt5_script.py"), "--state-file",
                str(state / "check.json"), cwd=ROOT, env=base,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            async with asyncio.timeout(WAIT_S * 6):
                traded = (await trade.communicate())[0].decode()
        finally:
            if setup.returncode is None:
                setup.kill()
            emulator.kill()
            await emulator.wait()
    assert f"Found MetaTrader 5 in {installed} (last account {LOGIN} @ {SERVER})" in out, out
    assert out.index("compiled Helper.mq5 with metaeditor64.exe: 0 errors, 0 warnings") < \
        out.index("compiled MTGateway.mq5 with metaeditor64.exe: 0 errors, 0 warnings"), out
    assert "the EA said hello; running `mtgateway check`" in out, out
    mql = installed / "MQL5"
    assert (mql / "Indicators/MTGateway/Helper.ex5").is_file()
    assert (mql / "Experts/MTGateway.ex5").is_file()
    windows = f"C:\\Program Files\\{installed.name}"
    logs = "Z:" + str(state / "setup-logs").replace("/", "\\")
    calls = (installed / "calls.txt").read_text(encoding="utf-8").splitlines()
    assert calls == [
        f'"{windows}\\metaeditor64.exe" /compile:"{windows}\\MQL5\\{program}" '
        f'/inc:"{windows}\\MQL5" /log:"{logs}\\{installed.name}-{stem}.log" /portable'
        for program, stem in (("Indicators\\MTGateway\\Helper.mq5", "Helper"),
                              ("Experts\\MTGateway.mq5", "MTGateway"))], calls
    assert trade.returncode == 0, traded
    for step in ("1. order_send()", "3. close position #", "done"):
        assert step in traded, traded


def _running(marker: str) -> list[str]:
    """The live processes whose command line holds ``marker`` (zombies are ended)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                "utf-8", "replace")
            state = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state not in ("Z", "X"):
            found.append(f"{entry.name} {state} {cmdline}")
    return found


def test_a_metaeditor_under_wine_stuck_past_its_time_is_stopped(
        prefix: Path, installed: Path, tmp_path: Path) -> None:
    """A MetaEditor that never ends, under Wine: after its time (300 s in setup; 5 s here, time
    enough for Wine to start it on a loaded machine) compile_source says so (NotRun) and no
    process of it is left: ``wine cmd`` and the MetaEditor ``cmd`` started end together."""
    (installed / "form.txt").write_text("hang", encoding="utf-8")
    install_ea(installed)
    with pytest.raises(NotRun, match=r"still compiling after 5 s and was stopped"):
        compile_source(installed / "metaeditor64.exe", installed / "MQL5",
                       "Indicators/MTGateway/Helper.mq5", tmp_path / "helper.log",
                       portable=True, prefix=prefix, timeout=5.0)
    assert (installed / "calls.txt").is_file()  # it did start
    deadline = time.monotonic() + WAIT_S
    while (left := _running(installed.name)) and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILL is delivered, the exit is the kernel's: seen within ms
    assert not left, left
