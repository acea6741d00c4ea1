"""``mtgateway demo``: the whole product on loopback in one process, ready to call.

It issues a token into a throw-away token store, starts the daemon, starts one emulated
terminal that connects with that token over the real bridge protocol, waits until the terminal
is live, then prints the token and working ``curl`` and Python lines. With ``--state-file`` it
writes the addresses and token as JSON once everything is ready (atomically, so a script
polling for the file never reads half of it). Ctrl-C or SIGTERM shuts it all down in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from ea_bridge import TerminalId
from ea_bridge.emulator.cli import stop_on_signals
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused

from .app import TOKEN_DB_NAME, create_app
from .auth import LocalTokenStore
from .config import BridgeConfig, GatewayConfig, ServerConfig
from .keys import BRIDGE
from .listener import start_http

__all__ = ["run_demo", "write_state_file"]

_READY_TIMEOUT_S = 15.0


def write_state_file(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as JSON to ``path`` atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _say(step: str) -> None:
    print(f"  - {step}", flush=True)


async def run_demo(args: argparse.Namespace) -> int:
    """Run the demo until a signal; 0 on a clean shutdown, 1 if it could not start."""
    own_dir = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="mtgateway-demo-")) if own_dir else args.data_dir
    settings = EmulatorSettings(tick_rate_hz=args.tick_rate)
    config = GatewayConfig(
        data_dir=str(data_dir),
        server=ServerConfig(port=args.http_port),
        bridge=BridgeConfig(port=args.bridge_port))
    print("MT Gateway demo", flush=True)
    store = LocalTokenStore(data_dir / TOKEN_DB_NAME)
    issued = store.issue(login=settings.login, server=settings.server,
                         owner_email="demo@localhost")
    _say(f"token issued for terminal {issued.record.terminal} ({issued.record.token_id})")
    app = create_app(config, token_store=store)
    try:
        runner, http_port = await start_http(app)
    except OSError as exc:
        print(f"error: cannot start the daemon: {exc.strerror or exc} "
              f"(try --http-port 0 --bridge-port 0)", file=sys.stderr)
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        return 1
    bridge = app[BRIDGE]
    _say(f"daemon listening: HTTP 127.0.0.1:{http_port}, EA bridge 127.0.0.1:{bridge.port}")
    terminal = EmulatedTerminal(issued.token, port=bridge.port, settings=settings)
    emulator = asyncio.create_task(terminal.run())
    stop = asyncio.Event()
    stop_on_signals(stop)
    code = 0
    try:
        waiter = asyncio.create_task(bridge.wait_for_terminal(
            TerminalId(settings.login, settings.server), _READY_TIMEOUT_S))
        done, _ = await asyncio.wait({waiter, emulator}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done or waiter.exception() is not None:
            waiter.cancel()
            print("error: the emulated terminal did not connect", file=sys.stderr)
            if emulator.done() and isinstance(emulator.exception(), TerminalRefused):
                print(f"  it was refused: {emulator.exception()}", file=sys.stderr)
            return 1
        _say(f"emulated terminal connected: {settings.platform} {settings.login}@"
             f"{settings.server} (EA handshake: HMAC over a nonce, the token never sent)")
        _print_usage(issued.token, http_port)
        state = {
            "rpc_url": f"http://127.0.0.1:{http_port}/rpc",
            "ws_url": f"ws://127.0.0.1:{http_port}/ws",
            "health_url": f"http://127.0.0.1:{http_port}/health",
            "bridge": f"127.0.0.1:{bridge.port}",
            "token": issued.token,
            "login": settings.login,
            "server": settings.server,
            "pid": os.getpid(),
        }
        if args.state_file is not None:
            write_state_file(args.state_file, state)
        print("Running. Press Ctrl-C to stop.", flush=True)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({stopper, emulator}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        await terminal.close()
        emulator.cancel()
        with contextlib.suppress(asyncio.CancelledError, TerminalRefused, OSError):
            await emulator
        await runner.cleanup()
        if args.state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                args.state_file.unlink()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        print("Stopped.", flush=True)
    return code


def _print_usage(token: str, http_port: int) -> None:
    url = f"http://127.0.0.1:{http_port}/rpc"
    body = '{"jsonrpc":"2.0","id":1,"method":"account_info"}'
    print(f"""
Token (shown once; it is bound to this demo terminal):
  {token}

Try it:
  curl -s {url} -H "Authorization: Bearer {token}" -H "Content-Type: application/json" -d '{body}'

  curl -s {url} -H "Authorization: Bearer {token}" -H "Content-Type: application/json" \\
       -d '{{"jsonrpc":"2.0","id":2,"method":"symbol_info_tick","params":{{"symbol":"EURUSD"}}}}'

From Python (aiohttp):
  async with aiohttp.ClientSession(headers={{"Authorization": "Bearer {token}"}}) as s:
      r = await s.post("{url}", json={{"jsonrpc": "2.0", "id": 1, "method": "account_info"}})
      print((await r.json())["result"])
""", flush=True)
