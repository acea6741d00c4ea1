"""The ``mtgateway`` command: parse arguments, load config, start things, wait for a signal.

Wiring only; every behaviour lives in the modules it calls. Exit codes: 0 success, 1 a runtime
failure (port in use, refused), 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ea_bridge.emulator import cli as emulator_cli
from ea_bridge.emulator.cli import stop_on_signals

from ._version import __version__
from .app import TOKEN_DB_NAME, create_app
from .auth import LocalTokenStore
from .auth.records import SCOPES
from .config import GatewayConfig, load_config
from .errors import ConfigError
from .listener import start_http
from .log import setup_logging

__all__ = ["main", "run_async"]

log = logging.getLogger("gateway.cli")

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_DURATION_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration_s(value: str) -> float:
    match = _DURATION.match(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError("expected a positive duration such as 90d, 12h or 30m")
    return int(match.group(1)) * _DURATION_S[match.group(2)]


def _scopes(value: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in value.split(",") if s.strip())
    if not scopes or not scopes <= SCOPES:
        raise argparse.ArgumentTypeError(f"scopes must be among {', '.join(sorted(SCOPES))}")
    return scopes | ({"read"} if "trade" in scopes else frozenset())


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError("expected a port number 0-65535 (0 = any free port)")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="mtgateway", description=(
        "A local JSON-RPC/WebSocket gateway to a MetaTrader 4/5 terminal."))
    parser.add_argument("--version", action="version", version=f"mtgateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("-c", "--config", type=Path, help="config file (TOML)")

    demo = sub.add_parser("demo", help="daemon + emulated terminal on loopback, ready to call")
    demo.add_argument("--http-port", type=_port, default=8710)
    demo.add_argument("--bridge-port", type=_port, default=8711)
    demo.add_argument("--state-file", type=Path,
                      help="write the demo's addresses and token here (JSON) once ready")
    demo.add_argument("--data-dir", type=Path,
                      help="keep the demo's state here (default: a temporary directory)")
    demo.add_argument("--tick-rate", type=float, default=2.0, metavar="HZ")

    emulator = sub.add_parser("emulator", help="an emulated terminal that connects like an EA")
    emulator_cli.add_arguments(emulator)

    token = sub.add_parser("token", help="issue, list and revoke auth tokens")
    token.add_argument("-c", "--config", type=Path, help="config file (TOML)")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="issue a token bound to one terminal")
    create.add_argument("--login", type=int, required=True)
    create.add_argument("--server", required=True)
    create.add_argument("--expires-in", type=_duration_s, default=_duration_s("90d"),
                        metavar="DURATION", help="lifetime such as 90d (default), 12h")
    create.add_argument("--scopes", type=_scopes, default=SCOPES, help="read or read,trade")
    create.add_argument("--email", default="", help="the token owner's e-mail address")
    token_sub.add_parser("list", help="list tokens (never their values)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mtgateway`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "emulator":
            setup_logging("INFO")
            return emulator_cli.run(args)
        if args.command == "token":
            return _token_command(args)
        if args.command == "run":
            config = load_config(args.config)
            setup_logging(config.logging.level)
            return run_async(_run_daemon(config))
        if args.command == "demo":
            from .demo import run_demo

            setup_logging("WARNING")
            return run_async(run_demo(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


def run_async(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run the coroutine on uvloop where the platform has it, else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _check_bind(host: str, allowed: bool, what: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    if not allowed:
        raise ConfigError(f"{what} host {host!r} is not loopback; set "
                          f"insecure_allow_non_loopback = true to expose it on purpose")
    log.warning("INSECURE: %s listens on %s, reachable beyond this machine", what, host)


async def _run_daemon(config: GatewayConfig) -> int:
    _check_bind(config.server.host, config.server.insecure_allow_non_loopback, "server")
    _check_bind(config.bridge.host, config.bridge.insecure_allow_non_loopback, "bridge")
    app = create_app(config)
    try:
        runner, port = await start_http(app)
    except OSError as exc:
        print(f"error: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    log.info("mtgateway %s: HTTP on %s:%d", __version__, config.server.host, port)
    stop = asyncio.Event()
    stop_on_signals(stop)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    return 0


def _token_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = LocalTokenStore(config.resolved_data_dir() / TOKEN_DB_NAME)
    if args.token_command == "create":
        try:
            issued = store.issue(login=args.login, server=args.server, scopes=args.scopes,
                                 owner_email=args.email, expires_in_s=args.expires_in)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        record = issued.record
        print(f"token_id: {record.token_id}")
        print(f"terminal: {record.terminal}")
        print(f"scopes:   {','.join(sorted(record.scopes))}")
        print(f"token:    {issued.token}")
        print("This is the only time the token is shown. Paste it into the EA's inputs and "
              "your client's configuration.")
        return 0
    if args.token_command == "list":
        for record in store.list():
            state = "revoked" if record.revoked_at else "active"
            print(f"{record.token_id}  {record.terminal}  {','.join(sorted(record.scopes))}  "
                  f"{state}")
        return 0
    if store.revoke(args.token_id):
        print(f"revoked {args.token_id}")
        return 0
    print(f"error: no active token {args.token_id!r}", file=sys.stderr)
    return 1
