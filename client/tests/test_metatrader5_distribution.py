"""``mtgateway-metatrader5``: unchanged ``import MetaTrader5`` code, supported (issue 43 item 2).

The distribution in ``client/metatrader5-shim/`` holds the package ``MetaTrader5``, whose only
content makes that import the client. It is built offline like the others (an sdist, the wheel
it rebuilds), installed with docs/client.md's one command beside the client into a fresh
virtual environment with no index and nothing else, and a program written for the package
(``framework/initialize_arguments.py``: ``import MetaTrader5`` itself, ``initialize()`` with
the terminal's arguments) runs there against the real daemon and emulated terminal, reached
through a loopback relay that records every byte the program sends. The third-party packages
installed the same way are ``test_third_party.py``'s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client.tests.distkit import (
    CLIENT,
    SHIM,
    build,
    fresh_environment,
    members,
    metadata,
    pip_in,
)
from client.tests.thirdpartykit import FRAMEWORK
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.demo import write_state_file
from mtgateway._version import __version__ as client_version
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, Daemon

try:
    import venv
except ImportError:  # the embeddable Windows CPython (the Windows stage's) has none
    venv = None  # type: ignore[assignment]


def needs_venv(test: Callable[..., Any]) -> Callable[..., Any]:
    """A test that installs into a new virtual environment: marked where venv is missing."""
    return pytest.mark.not_on_windows("venv")(test) if venv is None else test


#: What the program names as the account's password: it must never leave the process.
PASSWORD = "the-accounts-password-9f2c"


@dataclass(frozen=True)
class Installed:
    """The wheels built and the fresh environment they were installed into."""

    client_wheel: Path
    shim_sdist: Path
    shim_wheel: Path
    python: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The client and the distribution built, and installed into a fresh environment with
    one command, offline (before any daemon starts: building blocks for seconds)."""
    tmp = tmp_path_factory.mktemp("metatrader5-shim")
    _, client_wheel = build(CLIENT, tmp, "client")
    shim_sdist, shim_wheel = build(SHIM, tmp, "shim")
    env_dir = tmp / "fresh"
    python = fresh_environment(env_dir)
    pip_in(python, "install", "--no-index", client_wheel, shim_wheel, cwd=tmp)
    yield Installed(client_wheel, shim_sdist, shim_wheel, python)


def test_the_distribution_never_takes_the_packages_name() -> None:
    """Its name is mtgateway-metatrader5, never MetaTrader5 (MetaQuotes' on PyPI, which a
    requirement ``MetaTrader5`` must keep meaning); it declares no dependency (the client is on
    no index: a requirement on it could be met by whoever registers the name there); its one
    package is MetaTrader5, an __init__.py and py.typed; the client does not install it."""
    project = tomllib.loads((SHIM / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "mtgateway-metatrader5"
    assert project["project"]["dependencies"] == [] and "dynamic" not in project["project"]
    assert project["tool"]["setuptools"]["packages"]["find"] == {"where": ["src"],
                                                               "include": ["MetaTrader5"]}
    assert sorted(p.name for p in (SHIM / "src" / "MetaTrader5").iterdir()
                  if p.name != "__pycache__") == ["__init__.py", "py.typed"]
    client = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any("metatrader5" in str(r).lower() for r in [
        *client["dependencies"], *client["optional-dependencies"].values()])


@needs_venv
def test_it_builds_rebuilds_and_installs_beside_the_client(installed: Installed) -> None:
    """An sdist (which rebuilds the same wheel, built from the project's directory alone),
    a wheel of the package alone, named and versioned as the client, requiring nothing; one
    pip command installs it with the client into a fresh environment, offline."""
    wheel_files = set(members(installed.shim_wheel))
    dist_info = f"mtgateway_metatrader5-{client_version}.dist-info"
    assert {name for name in wheel_files if not name.startswith(dist_info)} == {
        "MetaTrader5/__init__.py", "MetaTrader5/py.typed"}
    lines = metadata(installed.shim_wheel)
    assert "Name: mtgateway-metatrader5" in lines and f"Version: {client_version}" in lines
    assert [line for line in lines if line.startswith("Requires-Dist")] == []
    listed = pip_in(installed.python, "list", "--format=freeze", cwd=installed.python.parent)
    assert {line.split("==")[0] for line in listed.splitlines()} - {"pip", "setuptools"} == {
        "mtgateway-client", "mtgateway-metatrader5"}, listed


@needs_venv
def test_without_the_client_the_import_says_what_to_install(installed: Installed) -> None:
    """The distribution needs the client beside it (it declares no dependency): without it,
    ``import MetaTrader5`` says which command installs both, in one sentence."""
    code = "import sys; sys.modules['mtgateway'] = None; import MetaTrader5"
    out = subprocess.run([installed.python, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "ImportError: MetaTrader5 is MT Gateway's client in this environment "
        "(mtgateway-metatrader5), but the client is not installed: from MT Gateway's "
        "repository, pip install './client[numpy]' ./client/metatrader5-shim")


@pytest.mark.parametrize("example, needs", [
    ("mt5_script.py", "This example needs numpy for the bars (the MetaTrader5 package's "
                      "arrays): from MT Gateway's repository, pip install './client[numpy]'"),
    ("mt5_script_async.py", "This example needs mtgateway.aio: mtgateway.aio needs aiohttp, "
                            "the client's 'aio' extra: from MT Gateway's repository, pip "
                            "install './client[aio]'"),
    ("stream.py", "This example needs mtgateway.aio: mtgateway.aio needs aiohttp, the "
                  "client's 'aio' extra: from MT Gateway's repository, pip install "
                  "'./client[aio]'"),
])
@needs_venv
def test_an_example_without_the_clients_extra_says_what_it_needs(
        installed: Installed, example: str, needs: str) -> None:
    """On the client alone (no numpy, no aiohttp), an example that needs an extra ends with
    one sentence naming it and the install line, not a traceback (issue 43 item 5: the
    package-style scripts crashed at their numpy step after the quick start's old install)."""
    out = subprocess.run([installed.python, CLIENT.parent / "examples" / example],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", needs + "\n")


@dataclass
class Relay:
    """A loopback TCP relay to the daemon that keeps every byte clients send through it."""

    port: int
    sent: bytearray


@pytest.fixture
async def relay(daemon: Daemon) -> AsyncIterator[Relay]:
    sent = bytearray()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   keep: bool) -> None:
        try:
            while data := await reader.read(65536):
                if keep:
                    sent.extend(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False),
                             return_exceptions=True)

    server = await asyncio.start_server(link, "127.0.0.1", 0)
    yield Relay(server.sockets[0].getsockname()[1], sent)
    server.close()
    await server.wait_closed()


async def run_program(python: Path, env: dict[str, str], cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(python), str(FRAMEWORK / "initialize_arguments.py"), env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(WAIT_S * 6):
        out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    return out


@needs_venv
@pytest.mark.parametrize("found_by", ["environment", "state_file"])
async def test_unchanged_import_metatrader5_code_runs_with_the_terminals_arguments(
        installed: Installed, daemon: Daemon, terminal: EmulatedTerminal, relay: Relay,
        tmp_path: Path, found_by: str) -> None:
    """``import MetaTrader5`` is the client itself (``from MetaTrader5 import *``, a
    submodule, ``__version__``, no ``MetaTrader5`` distribution claimed); ``initialize()``
    with the terminal's ``path``, ``login``, ``password``, ``server``, ``timeout`` and
    ``portable`` connects to the token's terminal, found through ``MTGATEWAY_URL``/
    ``MTGATEWAY_TOKEN`` or the state file; another login or server fails as the package
    fails for an account that refuses it, ``(-6, 'Terminal: Authorization failed')``; the
    password never leaves the process."""
    url = f"http://127.0.0.1:{relay.port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MTGATEWAY_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"ACCOUNT_LOGIN": str(LOGIN), "ACCOUNT_SERVER": SERVER,
                "ACCOUNT_PASSWORD": PASSWORD})
    if found_by == "environment":
        env.update({"MTGATEWAY_URL": url, "MTGATEWAY_TOKEN": daemon.token})
    else:
        state_file = tmp_path / "demo.json"
        await asyncio.to_thread(write_state_file, state_file,
                                {"rpc_url": f"{url}/rpc", "token": daemon.token})
        env["MTGATEWAY_STATE_FILE"] = str(state_file)
    out = await run_program(installed.python, env, tmp_path)
    auth_failed = "(-6, 'Terminal: Authorization failed')"
    for line in (f"module: mtgateway True {client_version} MT Gateway",
                 "star import: 16385 True True",
                 f"distribution: no 'MetaTrader5'; mtgateway-metatrader5 {client_version}",
                 "submodule: True True mtgateway.records", "no module: MetaTrader5._core",
                 "initialize: True (1, 'Success')", f"account: {LOGIN} {SERVER}",
                 f"other login: False {auth_failed}", f"other server: False {auth_failed}",
                 f"login: True True False {auth_failed}", "after shutdown: None -10004"):
        assert line in out, out
    assert daemon.token.encode() not in relay.sent  # the challenge proves it instead
    assert b"POST /rpc" in relay.sent and PASSWORD.encode() not in relay.sent
