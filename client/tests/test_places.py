"""Told nothing, the client finds the daemon ``mtgateway setup`` made for this user (the review's
u5: an unchanged ``import MetaTrader5`` bot answered "no token" on the installer's Python until
``MTGATEWAY_STATE_FILE`` was set).

``check.json`` is written here by setup's own writer (``gateway.setup.record.write_private``)
into a temporary ``HOME`` / ``XDG_DATA_HOME`` or ``LOCALAPPDATA``, and the client is given that
environment (and, for Windows' place, the platform) instead of this process's: the order of
places in docs/client.md, a file others can read refused, and the daemon's default data
directory the same rule as the client's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from gateway.setup.record import write_private
from mtgateway import constants
from mtgateway.errors import LastError
from mtgateway.places import CHECK_FILE, default_data_dir, setup_check_file, user_data_dir
from mtgateway.wire import Endpoint, resolve_endpoint

TOKEN = "mtgw_" + "s" * 38
URL = "http://127.0.0.1:18730/rpc"


def _setup_wrote(folder: Path, token: str = TOKEN, url: str = URL) -> Path:
    """``check.json`` as setup writes it (its writer, its content) into ``folder``."""
    path = folder / CHECK_FILE
    write_private(path, json.dumps({"rpc_url": url, "token": token}).encode("utf-8"))
    return path


def test_the_places_of_each_platform(tmp_path: Path) -> None:
    """Windows: ``%LOCALAPPDATA%\\mtgateway``, else ``%USERPROFILE%\\AppData\\Local``'s;
    elsewhere ``$XDG_DATA_HOME/mtgateway``, else ``~/.local/share/mtgateway``; an injected
    environment naming neither has no place (never this account's own home)."""
    home = tmp_path / "home"
    assert setup_check_file({"LOCALAPPDATA": str(home / "L")}, "win32") == \
        home / "L" / "mtgateway" / "check.json"
    assert user_data_dir({"USERPROFILE": str(home)}, "win32") == \
        home / "AppData" / "Local" / "mtgateway"
    assert user_data_dir({"XDG_DATA_HOME": str(home / "d"), "HOME": str(home)}, "linux") == \
        home / "d" / "mtgateway"
    assert user_data_dir({"HOME": str(home)}, "darwin") == home / ".local/share/mtgateway"
    assert user_data_dir({}, "linux") is None and user_data_dir({}, "win32") is None
    assert user_data_dir({"HOME": str(home)}, "win32") is None  # Windows' home is USERPROFILE


def test_the_daemons_data_directory_is_where_the_client_looks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One rule: the daemon's ``data_dir`` default (where setup writes) is the folder the
    client reads ``check.json`` from, for this process's environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert GatewayConfig().resolved_data_dir() == default_data_dir()
    assert setup_check_file() == default_data_dir() / CHECK_FILE
    assert default_data_dir().parent in (tmp_path / "xdg", tmp_path / "local")


@pytest.mark.parametrize(("platform", "variable"), [("linux", "HOME"),
                                                    ("win32", "LOCALAPPDATA")])
def test_told_nothing_the_client_reads_what_setup_wrote_for_this_user(
        tmp_path: Path, platform: str, variable: str) -> None:
    """No argument, no variable, no file named: the client reads setup's ``check.json``
    from this user's data directory (its address and token)."""
    env = {variable: str(tmp_path)}
    folder = user_data_dir(env, platform)
    assert folder is not None
    _setup_wrote(folder)
    assert resolve_endpoint(environ=env, platform=platform) == \
        Endpoint("http://127.0.0.1:18730", TOKEN)


def test_what_is_named_comes_before_setups_file(tmp_path: Path) -> None:
    """An argument, a variable or a named state file wins over setup's file, which is not
    read then; a URL given alone is used with setup's token."""
    env = {"HOME": str(tmp_path)}
    folder = user_data_dir(env, "linux")
    assert folder is not None
    _setup_wrote(folder)
    named = tmp_path / "demo.json"
    named.write_text(json.dumps({"rpc_url": "http://127.0.0.1:9001", "token": "from-demo"}),
                     encoding="utf-8")
    assert resolve_endpoint(token="from-arg", environ=env, platform="linux") == \
        Endpoint("http://127.0.0.1:8710", "from-arg")
    assert resolve_endpoint(environ={**env, "MTGATEWAY_TOKEN": "from-env"},
                            platform="linux") == Endpoint("http://127.0.0.1:8710", "from-env")
    assert resolve_endpoint(environ={**env, "MTGATEWAY_STATE_FILE": str(named)},
                            platform="linux") == Endpoint("http://127.0.0.1:9001", "from-demo")
    assert resolve_endpoint(url="http://127.0.0.1:9002", environ=env, platform="linux") == \
        Endpoint("http://127.0.0.1:9002", TOKEN)


@pytest.mark.not_on_windows("posix-modes")
def test_a_file_others_can_read_is_refused_by_name(tmp_path: Path) -> None:
    """Setup's file made readable by others (or its group), or a symbolic link to it: not
    read, the answer names the file and the fix, never the token."""
    env = {"HOME": str(tmp_path)}
    folder = user_data_dir(env, "linux")
    assert folder is not None
    path = _setup_wrote(folder)
    for mode in (0o644, 0o640):
        path.chmod(mode)
        error = resolve_endpoint(environ=env, platform="linux")
        assert isinstance(error, LastError) and error.code == constants.RES_E_AUTH_FAILED
        assert str(path) in error.description and "can be read by others" in error.description
        assert f"chmod 600 {path}" in error.description and TOKEN not in error.description
    path.chmod(0o600)
    elsewhere = _setup_wrote(tmp_path)
    path.unlink()
    path.symlink_to(elsewhere)
    error = resolve_endpoint(environ=env, platform="linux")
    assert isinstance(error, LastError) and "symbolic link" in error.description


def test_without_setups_file_the_answer_says_where_setup_writes_it(tmp_path: Path) -> None:
    """Nothing named and no file: ``(-6, 'no token: ...')`` naming every way, setup's file by
    its path; a damaged file is named too."""
    env = {"LOCALAPPDATA": str(tmp_path)}
    error = resolve_endpoint(environ=env, platform="win32")
    assert isinstance(error, LastError) and error.code == constants.RES_E_AUTH_FAILED
    where = tmp_path / "mtgateway" / "check.json"
    assert error.description == (
        "no token: pass initialize(token=...), or set MTGATEWAY_TOKEN or MTGATEWAY_STATE_FILE, "
        f"or run `mtgateway setup`, which writes {where}")
    where.parent.mkdir()
    where.write_text("[]", encoding="utf-8")
    where.chmod(0o600)
    damaged = resolve_endpoint(environ=env, platform="win32")
    assert isinstance(damaged, LastError)
    assert damaged.code == constants.RES_E_INTERNAL_FAIL_INIT and str(where) in damaged[1]
