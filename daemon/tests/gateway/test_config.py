"""Configuration: the example file documents exactly the defaults, and bad input fails loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.config import GatewayConfig, load_config
from gateway.errors import ConfigError
from mtgateway_console.config import ConsoleFile, load_console_config
from mtgateway_console.errors import ConsoleConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_config_loads_and_equals_the_defaults() -> None:
    """config.example.toml is valid for both services and every value in it is the default:
    the daemon's sections for the daemon, the console's for the console."""
    assert load_config(EXAMPLE) == GatewayConfig()
    assert load_console_config(EXAMPLE) == ConsoleFile()


def test_example_config_documents_every_key() -> None:
    """Each config key of either service appears in the example, under its section, with a
    comment above it."""
    text = EXAMPLE.read_text(encoding="utf-8")
    section = ""
    seen = set()
    for line in text.splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1) + "."
        elif m := re.match(r"^(\w+) = ", line):
            seen.add(section + m.group(1))
    assert seen == _keys(GatewayConfig) | _keys(ConsoleFile)
    assert text.count("\n#") >= len(seen) // 2


def test_no_file_means_defaults() -> None:
    """Without a file the daemon runs on loopback with the documented ports."""
    config = load_config(None)
    assert (config.server.host, config.server.port, config.bridge.port) == ("127.0.0.1", 8710,
                                                                             8711)


@pytest.mark.parametrize("toml, fragment", [
    ("[server]\nprot = 1\n", "server.prot: unknown key (did you mean port?)"),
    # m17 (review round 4): a mistyped key gets the closest known key of its section.
    ("dat_dir = \"x\"\n", "dat_dir: unknown key (did you mean data_dir?)"),
    ("[zzz]\nq = 1\n", "zzz: unknown key"),
    ("[server]\nport = \"8710\"\n", "server.port"),
    ("[server]\nport = 70000\n", "server.port"),
    ("[bridge]\nheartbeat_interval_s = 20.0\n", "heartbeat_interval_s must be below"),
    ("[server]\nrequest_timeout_s = nan\n", "server.request_timeout_s"),
    ("[server]\nmax_body_bytes = 1\n", "server.max_body_bytes"),
    ("[logging]\nlevel = \"LOUD\"\n", "logging.level"),
    ("colour = \"blue\"\n", "colour"),
    ("[server\n", "not valid TOML"),
])
def test_bad_config_names_the_key(tmp_path: Path, toml: str, fragment: str) -> None:
    """Each mistake fails with an error that names the file and the key."""
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("toml, fragment", [
    ("[smtp]\nhots = \"mail\"\n", "smtp.hots: unknown key (did you mean host?)"),
    ("[console]\nprot = 1\n", "console.prot: unknown key (did you mean port?)"),
    ("[consol]\nport = 1\n", "consol: unknown key (did you mean console?)"),
    ("[authority]\ndatabase_ur = \"x\"\n", "did you mean database_url?"),
])
def test_the_console_names_its_bad_keys_and_the_daemon_sets_its_sections_aside(
        tmp_path: Path, toml: str, fragment: str) -> None:
    """The console's loader names a mistake in what it reads, as the daemon's does; the
    daemon sets the console's sections aside unread (a shared [authority] it reads too)."""
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConsoleConfigError) as info:
        load_console_config(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    if toml.startswith(("[smtp]", "[console]")):
        assert load_config(path) == GatewayConfig()
    else:
        with pytest.raises(ConfigError):
            load_config(path)


def test_the_console_sets_the_daemons_sections_aside(tmp_path: Path) -> None:
    """A file of both services: the console reads its own and the shared sections, and a
    mistake in the daemon's is the daemon's to name."""
    path = tmp_path / "both.toml"
    path.write_text('data_dir = "d"\n[server]\nprot = 1\n[console]\nport = 9\n',
                    encoding="utf-8")
    config = load_console_config(path)
    assert (config.data_dir, config.console.port) == ("d", 9)
    with pytest.raises(ConfigError, match="server.prot"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist is reported, not ignored."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_config_is_frozen() -> None:
    """A loaded config cannot be changed behind the daemon's back."""
    config = GatewayConfig()
    with pytest.raises(ValueError):
        config.server.port = 1  # type: ignore[misc]


_KEY = "A" * 43 + "="


@pytest.mark.parametrize("url", ["http://console.example.com:8720", "http://10.0.0.5:8720",
                                 "http://[2001:db8::1]:8720", "ftp://127.0.0.1",
                                 "127.0.0.1:8720"])
def test_a_remote_console_needs_https_unless_it_is_on_this_machine(tmp_path: Path,
                                                                   url: str) -> None:
    """A console URL that is plain http to another host (or not http at all) is a config
    error naming the key and the host, not the whole URL."""
    path = tmp_path / "remote.toml"
    path.write_text(f'[authority]\nmode = "remote"\nurl = "{url}"\npublic_key = "{_KEY}"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="authority") as info:
        load_config(path)
    assert "https" in str(info.value) or "http(s)://" in str(info.value)


@pytest.mark.parametrize("url", ["https://console.example.com", "http://127.0.0.1:8720",
                                 "http://localhost:8720", "http://[::1]:8720",
                                 "https://10.0.0.5:8720/base"])
def test_https_or_loopback_console_urls_are_accepted(tmp_path: Path, url: str) -> None:
    """https anywhere, and plain http to 127.0.0.1, ::1 or localhost, are accepted."""
    path = tmp_path / "remote.toml"
    path.write_text(f'[authority]\nmode = "remote"\nurl = "{url}"\npublic_key = "{_KEY}"\n',
                    encoding="utf-8")
    assert load_config(path).authority.url == url
