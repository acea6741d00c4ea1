"""What a ``mtgateway`` process pays before it does anything: the modules it imports to parse
its command line and to run the management commands, and the work ``create_app`` does before
the daemon listens.

The suite starts these processes by the hundred (the daemon, ``token``, ``paper``, ``device``,
``audit``, ...), and a user's shell waits on each, so what one imports is held here by name:
counting CPU seconds would be a timed assertion, which the suite never makes. One fresh
interpreter answers every question (sys.modules only grows, so a module absent after the later
imports was absent after the earlier ones too).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from gateway.auth.records import SCOPES
from gateway.cli import build_parser

_PROBE = r"""
import json, sys

import gateway.cli
gateway.cli.build_parser()
parser = set(sys.modules)

import gateway.identity, gateway.manage
manage = set(sys.modules)

from gateway.app import create_app
from gateway.config import GatewayConfig
import gateway.openapi, gateway.openrpc

create_app(GatewayConfig(data_dir=sys.argv[1], authority={
    "mode": "remote", "url": "http://127.0.0.1:9", "public_key": "A" * 43 + "="}))
print(json.dumps({
    "parser": sorted(parser), "manage": sorted(manage),
    "openrpc_built": gateway.openrpc._document_of.cache_info().currsize,
    "openapi_built": gateway.openapi._body.cache_info().currsize,
}))
"""

#: What building the parser must not import: the config's models (pydantic), the daemon's HTTP
#: stack, the console, the emulator and the bridge's connection, the auth and trading packages.
_NOT_FOR_THE_PARSER = ("pydantic", "aiohttp", "gateway.config", "gateway.auth", "gateway.trading",
                       "gateway.app", "ea_bridge.connection", "ea_bridge.emulator.terminal",
                       "mt5model.broker", "mtgateway_console", "jinja2")
#: What the token/paper/device commands must not import before they know the authority is a
#: console: the daemon's app, aiohttp (its client builds SSL contexts at import), the documents.
_NOT_FOR_MANAGE = ("aiohttp", "gateway.app", "gateway.openrpc", "gateway.openapi",
                   "mtgateway_console", "jinja2")


def _loaded(names: list[str], roots: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in roots or name.startswith(
        tuple(f"{root}." for root in roots))]


def test_the_parser_and_the_management_commands_import_only_what_they_use(tmp_path: Path
                                                                         ) -> None:
    """Before: building the parser imported the emulator (the simulated broker, the bridge's
    connection), the trading and auth packages and gateway.config; the management commands
    imported aiohttp's client and, for ``device``, the whole daemon; create_app built the
    OpenRPC and OpenAPI documents before the daemon listened."""
    done = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "data")],
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert _loaded(seen["parser"], _NOT_FOR_THE_PARSER) == []
    assert _loaded(seen["manage"], _NOT_FOR_MANAGE) == []
    assert (seen["openrpc_built"], seen["openapi_built"]) == (0, 0)


def test_token_create_scopes_default_to_every_scope() -> None:
    """``--scopes`` defaults to a string parsed when ``token create`` is (so the parser needs
    no auth package): the default is still every scope."""
    args = build_parser().parse_args(["token", "create", "--login", "1", "--server", "S"])
    assert args.scopes == SCOPES
    args = build_parser().parse_args(["token", "create", "--login", "1", "--server", "S",
                                      "--scopes", "trade"])
    assert args.scopes == SCOPES  # trade brings read
    args = build_parser().parse_args(["token", "create", "--login", "1", "--server", "S",
                                      "--scopes", "read"])
    assert args.scopes == frozenset({"read"})


def test_the_bridge_packages_lazy_surface_is_its_whole_surface() -> None:
    """``ea_bridge`` loads a module when one of its names is first asked for: every name of
    ``__all__`` has a home in the table that loads it and resolves to its module's object, and
    the table names nothing else (a name added to one list and not the other fails here)."""
    import ea_bridge  # noqa: PLC0415 - the package under test, imported as a user would

    homes = ea_bridge._HOMES  # noqa: SLF001 - the table the lazy loader reads
    assert set(homes) == set(ea_bridge.__all__)
    for name, home in homes.items():
        module = importlib.import_module(f"ea_bridge.{home}")
        assert getattr(ea_bridge, name) is getattr(module, name), name
