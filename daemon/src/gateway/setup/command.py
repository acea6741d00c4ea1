"""``mtgateway setup``: from an installed gateway to a terminal a bot can trade through.

One command, interactive or whole from flags (``--yes``, or no terminal on standard input:
nothing is asked, and what is missing is an error naming its flag). In order:

1. finds the MetaTrader 5 and 4 terminals on this machine (``found``) and takes the ones
   chosen (``--terminal``, ``--all``, or asked);
2. for each, the account it is logged into (``--login``/``--server``; the terminal's own
   ``config\\common.ini`` suggests it);
3. pairs this machine with the owner's authority (``pairing``: the local one by default, a
   console with ``--console URL``);
4. for each terminal: installs the EA (``gateway.eafiles``), compiles it with the terminal's
   own MetaEditor when it is there (``metaeditor``: helper first, the log's error count
   shown), issues the token for its account (or keeps the one setup issued before, while it is
   live) and writes it into the EA's preset (``preset``);
5. registers the log-on task (``gateway/service.py``: the Windows Task Scheduler task, a systemd
   user unit on Linux) and starts the daemon;
6. prints what only the owner can do in the terminal (Algo Trading, the WebRequest entry,
   dragging the EA onto a chart and loading the preset);
7. waits for the EA's hello and runs ``mtgateway check`` against it.

Re-running is safe: files are replaced, a live token is kept, the task is registered again.
Every file setup writes that holds a token (the preset, ``check.json``) is the user's alone
(0600; on Windows an ACL for the user and SYSTEM, nothing inherited), and so is a folder it
makes for one. What setup added is written down (``record``), and ``--undo`` removes it: the
tokens it issued (revoked first: a terminal whose token cannot be revoked now stays, record
and all, for the next ``--undo``), the EA's files and compiled programs, the presets, the
task, the config it wrote (written only once the console proved its key). The owner's data
(the authority, the journal, the device key) is never removed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import socket
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from mtgateway.places import default_data_dir
from mtgateway_base.environment import read_env
from mtgateway_base.files import (
    create_private_dirs,
    create_private_file,
    ensure_private_dir,
    replace_private_file,
)
from mtgateway_base.loop import run as run_on_loop
from mtgateway_base.wire.errors import AuthorityError, AuthorityRefused, AuthorityUnreachable

from .. import service
from ..auth.owner import ConsoleUnproven
from ..config import (
    GatewayConfig,
    console_url_problem,
    default_config_path,
    find_config,
    load_config,
)
from ..eafiles import COMPILED, InstallError, ea4_source_dir, ea_source_dir, install_ea
from ..errors import ConfigError
from .found import Terminal, find_terminals, searched, terminal_at
from .metaeditor import COMPILE_ORDER, SHOWN_LINES, Compiled, NotRun, compile_source
from .pairing import LocalPairing, PairingError, RemotePairing
from .preset import PRESET_NAME, ea_inputs, preset_bytes, read_preset
from .record import CHECK_FILE, RECORD_FILE, SetupRecord, TerminalRecord, write_private

__all__ = ["run"]

_PASSWORD_ENV: Final = "MTGATEWAY_OWNER_PASSWORD"
_EMAIL_ENV: Final = "MTGATEWAY_OWNER_EMAIL"


class _Stop(Exception):
    """Setup cannot go on; the message says why and what to pass or do (exit 2)."""


@dataclass
class _Asker:
    """The questions setup may ask; with ``interactive`` false each is an error instead."""

    interactive: bool
    ask: Callable[[str], str] = input
    secret: Callable[[str], str] = getpass.getpass

    def text(self, question: str, default: str = "", flag: str = "", missing: str = "") -> str:
        """The answer (Enter: ``default``); a question ending in "?" is asked as one
        ("Which account is it logged into? [5012345] "), others with a colon. Without a
        person to ask, ``default``, else an error naming ``flag`` and what is ``missing``."""
        if not self.interactive:
            if default:
                return default
            raise _Stop(f"{missing or question.rstrip('?: ')}: pass {flag}")
        suffix = f" [{default}]" if default else ""
        ending = " " if question.endswith("?") else ": "
        answer = self.ask(f"{question}{suffix}{ending}").strip()
        return answer or default

    def password(self, email: str, problem: Callable[[str], str | None]) -> str:
        """A new owner's password: from the environment (refused as the authority would
        refuse it: nothing to ask again), else typed twice without echo, and asked again on
        the spot when ``problem`` refuses it or the two differ, rather than ending setup
        after every other answer was given."""
        given = read_env(_PASSWORD_ENV)
        if given is not None:
            said = problem(given)
            if said is not None:
                raise _Stop(f"{_PASSWORD_ENV}: {said}")
            return given
        if not self.interactive:
            raise _Stop(f"no password for the new owner {email}: set {_PASSWORD_ENV}")
        while True:
            first = self.secret(f"A password for {email} (8+ characters, for the console): ")
            said = problem(first)
            if said is not None:
                print(f"{said}; choose another")
                continue
            if self.secret("Repeat it: ") == first:
                return first
            print("the two differ; once more")

    def code(self) -> str:
        if not self.interactive:
            line = sys.stdin.readline().strip()
            if not line:
                raise _Stop("the console e-mailed the owner a code: pipe it in, or run "
                            "`mtgateway device verify` once it arrives")
            return line
        return self.ask("The 8-digit code the console e-mailed the owner: ")


@dataclass
class _Outcome:
    """What one run did, for the summary and the exit code."""

    tokens: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def run(args: argparse.Namespace, config_file: Path | None) -> int:
    """Carry out ``mtgateway setup``; the exit code (0 done, 1 a step failed, 2 a usage
    error: nothing asked for could be done)."""
    asker = _Asker(interactive=not args.yes and sys.stdin.isatty())
    # The embedded authority logs its refusals for an operator's service log (a WARNING line
    # with a timestamp and a logger's name); setup says what went wrong in its own words.
    logging.getLogger("mtgateway_console").setLevel(logging.ERROR)
    try:
        if args.undo:
            return run_on_loop(_undo(load_config(config_file), asker))
        return run_on_loop(_setup(args, config_file, asker))
    except (_Stop, PairingError, ConsoleUnproven) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AuthorityUnreachable:
        print("error: the token authority (console) cannot be reached", file=sys.stderr)
        return 1
    except AuthorityRefused as exc:
        print(f"error: the console refused: {exc.reason}", file=sys.stderr)
        return 1
    except AuthorityError as exc:
        # the local authority's own failures (its database: DatabaseError, whose message
        # says what to fix), caught by the contract's base class so that a daemon without the
        # console installed need not import the console to name them
        print(f"error: {exc}", file=sys.stderr)
        return 1


# -- which terminals, which accounts ------------------------------------------------------


def _chosen(args: argparse.Namespace, asker: _Asker) -> list[Terminal]:
    given = [Path(t) for t in args.terminal if os.sep in t or "/" in t or Path(t).is_dir()]
    found = find_terminals(extra=given)
    for entry in args.terminal:
        if not any(entry in (t.id, str(t.data_dir)) or Path(entry) == t.data_dir
                   for t in found) and terminal_at(Path(entry)) is None:
            raise _Stop(f"no terminal {entry!r}: not the name of a terminal's folder "
                        f"{searched()}, nor a folder with MQL5\\Experts or MQL4\\Experts")
    if not found:
        raise _Stop(f"no MetaTrader terminal found ({searched()}): start the terminal once, or "
                    "pass --terminal with its data folder (in MetaTrader: File > Open Data "
                    "Folder)")
    if args.terminal or args.all or len(found) == 1:
        chosen = found if not args.terminal else [
            t for t in found if any(e in (t.id, str(t.data_dir)) or Path(e) == t.data_dir
                                    for e in args.terminal)]
        for terminal in chosen:  # what setup found, before it asks anything about it
            print(f"Found {terminal.describe()}")
        return chosen
    print(f"Found {len(found)} MetaTrader terminals:")
    for number, terminal in enumerate(found, 1):
        print(f"  {number}. {terminal.describe()}")
    if not asker.interactive:
        raise _Stop(f"{len(found)} terminals found: pass --terminal ID (or --all)")
    answer = asker.text("Which terminals (numbers separated by commas; Enter: all)")
    if not answer:
        return found
    picked = [found[int(n) - 1] for n in answer.replace(" ", "").split(",")
              if n.isdigit() and 0 < int(n) <= len(found)]
    if not picked:
        raise _Stop(f"no terminal numbered {answer!r}")
    return picked


def _account(terminal: Terminal, args: argparse.Namespace, asker: _Asker,
             several: bool) -> tuple[int, str]:
    if (args.login is not None or args.server) and several:
        raise _Stop("--login and --server name one terminal's account: set up one terminal at "
                    "a time with --terminal")
    default_login = str(args.login or terminal.login or "")
    which = (f"MetaTrader {terminal.platform[2]} in {terminal.where}" if several else "it")
    login = asker.text(f"Which account is {which} logged into?", default_login, "--login",
                       f"the account {which if several else 'the terminal'} is logged into "
                       "(File > Login to Trade Account)")
    if not login.isdigit() or int(login) <= 0:
        raise _Stop(f"the account is its number, e.g. 5012345, not {login!r}")
    server = asker.text("Its trade server, as the terminal names it",
                        args.server or terminal.server, "--server")
    return int(login), server


# -- the steps for one terminal ---------------------------------------------------------


def _by_hand(terminal: Terminal) -> str:
    """The next step when setup could not compile: the same compile, in MetaEditor's window."""
    if terminal.platform == "MT4":
        return ("compile it in MetaEditor: F4 in the terminal, open Experts > MTGateway.mq4, "
                "press F7 (docs/terminal.md)")
    return ("compile it in MetaEditor: F4 in the terminal, open Indicators > MTGateway > "
            "Helper.mq5 and press F7, then Experts > MTGateway.mq5 and F7 (docs/terminal.md)")


def _verdict(result: Compiled) -> str:
    """How one compile went, in a line: the log's counts when setup reads its summary, else
    whether the program was written, and that the log follows because setup cannot read it
    (never a silent success or failure)."""
    log, program = result.log, result.program.name
    if log.state == "read":
        return (f"{log.errors} errors, {log.warnings} warnings"
                + ("" if result.built or log.errors else " (no compiled file appeared)"))
    wrote = (f"{program} written (MetaEditor writes it only from a compile without errors)"
             if result.built else f"no {program} written: the compile failed")
    if log.state == "missing":
        return f"{wrote}; MetaEditor wrote no log ({log.path})"
    why = ("is neither UTF-16 nor UTF-8 text" if log.state == "undecodable"
           else "has no summary setup can read (MetaEditor writes it in its own language)")
    return f"{wrote}; its log {why}, as it reads: {log.path}"


def _shown(text: str) -> str:
    """``text`` as this console can print it: a character its encoding lacks (a Russian
    MetaEditor's log in a Western code page, a Windows console's pipe) becomes "?" rather
    than ending setup with UnicodeEncodeError."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return text.encode(encoding, errors="replace").decode(encoding, errors="replace")


def _compile(terminal: Terminal, logs: Path) -> str | None:
    """Compile the EA with the terminal's own MetaEditor (helper first), saying how each went;
    what failed, for the summary and the exit code, or None. A MetaEditor that is not there or
    did not run (refused by the system, no Wine, stuck past its time, wrote nothing) is one
    line with the next step, and setup goes on to the preset: the owner compiles by hand."""
    metaeditor = terminal.metaeditor
    if metaeditor is None:
        print(f"  no MetaEditor beside the terminal: {_by_hand(terminal)}")
        return None
    for relative in COMPILE_ORDER[terminal.platform]:
        name = Path(relative).name
        try:
            result = compile_source(metaeditor, terminal.mql_dir, relative,
                                    logs / f"{terminal.id}-{Path(relative).stem}.log",
                                    portable=terminal.portable, prefix=terminal.prefix)
        except NotRun as exc:
            print(_shown(f"  {name} not compiled: {exc}; {_by_hand(terminal)}"))
            return None
        print(_shown(f"  compiled {name} with {metaeditor.name}: {_verdict(result)}"))
        shown = result.log.messages if result.log.state == "read" else result.log.lines
        for line in shown[:SHOWN_LINES]:
            print(_shown(f"    {line}"))
        if len(shown) > SHOWN_LINES:
            print(_shown(f"    ... and {len(shown) - SHOWN_LINES} more lines in "
                         f"{result.log.path}"))
        if not result.ok:
            # the EA carries the helper: it cannot compile without it
            return f"the compile failed (log: {result.log.path})"
    return None


def _preset(terminal: Terminal, token: str, config: GatewayConfig) -> Path:
    """Write the EA's inputs, ``token`` among them, where the terminal's *Load* lists them;
    the preset's path. Replaced whole (a crash leaves the old preset or the new one)."""
    source_dir = ea_source_dir() if terminal.platform == "MT5" else ea4_source_dir()
    source = source_dir / "Experts" / f"MTGateway.mq{terminal.platform[2]}"
    inputs = ea_inputs(source.read_text(encoding="utf-8"))
    host = config.bridge.host if config.bridge.host not in ("0.0.0.0", "::") else "127.0.0.1"
    values = {"AuthToken": token, "GatewayHost": host, "GatewayPort": str(config.bridge.port)}
    preset = terminal.mql_dir / "Presets" / PRESET_NAME
    # The token is the account's read and trade: the preset is the user's alone (0600, on
    # Windows an ACL for the user and SYSTEM with nothing inherited), whoever can reach the
    # data folder (a Wine prefix in a 0755 home, a portable terminal at a drive's root); and
    # so is a Presets folder setup makes. MetaTrader's own folder is left as it is.
    create_private_dirs(preset.parent)
    replace_private_file(preset, preset_bytes(inputs, values, terminal.platform,
                                              datetime.now()))
    return preset


def _owner_steps(terminal: Terminal, config: GatewayConfig) -> list[str]:
    steps = [f"In MetaTrader {terminal.platform[2]} in {terminal.where}:",
             "  Tools > Options > Expert Advisors: tick 'Allow WebRequest for listed URL' and "
             f"add {config.bridge.host if config.bridge.host != '0.0.0.0' else '127.0.0.1'}",
             "  press Algo Trading on the toolbar (it turns green)",
             "  Navigator > Expert Advisors (right-click, Refresh): drag MTGateway onto one "
             "chart; Inputs tab: Load > MTGateway.set; Common tab: Allow Algo Trading; OK"]
    if terminal.platform == "MT4":
        steps.insert(2, "  and tick 'Allow DLL imports' (the MT4 EA uses ws2_32.dll for its "
                        "socket)")
    return steps


# -- setup ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unwritten:
    """The config ``--console`` makes, not yet on disk: written only once the console proved
    the pinned key and took the owner's password, so a console that fails the proof (another
    process on its port, a wrong key) leaves nothing behind to undo."""

    path: Path
    text: str


def _console_config(args: argparse.Namespace, config_file: Path | None
                    ) -> tuple[Path | None, GatewayConfig, _Unwritten | None]:
    """The config to run with: as found, or (``--console`` and no config file) a new one
    naming the console, to be written where ``mtgateway`` finds it (:func:`_write_config`,
    after the console proved itself)."""
    config = load_config(config_file)
    if not args.console:
        return config_file, config, None
    problem = console_url_problem(str(args.console))
    if problem:
        raise _Stop(problem)
    section = config.authority
    if section.mode == "remote":
        if section.url.rstrip("/") != str(args.console).rstrip("/"):
            raise _Stop(f"the config {config_file} names the console {section.url}: pass that "
                        "URL, or change [authority] url there")
        return config_file, config, None
    if config_file is not None:
        raise _Stop(f"the config {config_file} uses the local authority: set [authority] "
                    f'mode = "remote", url = "{args.console}" and public_key there, or run '
                    "setup without --console")
    if not args.console_key:
        raise _Stop("--console-key: the console's authority key (the line its start prints: "
                    "public_key=...) is needed to trust it")
    text = (f'[authority]\nmode = "remote"\nurl = {json.dumps(str(args.console))}\n'
            f"public_key = {json.dumps(str(args.console_key))}\n")
    try:  # what the file will say, validated as the loader will validate it
        config = GatewayConfig.model_validate(tomllib.loads(text))
    except ValidationError as exc:
        raise _Stop(f"--console-key: {exc.errors()[0]['msg']}") from None
    return None, config, _Unwritten(default_config_path(), text)


def _write_config(unwritten: _Unwritten, record: SetupRecord, data_dir: Path,
                  console: str) -> Path:
    """Write the config ``--console`` made (the user's alone: it pins the console's key, and
    the loader refuses one others could change) and record it at once, so ``--undo``
    removes it whatever fails after; its path."""
    create_private_dirs(unwritten.path.parent)
    if not create_private_file(unwritten.path, unwritten.text.encode("utf-8")):
        raise _Stop(f"{unwritten.path} appeared meanwhile: run setup again (it will use it)")
    record.config_created = str(unwritten.path)
    record.save(data_dir)
    print(f"wrote {unwritten.path} (the daemon's authority: the console at {console})")
    return unwritten.path


async def _open_pairing(args: argparse.Namespace, config: GatewayConfig, asker: _Asker,
                        accounts: list[tuple[int, str]]) -> LocalPairing | RemotePairing:
    email = str(args.email or read_env(_EMAIL_ENV) or "")
    if config.authority.mode == "remote":
        email = email or asker.text("The console owner's e-mail", flag="--email")
        password = read_env(_PASSWORD_ENV)
        if password is None:
            if not asker.interactive:
                raise _Stop(f"no password for {email}: set {_PASSWORD_ENV}")
            password = asker.secret(f"Password for {email}: ")
        return RemotePairing.open(config.authority.url,
                                  args.console_key or config.authority.public_key,
                                  config.authority.request_timeout_s, email, password)

    if not email and asker.interactive:
        try:
            return await LocalPairing.open(config, "", asker.password, accounts)
        except PairingError:
            email = asker.text("Your e-mail (the owner of this machine's tokens)")
    return await LocalPairing.open(config, email, asker.password, accounts)


def _daemon_url(config: GatewayConfig) -> str:
    host = config.server.host if config.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{config.server.port}"


async def _setup(args: argparse.Namespace, config_file: Path | None, asker: _Asker) -> int:
    record_dir = load_config(config_file).resolved_data_dir()
    record = SetupRecord.load(record_dir)
    config_file, config, unwritten = _console_config(args, config_file)
    data_dir = config.resolved_data_dir()
    ensure_private_dir(data_dir / "setup-logs")  # the data directory is the user's alone
    if config.bridge.port == 0 or config.server.port == 0:
        raise _Stop("[server] port and [bridge] port must be fixed ports for setup (the EA's "
                    "preset names the bridge port), not 0")
    terminals = _chosen(args, asker)
    accounts = [_account(t, args, asker, len(terminals) > 1) for t in terminals]
    pairing = await _open_pairing(args, config, asker, accounts)
    outcome = _Outcome()
    approved = False
    try:
        active = await pairing.active_token_ids()  # the console proved its key first
        if unwritten is not None:
            config_file = _write_config(unwritten, record, data_dir, str(args.console))
        for terminal, (login, server) in zip(terminals, accounts, strict=True):
            print(f"== {terminal.describe()}")
            try:
                installed = install_ea(terminal.data_dir)
            except InstallError as exc:
                print(f"  error: {exc}")
                outcome.failed.append(f"{terminal.id}: the EA could not be installed")
                continue
            print(f"  installed the EA into {installed.mql_dir} ({len(installed.written)} "
                  "files)")
            if args.no_compile:
                print("  not compiled (--no-compile): compile it in MetaEditor (docs/terminal.md)")
            elif (failed := _compile(terminal, data_dir / "setup-logs")) is not None:
                outcome.failed.append(f"{terminal.id}: {failed}")
            key = str(terminal.data_dir)
            before = record.terminals.get(key)
            preset_path = terminal.mql_dir / "Presets" / PRESET_NAME
            token = read_preset(preset_path).get("AuthToken", "")
            if (before is not None and before.token_id in active and token
                    and (before.login, before.server, before.authority)
                    == (login, server, pairing.where)):
                token_id = before.token_id
                print(f"  token {token_id} for {login} @ {server}: kept (still live)")
            else:
                issued = await pairing.issue(
                    login, server, f"EA in {terminal.id[:8]} on {socket.gethostname()} "
                                   "(mtgateway setup)")
                token, token_id = issued.token, issued.token_id
                print(f"  token {token_id} for {login} @ {server}: issued (expires "
                      f"{_when(issued.record.get('expires_at'))}; run setup again to renew)")
                if (before is not None and before.authority == pairing.where
                        and before.token_id != token_id and await pairing.revoke(before.token_id)):
                    print(f"  token {before.token_id}: revoked (replaced)")
            preset = _preset(terminal, token, config)
            print(f"  wrote {preset} (the EA's inputs with the token: Load it in the EA's "
                  "Inputs tab)")
            if not approved:
                print("  " + await pairing.approve(config, token, asker.code))
                approved = True
            files = [str(p) for p, _ in installed.written]
            files += [str(installed.mql_dir / rel) for rel in COMPILED[terminal.platform]]
            record.terminals[key] = TerminalRecord(key, terminal.platform, login, server,
                                                   token_id, pairing.where, pairing.owner,
                                                   str(preset), files)
            record.save(data_dir)
            outcome.tokens[key] = token
    finally:
        await pairing.close()
    if not outcome.tokens:
        print("error: no terminal was set up", file=sys.stderr)
        return 1
    url = _daemon_url(config)
    last_token = list(outcome.tokens.values())[-1]
    write_private(data_dir / CHECK_FILE,
                  json.dumps({"rpc_url": f"{url}/rpc", "token": last_token}).encode("utf-8"))
    print(f"wrote {data_dir / CHECK_FILE} (`mtgateway check` and bots told nothing read it "
          "from the default data directory; `--state-file` names it from elsewhere)")
    if args.no_service:
        print("the log-on task: not registered (--no-service): start `mtgateway run` yourself")
    else:
        print("== the daemon at log-on")
        had_one = service.definition_path().exists()
        try:
            registered = service.install(config_file)
        except ConfigError as exc:  # a path the service manager cannot be given, refused
            print(f"  error: {exc}")
            registered = 1
        if registered == 0:
            # --undo removes the task only when setup added it (not one the owner had)
            record.service = record.service or not had_one
            record.save(data_dir)
        else:
            outcome.failed.append("the log-on task could not be registered")
    print("== what only you can do, in each terminal")
    for terminal in terminals:
        if str(terminal.data_dir) in outcome.tokens:
            print("\n".join(_owner_steps(terminal, config)))
    print(_bots_hint(data_dir / CHECK_FILE))
    if args.wait > 0:
        for key, token in outcome.tokens.items():
            named = next(t for t in terminals if str(t.data_dir) == key)
            if not await _wait_and_check(url, token, named, args):
                outcome.failed.append(f"{key}: the check did not pass")
    print(_console_hint(pairing, config_file))
    for failure in outcome.failed:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if outcome.failed else 0


def _console_hint(pairing: LocalPairing | RemotePairing, config_file: Path | None) -> str:
    """Setup's last line: where the owner's console is and how to sign in, which nothing
    else says (setup asked for a password "for the console"). The local authority's console
    is started by hand, from the Start menu's *MT Gateway console* on Windows (the
    installer's entry) or ``mtgateway-console`` elsewhere, both with no ``-c``: a config
    they would not find by themselves is named, or they would serve another authority; a
    hosted one is at its URL."""
    url = pairing.console_url(config_file)
    how = "with the password you chose" if pairing.made else f"as {pairing.owner}"
    if isinstance(pairing, RemotePairing):
        return f"your console: {url} {how}"
    try:
        found_alone = find_config(None)
    except ConfigError:
        found_alone = None
    if config_file is not None and (found_alone is None
                                    or config_file.resolve() != found_alone.resolve()):
        start = f'run `mtgateway-console -c "{config_file}"`'
    elif sys.platform == "win32":
        start = "Start menu > MT Gateway > MT Gateway console"
    else:
        start = "run `mtgateway-console`"
    return f"your console: {start}, then {url} {how}"


def _bots_hint(check_file: Path) -> str:
    """How a bot finds this daemon: with nothing set when setup wrote where the client looks
    when told nothing (the default data directory, ``mtgateway.places``), else by naming the
    file; and the interpreter to run it with, which has the client."""
    finds = ("mt5.initialize() with nothing set finds this daemon (`import MetaTrader5 as mt5` "
             "unchanged on the installer's Python, or `import mtgateway as mt5`)")
    default = default_data_dir()
    if check_file == default / CHECK_FILE:
        return (f"Bots: {finds}: the client reads {check_file}, yours alone, as `mtgateway "
                f'check` does; e.g. "{sys.executable}" my_bot.py')
    return (f"Bots: set MTGATEWAY_STATE_FILE={check_file} (your data_dir is not {default}, "
            f"where the client looks when told nothing); then {finds}; e.g. "
            f'"{sys.executable}" my_bot.py; `mtgateway check --state-file {check_file}` checks it')


def _when(epoch: object) -> str:
    if not isinstance(epoch, int):
        return "never"
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d")


async def _wait_and_check(url: str, token: str, terminal: Terminal,
                          args: argparse.Namespace) -> bool:
    """Wait up to ``--wait`` for the EA's hello, then run the check; whether it passed."""
    from mtgateway.aio import AsyncClient

    from ..selfcheck import SelfCheckError, run_selfcheck

    print(f"== waiting up to {args.wait:g} s for the EA in MetaTrader {terminal.platform[2]} "
          f"in {terminal.where} to connect to {url}", flush=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.wait
    while True:  # the daemon the task started may still be starting: ask until the deadline
        left_ms = int((deadline - loop.time()) * 1000)
        async with AsyncClient() as client:
            if await client.initialize(token=token, url=url, timeout=max(left_ms, 1)):
                break
            reason = client.last_error().description
        if loop.time() >= deadline:
            print(f"  not connected: {reason}")
            return False
        await asyncio.sleep(1.0)
    print("  the EA said hello; running `mtgateway check`")
    try:
        report = await run_selfcheck(url=url, token=token, stream_s=args.check_seconds)
    except SelfCheckError as exc:
        print(f"  error: {exc}")
        return False
    print(report.text(), flush=True)
    return not report.failed


# -- undo -------------------------------------------------------------------------------


async def _undo(config: GatewayConfig, asker: _Asker) -> int:
    """Take out what setup added, terminal by terminal: its token revoked first, then its
    files. A token that cannot be revoked now (no password to ask for, a mistyped one, the
    console down) is live: that terminal stays as it is, in MetaTrader and in the record
    (the EA holds the token anyway, and only the record says which token to revoke), and so
    do the log-on task, the config and ``check.json`` it runs with, so that the next
    ``--undo`` finishes; exit 1 until then."""
    data_dir = config.resolved_data_dir()
    record = SetupRecord.load(data_dir)
    if not record.terminals and not record.service and not record.config_created:
        print(f"nothing to undo: no {RECORD_FILE} in {data_dir}")
        return 0
    live: list[str] = []
    for key, terminal in list(record.terminals.items()):
        print(f"== {key}")
        try:
            revoked = await _revoke(config, terminal, asker)
        except (PairingError, AuthorityError) as exc:
            print(f"  error: token {terminal.token_id} not revoked: {exc}")
            print("  kept as it is (the EA, its preset and the record of them) until its "
                  "token is revoked")
            live.append(terminal.token_id)
            continue
        print(f"  token {terminal.token_id}: " + ("revoked" if revoked else "already gone"))
        _remove_files(terminal)
        del record.terminals[key]
        record.save(data_dir)
    if live:
        print(f"error: {len(live)} token(s) still live ({', '.join(live)}): their terminals, "
              "the log-on task and the config are kept; run `mtgateway setup --undo` again "
              f"once the authority can be asked (the console reachable, {_PASSWORD_ENV} set "
              "or typed) to finish", file=sys.stderr)
        return 1
    if record.service:
        print("== the log-on task")
        service.uninstall()
        record.service = False
        record.save(data_dir)
    _remove_rest(record, data_dir)
    print("undone; your data (the authority, the journal, this machine's key) is kept")
    return 0


def _remove_files(terminal: TerminalRecord) -> None:
    """The EA's files, compiled programs and preset setup wrote into one terminal, and the
    ``MTGateway`` folders they leave empty."""
    for name in [*terminal.files, terminal.preset]:
        path = Path(name)
        if path.is_file() and not path.is_symlink():
            path.unlink()
            print(f"  removed {path}")
    for folder in {Path(name).parent for name in terminal.files}:
        if folder.name == "MTGateway" and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _remove_rest(record: SetupRecord, data_dir: Path) -> None:
    """The config setup wrote, the check's state file, and the record itself (every terminal
    undone: nothing is left to revoke)."""
    if record.config_created:
        Path(record.config_created).unlink(missing_ok=True)
        print(f"removed {record.config_created}")
    (data_dir / CHECK_FILE).unlink(missing_ok=True)
    (data_dir / RECORD_FILE).unlink(missing_ok=True)


async def _revoke(config: GatewayConfig, terminal: TerminalRecord, asker: _Asker) -> bool:
    if terminal.authority == "local":
        def refuse(who: str, problem: Callable[[str], str | None]) -> str:
            raise PairingError(f"the local authority has no owner {who} any more")

        local = await LocalPairing.open(config, terminal.owner, refuse)
        try:
            return await local.revoke(terminal.token_id)
        finally:
            await local.close()
    password = read_env(_PASSWORD_ENV)
    if password is None:
        if not asker.interactive:
            raise PairingError(f"set {_PASSWORD_ENV} for {terminal.owner} to revoke it")
        password = asker.secret(f"Password for {terminal.owner} at {terminal.authority}: ")
    remote = RemotePairing.open(terminal.authority, config.authority.public_key,
                                config.authority.request_timeout_s, terminal.owner, password)
    return await remote.revoke(terminal.token_id)
