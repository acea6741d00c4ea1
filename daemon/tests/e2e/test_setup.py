"""``mtgateway setup`` on Linux, as a process: a terminal laid out as MetaTrader lays one out
(found through ``$WINEPREFIX``, where MetaTrader runs on Linux), a stand-in MetaEditor that
writes MetaEditor's log, the local authority in a data directory of the test's own.

The same command runs on the Windows CPython, from the installer, in the Windows stage
(``tests/windows/installed.py``); here its every branch is cheap: a re-run, ``--undo``, what
is missing when nothing may be asked, a compile that fails, and the wait for the EA's hello
followed by the check.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.eafiles import ea_source_dir
from gateway.setup.found import find_terminals, read_text
from gateway.setup.metaeditor import read_log
from gateway.setup.preset import ea_inputs, preset_bytes, preset_values
from mtgateway_console.mailer import NoMailer
from mtgateway_console.service import Authority
from tests.e2e.commands import cli, read_until
from tests.e2e.consolekit import PASSWORD, Console
from tests.e2e.daemonprocess import started
from tests.e2e.fixtures import WAIT_S

LOGIN, SERVER = 5012345, "MTG-Demo"
from tests.e2e.consolekit import OWNER  # noqa: E402

TAG = "0123456789ABCDEF0123456789ABCDEF"
#: A Wednesday: every market the emulator has is open, whatever today is.
START = "2026-11-18T10:00:00Z"
#: The stand-in MetaEditor: MetaEditor's switches, its UTF-16 log with a Result line, the
#: compiled file beside the source; the EA needs the helper compiled first, as MetaEditor's
#: resource does. ``FAIL`` in the environment makes every compile fail.
STAND_IN = '''#!{python}
import os, sys
from pathlib import Path
opts = dict(a[1:].split(":", 1) for a in sys.argv[1:] if ":" in a)
source, log = Path(opts["compile"]), Path(opts["log"])
lines = [f"{{source}} : information: compiling '{{source.name}}'"]
errors = 0
helper = Path(opts["inc"]) / "Indicators" / "MTGateway" / "Helper.ex5"
if os.environ.get("FAIL") or (source.name == "MTGateway.mq5" and not helper.exists()):
    errors = 1
    lines.append(f"{{source}}(40,11) : error 300: resource file not found")
else:
    source.with_suffix(".ex5").write_bytes(b"EX5")
lines.append(f"Result: {{errors}} errors, 0 warnings, 5 msec elapsed")
log.write_bytes(b"\\xff\\xfe" + "\\r\\n".join(lines).encode("utf-16-le"))
'''

#: The bot the Windows installer test runs too (the workspace's kit).
UNCHANGED_BOT = Path(__file__).resolve().parents[3] / "tests" / "e2e" / "unchanged_bot.py"


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path | str]:
    """A Wine prefix's ``%APPDATA%`` with one MetaTrader 5 terminal and its install folder,
    a config with fixed free ports and a data directory, and the environment that finds it."""
    prefix = tmp_path / "wine"
    data = prefix / "drive_c/users/owner/AppData/Roaming/MetaQuotes/Terminal" / TAG
    install = tmp_path / "MetaTrader 5"
    install.mkdir()
    editor = install / "metaeditor64.exe"
    editor.write_text(STAND_IN.format(python=sys.executable), encoding="utf-8")
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    for folder in ("MQL5/Experts", "MQL5/Indicators", "MQL5/Include", "config"):
        (data / folder).mkdir(parents=True)
    (data / "origin.txt").write_bytes(_utf16(str(install)))
    (data / "config" / "common.ini").write_bytes(_utf16(
        f"[Common]\nLogin={LOGIN}\nServer={SERVER}\n"))
    state = tmp_path / "data"
    state.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{state}"\n[server]\nport = {_free_port()}\n[bridge]\n'
                      f'port = {_free_port()}\n[device]\nkey_storage = "file"\n',
                      encoding="utf-8")
    return {"data": data, "config": config, "state": state, "prefix": prefix}


def _env(machine: dict[str, Path | str], **extra: str) -> dict[str, str]:
    """The owner's environment: the test's Wine prefix, and a home of the test's own (setup
    also looks in ``~/.wine`` and ``~/.mt5``, where this machine may have terminals)."""
    return {"WINEPREFIX": str(machine["prefix"]), "USER": "owner",
            "HOME": str(Path(machine["prefix"]).parent / "home"),
            "MTGATEWAY_OWNER_PASSWORD": "a long password", **extra}


async def _setup(machine: dict[str, Path | str], *flags: str,
                 **env: str) -> tuple[int, str, str]:
    return await cli("setup", "-c", machine["config"], "--no-service", "--email", OWNER,
                     "--yes", *flags, env=_env(machine, **env))


async def _owners(machine: dict[str, Path | str]) -> list[str]:
    """The owners of the local authority setup made."""
    authority = await Authority.open(Path(machine["state"]), NoMailer())
    try:
        return await authority.owners.emails()
    finally:
        await authority.close()


def _preset_token(machine: dict[str, Path | str]) -> str:
    raw = (Path(machine["data"]) / "MQL5" / "Presets" / "MTGateway.set").read_bytes()
    return preset_values(raw)["AuthToken"]


def test_the_terminal_is_found_with_its_install_and_last_account(
        machine: dict[str, Path | str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The data folder under ``%APPDATA%\\MetaQuotes\\Terminal`` (in the Wine prefix here),
    the install folder its UTF-16 ``origin.txt`` names, MetaEditor in it, and the account its
    ``config\\common.ini`` names; a folder without ``origin.txt`` is not a terminal."""
    monkeypatch.setenv("WINEPREFIX", str(machine["prefix"]))
    monkeypatch.setenv("USER", "owner")
    monkeypatch.setenv("HOME", str(Path(machine["prefix"]).parent / "home"))
    (Path(machine["data"]).parent / "Common" / "Files").mkdir(parents=True)
    [terminal] = find_terminals()
    assert terminal.id == TAG and terminal.platform == "MT5"
    assert terminal.metaeditor is not None and terminal.metaeditor.name == "metaeditor64.exe"
    assert (terminal.login, terminal.server) == (LOGIN, SERVER)


def test_the_preset_is_metatraders_format_with_every_input_of_the_ea() -> None:
    """MetaTrader 5's preset: UTF-16LE with its byte-order mark, CRLF, every input the EA's
    source declares, in its order, the token in place of the empty default; a value that
    would end its line is refused."""
    source = (ea_source_dir() / "Experts" / "MTGateway.mq5").read_text(encoding="utf-8")
    inputs = ea_inputs(source)
    assert [i.name for i in inputs][:3] == ["AuthToken", "GatewayHost", "GatewayPort"]
    from datetime import datetime

    raw = preset_bytes(inputs, {"AuthToken": "mtgw_x", "GatewayPort": "9711"}, "MT5",
                       datetime(2026, 1, 2, 3, 4, 5))
    assert raw.startswith(b"\xff\xfe") and b"\r\x00\n\x00" in raw
    values = preset_values(raw)
    assert list(values) == [i.name for i in inputs]
    assert values["AuthToken"] == "mtgw_x" and values["GatewayPort"] == "9711"
    assert "GatewayPort=9711||9711||1||9711||N" in raw.decode("utf-16")
    with pytest.raises(ValueError, match="line break"):
        preset_bytes(inputs, {"AuthToken": "a\r\nTimerMs=1"}, "MT5", datetime.now())
    mt4 = ea_inputs((ea_source_dir().parent / "MQL4" / "Experts" / "MTGateway.mq4")
                    .read_text(encoding="utf-8"))
    assert preset_values(preset_bytes(mt4, {"AuthToken": "t"}, "MT4", datetime.now()))[
        "AuthToken"] == "t"


def test_metaeditors_log_is_read_from_its_result_line(tmp_path: Path) -> None:
    """The counts from the last ``Result`` line, the error lines kept; no log, no counts."""
    log = tmp_path / "x.log"
    log.write_bytes(_utf16("a.mq5(1,2) : error 100: ';' - semicolon expected\n"
                           "Result: 1 errors, 2 warnings, 96 msec elapsed\n"))
    read = read_log(log)
    assert (read.state, read.errors, read.warnings) == ("read", 1, 2)
    assert read.error_lines == ("a.mq5(1,2) : error 100: ';' - semicolon expected",)
    assert read_text(log).startswith("a.mq5")
    assert read_log(tmp_path / "none.log").state == "missing"


async def test_setup_from_flags_then_again_then_undo(machine: dict[str, Path | str]) -> None:
    """From flags: the EA installed and compiled helper first, the token for the account in
    the preset, the check's state file; run again, the live token is kept; ``--undo`` removes
    the EA, the compiled programs and the preset and revokes the token."""
    code, out, err = await _setup(machine, "--login", str(LOGIN), "--server", SERVER,
                                  "--wait", "0")
    assert code == 0, out + err
    assert out.index("compiled Helper.mq5 with metaeditor64.exe: 0 errors, 0 warnings") < \
        out.index("compiled MTGateway.mq5 with metaeditor64.exe: 0 errors, 0 warnings"), out
    mql = Path(machine["data"]) / "MQL5"
    assert (mql / "Experts/MTGateway.ex5").is_file() and (mql / "Experts/MTGateway.mq5").is_file()
    token = _preset_token(machine)
    code, listing, _ = await cli("token", "list", "-c", machine["config"])
    assert f"{LOGIN}@{SERVER}" in listing and "active" in listing, listing
    state = Path(machine["state"])
    assert token in (state / "check.json").read_text(encoding="utf-8")
    assert (state / "check.json").stat().st_mode & 0o077 == 0
    code, out, err = await _setup(machine, "--wait", "0")  # the account from common.ini
    assert code == 0 and ": kept (still live)" in out, out + err
    assert _preset_token(machine) == token
    code, out, err = await cli("setup", "-c", machine["config"], "--undo", "--yes",
                               env=_env(machine))
    assert code == 0 and "revoked" in out, out + err
    assert not (mql / "Experts/MTGateway.mq5").exists()
    assert not (mql / "Experts/MTGateway.ex5").exists()
    assert not (mql / "Include/MTGateway").exists()
    assert not (mql / "Presets/MTGateway.set").exists()
    code, listing, _ = await cli("token", "list", "-c", machine["config"])
    assert "revoked" in listing, listing


@pytest.mark.parametrize(("umask", "metatraders"), [(0o022, False), (0o000, True)],
                         ids=["umask-022-presets-made-by-setup", "umask-000-metatraders-presets"])
async def test_every_file_setup_writes_holding_a_token_is_the_users_alone(
        machine: dict[str, Path | str], umask: int, metatraders: bool) -> None:
    """T8-F4: the preset carries the EA's token (the account's read and trade), as
    ``check.json`` does, and was written with the umask (0644 under 022, 0666 under 000) in a
    ``Presets`` folder setup made 0755. Whatever the umask now: the preset, ``check.json`` and
    ``setup.json`` are 0600 and a ``Presets`` folder setup makes is 0700; MetaTrader's own
    ``Presets`` (0755 here) is left as it is, and a preset an earlier setup left readable is
    replaced by a private one, with no temporary file left beside it."""
    presets = Path(machine["data"]) / "MQL5" / "Presets"
    if metatraders:
        presets.mkdir()
        presets.chmod(0o755)
        (presets / "MTGateway.set").write_bytes(b"AuthToken=mtgw_old\r\n")
        (presets / "MTGateway.set").chmod(0o666)
    code, out, err = await cli("setup", "-c", machine["config"], "--no-service", "--email",
                               OWNER, "--yes", "--login", str(LOGIN), "--server", SERVER,
                               "--wait", "0", env=_env(machine), umask=umask)
    assert code == 0, out + err

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(presets) == (0o755 if metatraders else 0o700), f"{mode(presets):o}"
    state = Path(machine["state"])
    for path in (presets / "MTGateway.set", state / "check.json", state / "setup.json"):
        assert mode(path) == 0o600, f"{path}: {mode(path):o}"
    assert _preset_token(machine).startswith("mtgw_") and _preset_token(machine) != "mtgw_old"
    assert sorted(p.name for p in presets.iterdir()) == ["MTGateway.set"]


async def test_what_is_missing_is_an_error_naming_its_flag(
        machine: dict[str, Path | str]) -> None:
    """Two terminals and nothing to ask: exit 2 naming ``--terminal``; a first owner without
    an e-mail: exit 2 naming ``--email``; nothing was written."""
    second = Path(machine["data"]).parent / ("F" * 32)
    (second / "MQL4" / "Experts").mkdir(parents=True)
    (second / "origin.txt").write_bytes(_utf16("C:\\MT4"))
    code, out, err = await _setup(machine, "--wait", "0")
    assert code == 2 and "pass --terminal ID (or --all)" in err, out + err
    code, out, err = await cli("setup", "-c", machine["config"], "--no-service", "--yes",
                               "--terminal", TAG, env=_env(machine))
    assert code == 2 and "pass --email" in err, out + err
    assert not (Path(machine["data"]) / "MQL5" / "Presets").exists()


async def test_a_failed_compile_shows_the_log_and_fails(machine: dict[str, Path | str]) -> None:
    """MetaEditor's error lines are shown, the EA is not compiled without its helper, and
    setup exits 1 naming the log."""
    code, out, err = await _setup(machine, "--wait", "0", FAIL="1")
    assert code == 1, out + err
    assert "compiled Helper.mq5 with metaeditor64.exe: 1 errors, 0 warnings" in out, out
    assert "error 300: resource file not found" in out and "MTGateway.mq5 with" not in out, out
    assert "the compile failed (log:" in err, err


async def test_setup_waits_for_the_eas_hello_then_checks(machine: dict[str, Path | str]) -> None:
    """Setup waits for the EA: the daemon started, the emulated terminal connecting with the
    preset's token, setup sees its hello and runs the check, which passes."""
    env = _env(machine)
    async with started(Path(machine["config"])) as daemon:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
        setup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "setup", "-c", str(machine["config"]),
            "--no-service", "--email", OWNER, "--yes", "--wait", str(WAIT_S * 3),
            "--check-seconds", "2", env={**base, **env}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        assert setup.stdout is not None
        printed = await read_until(setup.stdout, b"MTGateway.set (the EA's inputs")
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "emulator", "--bridge",
            f"127.0.0.1:{daemon.bridge_port}", "--login", str(LOGIN), "--server", SERVER,
            "--start-time", START, env={**base, **env, "MTGATEWAY_TOKEN": _preset_token(machine)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(WAIT_S * 6):
                rest, _ = await setup.communicate()
        finally:
            emulator.kill()
            await emulator.wait()
    out = (printed + rest).decode()
    assert "the EA said hello; running `mtgateway check`" in out, out
    assert setup.returncode == 0 and " FAIL " not in out, out


@pytest.mark.timeout(180)
async def test_an_unchanged_bot_and_check_find_what_setup_wrote_with_nothing_set(
        machine: dict[str, Path | str], tmp_path: Path) -> None:
    """The review's u5 and u6: setup into the default data directory (a ``HOME`` of the
    test's own, no ``data_dir``), then, with no ``MTGATEWAY_*`` variable and no flag, the client
    finds setup's ``check.json`` there, a bot written for the ``MetaTrader5`` package trades
    unchanged, and ``mtgateway check`` runs on the same file instead of asking for a token."""
    from mtgateway.wire import Endpoint, resolve_endpoint

    home = tmp_path / "home"
    owner = {"HOME": str(home), "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": str(home / ".config")}
    config = tmp_path / "default-data-dir.toml"
    config.write_text(f"[server]\nport = {_free_port()}\n[bridge]\nport = {_free_port()}\n"
                      '[device]\nkey_storage = "file"\n', encoding="utf-8")
    code, out, err = await cli("setup", "-c", config, "--no-service", "--email", OWNER, "--yes",
                               "--login", str(LOGIN), "--server", SERVER, "--wait", "0",
                               env=_env(machine, **owner))
    assert code == 0, out + err
    written = home / ".local" / "share" / "mtgateway" / "check.json"
    assert "Bots: mt5.initialize() with nothing set finds this daemon" in out, out
    assert f"the client reads {written}, yours alone" in out, out
    token = _preset_token(machine)
    http = int(config.read_text(encoding="utf-8").split("port = ")[1].split()[0])
    assert resolve_endpoint(environ={"HOME": str(home)}) == \
        Endpoint(f"http://127.0.0.1:{http}", token)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    async with started(config, env={**base, **owner}) as daemon:
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "emulator", "--bridge",
            f"127.0.0.1:{daemon.bridge_port}", "--login", str(LOGIN), "--server", SERVER,
            "--start-time", START, env={**base, "MTGATEWAY_TOKEN": token},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            bot = await asyncio.create_subprocess_exec(  # initialize() waits for the EA
                sys.executable, str(UNCHANGED_BOT),
                env={**base, **owner}, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            async with asyncio.timeout(WAIT_S * 6):
                traded = (await bot.communicate())[0].decode()
            assert bot.returncode == 0, traded
            assert f"account {LOGIN} on {SERVER}" in traded and "order_send: 10009" in traded
            assert "close: 10009" in traded and "rates: ndarray 1000" in traded, traded
            code, out, err = await cli("check", env=owner)
        finally:
            emulator.kill()
            await emulator.wait()
    assert code == 0, out + err
    assert out.startswith(f"the daemon and the token from {written} (written by `mtgateway "
                          "setup`)"), out
    assert f"{LOGIN} @ {SERVER}" in out and " FAIL " not in out, out


async def _set_up_with_the_console(machine: dict[str, Path | str], console: Console,
                                   tmp_path: Path) -> tuple[dict[str, str], str]:
    """``setup --console URL --console-key KEY`` run whole, the e-mailed code typed when the
    console sends it, in a home of the test's own (where setup writes the config); the
    owner's environment (the console owner's password in it) and what setup printed."""
    home = tmp_path / "home"
    env = {**_env(machine), "MTGATEWAY_OWNER_PASSWORD": PASSWORD, "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".data")}
    base = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    setup = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "setup", "--console", console.url, "--console-key",
        console.pinned().b64, "--email", OWNER, "--terminal", TAG, "--login", str(LOGIN),
        "--server", SERVER, "--no-service", "--wait", "0", "--yes", env={**base, **env},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    assert setup.stdin is not None and setup.stdout is not None
    printed = await read_until(setup.stdout, b"issued")  # the token, before the approval
    try:
        await console.sink.wait_for(1)
    except TimeoutError:
        if setup.returncode is None:
            setup.kill()
        raise AssertionError((printed + await setup.stdout.read()).decode()) from None
    setup.stdin.write(console.sink.code().encode() + b"\n")
    await setup.stdin.drain()
    async with asyncio.timeout(WAIT_S * 3):
        out = (printed + (await setup.communicate())[0]).decode()
    assert setup.returncode == 0, out
    return env, out


async def _tokens_revoked(console: Console) -> list[bool]:
    """Whether each of the account's tokens at the console is revoked."""
    status, body = await console.owner("GET", "/v1/tokens")
    assert status == 200, body
    return [t["revoked_at"] is not None for t in body["tokens"] if t["login"] == LOGIN]


async def test_setup_with_a_hosted_console_pairs_with_the_emailed_code(
        machine: dict[str, Path | str], console: Console, tmp_path: Path) -> None:
    """``--console URL --console-key KEY``: setup writes the daemon's config naming the
    console, issues the token over the owner API, asks the console to approve this machine
    (the console e-mails the owner a code) and completes the approval with the code given to
    it; ``--undo`` revokes the token at the console and removes the config."""
    env, out = await _set_up_with_the_console(machine, console, tmp_path)
    assert "approved with the code" in out, out
    config = tmp_path / "home" / ".config" / "mtgateway" / "config.toml"
    assert 'mode = "remote"' in config.read_text(encoding="utf-8")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    status, body = await console.owner("GET", "/v1/tokens")
    [row] = [t for t in body["tokens"] if t["login"] == LOGIN]
    assert row["revoked_at"] is None and row["token_id"] in out
    code, undone, err = await cli("setup", "--undo", "--yes", env=env)
    assert code == 0 and "revoked" in undone, undone + err
    assert await _tokens_revoked(console) == [True]
    assert not config.exists()


async def test_undo_keeps_a_terminal_until_its_token_is_revoked(
        machine: dict[str, Path | str], console: Console, tmp_path: Path) -> None:
    """T8-F5: ``--undo`` with no password to give the console (a run with nothing to ask),
    then with a mistyped one (the console refuses it), removed the terminal from the record
    while its token stayed live, so the next ``--undo`` said "nothing to undo". Now each of
    those runs says the token is still live and exits 1, and keeps the terminal as it is (the
    EA, its preset, the record), the config that pins the console and ``check.json``; the
    run with the password revokes the token and takes everything out."""
    env, out = await _set_up_with_the_console(machine, console, tmp_path)
    state = tmp_path / "home" / ".data" / "mtgateway"
    config = tmp_path / "home" / ".config" / "mtgateway" / "config.toml"
    preset = Path(machine["data"]) / "MQL5" / "Presets" / "MTGateway.set"
    ea = Path(machine["data"]) / "MQL5" / "Experts" / "MTGateway.mq5"
    token_id = re.search(r"token (tok_\w+) for", out)
    assert token_id is not None, out
    no_password = {k: v for k, v in env.items() if k != "MTGATEWAY_OWNER_PASSWORD"}
    for given, why in ((no_password, "set MTGATEWAY_OWNER_PASSWORD"),
                       ({**env, "MTGATEWAY_OWNER_PASSWORD": "not the password"}, "")):
        code, said, err = await cli("setup", "--undo", "--yes", env=given)
        assert code == 1, said + err
        assert f"error: token {token_id.group(1)} not revoked: {why}" in said, said
        assert "kept as it is" in said and "nothing to undo" not in said, said
        assert "still live" in err and "run `mtgateway setup --undo` again" in err, err
        assert "not the password" not in said + err
        assert await _tokens_revoked(console) == [False]
        assert preset.is_file() and ea.is_file() and config.is_file(), said
        assert token_id.group(1) in (state / "setup.json").read_text(encoding="utf-8")
        assert (state / "check.json").is_file()
    code, said, err = await cli("setup", "--undo", "--yes", env=env)
    assert code == 0, said + err
    assert f"token {token_id.group(1)}: revoked" in said, said
    assert await _tokens_revoked(console) == [True]
    assert not preset.exists() and not ea.exists() and not config.exists()
    assert not (state / "setup.json").exists() and not (state / "check.json").exists()
    code, said, err = await cli("setup", "--undo", "--yes", env=env)
    assert code == 0 and "nothing to undo" in said, said + err


async def test_a_console_failing_the_key_proof_leaves_no_config_behind(
        machine: dict[str, Path | str], tmp_path: Path) -> None:
    """N2: ``--console`` against a process on the console's port that cannot prove the
    pinned key (any local process may take a port): setup ended (exit 2) with the config
    naming it written, and nothing recorded it for ``--undo``. Now the config is written
    only after the proof: none is left, no record either, and the password never reached the
    process."""
    heard: list[bytes] = []

    async def squatter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heard.append(await reader.readuntil(b"\r\n\r\n"))
            body = b'{"kid": "x", "signature": "AAAA"}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(squatter, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    home = tmp_path / "home"
    env = {**_env(machine), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".data")}
    key = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    try:
        code, out, err = await cli(
            "setup", "--console", f"http://127.0.0.1:{port}", "--console-key", key.decode(),
            "--email", OWNER, "--login", str(LOGIN), "--server", SERVER, "--no-service",
            "--wait", "0", "--yes", env=env)
    finally:
        server.close()
        await server.wait_closed()
    assert code == 2 and "did not prove it holds the pinned authority key" in err, out + err
    assert not (home / ".config" / "mtgateway" / "config.toml").exists(), out
    assert not (home / ".data" / "mtgateway" / "setup.json").exists()
    assert heard and not any(b"Authorization" in h for h in heard), heard


class _Typed:
    """``mtgateway setup`` with a real pseudo-terminal as its standard input, output and
    error, as an owner's window is: ``isatty()`` is true, so setup asks, and the passwords
    are read with echo off (``getpass``, which falls back to standard input when the process
    has no controlling terminal: a session of its own keeps it off the test runner's)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        assert sys.platform != "win32"
        self.master, slave = os.openpty()
        base = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *argv], env={**base, **env}, stdin=slave,
            stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.seen = ""
        #: Where the last :meth:`until` matched: the next looks after it only.
        self.read_to = 0

    def until(self, pattern: str) -> str:
        """What it printed since the last call up to and including ``pattern`` (a regular
        expression), waiting on the terminal's output; an assertion with all it printed if
        it ends or goes quiet. (Type only once the prompt is out: ``getpass`` flushes what
        was typed before it turned echo off.)"""
        deadline = time.monotonic() + WAIT_S * 3
        while (found := re.compile(pattern).search(self.seen, self.read_to)) is None:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            assert ready, f"no {pattern!r} in {WAIT_S * 3:g} s:\n{self.seen}"
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the child closed the terminal (it ended)
                chunk = b""
            assert chunk, f"ended without {pattern!r}:\n{self.seen}"
            self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        start, self.read_to = self.read_to, found.end()
        return self.seen[start:found.end()]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self) -> tuple[int, str]:
        """Its exit code and everything it printed, once it ended."""
        while True:
            ready, _, _ = select.select([self.master], [], [], WAIT_S * 3)
            assert ready, self.seen
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        code = self.proc.wait(WAIT_S)
        os.close(self.master)
        return code, self.seen

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_setup_in_a_terminal_says_what_it_found_asks_again_and_names_the_console(
        machine: dict[str, Path | str], tmp_path: Path) -> None:
    """An owner at a terminal window, answering as the review's walk did (Enter, Enter, the
    e-mail, a 6-character password): setup first says what it found, by its install folder
    and last account, then asks "Which account is it logged into?" (it named the terminal by
    8 hex digits and said what it found after every question); the short password, and a
    repeat that differs, are refused on the spot and asked again (setup ended, exit 2,
    after four answers); and its last line says where the console is and how to sign in (it
    never said)."""
    config = Path(machine["config"])
    config.write_text(config.read_text(encoding="utf-8") + "[console]\nport = 18720\n",
                      encoding="utf-8")
    env = {"WINEPREFIX": str(machine["prefix"]), "USER": "owner"}
    typed = _Typed(["setup", "-c", str(machine["config"]), "--no-service", "--wait", "0"], env)
    try:
        before = typed.until(r"Which account is it logged into\? \[5012345\] ")
        install = tmp_path / "MetaTrader 5"
        assert f"Found MetaTrader 5 in {install} (last account {LOGIN} @ {SERVER})" in before
        assert TAG[:8] not in before, before
        typed.type("")
        typed.until(r"Its trade server, as the terminal names it \[MTG-Demo\]: ")
        typed.type("")
        typed.until(r"Your e-mail \(the owner of this machine's tokens\): ")
        typed.type(OWNER)
        typed.until(r"A password for owner@example\.com [^\n]*: ")
        typed.type("short1")
        typed.until(r"at least 8 characters; choose another\n"
                    r"A password for owner@example\.com [^\n]*: ")
        typed.type("a long password")
        typed.until(r"Repeat it: ")
        typed.type("a long passwort")
        typed.until(r"the two differ; once more\nA password for owner@example\.com [^\n]*: ")
        typed.type("a long password")
        typed.until(r"Repeat it: ")
        typed.type("a long password")
        code, out = typed.finish()
    finally:
        typed.kill()
    assert code == 0, out
    assert "short1" not in out and "a long pass" not in out, out  # no echo
    assert "installed the EA" in out and "issued" in out, out
    # the console of this authority: mtgateway-console with the config setup ran with (it
    # would not find it alone), at the [console] port there, signed in with the password
    last = out.rstrip().splitlines()[-1]
    assert last == (f'your console: run `mtgateway-console -c "{config}"`, then '
                    "http://127.0.0.1:18720/ with the password you chose"), last


async def test_the_docs_script_with_another_email_names_the_owner_and_makes_nothing(
        machine: dict[str, Path | str]) -> None:
    """docs/windows.md's script line on a machine set up before with another e-mail: setup
    says whose the terminal's tokens are and which flag to pass, before it installs, compiles
    or makes anything (it installed and compiled, then failed "belongs to another owner"
    with the authority's WARNING log line in the owner's window, and left a second owner, so
    a later ``--yes`` said "several owners"); with that e-mail, or none when the terminal's
    owner is the only one or the one holding it among several, it goes on and keeps the
    token; a short password from the environment still ends it (nothing to ask)."""
    code, out, err = await _setup(machine, "--wait", "0")
    assert code == 0, out + err
    token = _preset_token(machine)
    source = Path(machine["data"]) / "MQL5" / "Experts" / "MTGateway.mq5"
    source.unlink()
    code, out, err = await cli(
        "setup", "-c", machine["config"], "--no-service", "--terminal", TAG, "--login",
        str(LOGIN), "--server", SERVER, "--email", "you@example.com", "--yes", "--wait", "0",
        env=_env(machine, MTGATEWAY_OWNER_PASSWORD="choose-a-long-one"))
    assert code == 2, out + err
    assert (f"error: terminal {LOGIN}@{SERVER}'s tokens belong to {OWNER}: pass --email "
            f"{OWNER}") in err, err
    assert "WARNING" not in out + err and "installed" not in out, out + err
    assert not source.exists()
    assert await _owners(machine) == [OWNER]
    code, out, err = await cli("setup", "-c", machine["config"], "--no-service", "--yes",
                               "--wait", "0", env=_env(machine))  # one owner: no --email
    assert code == 0 and ": kept (still live)" in out, out + err
    assert _preset_token(machine) == token
    code, out, err = await cli("owner", "create", "-c", machine["config"], "--email",
                               "second@example.com", env=_env(machine))
    assert code == 0, out + err
    code, out, err = await cli("setup", "-c", machine["config"], "--no-service", "--yes",
                               "--wait", "0", env=_env(machine))  # several: the terminal's
    assert code == 0 and ": kept (still live)" in out, out + err
    second = Path(machine["data"]).parent / ("E" * 32)
    (second / "MQL5" / "Experts").mkdir(parents=True)
    (second / "origin.txt").write_bytes(_utf16("C:\\MT5b"))
    code, out, err = await cli(
        "setup", "-c", machine["config"], "--no-service", "--terminal", "E" * 32, "--login",
        "7", "--server", SERVER, "--email", "new@example.com", "--yes", "--wait", "0",
        env=_env(machine, MTGATEWAY_OWNER_PASSWORD="short"))
    assert code == 2 and "the password must have at least 8 characters" in err, out + err
    assert "MTGATEWAY_OWNER_PASSWORD" in err and "installed" not in out, out + err
