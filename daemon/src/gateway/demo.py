"""``mtgateway demo``: the whole product on loopback in one process, walked step by step.

It runs the real flow a new user goes through, with every part on its own loopback port: an
SMTP sink (the owner's mailbox), the token authority (``mtgateway-console``) sending through
it, an owner, a token issued over the console's owner API (printed once), the daemon in remote
mode pinned to the console's key as a brand-new device (its own fresh key, in a 0600 file in
the demo's directory), and one emulated terminal connecting with the token. The terminal is
refused ``device_not_approved`` ("device verification pending: check your e-mail"); the demo
reads the approval e-mail from the sink, prints it, verifies the code with the daemon's device
key (what ``mtgateway device verify`` does), and the terminal's next reconnect goes live
without restarting anything. Then it prints the token, working ``curl`` and Python lines,
and the web console's address with the owner's sign-in (a password made for this run: the
demo's data is a temporary directory, gone when it stops), and the demo's mailbox, where
every e-mail its console sends can be read, at an address that is its key (``mailbox.py``:
made for the run, printed once; the mailbox holds the owner's reset links).

With ``--state-file`` it writes the addresses, the token and the console's sign-in as JSON
(mode 0600) once everything is ready
(atomically, so a script polling for the file never reads half of it). Ctrl-C or SIGTERM shuts
it all down in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ea_bridge import TerminalId
from ea_bridge.emulator.cli import clock_from, market_hours_line
from ea_bridge.emulator.terminal import (
    REFUSAL_TEXT,
    EmulatedTerminal,
    EmulatorSettings,
    TerminalRefused,
)
from mt5model.types import AccountMarginMode
from mtgateway_base.files import create_private_file
from mtgateway_base.gcpolicy import tune_gc
from mtgateway_base.loop import stop_on_signals
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console

from .app import create_app
from .auth.client import RemoteAuthority
from .auth.owner import OwnerConsole
from .config import (
    AuthorityConfig,
    BridgeConfig,
    DeviceConfig,
    GatewayConfig,
    ServerConfig,
)
from .edge.listener import start_http
from .keys import BRIDGE, DEVICE
from .mailbox import mail_url, mailbox_routes
from .mailsink import MailSink

__all__ = ["run_demo", "write_state_file"]

_READY_TIMEOUT_S = 15.0
_OWNER = "demo-owner@example.com"
_CODE = re.compile(r"device verify (\d{4} \d{4})")


class _DemoFailed(Exception):
    """A step did not happen in time; the message says which."""


def write_state_file(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as JSON to ``path`` atomically (temp file + rename), mode 0600: it
    holds the demo's token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    create_private_file(tmp, orjson.dumps(state, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _say(step: str) -> None:
    """One step of the walk, on its own line. What the console's owner wrote (a chart
    message) can hold any character: one the output's encoding lacks (a Windows console's
    code page) is written as its escape, not raised, so a message cannot stop the demo."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    line = f"  - {step}".encode(encoding, "backslashreplace").decode(encoding)
    print(line, flush=True)


@contextlib.asynccontextmanager
async def _serving(app: web.Application, start: Any) -> AsyncIterator[int]:
    runner, port = await start(app)
    try:
        yield port
    finally:
        await runner.cleanup()


async def run_demo(args: argparse.Namespace) -> int:
    """Run the demo until a signal; 0 on a clean shutdown, 1 if it could not start."""
    own_dir = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="mtgateway-demo-")) if own_dir else args.data_dir
    stop = asyncio.Event()
    stop_on_signals(stop)
    print("MT Gateway demo", flush=True)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await _walk(args, data_dir, stack, stop)
    except OSError as exc:
        print(f"error: cannot start: {exc.strerror or exc} (try --http-port 0 "
              "--bridge-port 0)", file=sys.stderr)
        return 1
    except _DemoFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                args.state_file.unlink()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    print("Stopped.", flush=True)
    return 0


async def _walk(args: argparse.Namespace, data_dir: Path, stack: contextlib.AsyncExitStack,
                stop: asyncio.Event) -> None:
    def landed(mail: EmailMessage) -> None:
        """Each e-mail the console sends is said as it lands, with where to read it (the
        mailbox's address is its key: printed once, with the console's sign-in)."""
        subject = " ".join(str(mail["Subject"] or "").split())
        _say(f"e-mail to {mail['To']}: \"{subject}\" (#{len(sink.messages)} in the demo's "
             "mailbox)")

    sink = MailSink(on_message=landed)
    await sink.start()
    stack.push_async_callback(sink.close)
    _say(f"SMTP sink (the owner's mailbox) on 127.0.0.1:{sink.port}")

    # Webhooks may post to loopback: the owner can watch an alert arrive on this machine.
    console_cfg = ConsoleFile(
        data_dir=str(data_dir / "console"),
        console=ConsoleConfig(port=0, webhook_private_networks=True),
        smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none",
                        from_address="mtgateway@localhost"))
    console = create_console_app(console_cfg)
    # the demo's only, behind a key made for this run: it holds the owner's reset links
    mailbox_key = secrets.token_urlsafe(18)
    console.router.add_routes(mailbox_routes(lambda: sink.messages, mailbox_key))
    console_port = await stack.enter_async_context(_serving(
        console, lambda app: start_console(app, "127.0.0.1", 0)))
    console_url = f"http://127.0.0.1:{console_port}"
    mailbox = mail_url(console_url, mailbox_key)
    authority = console[AUTHORITY]
    key = authority.store.signer.key
    _say(f"token authority (mtgateway-console) on {console_url}, signing key kid={key.kid}")

    password = secrets.token_urlsafe(18)
    await authority.owners.create(_OWNER, password)
    _say(f"owner {_OWNER} created with a password made for this run (printed below, to "
         "sign in to the web console)")
    settings = EmulatorSettings(
        tick_rate_hz=args.tick_rate, tz_offset_s=args.tz_offset,
        margin_mode=(AccountMarginMode.RETAIL_NETTING if args.netting
                     else AccountMarginMode.RETAIL_HEDGING))
    owner_client = OwnerConsole(console_url, key)  # the console proves its key first
    issued = await owner_client.issue_token(_OWNER, password, settings.login, settings.server)
    token = issued.token
    _say(f"token issued over the console's owner API for {settings.login}@{settings.server} "
         f"({issued.token_id}); it is shown once, below")

    config = GatewayConfig(
        data_dir=str(data_dir / "daemon"),
        server=ServerConfig(port=args.http_port), bridge=BridgeConfig(port=args.bridge_port),
        authority=AuthorityConfig(mode="remote", url=console_url, public_key=key.b64),
        device=DeviceConfig(key_storage="file", name="demo-daemon"))
    daemon = create_app(config)
    http_port = await stack.enter_async_context(_serving(daemon, start_http))
    bridge, device = daemon[BRIDGE], daemon[DEVICE]
    _say(f"daemon on HTTP 127.0.0.1:{http_port}, EA bridge 127.0.0.1:{bridge.port}; remote "
         f"authority pinned to kid={key.kid}")
    _say(f"the daemon is a new device: {device.device_id} (key: {device.storage})")

    def shown(text: str) -> None:
        """The emulated chart, in words: what the real EA writes on the chart with
        ``Comment`` (a message the owner sent from the console), the demo says."""
        _say(f"the chart of {settings.login}@{settings.server} shows the owner's message: "
             f"{orjson.dumps(text).decode()}")

    clock = clock_from(args.start_time)
    terminal = (EmulatedTerminal(token, port=bridge.port, settings=settings, on_message=shown)
                if clock is None
                else EmulatedTerminal(token, port=bridge.port, settings=settings,
                                      utc_clock_ms=clock, on_message=shown))
    emulator = asyncio.create_task(terminal.run())

    async def stop_terminal() -> None:
        await terminal.close()
        emulator.cancel()
        with contextlib.suppress(asyncio.CancelledError, TerminalRefused, OSError):
            await emulator

    stack.push_async_callback(stop_terminal)
    _say("emulated terminal connecting with the token (the daemon proves it holds the token's "
         "record, then the terminal proves the token over both nonces; the token is never "
         "sent)")
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            mail = (await sink.wait_for(1))[0]  # sent when the lookup answered "pending"
    except TimeoutError:
        raise _DemoFailed("no approval e-mail arrived") from None
    _say(f"the authority does not know this device: the EA is refused device_not_approved "
         f"and the terminal shows \"{REFUSAL_TEXT['device_not_approved']}\"; the owner "
         "was e-mailed a code")
    _print_mail(mail)
    match = _CODE.search(mail.get_content() if mail.get_content_type() == "text/plain"
                         else str(mail))
    if match is None:
        raise _DemoFailed("the approval e-mail carries no code")
    code = match.group(1)
    device_client = await stack.enter_async_context(
        RemoteAuthority(console_url, device.private_key))
    answer = await device_client.verify_device(device.info, code)
    if answer.status != "approved":
        raise _DemoFailed(f"the code was refused: {answer.reason}")
    _say(f"`mtgateway device verify {code}` signed with the daemon's device key -> approved")
    try:
        await bridge.wait_for_terminal(TerminalId(settings.login, settings.server),
                                       _READY_TIMEOUT_S)
    except TimeoutError:
        raise _DemoFailed("the emulated terminal did not connect after approval") from None
    _say(f"the EA's next reconnect succeeded: {settings.platform} {settings.login}@"
         f"{settings.server} is live (no restart)")
    account = "netting" if args.netting else "hedging"
    _say(f"{account} account; the broker server's clock is UTC{args.tz_offset / 3600:+g}: MT5 "
         "times (ticks, bars, orders, deals) are that clock, the daemon's own (order_status) "
         "are UTC")
    _say(market_hours_line(terminal))
    _say("an order for a closed market answers 10018 TRADE_RETCODE_MARKET_CLOSED; "
         "examples/bot.py picks an open symbol by itself")
    hours = terminal.market_hours()
    _print_usage(token, http_port, _quoted_symbol(hours))
    _print_examples(args.state_file)
    _print_console(console_url, password)
    _print_console_api(console_url, password, mailbox)
    operator = _write_operator_config(data_dir / "operator.toml", console_cfg, console_port)
    _print_operator(console_cfg, operator)
    if args.state_file is not None:
        write_state_file(args.state_file, {
            "rpc_url": f"http://127.0.0.1:{http_port}/rpc",
            "ws_url": f"ws://127.0.0.1:{http_port}/ws",
            "health_url": f"http://127.0.0.1:{http_port}/health",
            "bridge": f"127.0.0.1:{bridge.port}",
            "token": token, "login": settings.login, "server": settings.server,
            "console_url": f"{console_url}/", "owner_email": _OWNER,
            "owner_password": password, "api_url": f"{console_url}/api",
            "mail_url": mailbox, "console_config": str(operator),
            "open_symbols": [name for name, is_open in hours.items() if is_open],
            "pid": os.getpid()})
    tune_gc()  # start-up is over: everything built so far is long-lived
    print("Running. Press Ctrl-C to stop.", flush=True)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({stopper, emulator}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()



def _print_mail(mail: EmailMessage) -> None:
    body = mail.get_content() if mail.get_content_type() == "text/plain" else ""
    print("\n  ---- e-mail received by the SMTP sink ----", flush=True)
    for header in ("From", "To", "Subject"):
        print(f"  {header}: {mail[header]}")
    print()
    for line in str(body).rstrip().splitlines():
        print(f"  | {line}")
    print("  -----------------------------------------\n", flush=True)


def _print_console(console_url: str, password: str) -> None:
    """The web console's address and the owner's sign-in: a password made for this run only
    (the demo's data lives in a temporary directory and is gone when it stops)."""
    print(f"""Web console (devices, tokens, the terminal's state), as the demo's owner:
  {console_url}/
  e-mail:   {_OWNER}
  password: {password}   (made for this run; gone when the demo stops)
""", flush=True)


def _print_console_api(console_url: str, password: str, mailbox: str) -> None:
    """The console's API across the owner's accounts (the MT4 Web API's paths) and the
    demo's mailbox, where every e-mail the console sends can be read (its address is its key,
    printed here once). The API's token is another variable than the daemon's ``$TOKEN``: the
    two are not interchangeable."""
    print(f"""Console API (the MT4 Web API across your accounts; docs/rest.md), as the demo's owner:
  CONSOLE_TOKEN=$(curl -s {console_url}/api/auth/login -d username={_OWNER} \\
          -d password={password} | python3 -c \\
          'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {console_url}/api/users/ -H "Authorization: Bearer $CONSOLE_TOKEN"

Every e-mail the demo's console sends (approval codes, alerts, resets, notices), in the
demo's mailbox; its address is its key (shown once; also mail_url in --state-file):
  {mailbox}
  (plain text: {mailbox}?format=text)
Alert webhooks may post to loopback addresses in the demo (a receiver on this machine).
""", flush=True)


def _write_operator_config(path: Path, console: ConsoleFile, port: int) -> Path:
    """A config naming the demo's console as its operator's commands need it (``mtgateway
    owner reset-2fa -c``, ``token list -c``): its data directory, its port (the links a
    notice names) and its SMTP sink; written 0600, gone with the demo's directory."""
    smtp = console.smtp
    create_private_file(path, (
        "# The demo's console, for the operator's commands (mtgateway owner reset-2fa -c ...).\n"
        f'data_dir = "{console.resolved_data_dir().as_posix()}"\n'
        f"[console]\nport = {port}\n"
        f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "{smtp.security}"\n'
        f'from_address = "{smtp.from_address}"\n').encode())
    return path


def _print_examples(state_file: Path | None) -> None:
    """Which examples read what: the state file this demo wrote, or how to get one."""
    if state_file is None:
        print("The examples in examples/ read a state file: start the demo with --state-file "
              "demo.json,\nas the README's quick start does (examples/curl.sh also takes the "
              "$TOKEN exported above).\n", flush=True)
        return
    print(f"""The examples read the state file this demo wrote (run them where it started):
  bash examples/curl.sh --state-file {state_file}
  {sys.executable} examples/mt5_script.py --state-file {state_file}
  (and mt5_script_async.py, bot.py, stream.py the same way)
""", flush=True)


def _print_operator(console: ConsoleFile, config: Path) -> None:
    """What an operator needs to reach the demo's console: where its data is, where its
    mail goes, and a config file for the commands that act on it directly."""
    print(f"""The demo's console, for the operator's commands:
  data dir: {console.resolved_data_dir()}
  mail:     the SMTP sink on {console.smtp.host}:{console.smtp.port} (every message is in the \
demo's mailbox above)
  config:   {config}
  e.g.      mtgateway owner reset-2fa -c {config} --email {_OWNER}
""", flush=True)


def _quoted_symbol(hours: dict[str, bool]) -> str:
    """The symbol the printed tick line asks for: the first whose market is open now, so a
    weekend demo shows a live BTCUSD quote rather than EURUSD's last Friday one."""
    return next((name for name, is_open in hours.items() if is_open), "BTCUSD")


def _print_usage(token: str, http_port: int, symbol: str) -> None:
    """The token, curl lines through ``$TOKEN`` (as the README writes them) and a Python
    snippet to run with this interpreter: the one the gateway and its client are installed in
    (a bare ``python3`` usually lacks the ``mtgateway`` package)."""
    base = f"http://127.0.0.1:{http_port}"
    url = f"{base}/rpc"
    body = '{"jsonrpc":"2.0","id":1,"method":"account_info"}'
    tick = ('{"jsonrpc":"2.0","id":2,"method":"symbol_info_tick","params":{"symbol":"'
            f'{symbol}"}}}}')
    print(f"""
Token (shown once; it is bound to this demo terminal):
  {token}

Try it (in another shell; the curl lines read the token from $TOKEN, as the README's do):
  export TOKEN={token}
  curl -s {url} -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{body}'

  curl -s {url} -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
       -d '{tick}'
  ({symbol}: the first symbol whose market is open now)

From Python: the MetaTrader5 package's API (`import mtgateway as mt5`); save these lines as
a file and run it with {sys.executable} (the Python mtgateway is installed in):
  import mtgateway as mt5

  if not mt5.initialize(token="{token}", url="{base}"):
      raise SystemExit(f"initialize() failed: {{mt5.last_error()}}")
  account = mt5.account_info()
  print(f"account {{account.login}} on {{account.server}}: equity {{account.equity}}")
  print(mt5.positions_get())
  mt5.shutdown()

Streaming: `import mtgateway.aio as mt5`, then `async for tick in mt5.ticks(["BTCUSD"])`.
""", flush=True)
