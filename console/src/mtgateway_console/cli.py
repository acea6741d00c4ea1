"""The ``mtgateway-console`` command: serve the console, migrate its database, or act as its
operator on an owner.

Wiring only; every behaviour lives in the modules it calls (the console's composition in
``console.py``, its serving processes in ``processes.py``, the operator's commands in
``operator.py``). Exit codes, as the daemon's command has them: 0 success, 1 a runtime failure
(port in use, database unreachable), 2 a usage or configuration error.

The daemon's command (``mtgateway``) reaches the same code: ``mtgateway console``, the name
this command had before it was the console's own (read for a release, with a warning), and
``mtgateway owner ...``, for an operator who installed the console beside a daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mtgateway._version import __version__
from mtgateway_base.configfile import ConfigFileError, database_url, find_config, redact_url
from mtgateway_base.descriptors import RESERVE, DescriptorsTooFew, fit_connections
from mtgateway_base.files import InsecurePath
from mtgateway_base.log import setup_logging
from mtgateway_base.loop import run as run_on_loop
from mtgateway_base.loop import stop_on_signals
from mtgateway_base.loopback import is_loopback
from mtgateway_base.wire.records import AuthorityKey

from .config import ConsoleFile, load_console_config
from .database import DatabaseError
from .errors import ConsoleConfigError

if TYPE_CHECKING:
    from .processes import Channel

__all__ = ["ACTIONS", "add_arguments", "build_parser", "main", "run"]

log = logging.getLogger(__name__)

#: What the command does when no action is named: serve.
ACTIONS = ("serve", "migrate", "owner")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The console's options and actions, on ``parser`` (this command's, or the daemon's
    ``console`` subcommand, which takes the same)."""
    parser.add_argument("-c", "--config", type=Path,
                        help="config file (TOML); default: $MTGATEWAY_CONFIG, else "
                             "~/.config/mtgateway/config.toml (%%APPDATA%% on Windows) "
                             "if it exists")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, words in (("serve", "serve the console (the default; migrates the database "
                                  "first)"),
                        ("migrate", "bring the database to this release's schema and exit")):
        _config_after(sub.add_parser(name, help=words))
    owner = sub.add_parser("owner", help="the operator's commands on an owner")
    owner_sub = owner.add_subparsers(dest="owner_command", required=True, metavar="ACTION")
    for name, words in (
            ("create", "add an owner (password from MTGATEWAY_OWNER_PASSWORD or a prompt, "
                       "never an argument)"),
            ("reset-2fa", "turn an owner's two-step sign-in off (lost phone and recovery "
                          "codes): every session ends, the owner is mailed, Activity notes "
                          "it"),
            ("reset-password", "the owner's password leaked: end every session and console "
                               "API sign-in, set the password aside (it signs in nowhere) "
                               "and mail the owner a link to choose a new one, whatever the "
                               "two-step sign-in")):
        action = owner_sub.add_parser(name, help=words)
        action.add_argument("--email", required=True)
        _config_after(action)
    _config_after(owner)


def _config_after(action: argparse.ArgumentParser) -> None:
    """``-c`` after an action too (``mtgateway-console migrate -c F``); SUPPRESS, so an
    action's default never overwrites the one given before it."""
    action.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS,
                        help="config file (TOML), as before the action")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="mtgateway-console", description=(
        "MT Gateway's token authority and owners' web console."))
    parser.add_argument("--version", action="version", version=f"mtgateway-console {__version__}")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mtgateway-console`` command."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the parsed command (:func:`add_arguments`' namespace); the exit code."""
    setup_logging("WARNING")
    try:
        path = find_config(args.config)
        config = load_console_config(path)
        if args.action == "owner":
            from . import operator

            return run_on_loop(operator.run(args.owner_command, args.email, config, path))
        setup_logging(config.logging.level, config.logging.format)
        if args.action == "migrate":
            return run_on_loop(_migrate(config))
        return run_on_loop(_serve(config))
    except (ConfigFileError, ConsoleConfigError, InsecurePath, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _fit_budget(config: ConsoleFile) -> ConsoleFile | None:
    """``config`` with ``[console] max_connections`` fitted to the open-file limit
    (``mtgateway_base.descriptors``: the soft limit raised toward the hard one, else the
    budget capped with a warning); None (after printing why) when not one connection fits."""
    part = config.console
    try:
        budget = fit_connections(part.max_connections, "[console] max_connections",
                                 reserve=RESERVE)
    except DescriptorsTooFew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if budget == part.max_connections:
        return config
    return config.model_copy(update={"console": part.model_copy(
        update={"max_connections": budget})})


async def _migrate(config: ConsoleFile) -> int:
    from .tables.store import AuthorityStore

    section = config.authority
    store = AuthorityStore(config.resolved_data_dir(), database_url(section),
                           connect_timeout_s=section.database_connect_timeout_s,
                           statement_timeout_s=section.database_statement_timeout_s)
    try:
        before, after = await store.migrate()
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.database.close()
    where = store.database.describe()
    if before == after:
        print(f"{where}: schema version {after}, nothing to migrate")
    else:
        print(f"{where}: schema version {before} -> {after}")
    return 0


async def _serve(config: ConsoleFile) -> int:
    from mtgateway_base.gcpolicy import pace_gc

    from .console import AUTHORITY, create_console_app, mailer_from_config, start_console

    if config.console.processes > 1:
        return await _supervise(config)
    if config.console.pin_processes:
        _pin_process(0)
    fitted = _fit_budget(config)
    if fitted is None:
        return 2
    config = fitted
    mailer = mailer_from_config(config.smtp)
    if _mail_matters(config):
        await _check_mailer(config)
    app = create_console_app(config, mailer=mailer)
    try:
        runner, port = await start_console(app, config.console.host, config.console.port)
    except OSError as exc:
        print(f"error: cannot start the console: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    stop_on_signals(stop)
    pacer = pace_gc()  # start-up is over: everything built so far is long-lived
    _say_listens(config, port, app[AUTHORITY].store.signer.key)
    await stop.wait()
    pacer.cancel()
    await runner.cleanup()
    return 0


def _reached_from_elsewhere(config: ConsoleFile) -> bool:
    """Whether daemons and owners on other machines can reach this console: it listens beyond
    loopback, or a reverse proxy passes requests on to it (``allowed_hosts``,
    ``behind_proxy``, ``public_url``). Otherwise it is one machine's own, as the Windows
    Start menu's *MT Gateway console* is: the local authority of a daemon on this machine,
    which approves that machine by itself and reads the authority's files directly."""
    part = config.console
    return not is_loopback(part.host) or part.proxied or bool(part.public_url)


def _mail_matters(config: ConsoleFile) -> bool:
    """Whether to check ``[smtp]`` at start: it was set (the operator means mail to go), or
    other machines reach the console (their daemons' approvals are mailed codes). A console
    for this machine alone with ``[smtp]`` left unset is a local owner's, who never set up
    mail: warning them that ``localhost:587`` does not answer says nothing they can act on
    (its pages say so when a mail, a reset or an alert, cannot go)."""
    return "smtp" in config.model_fields_set or _reached_from_elsewhere(config)


async def _check_mailer(config: ConsoleFile) -> None:
    """Say loudly, once, when ``[smtp]`` does not work (the console serves anyway: tokens,
    accounts and pages work without mail; device approvals cannot complete)."""
    from .console import mailer_from_config

    smtp = f"{config.smtp.host}:{config.smtp.port} ({config.smtp.security})"
    try:
        await mailer_from_config(config.smtp).check()
    except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        print(f"warning: the [smtp] settings do not work: {smtp}: {type(exc).__name__}"
              f"{': ' + detail if detail else ''}. Device approval e-mails will fail "
              "until they are fixed.", file=sys.stderr, flush=True)
    else:
        log.info("SMTP %s answered and accepted the settings", smtp)


def _say_listens(config: ConsoleFile, port: int, key: AuthorityKey) -> None:
    """The two lines a console prints once it serves (scripts and the tests read them). The
    key is always said (a daemon or command on this machine pointed at it by URL pins it);
    the advice to pin it in daemons' configs only when daemons elsewhere can reach it: a
    local owner's console serves a daemon that reads the authority directly."""
    log.info("mtgateway console %s on %s:%d", __version__, config.console.host, port)
    print(f"console listening on http://{config.console.host}:{port}", flush=True)
    pin = (" (pin it as [authority] public_key in daemons' and the CLI's configs)"
           if _reached_from_elsewhere(config) else "")
    print(f"authority key kid={key.kid} public_key={key.b64}{pin}", flush=True)


async def _supervise(config: ConsoleFile) -> int:
    """``[console] processes`` > 1: start the serving processes on one port
    (``processes.py``), say the instance listens once all serve, and stop them all on a
    signal, or when one of them ends (exit 1: the service manager restarts the instance)."""
    from .console import mailer_from_config
    from .processes import WorkerFailed, Workers, reserve_port, spreads_connections
    from .service import Authority

    count = config.console.processes
    if not database_url(config.authority):
        print(f"error: [console] processes = {count} needs the authority's database in "
              "PostgreSQL ([authority] database_url or MTGATEWAY_DATABASE_URL): processes on "
              "one SQLite file would take turns at its single writer", file=sys.stderr)
        return 2
    if _mail_matters(config):
        await _check_mailer(config)
    # the key files are made (or read) once, here, before the processes read them
    key = Authority.closed(config.resolved_data_dir(), mailer_from_config(config.smtp),
                           database_url=database_url(config.authority)).store.signer.key
    host = config.console.host
    try:
        sock = reserve_port(host, config.console.port)
    except OSError as exc:
        print(f"error: cannot start the console: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = int(sock.getsockname()[1])
    workers = Workers(count, _process, (config, port),
                      None if spreads_connections() else sock)
    try:
        await asyncio.to_thread(workers.start)
    except WorkerFailed as exc:
        sock.close()
        print(f"error: cannot start the console: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    stop_on_signals(stop)
    _say_listens(config, port, key)
    code = 0
    while not stop.is_set():
        ended = workers.ended()
        if ended:
            log.error("console process %s ended; stopping the others", ", ".join(ended))
            code = 1
            break
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()
    await asyncio.to_thread(workers.stop)
    sock.close()
    return code


def _pin_process(index: int) -> None:
    """``[console] pin_processes``: this serving process (the ``index``-th) on one CPU, before
    its database workers start."""
    from .processes import pin

    log.info("console process %d runs on CPU %d", index, pin(index))


def _process(index: int, shared: socket.socket | None, channel: Channel,
             config: ConsoleFile, port: int) -> None:
    """One serving process of a console instance (``processes.Workers``' target, in a
    process of its own): serves until the supervisor says stop, or a signal."""
    setup_logging(config.logging.level, config.logging.format)
    if config.console.pin_processes:
        _pin_process(index)
    try:
        run_on_loop(_serve_process(index, shared, channel, config, port))
    except BaseException as exc:
        with contextlib.suppress(OSError):  # for the supervisor's error line: no password
            channel.send(redact_url(f"{type(exc).__name__}: {exc}")[:300])
        raise


async def _serve_process(index: int, shared: socket.socket | None, channel: Channel,
                         config: ConsoleFile, port: int) -> None:
    from mtgateway_base.gcpolicy import pace_gc

    from .console import create_console_app, mailer_from_config, start_console
    from .processes import listening_socket, on_stop

    fitted = _fit_budget(config)
    if fitted is None:
        channel.send("the open-file limit leaves no room for connections")
        return
    config = fitted
    host = config.console.host
    app = create_console_app(config, mailer=mailer_from_config(config.smtp))
    runner, bound = await start_console(app, host, port,
                                        sock=listening_socket(host, port, shared))
    stopping = asyncio.Event()
    stop_on_signals(stopping)
    loop = asyncio.get_running_loop()

    def stop() -> None:  # on the pipe's thread
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(stopping.set)

    pacer = pace_gc()  # start-up is over: everything built so far is long-lived
    channel.send(bound)
    on_stop(channel, stop)
    await stopping.wait()
    pacer.cancel()
    await runner.cleanup()
