"""The ``mtgateway`` command: parse arguments, load config, start things, wait for a signal.

Wiring only; every behaviour lives in the modules it calls (management commands in
``gateway.manage``). Building the parser imports argparse and the few constants its options
name; each command imports what it uses when it is dispatched, so ``mtgateway --help``, ``ea
path`` or ``token list`` does not pay for the daemon, the emulator or the console (the suite
starts hundreds of these processes, and a user's shell waits on each). Exit codes: 0 success,
1 a runtime failure (port in use, refused, unreachable), 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ea_bridge.emulator import options as emulator_options
from mtgateway_base.wire.tokens import DEFAULT_LIFETIME_DAYS

from ._version import __version__

if TYPE_CHECKING:
    from .config import GatewayConfig

__all__ = ["build_parser", "main"]

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_DURATION_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration_s(value: str) -> int:
    match = _DURATION.match(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError("expected a positive duration such as 90d, 12h or 30m")
    return int(match.group(1)) * _DURATION_S[match.group(2)]


def _scopes(value: str) -> frozenset[str]:
    from .auth.records import SCOPES

    scopes = frozenset(s.strip() for s in value.split(",") if s.strip())
    if not scopes or not scopes <= SCOPES:
        raise argparse.ArgumentTypeError(f"scopes must be among {', '.join(sorted(SCOPES))}")
    return scopes | ({"read"} if "trade" in scopes else frozenset())


def _when(value: str) -> float:
    """Epoch seconds, or an ISO 8601 time (UTC when it names no zone)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {value!r} (epoch seconds or ISO "
                                         "8601)") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    """``mtgateway audit``'s options besides ``-c`` (read by :func:`gateway.trading.audit.run`)."""
    parser.add_argument("--since", type=_when, metavar="TIME",
                        help="lines at or after this (epoch seconds or ISO 8601, UTC)")
    parser.add_argument("--until", type=_when, metavar="TIME", help="lines at or before this")
    parser.add_argument("--token", dest="token_id", metavar="ID",
                        help="one token's lines (its record id, see `mtgateway token list`)")
    parser.add_argument("--client-id", help="one order's lines")
    parser.add_argument("--jsonl", action="store_true",
                        help="print JSON lines instead of a table")
    parser.add_argument("--export", type=Path, metavar="PATH",
                        help="write the lines to PATH as JSON lines (a new file, mode 0600)")


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError("expected a port number 0-65535 (0 = any free port)")
    return int(value)


def _wait(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:  # NaN is refused too
        raise argparse.ArgumentTypeError("expected seconds above 0 and under a day (0.5, 5)")
    return seconds


def _calls(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError("expected a number of calls, 1 or more")
    return count


def _with_config(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    # On an action of a command group the default is SUPPRESS, so `token -c F create` and
    # `token create -c F` both work (a nested default would overwrite the group's value).
    parser.add_argument("-c", "--config", type=Path,
                        help="config file (TOML); default: $MTGATEWAY_CONFIG, else "
                             "~/.config/mtgateway/config.toml (%%APPDATA%% on Windows) "
                             "if it exists",
                        default=argparse.SUPPRESS if nested else None)


def _with_console(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--console", metavar="URL",
                        help="act on this console (remote authority) instead of the local "
                             "one; default: [authority] url when mode = \"remote\"")
    parser.add_argument("--console-key", metavar="BASE64",
                        help="the console's authority key (what `mtgateway-console` prints at "
                             "start), which it must prove it holds before your password is "
                             "sent; default: [authority] public_key")


def build_note() -> str:
    """`` (compiled with mypyc)`` when this install is the compiled build (``MTGATEWAY_MYPYC=1``,
    setup.py), else nothing: which build a daemon runs is the first thing a speed report asks."""
    # where one of the compiled modules (pyproject.toml, [tool.mtgateway] compiled) would load
    # from, found without importing it: every command builds the parser
    spec = importlib.util.find_spec("gateway.rpc")
    origin = "" if spec is None or spec.origin is None else spec.origin
    compiled = origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return " (compiled with mypyc)" if compiled else ""


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="mtgateway", description=(
        "A local JSON-RPC/WebSocket gateway to a MetaTrader 4/5 terminal."))
    parser.add_argument("--version", action="version",
                        version=f"mtgateway {__version__}{build_note()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    _with_config(run)

    demo = sub.add_parser("demo", help="the whole flow on loopback: authority, mail, daemon, "
                                       "emulated terminal")
    demo.add_argument("--http-port", type=_port, default=8710)
    demo.add_argument("--bridge-port", type=_port, default=8711)
    demo.add_argument("--state-file", type=Path,
                      help="write the demo's addresses and token here (JSON) once ready")
    demo.add_argument("--data-dir", type=Path,
                      help="keep the demo's state here (default: a temporary directory)")
    demo.add_argument("--tick-rate", type=float, default=2.0, metavar="HZ")
    emulator_options.add_account_arguments(demo)

    audit = sub.add_parser("audit", help="print or export the trade audit trail (JSON lines)")
    _with_config(audit)
    _audit_arguments(audit)

    emulator = sub.add_parser("emulator", help="an emulated terminal that connects like an EA")
    emulator_options.add_arguments(emulator)

    console = sub.add_parser("console", help="the token authority as an HTTP service (now "
                                             "`mtgateway-console`; this name is read for one "
                                             "release, with a warning)")
    _with_config(console)
    console.add_argument("action", nargs="?", choices=["serve", "migrate"], default="serve",
                         help="serve (default; migrates the database first) or migrate: "
                              "bring the database to this release's schema and exit")

    owner = sub.add_parser("owner", help="owners of the authority's tokens")
    _with_config(owner)
    owner_sub = owner.add_subparsers(dest="owner_command", required=True, metavar="ACTION")
    owner_create = owner_sub.add_parser(
        "create", help="add an owner to the authority in data_dir (password from "
                       "MTGATEWAY_OWNER_PASSWORD or a prompt, never an argument)")
    _with_config(owner_create, nested=True)
    owner_create.add_argument("--email", required=True)
    owner_reset = owner_sub.add_parser(
        "reset-2fa", help="turn an owner's two-step sign-in off (lost phone and recovery "
                          "codes): every session ends, the owner is mailed, Activity notes it")
    _with_config(owner_reset, nested=True)
    owner_reset.add_argument("--email", required=True)
    owner_password = owner_sub.add_parser(
        "reset-password", help="the owner's password leaked: end every session and console "
                               "API sign-in, set the password aside (it signs in nowhere) and "
                               "mail the owner a link to choose a new one, whatever the "
                               "two-step sign-in")
    _with_config(owner_password, nested=True)
    owner_password.add_argument("--email", required=True)

    token = sub.add_parser("token", help="issue, list and revoke auth tokens")
    _with_config(token)
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="issue a token bound to one terminal")
    create.add_argument("--login", type=int, required=True)
    create.add_argument("--server", required=True)
    create.add_argument("--expires-in", type=_duration_s,
                        default=DEFAULT_LIFETIME_DAYS * 86_400, metavar="DURATION",
                        help=f"lifetime such as {DEFAULT_LIFETIME_DAYS}d (default), 12h")
    # a string default goes through ``type`` when ``create`` is parsed: SCOPES, without
    # importing the auth package to build the parser
    create.add_argument("--scopes", type=_scopes, default="read,trade",
                        help="read or read,trade")
    create.add_argument("--label", default="", metavar="TEXT",
                        help="where the token goes, to tell tokens apart (\"EA on the VPS\"); "
                             "shown in the console and in `token list`")
    listing = token_sub.add_parser("list", help="list tokens (never their values)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    for action in (create, listing, revoke):
        _with_config(action, nested=True)
        _with_console(action)
        action.add_argument("--email", default="",
                            help="the owner (MTGATEWAY_OWNER_EMAIL; locally optional when there "
                                 "is one owner)")

    paper = sub.add_parser("paper", help="turn paper trading of a registered account on or off "
                                         "(on the console, or the local authority in "
                                         "data_dir)")
    _with_config(paper)
    paper.add_argument("switch", choices=("on", "off"))
    paper.add_argument("--login", type=int, required=True)
    paper.add_argument("--server", required=True)
    paper.add_argument("--confirm-live-open", action="store_true",
                       help="go to paper although the live book holds positions or pending "
                            "orders at the broker (they stay open there, out of reach of bots "
                            "on paper; without it the switch is refused, saying what)")
    _with_console(paper)
    paper.add_argument("--email", default="", help="the owner (MTGATEWAY_OWNER_EMAIL; locally "
                                                  "optional when there is one owner)")

    ea = sub.add_parser("ea", help="the MQL5/MQL4 Expert Advisor that connects a terminal")
    ea_sub = ea.add_subparsers(dest="ea_command", required=True, metavar="ACTION")
    ea_path = ea_sub.add_parser("path", help="print the folders of the MQL5 and MQL4 EA "
                                             "sources shipped with mtgateway")
    which = ea_path.add_mutually_exclusive_group()
    which.add_argument("--mt5", dest="platform", action="store_const", const="MT5",
                       help="print only the MQL5 folder (for scripts)")
    which.add_argument("--mt4", dest="platform", action="store_const", const="MT4",
                       help="print only the MQL4 folder (for scripts)")
    ea_install = ea_sub.add_parser("install", help="copy the EA into a terminal's data folder")
    ea_install.add_argument("--terminal-dir", type=Path, required=True, metavar="DIR",
                            help="the terminal's data folder (MetaTrader: File > Open Data "
                                 "Folder), or its MQL5 or MQL4 folder")
    service = sub.add_parser("service", help="run the daemon at log-on, restarted when it "
                                             "fails (systemd user unit; launchd agent; Windows "
                                             "log-on task)")
    _with_config(service)
    from . import service as service_cli

    for action in service_cli.add_arguments(service):
        _with_config(action, nested=True)
    setup = sub.add_parser(
        "setup", help="the guided set-up: find the MetaTrader terminals, install and compile "
                      "the EA, issue its token into the EA's preset, register the log-on task, "
                      "wait for the EA and check it (--undo removes what it added)")
    _with_config(setup)
    from .setup.options import add_arguments as setup_arguments

    setup_arguments(setup)
    check = sub.add_parser(
        "check", help="check the EA connected to a running daemon, as any client sees it, and "
                      "print a report to paste into a bug report (token from MTGATEWAY_TOKEN, "
                      "--state-file, the check.json `mtgateway setup` wrote for you, or a "
                      "prompt)")
    check.add_argument("--url", help="the daemon (default: MTGATEWAY_URL, the state file, or "
                                     "http://127.0.0.1:8710)")
    check.add_argument("--state-file", type=Path,
                       help="the JSON file `mtgateway demo --state-file` writes (url and token); "
                            "default: MTGATEWAY_STATE_FILE, else the check.json `mtgateway "
                            "setup` wrote in your data directory")
    check.add_argument("--trade", action="store_true",
                       help="also run the trading checks: the smallest volume of one symbol, "
                            "closed again; refused unless the account is a demo or paper "
                            "account")
    check.add_argument("--symbol", help="the symbol to read and trade (default: the Market "
                                        "Watch symbol quoted last; to trade, one with no open "
                                        "position whose order_check passes)")
    check.add_argument("--seconds", type=float, default=10.0, metavar="S",
                       help="how long to listen to the tick stream (default 10)")
    check.add_argument("--history-timeout", type=float, default=60.0, metavar="S",
                       help="how long history the terminal is loading may take (default 60)")
    check.add_argument("--wait", type=_wait, default=5.0, metavar="S",
                       help="how long the EA may take to connect (default 5)")
    check.add_argument("--spaced-calls", type=_calls, default=20, metavar="N",
                       help="calls, one every 100 ms, the latency report times (default 20)")
    check.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    device = sub.add_parser("device", help="this machine as a device of the authority")
    _with_config(device)
    device_sub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    status = device_sub.add_parser("status", help="device id, key storage, approvals")
    verify = device_sub.add_parser("verify", help="complete a pending approval with the "
                                                  "e-mailed code")
    verify.add_argument("code", nargs="*",
                        help="the 8 digits from the e-mail, as printed there (1234 5678); "
                             "leave out to be asked (or pipe it in): arguments are visible "
                             "to other users in the process list while the command runs")
    resend = device_sub.add_parser("resend", help="e-mail a new code (voids the old one)")
    for action in (status, verify, resend):
        _with_config(action, nested=True)
        _with_console(action)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mtgateway`` console script."""
    args = build_parser().parse_args(argv)
    from mtgateway_base.log import setup_logging

    # Warnings before a command sets its own level (a deprecated variable read while finding
    # the config) are WARNING lines too; each command then sets up logging as it needs.
    setup_logging("WARNING")
    try:
        return _dispatch(args)
    except Exception as exc:
        if not isinstance(exc, _refusals()):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command, importing what it uses; its exit code."""
    from mtgateway_base.log import setup_logging
    from mtgateway_base.loop import run as run_on_loop

    if args.command == "ea":
        return _ea_command(args)
    if args.command == "check":
        return run_on_loop(_check_command(args))
    if args.command == "emulator":
        from ea_bridge.emulator import cli as emulator_cli

        setup_logging("INFO")
        return emulator_cli.run(args)
    if args.command == "owner":
        return _console_command(args, "owner")
    from .config import find_config, load_config

    if args.command in ("token", "device", "paper"):
        from . import manage

        args.config_file = find_config(args.config)
        config = load_config(args.config_file)
        setup_logging("WARNING")
        return run_on_loop(manage.run_command(args, config))
    if args.command == "audit":
        from .trading import audit as audit_cli
        from .trading.journal import JOURNAL_DB_NAME

        config = load_config(find_config(args.config))
        return audit_cli.run(args, config.resolved_data_dir() / JOURNAL_DB_NAME)
    if args.command == "run":
        config = load_config(find_config(args.config))
        setup_logging(config.logging.level, config.logging.format)
        if config.authority.mode == "local":
            return _composing_console("mtgateway run in local mode (the embedded authority)",
                                      lambda: run_on_loop(_run_daemon(config)))
        return run_on_loop(_run_daemon(config))
    if args.command == "console":
        print("warning: `mtgateway console` is now the console's own command, "
              "`mtgateway-console`; this name works for this release only",
              file=sys.stderr, flush=True)
        return _console_command(args, args.action)
    if args.command == "setup":
        from .setup.command import run as run_setup

        return run_setup(args, find_config(args.config))
    if args.command == "service":
        from . import service as service_cli

        return service_cli.run(args)
    if args.command == "demo":
        setup_logging("WARNING")
        return _composing_console("mtgateway demo", lambda: _demo(args))
    return 2


def _refusals() -> tuple[type[Exception], ...]:
    """The errors a command ends with as a usage or configuration error (exit 2): the config,
    the device key's store, a path others can write. Imported when one is raised, not at every
    start: a module that raised one is loaded by then, and the secret store's brings the auth
    package."""
    from mtgateway_base.files import InsecurePath

    from .auth.secretstore import SecretStoreError
    from .errors import ConfigError

    return ConfigError, SecretStoreError, InsecurePath


def _composing_console(what: str, command: Callable[[], int]) -> int:
    """Run ``command``, which composes the console into this process (the embedded authority,
    the demo): :class:`~gateway.errors.ConsoleMissing` (exit 2, saying what to install) when
    the console is not installed, and exit 2 with the database's reason when the authority's
    database cannot be used."""
    from .localconsole import require_console

    require_console(what)
    from mtgateway_console.database import DatabaseError

    try:
        return command()
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _demo(args: argparse.Namespace) -> int:
    from mtgateway_base.loop import run as run_on_loop

    from .demo import run_demo  # the demo composes the console: imported only to run it

    return run_on_loop(run_demo(args))


def _console_command(args: argparse.Namespace, action: str) -> int:
    """``mtgateway console`` and ``mtgateway owner ...``: the console's own command's
    (``mtgateway_console.cli``), as ``mtgateway-console`` runs them."""
    def command() -> int:
        from mtgateway_console import cli as console_cli

        return console_cli.run(argparse.Namespace(
            config=args.config, action=action,
            owner_command=getattr(args, "owner_command", None),
            email=getattr(args, "email", None)))

    return _composing_console(f"mtgateway {args.command}", command)
    return 2


def _ea_command(args: argparse.Namespace) -> int:
    from .eafiles import SHARED_INCLUDES, InstallError, ea4_source_dir, ea_source_dir, install_ea

    if args.ea_command == "path":
        if args.platform is not None:
            print(ea_source_dir() if args.platform == "MT5" else ea4_source_dir())
            return 0
        shared = ", ".join(Path(rel).name for rel in SHARED_INCLUDES)
        print(f"MetaTrader 5: {ea_source_dir()}\n"
              "  Experts/MTGateway.mq5, Indicators/MTGateway/Helper.mq5, Include/MTGateway/\n"
              f"MetaTrader 4: {ea4_source_dir()}\n"
              "  Experts/MTGateway.mq4, Include/MTGateway/ (plus the MQL5 folder's "
              f"Include/MTGateway/{{{shared}}}, which both EAs share)\n"
              "`mtgateway ea install --terminal-dir DIR` copies the right ones into a "
              "terminal's data folder.")
        return 0
    try:
        done = install_ea(args.terminal_dir)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, replaced in done.written:
        print(f"{'replaced' if replaced else 'installed'} {path}")
    for path in done.removed:
        print(f"removed {path} (compiled from the older sources)")
    if done.platform == "MT4":
        print(f"Next: open MetaEditor (F4 in the terminal), open Experts/MTGateway.mq4 under "
              f"{done.mql_dir}, compile it (F7), then attach MTGateway to a chart, tick "
              "'Allow DLL imports' (it uses Windows' ws2_32.dll for its socket and advapi32.dll "
              "for random bytes) and paste your "
              "token (docs/terminal.md, MetaTrader 4).")
        return 0
    print(f"Next: open MetaEditor (F4 in the terminal), open Indicators/MTGateway/Helper.mq5 "
          f"and Experts/MTGateway.mq5 under {done.mql_dir}, compile each (F7) in that order "
          "(the EA carries the helper it was compiled with), then attach MTGateway to a chart "
          "and paste your token (docs/terminal.md).")
    return 0


async def _check_command(args: argparse.Namespace) -> int:
    """``mtgateway check``: 0 when every check passed (or did not apply), 1 when one failed or
    the daemon cannot be used, 2 when the trading checks are refused (not a demo account)."""
    import getpass
    import json
    import os

    from mtgateway.places import setup_check_file

    from .selfcheck import SelfCheckError, TradingRefused, run_selfcheck

    token = os.environ.get("MTGATEWAY_TOKEN") or None
    if token is None and args.state_file is None and not os.environ.get("MTGATEWAY_STATE_FILE"):
        # told nothing: what setup wrote for this user, as the client reads it, else ask
        found = setup_check_file()
        if found is not None and (found.exists() or found.is_symlink()):
            print(f"the daemon and the token from {found} (written by `mtgateway setup`)",
                  flush=True)
        elif not sys.stdin.isatty():
            print(f"error: no token: set MTGATEWAY_TOKEN or pass --state-file (or run "
                  f"`mtgateway setup`, which writes {found})", file=sys.stderr)
            return 2
        else:
            token = getpass.getpass("token (mtgw_...): ").strip() or None
    try:
        report = await run_selfcheck(url=args.url, token=token,
                                     state_file=str(args.state_file) if args.state_file else None,
                                     trade=args.trade, symbol=args.symbol,
                                     stream_s=args.seconds,
                                     history_timeout_s=args.history_timeout,
                                     wait_s=args.wait, spaced_calls=args.spaced_calls,
                                     progress=_show_progress)
    except TradingRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SelfCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.text(), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2), encoding="utf-8")
    return 1 if report.failed else 0


def _show_progress(name: str) -> None:
    """Each check's name as it starts, on standard error (the report, on standard output,
    stays what a script parses): a check that takes long is seen taking it."""
    print(f"checking: {name}", file=sys.stderr, flush=True)


def _check_bind(host: str, allowed: bool, what: str) -> None:
    from mtgateway_base.loopback import is_loopback

    from .errors import ConfigError

    if is_loopback(host):
        return
    if not allowed:
        raise ConfigError(f"{what} host {host!r} is not loopback; set "
                          f"insecure_allow_non_loopback = true to expose it on purpose")
    log.warning("INSECURE: %s listens on %s, reachable beyond this machine", what, host)


async def _run_daemon(config: GatewayConfig) -> int:
    """Lock the data dir, bind both ports, then build and start the daemon, in that order:
    a second daemon on the same data dir stops at the lock, and one whose port is taken stops
    at the bind, both before anything in the data dir is opened (the journal's start settles
    orders left in flight, which must only ever be the previous run's)."""
    from .daemonlock import DaemonLock, DataDirInUse

    _check_bind(config.server.host, config.server.insecure_allow_non_loopback, "server")
    _check_bind(config.bridge.host, config.bridge.insecure_allow_non_loopback, "bridge")
    lock = DaemonLock(config.resolved_data_dir())
    try:
        lock.acquire()
    except DataDirInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return await _serve_daemon(config)
    finally:
        lock.release()


def _fit_budget(config: GatewayConfig) -> GatewayConfig | None:
    """``config`` with ``[server] max_connections`` fitted to the open-file limit
    (``mtgateway_base.descriptors``: the soft limit raised toward the hard one, else the budget
    capped with a warning); None (after printing why) when not one connection fits. The
    reserve adds the EA handshakes the daemon may hold beside the HTTP connections."""
    from mtgateway_base.descriptors import RESERVE, DescriptorsTooFew, fit_connections

    part = config.server
    try:
        budget = fit_connections(part.max_connections, "[server] max_connections",
                                 reserve=RESERVE + config.bridge.max_pending_handshakes)
    except DescriptorsTooFew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if budget == part.max_connections:
        return config
    return config.model_copy(update={"server": part.model_copy(
        update={"max_connections": budget})})


async def _serve_daemon(config: GatewayConfig) -> int:
    import asyncio

    from mtgateway_base.files import InsecurePath
    from mtgateway_base.gcpolicy import tune_gc
    from mtgateway_base.loop import stop_on_signals

    from . import unix_socket
    from .app import create_app
    from .edge.listener import bind_tcp, start_http
    from .keys import DEVICE
    from .trading.journal import JournalUnusable

    fitted = _fit_budget(config)
    if fitted is None:
        return 2
    config = fitted
    try:
        http_sock = bind_tcp(config.server.host, config.server.port)
    except OSError as exc:
        print(f"error: cannot listen on {config.server.host}:{config.server.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        bridge_sock = bind_tcp(config.bridge.host, config.bridge.port)
    except OSError as exc:
        http_sock.close()
        print(f"error: cannot listen on {config.bridge.host}:{config.bridge.port} (EA bridge): "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    unix_path = config.server.unix_socket or None
    try:
        unix_sock = None if unix_path is None else unix_socket.bind_unix(unix_path)
    except OSError as exc:
        http_sock.close()
        bridge_sock.close()
        print(f"error: cannot listen on {unix_path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    app = create_app(config, bridge_socket=bridge_sock)
    try:
        runner, port = await start_http(app, http_sock)
        if unix_sock is not None:
            await unix_socket.start_unix(runner, unix_sock)
    except (OSError, JournalUnusable) as exc:
        http_sock.close()
        bridge_sock.close()
        if unix_sock is not None:
            unix_sock.close()
        if isinstance(exc, InsecurePath):
            raise  # main() prints it (exit 2: the data dir needs the user's fix)
        message = exc.strerror or exc if isinstance(exc, OSError) else exc
        print(f"error: cannot start: {message}", file=sys.stderr)
        return 1
    tune_gc()
    stop = asyncio.Event()
    stop_on_signals(stop)  # before the line saying it serves: a stop right after it is clean
    device = app[DEVICE]
    log.info("mtgateway %s: HTTP on %s:%d; authority %s; device %s (key: %s)", __version__,
             config.server.host, port, config.authority.mode, device.device_id, device.storage)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    if unix_path is not None:
        unix_socket.remove(unix_path)
    return 0
