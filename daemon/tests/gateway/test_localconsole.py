"""The one check that the console is installed (``gateway/localconsole.py``), and each command
that composes the console into the daemon's process asking it: with the console hidden, every
one ends saying what to install, before anything of the console is imported."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.config import load_config
from gateway.errors import ConsoleMissing
from gateway.localconsole import CONSOLE_PACKAGE, console_installed, require_console
from gateway.manage import run_command
from gateway.setup.pairing import LocalPairing

ROOT = Path(__file__).resolve().parents[3]
#: ``mtgateway ARGS`` in a process of its own whose console is hidden, as where the daemon is
#: installed alone (its package imports as not found).
WITHOUT_CONSOLE = (f"import sys; sys.modules[{CONSOLE_PACKAGE!r}] = None; "
                   "from gateway.cli import main; sys.exit(main(sys.argv[1:]))")
NEEDS = "needs the console (mtgateway-console), which is not installed"


@pytest.fixture
def no_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console hidden from this process for the test."""
    monkeypatch.setitem(sys.modules, CONSOLE_PACKAGE, None)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A daemon's config in local mode (the default), its data in ``tmp_path``."""
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n[server]\nport = 0\n'
                    '[bridge]\nport = 0\n', encoding="utf-8")
    return path


def test_the_console_is_installed_here() -> None:
    """The development environment installs the console beside the daemon: the check says
    so, the package imports, and a command asking goes on."""
    assert console_installed()
    assert importlib.import_module(CONSOLE_PACKAGE).__name__ == CONSOLE_PACKAGE
    require_console("mtgateway demo")


@pytest.mark.usefixtures("no_console")
def test_a_hidden_console_is_not_installed_and_the_import_agrees() -> None:
    """Without the console the check says so, as its import does, and a command asking ends
    with ConsoleMissing naming the command."""
    assert not console_installed()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(CONSOLE_PACKAGE)
    with pytest.raises(ConsoleMissing, match="^" + re.escape(f"mtgateway demo {NEEDS}")):
        require_console("mtgateway demo")


@pytest.mark.parametrize(("argv", "what"), [
    (["demo"], "mtgateway demo"),
    (["run"], "mtgateway run in local mode (the embedded authority)"),
    (["owner", "create", "--email", "owner@example.com"], "mtgateway owner"),
])
def test_the_commands_composing_the_console_say_what_to_install(
        argv: list[str], what: str, config_file: Path) -> None:
    """``mtgateway demo``, ``run`` in local mode and ``owner``, without the console: exit 2,
    the command named and what to install (never a daemon started or a traceback)."""
    args = argv if argv == ["demo"] else [*argv, "-c", str(config_file)]
    done = subprocess.run([sys.executable, "-c", WITHOUT_CONSOLE, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {what} {NEEDS}"), done.stderr
    assert "pip install ./base ./client ./console './daemon[console]'" in done.stderr


@pytest.mark.usefixtures("no_console")
@pytest.mark.parametrize("argv", [
    ["token", "list"],
    ["token", "create", "--login", "1", "--server", "Broker-Live"],
    ["paper", "on", "--login", "1", "--server", "Broker-Live"],
])
async def test_the_commands_on_the_local_authority_ask_the_same_check(
        argv: list[str], config_file: Path) -> None:
    """``mtgateway token`` and ``paper`` on the local authority, without the console: the
    same ConsoleMissing, naming the command (``paper`` once imported the console first)."""
    args = build_parser().parse_args([*argv, "-c", str(config_file)])
    what = f"mtgateway {argv[0]} on the local authority (without --console)"
    with pytest.raises(ConsoleMissing, match="^" + re.escape(f"{what} {NEEDS}")):
        await run_command(args, load_config(config_file))


@pytest.mark.usefixtures("no_console")
async def test_setup_pairing_with_the_local_authority_asks_the_same_check(
        config_file: Path) -> None:
    """``mtgateway setup`` pairing with the local authority, without the console: the same
    ConsoleMissing, and no password asked for."""
    def new_password(email: str, short: object) -> str:
        raise AssertionError("no password is asked for without the console")

    what = "mtgateway setup on the local authority (without --console)"
    with pytest.raises(ConsoleMissing, match="^" + re.escape(f"{what} {NEEDS}")):
        await LocalPairing.open(load_config(config_file), "owner@example.com", new_password)
