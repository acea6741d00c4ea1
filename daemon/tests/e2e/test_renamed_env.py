"""The ``MTGW_*`` environment variables renamed to ``MTGATEWAY_*`` (release 0.1.0) keep working
for a release: read with a WARNING line naming the new name, the new name winning when both are
set (round-4 review, "Renamed environment variables"). Real processes, real SQLite files."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from mtgateway_base.environment import RENAMED, read_env
from mtgateway_console.mailer import NoMailer
from mtgateway_console.service import Authority
from tests.e2e.fixtures import LOGIN, TERMINAL, WAIT_S, Daemon

OWNER = "owner@example.com"


def _config(tmp_path: Path, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', encoding="utf-8")
    path.chmod(0o600)
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any of the names, old or new, plus ``extra``."""
    names = set(RENAMED) | set(RENAMED.values())
    return {**{k: v for k, v in os.environ.items() if k not in names}, **extra}


async def _run(*args: str | Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *map(str, args), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if " WARNING " in line]


async def test_owner_create_reads_the_old_password_variable_and_warns(tmp_path: Path) -> None:
    """`MTGW_OWNER_PASSWORD=… mtgateway owner create` creates the owner with that password (it
    exited 2, "no password", before) and leaves one WARNING line naming the new variable, and
    never the password."""
    config = _config(tmp_path)
    code, out, err = await _run("owner", "create", "-c", config, "--email", OWNER,
                                env=_clean_env(MTGW_OWNER_PASSWORD="an old-style password"))
    assert code == 0, err
    [line] = _warning_lines(err)
    assert "MTGW_OWNER_PASSWORD is deprecated" in line and "MTGATEWAY_OWNER_PASSWORD" in line
    assert "an old-style password" not in out + err
    authority = await Authority.open(tmp_path / "data", NoMailer())
    assert await authority.owners.check(OWNER, "an old-style password")


async def test_the_new_name_wins_when_both_are_set(tmp_path: Path) -> None:
    """Both set: the MTGATEWAY_ value is used and the old one reported as ignored."""
    config = _config(tmp_path)
    code, out, err = await _run(
        "owner", "create", "-c", config, "--email", OWNER,
        env=_clean_env(MTGW_OWNER_PASSWORD="the old password",
                       MTGATEWAY_OWNER_PASSWORD="the new password"))
    assert code == 0, err
    [line] = _warning_lines(err)
    assert "MTGW_OWNER_PASSWORD is set and ignored" in line
    authority = await Authority.open(tmp_path / "data", NoMailer())
    assert await authority.owners.check(OWNER, "the new password")
    assert not await authority.owners.check(OWNER, "the old password")


async def test_the_old_config_and_email_variables_are_read(tmp_path: Path) -> None:
    """`MTGW_CONFIG` finds the config and `MTGW_OWNER_EMAIL` names the owner: `token create`
    then `token list` act on that data directory, each old name warned about once."""
    config = _config(tmp_path)
    env = _clean_env(MTGATEWAY_OWNER_PASSWORD="a long password")
    assert (await _run("owner", "create", "-c", config, "--email", OWNER, env=env))[0] == 0
    old = _clean_env(MTGW_CONFIG=str(config), MTGW_OWNER_EMAIL=OWNER)
    code, out, err = await _run("token", "create", "--login", "5012345", "--server",
                                "MTG-Demo", env=old)
    assert code == 0 and "mtgw_" in out, err
    warned = _warning_lines(err)
    assert len(warned) == 2, err
    assert any("MTGW_CONFIG is deprecated" in line and "MTGATEWAY_CONFIG" in line
               for line in warned)
    assert any("MTGW_OWNER_EMAIL is deprecated" in line for line in warned)
    code, out, err = await _run("token", "list", env=old)
    assert code == 0 and "5012345" in out, err
    # Both set: the new config wins (the old one names a file that does not exist).
    code, out, err = await _run("device", "status", env=_clean_env(
        MTGW_CONFIG=str(tmp_path / "missing.toml"), MTGATEWAY_CONFIG=str(config)))
    assert code == 0 and str(config) in out, err
    assert "MTGW_CONFIG is set and ignored" in err


async def test_the_emulator_reads_the_old_token_variable(daemon: Daemon) -> None:
    """`MTGW_TOKEN=… mtgateway emulator` connects with that token, with the warning."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "emulator", "--bridge",
        f"127.0.0.1:{daemon.bridge.port}", "--login", str(LOGIN), "--server", TERMINAL.server,
        "--symbols", "EURUSD", env=_clean_env(MTGW_TOKEN=daemon.token),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), WAIT_S)
        assert b"WARNING" in line and b"MTGW_TOKEN is deprecated" in line, line
        assert b"MTGATEWAY_TOKEN" in line and daemon.token.encode() not in line
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.parametrize(("environ", "value"), [
    ({}, None),
    ({"MTGW_TOKEN": "old"}, "old"),
    ({"MTGATEWAY_TOKEN": "new"}, "new"),
    ({"MTGATEWAY_TOKEN": "new", "MTGW_TOKEN": "old"}, "new"),
    ({"MTGATEWAY_TOKEN": "", "MTGW_TOKEN": "old"}, ""),  # set-but-empty is a value
])
def test_read_env_prefers_the_new_name(environ: dict[str, str], value: str | None) -> None:
    """The one door every command reads through: new name, else the old one, else None."""
    assert read_env("MTGATEWAY_TOKEN", environ) == value
