"""Issue 16 F9: a config file others could change (or read, while it holds a secret) is
refused by every command, with one line naming the file and the fix (real processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import CONFIG_ENV, load_config
from gateway.errors import ConfigError
from mtgateway_console.config import load_console_config
from mtgateway_console.errors import ConsoleConfigError
from tests.e2e.commands import cli, console_cli

pytestmark = pytest.mark.not_on_windows("posix-modes")


def _config(folder: Path, text: str = "", mode: int = 0o600) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(f'data_dir = "{(folder / "data").as_posix()}"\n'
                    '[server]\nport = 0\n[bridge]\nport = 0\n[console]\nport = 0\n' + text,
                    encoding="utf-8")
    path.chmod(mode)
    return path


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("command", [("run",), ("mtgateway-console",), ("token", "list"),
                                     ("device", "status"), ("audit",)])
async def test_a_config_others_can_write_is_refused_by_every_command(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    """A group/world-writable config (mode 666) stops the command before it acts, naming the
    file and `chmod go-w`; mode 644 is accepted."""
    config = _config(tmp_path / "cfg", mode=0o666)
    if command == ("mtgateway-console",):
        code, out, err = await console_cli("-c", config)
    else:
        code, out, err = await cli(*command, "-c", config)
    _one_line_error(code, err, str(config), "chmod go-w", "666")
    assert not (tmp_path / "cfg" / "data").exists()  # nothing was created


def test_a_readable_config_without_secrets_is_fine_and_one_with_a_password_is_not(
        tmp_path: Path) -> None:
    """0644 is fine for a config without secrets; with `[smtp] password` only 0600 is."""
    plain = _config(tmp_path / "a", mode=0o644)
    assert load_config(plain).server.port == 0
    secret = _config(tmp_path / "b", '[smtp]\npassword = "hunter2-smtp"\n', mode=0o644)
    with pytest.raises(ConfigError, match="holds \\[smtp\\] password") as info:
        load_config(secret)
    assert "chmod 600" in str(info.value) and "hunter2" not in str(info.value)
    secret.chmod(0o600)
    assert load_console_config(secret).smtp.password.get_secret_value() == "hunter2-smtp"


async def test_the_console_refuses_its_password_config_readable_by_others(
        tmp_path: Path) -> None:
    """`mtgateway-console` with a 0644 config holding the SMTP password exits 2 at once."""
    config = _config(tmp_path / "cfg", '[smtp]\npassword = "hunter2-smtp"\n', mode=0o644)
    code, out, err = await console_cli("-c", config)
    _one_line_error(code, err, str(config), "chmod 600")
    assert "hunter2" not in out + err


async def test_a_config_in_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    """The per-user default config in a 0777 folder is refused (anyone could replace it),
    also when found through $MTGATEWAY_CONFIG; a sticky folder such as /tmp is fine."""
    folder = tmp_path / "xdg" / "mtgateway"
    config = _config(folder)
    folder.chmod(0o777)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    code, out, err = await cli("device", "status", env=env)
    _one_line_error(code, err, str(folder), "chmod go-w")
    code, out, err = await cli("device", "status", env={**env, CONFIG_ENV: str(config)})
    _one_line_error(code, err, str(folder))
    folder.chmod(0o1777)
    assert load_config(config).server.port == 0
    folder.chmod(0o700)
    code, out, err = await cli("device", "status", env=env)
    assert code == 0, err


@pytest.mark.parametrize("url", [
    "postgresql://mtgw:S3cret-db@127.0.0.1:5432/mtgw",
    "postgresql://mtgw@127.0.0.1:5432/mtgw?password=S3cret-db",
    "postgresql://mtgw:S3cret@db@127.0.0.1:5432/mtgw",
])
def test_a_database_url_with_a_password_is_a_secret_like_the_smtp_password(
        tmp_path: Path, url: str) -> None:
    """Round-4 T4-F3: `[authority] database_url` carrying a password (`user:password@` or a
    `password=` parameter) makes the file readable by its owner alone, as `[smtp] password`
    does; the message names the key, never the password. A URL without one stays fine at
    0644."""
    folder = tmp_path / "cfg"
    secret = _config(folder, f'[authority]\ndatabase_url = "{url}"\n', mode=0o644)
    with pytest.raises(ConfigError, match="holds \\[authority\\] database_url") as info:
        load_config(secret)
    assert "chmod 600" in str(info.value) and "S3cret" not in str(info.value)
    secret.chmod(0o640)  # group read is as bad as world read
    with pytest.raises(ConfigError, match="mode 640"):
        load_config(secret)
    secret.chmod(0o600)
    assert load_config(secret).authority.database_url.get_secret_value() == url
    plain = _config(tmp_path / "plain", '[authority]\ndatabase_url = '
                    '"postgresql://mtgw@127.0.0.1:5432/mtgw?sslmode=require"\n', mode=0o644)
    assert load_config(plain).authority.database_url.get_secret_value().endswith("require")
    both = _config(tmp_path / "both", f'[authority]\ndatabase_url = "{url}"\n'
                   '[smtp]\npassword = "hunter2-smtp"\n', mode=0o644)
    with pytest.raises(ConfigError, match="holds \\[smtp\\] password and \\[authority\\] "
                                          "database_url with a password"):
        load_config(both)


async def test_the_console_refuses_a_readable_database_password_before_connecting(
        tmp_path: Path) -> None:
    """The review's reproduction: `mtgateway-console` (and `console migrate`) with a 0644
    config naming `postgresql://mtgw:S3cret@127.0.0.1:<port>/mtgw` exits 2 with one line and
    never connects to `<port>` (a listener there sees no connection)."""
    connections = 0

    def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = _config(tmp_path / "cfg", '[authority]\ndatabase_url = '
                         f'"postgresql://mtgw:S3cret@127.0.0.1:{port}/mtgw"\n', mode=0o644)
        for command in ((), ("migrate",)):
            code, out, err = await console_cli(*command, "-c", config)
            _one_line_error(code, err, str(config), "[authority] database_url", "chmod 600")
            assert "S3cret" not in out + err
        assert connections == 0
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("section", ["server", "console"])
def test_a_metrics_token_is_a_secret_and_must_be_long(tmp_path: Path, section: str) -> None:
    """A `metrics_token` (round-4 T4-F9) makes the file owner-only like a password, and a
    short one (or one with blanks) is refused naming the key."""
    token = "a-random-metrics-token-24"
    folder = tmp_path / "cfg"
    config = _config(folder, mode=0o644)
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"[{section}]\n", f'[{section}]\nmetrics_token = "{token}"\n'), encoding="utf-8")
    load = load_config if section == "server" else load_console_config
    refused = ConfigError if section == "server" else ConsoleConfigError
    with pytest.raises(refused, match=f"holds \\[{section}\\] metrics_token") as info:
        load(config)
    assert token not in str(info.value)
    with pytest.raises((ConfigError, ConsoleConfigError), match="metrics_token"):
        (load_console_config if section == "server" else load_config)(config)  # either reader
    config.chmod(0o600)
    loaded = load(config)
    assert getattr(loaded, section).metrics_token.get_secret_value() == token
    for bad in ("too-short", "has a blank in it here"):
        config.write_text(config.read_text(encoding="utf-8").replace(token, bad), encoding="utf-8")
        with pytest.raises(refused, match="metrics_token: .*at least 16 characters"):
            load(config)
        config.write_text(config.read_text(encoding="utf-8").replace(bad, token), encoding="utf-8")
