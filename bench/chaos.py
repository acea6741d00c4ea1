"""``python -m bench.chaos``: seeded random trade sequences through a broken link, and a report.

The real daemon (in-process, port 0) and the real emulated terminal talk through
:class:`~ea_bridge.faultproxy.FaultProxy`. Each *run* is one trade chosen by a seeded RNG (a
market buy or sell, or a close of one of the open positions) sent by a client that retries
like a careful bot: on ``-32003`` (outcome unknown), ``-32001`` (terminal offline) or
``-32014`` (reconciling) it sends the SAME request under the SAME ``client_id`` until it gets
a result, or ``order_status`` says the order was not executed. Before a run, with probability
``--fault-rate``, one fault is armed on that run's ``order_send`` frame -- the request on its
way to the terminal or the answer on its way back: cut after N bytes, delayed past the
trade deadline or not, the link gone silent, reset, or the frame delivered twice.

Two faults of the EA's order record are drawn as well, each a way to settle an order wrongly:

* **a 10012 answer with a fill** (``--timeout-fill-rate``): the terminal executes the order
  but answers, and records, ``TRADE_RETCODE_TIMEOUT``; the daemon must find the order, never
  settle it "not executed" from that record;
* **an id reused under a new token** (``--rotate-rate``): a new token is pasted into the EA
  (its record survives), and later runs reuse, with new parameters, ``client_id``s the bot
  used under the earlier tokens; each must be executed as a new order, never answered with
  the old order's outcome.

The bot sends its requests as a ``MetaTrader5`` script would: no ``magic``, no ``comment``.
The daemon sends them as written (magic 0, an empty comment) unless ``--comment-tag`` gives the
user's consent to a tag, so what finds an order whose answer was lost is the EA's order record
(protocol 1.2 by default; ``--ea-version`` for older EAs) and the order's shape.

Impostors: with probability ``--squat-rate`` before a run, another process takes a port while
its owner is away (``bench/impostors.py``): the bridge port, where it plays a fake daemon to the
reconnecting EA (a challenge it cannot prove, a welcome, an ``order_send`` of its own), or the
console's address (the daemon is in remote mode here), where it keeps the daemon's signed
requests and an owner CLI's call, then replays the requests to the console and tries every
answer as a credential.

The invariants, checked after every run and reported at the end:

* **zero duplicate orders**: no run has more than one order at the broker (the broker numbers
  orders and deals from one counter, so a run's orders are those above the highest ticket
  before it: nothing else trades);
* **the request as written**: each of the run's orders carries magic 0 and the comment sent
  (empty; the tag with ``--comment-tag``);
* **the journal agrees with the broker**: a row ACCEPTED/RESOLVED_ACCEPTED has exactly one
  new order, and its ticket is that order's (not an older order's); a
  REJECTED/RESOLVED_NOT_FOUND one has none;
* **every audited request has exactly one outcome**: one final outcome line per token and
  ``client_id``;
* **no order for an impostor, no credential to one**: no order at the broker carries the
  impostor's comment, the EA sends the bridge impostor nothing beyond its hello, and the
  console's impostor obtains no owner password, token digest, server key or session.

``--runs 10000`` is the full exercise (minutes); CI runs a few hundred (``tests/e2e``).
Exit status 0 when every invariant held.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.impostors import IMPOSTOR_COMMENT, BridgeImpostor, ConsoleAddress
from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from ea_bridge.faultproxy import DIRECTIONS, KINDS, Fault, FaultProxy, Kind
from gateway.app import create_app
from gateway.auth import MemorySecretStore
from gateway.auth.owner import ConsoleUnproven, OwnerConsole
from gateway.config import AuthorityConfig, BridgeConfig, GatewayConfig, ServerConfig, TradingConfig
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, DEVICE, RECORD_CACHE, TRADING
from gateway.trading.audit import AuditFilter, read_audit
from gateway.trading.journal import FINAL_STATES
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority

__all__ = ["OPEN_MARKET_MS", "ChaosReport", "chaos", "main"]

LOGIN, SERVER = 5012345, "Chaos-Demo"
_OWNER = "chaos@example.com"
_PASSWORD = "chaos owner password"
#: A Wednesday afternoon: the emulator's FX market is open whatever day this runs.
OPEN_MARKET_MS = int(datetime(2026, 11, 18, 14, 0, tzinfo=UTC).timestamp() * 1000)
_RETRYABLE = {-32003, -32001, -32014, -32013}
_FINAL_EVENTS = {"outcome", "reconciled", "reconcile_miss"}
_EXECUTED = {"ACCEPTED", "RESOLVED_ACCEPTED"}
_NOT_EXECUTED = {"REJECTED", "RESOLVED_NOT_FOUND"}
_NOT_CREDENTIALS = {"impostor_orders", "ea_served"}


@dataclass
class ChaosReport:
    """What the runs did and which invariants broke (empty ``violations``: none)."""

    runs: int = 0
    rotations: int = 0
    reused: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Impostor episodes by port ("bridge", "console"), the EA's connections to the bridge
    #: impostor, device requests the console's impostor replayed (and had answered).
    squats: Counter[str] = field(default_factory=Counter)
    impostor_connections: int = 0
    replayed: int = 0
    #: What impostors obtained, by kind: frames the EA sent beyond its hello ("ea_served"),
    #: orders executed for one ("impostor_orders"), credentials (the console's list).
    obtained: Counter[str] = field(default_factory=Counter)
    #: What settled each reconciled row (``ea_map``, ``tag``, ``match``; ``-``: not reconciled).
    identified_by: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """The human report."""
        return [
            f"runs {self.runs} in {self.seconds:.1f} s, client retries {self.retries}",
            f"tokens rotated {self.rotations}, client_ids reused under a new token "
            f"{self.reused}",
            "faults fired: " + (", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
                                or "none"),
            "final states: " + ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())),
            "reconciled by: " + ", ".join(f"{k} {v}" for k, v in
                                          sorted(self.identified_by.items()) if k != "-"),
            f"impostors: bridge squats {self.squats['bridge']} (EA connections to it "
            f"{self.impostor_connections}), console squats {self.squats['console']} (device "
            f"requests replayed {self.replayed}); orders executed for an impostor "
            f"{self.obtained['impostor_orders']}, frames the EA served one "
            f"{self.obtained['ea_served']}, credentials obtained "
            f"{sum(n for k, n in self.obtained.items() if k not in _NOT_CREDENTIALS)}",
            f"violations: {len(self.violations)}",
            *(f"  {v}" for v in self.violations[:20]),
        ]


@dataclass
class _World:
    """The daemon, its authority, the proxy in front of its bridge, the terminal behind it,
    and the token the bot and the EA use now."""

    app: Any
    url: str
    authority: Authority
    terminal: EmulatedTerminal
    proxy: FaultProxy
    report: ChaosReport
    token: str
    token_id: str
    address: ConsoleAddress
    owner: OwnerConsole

    async def rotate(self) -> None:
        """Issue a new token, paste it into the EA, and wait for its session."""
        issued = await self.authority.tokens.issue(_OWNER, LOGIN, SERVER)
        self.terminal.paste_token(issued.token)
        self.token, self.token_id = issued.token, issued.token_id
        bridge, terminal = self.app[BRIDGE], TerminalId(LOGIN, SERVER)
        while (await bridge.wait_for_terminal(terminal, 10.0)).token_id != issued.token_id:
            await bridge.wait_for_terminal_down(terminal, 10.0)
        self.report.rotations += 1


@contextlib.asynccontextmanager
async def _world(data_dir: Path, ea_version: str | None, comment_tag: bool = False,
                 scale: float = 1.0) -> AsyncIterator[_World]:
    """The console, its address (where an impostor may squat), the daemon in remote mode, the
    proxy in front of its bridge, and the terminal behind the proxy."""
    console = create_console_app(ConsoleFile(data_dir=str(data_dir / "console"),
                                             console=ConsoleConfig(port=0)),
                                 mailer=RecordingMailer())
    console_runner, console_port = await start_console(console, "127.0.0.1", 0)
    authority = console[AUTHORITY]
    await authority.owners.create(_OWNER, _PASSWORD)
    issued = await authority.tokens.issue(_OWNER, LOGIN, SERVER)
    token = issued.token
    address = ConsoleAddress(f"http://127.0.0.1:{console_port}")
    address_runner = web.AppRunner(address.app, access_log=None)
    await address_runner.setup()
    address_site = web.TCPSite(address_runner, "127.0.0.1", 0)
    await address_site.start()
    address_url = f"http://127.0.0.1:{address_runner.addresses[0][1]}"
    key = authority.store.signer.key
    config = GatewayConfig(
        data_dir=str(data_dir / "daemon"),
        server=ServerConfig(port=0, request_timeout_s=2.0 * scale, trade_timeout_s=1.0 * scale,
                            auth_failure_delay_s=0.0),
        bridge=BridgeConfig(port=0, heartbeat_interval_s=0.2 * scale,
                            heartbeat_timeout_s=0.6 * scale),
        trading=TradingConfig(reconcile_interval_s=0.2 * scale, comment_tag=comment_tag),
        authority=AuthorityConfig(mode="remote", url=address_url, public_key=key.b64,
                                  request_timeout_s=2.0))
    app = create_app(config, secret_store=MemorySecretStore())
    device = app[DEVICE].info
    await authority.approvals.approve_local(device)
    runner, http_port = await start_http(app)
    report = ChaosReport()
    proxy = FaultProxy(app[BRIDGE].port,
                       on_fault=lambda f: report.faults.update([f"{f.kind}/{f.direction}"]))
    await proxy.start()
    started = time.monotonic_ns()
    terminal = EmulatedTerminal(
        token, port=proxy.port,
        settings=EmulatorSettings(login=LOGIN, server=SERVER, symbols=("EURUSD",),
                                  tick_rate_hz=2.0, reconnect_min_s=0.05,
                                  reconnect_max_s=0.2),
        utc_clock_ms=lambda: OPEN_MARKET_MS + (time.monotonic_ns() - started) // 1_000_000)
    if ea_version is not None:
        terminal.ea_version = ea_version  # e.g. "1.0.0": an EA without the order record
    task = asyncio.create_task(terminal.run())
    try:
        await app[BRIDGE].wait_for_terminal(TerminalId(LOGIN, SERVER), 10.0)
        yield _World(app, f"http://127.0.0.1:{http_port}/rpc", authority, terminal, proxy,
                     report, token, issued.token_id, address,
                     OwnerConsole(address_url, key, timeout_s=2.0))
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await proxy.close()
        await runner.cleanup()
        await address.close()
        await address_runner.cleanup()
        await console_runner.cleanup()


async def _squat(world: _World, rng: random.Random) -> None:
    """One impostor episode (the module docstring), between two runs."""
    report, terminal_id = world.report, TerminalId(LOGIN, SERVER)
    if rng.random() < 0.5:
        impostor = BridgeImpostor()
        world.proxy.squat(impostor.serve)  # the EA's link drops; it reconnects into it
        await impostor.wait_for(lambda: impostor.connections > 0, 10.0)
        await asyncio.sleep(rng.choice((0.0, 0.1, 0.3)))  # it may try again meanwhile
        world.proxy.squat(None)
        await world.app[BRIDGE].wait_for_terminal(terminal_id, 10.0)
        report.squats.update(["bridge"])
        report.impostor_connections += impostor.connections
        report.obtained.update({"ea_served": impostor.served})
        return
    world.address.squatted = True
    await world.app[RECORD_CACHE].refresh_once()  # the daemon's next refresh goes to it
    with contextlib.suppress(ConsoleUnproven):  # the owner runs `mtgateway token list`
        await world.owner.list_tokens(_OWNER, _PASSWORD)
    world.address.squatted = False
    await world.address.exploit(world.url.removesuffix("/rpc"))
    await world.app[RECORD_CACHE].refresh_once()  # the console is back
    report.squats.update(["console"])


def _impostor_orders(terminal: EmulatedTerminal) -> int:
    """Orders the broker ever executed with the impostor's comment."""
    now_s = terminal.server_time_ms() // 1000
    return sum(o["comment"] == IMPOSTOR_COMMENT
               for o in terminal.broker.history_orders_get(0, now_s + 60))


def _fault(rng: random.Random, kinds: tuple[Kind, ...], scale: float) -> Fault:
    kind = rng.choice(kinds)
    direction = rng.choice(DIRECTIONS)
    # The request carries "order_send" on its way out; the answer carries "retcode" back.
    match = b'"order_send"' if direction == "to_ea" else b'"retcode"'
    return Fault(kind, direction, match, cut_bytes=rng.randint(1, 60),
                 delay_s=rng.choice((0.05, 1.5 * scale)))  # the long one: past the trade timeout


async def _trade(http: aiohttp.ClientSession, url: str, token: str, request: dict[str, Any],
                 report: ChaosReport, deadline_s: float) -> tuple[str, dict[str, Any]]:
    """Send until settled; the row's final state (or "UNSETTLED") and its order_status."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "order_send", "params": {"request": request}}
    status_body = {"jsonrpc": "2.0", "id": 2, "method": "order_status",
                   "params": [request["client_id"]]}
    headers = {"Authorization": f"Bearer {token}"}
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        async with http.post(url, json=body, headers=headers) as response:
            answer = await response.json()
        if "result" in answer:
            break
        if answer["error"]["code"] not in _RETRYABLE:
            break
        async with http.post(url, json=status_body, headers=headers) as response:
            status = await response.json()
        if status.get("result", {}).get("state") in _NOT_EXECUTED:
            break
        report.retries += 1
        await asyncio.sleep(0.05)
    async with http.post(url, json=status_body, headers=headers) as response:
        status = await response.json()
    result: dict[str, Any] = status.get("result", {})
    state = result.get("state")
    return (str(state) if state in FINAL_STATES else f"UNSETTLED:{state}"), result


async def chaos(runs: int, seed: int, fault_rate: float = 0.5, deadline_s: float = 15.0, *,
                kinds: tuple[Kind, ...] = KINDS, ea_version: str | None = None,
                timeout_fill_rate: float = 0.05, rotate_rate: float = 0.01,
                reuse_rate: float = 0.3, squat_rate: float = 0.01,
                comment_tag: bool = False, timeouts: float = 1.0) -> ChaosReport:
    """Run ``runs`` seeded trades through the faulty link; the report.

    ``kinds`` limits the link faults drawn; ``ea_version`` makes the terminal announce another
    EA version (``"1.0.0"``: no order record, so nothing stops a duplicated request;
    ``"1.1.0"``: a record without request echoes). ``timeout_fill_rate`` is the chance a run's
    order is answered 10012 after it filled; ``rotate_rate`` the chance a new token is pasted
    into the EA before a run; ``reuse_rate`` the chance a run reuses a ``client_id`` of an
    earlier token (while any is left); ``squat_rate`` the chance an impostor takes the bridge
    port or the console's address before a run. ``comment_tag``: the user consents to the
    daemon's comment tag (``trading.comment_tag``). ``timeouts`` scales the daemon's
    timeouts (a trade's 1 s, a request's 2 s, the bridge's heartbeat every 0.2 s and its
    0.6 s timeout), its reconciliation period (0.2 s) and a long delay (1.5 s, past the
    trade's): a silenced, cut or long-delayed link is given up on sooner at a smaller one,
    and a lost order found (or given up on after its passes) sooner, the same seed drawing
    the same runs and faults.
    """
    rng = random.Random(seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mtgw-chaos-") as tmp:
        async with _world(Path(tmp), ea_version, comment_tag, timeouts) as world, \
                aiohttp.ClientSession() as http:
            app, url, terminal, proxy, report = (world.app, world.url, world.terminal,
                                                 world.proxy, world.report)
            earlier: list[str] = []  # client_ids used under tokens before the current one
            current: list[str] = []
            for run in range(runs):
                if run and rng.random() < squat_rate:
                    await _squat(world, rng)
                if run and rng.random() < rotate_rate:
                    await world.rotate()
                    earlier += current
                    current = []
                if earlier and rng.random() < reuse_rate:
                    client_id = earlier.pop(rng.randrange(len(earlier)))
                    report.reused += 1
                else:
                    client_id = f"s{seed}-r{run}"
                current.append(client_id)
                mine = terminal.broker.positions_get()  # nothing else trades here
                if mine and rng.random() < 0.4:
                    position = rng.choice(mine)
                    request: dict[str, Any] = {
                        "action": "TRADE_ACTION_DEAL", "symbol": "EURUSD",
                        "type": "ORDER_TYPE_SELL" if position["type"] == 0 else "ORDER_TYPE_BUY",
                        "volume": position["volume"], "position": position["ticket"]}
                else:
                    request = {"action": "TRADE_ACTION_DEAL", "symbol": "EURUSD",
                               "type": rng.choice(("ORDER_TYPE_BUY", "ORDER_TYPE_SELL")),
                               "volume": rng.choice((0.01, 0.02, 0.1))}
                request["client_id"] = client_id
                proxy.disarm()
                if rng.random() < fault_rate:
                    proxy.arm(_fault(rng, kinds, timeouts))
                if rng.random() < timeout_fill_rate:
                    terminal.answer_next(10012)  # TRADE_RETCODE_TIMEOUT, after the fill
                    report.faults.update(["timeout_fill/ea"])
                before = _last_ticket(terminal)
                state, status = await _trade(http, url, world.token, request, report,
                                             deadline_s)
                report.states.update([state])
                report.runs += 1
                comment = f"g:{client_id}" if comment_tag else ""
                _check(app, terminal, client_id, world.token_id, state, status, before,
                       comment, report)
            report.obtained.update(world.address.obtained)
            report.replayed = world.address.replayed
            report.obtained.update({"impostor_orders": _impostor_orders(terminal)})
            for kind, count in sorted(report.obtained.items()):
                if count:
                    report.violations.append(f"an impostor obtained {kind}: {count}")
            report.seconds = time.monotonic() - t0
    return report


def _recent(terminal: EmulatedTerminal) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The recent history orders and deals. The recent history only (a second order of the run
    would be as recent): a full scan per run would make 10 000 runs quadratic."""
    now_s = terminal.server_time_ms() // 1000
    return (terminal.broker.history_orders_get(now_s - 120, now_s + 60),
            terminal.broker.history_deals_get(now_s - 120, now_s + 60))


def _last_ticket(terminal: EmulatedTerminal) -> int:
    """The highest order or deal ticket so far (one counter numbers both)."""
    orders, deals = _recent(terminal)
    return max((r["ticket"] for r in (*orders, *deals)), default=0)


def _check(app: Any, terminal: EmulatedTerminal, client_id: str, token_id: str, state: str,
           status: dict[str, Any], before: int, comment: str, report: ChaosReport) -> None:
    made = [o for o in _recent(terminal)[0] if o["ticket"] > before]
    orders = {o["ticket"] for o in made}
    if len(orders) > 1:
        report.violations.append(f"{client_id}: {len(orders)} orders at the broker (duplicate)")
    for order in made:
        if (order["magic"], order["comment"]) != (0, comment):
            report.violations.append(
                f"{client_id}: order {order['ticket']} carries magic {order['magic']} and "
                f"comment {order['comment']!r}, not the request's 0 and {comment!r}")
    if state in _EXECUTED and len(orders) != 1:
        report.violations.append(f"{client_id}: {state} but {len(orders)} orders at the broker")
    if state in _EXECUTED and len(orders) == 1 and status.get("ticket") not in orders:
        report.violations.append(f"{client_id}: {state} with ticket {status.get('ticket')}, "
                                 f"but the order this run made is {min(orders)}")
    if state in _NOT_EXECUTED and orders:
        report.violations.append(f"{client_id}: {state} but an order executed at the broker")
    if state.startswith("UNSETTLED"):
        report.violations.append(f"{client_id}: not settled ({state})")
    finals = [line for line in read_audit(app[TRADING].journal.path,
                                          AuditFilter(token_id=token_id, client_id=client_id))
              if line.event in _FINAL_EVENTS and line.state in FINAL_STATES]
    if len(finals) != 1 and not state.startswith("UNSETTLED"):
        report.violations.append(f"{client_id}: {len(finals)} final outcomes in the audit")
    report.identified_by.update([str((status.get("result") or {}).get("identified_by", "-"))])


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.chaos [--runs N] [--seed S] [--fault-rate P] [--timeout-fill-rate P]
    [--rotate-rate P] [--squat-rate P] [--ea-version V] [--comment-tag]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.5)
    parser.add_argument("--timeout-fill-rate", type=float, default=0.05,
                        help="chance a run's order is answered 10012 after it filled")
    parser.add_argument("--rotate-rate", type=float, default=0.01,
                        help="chance a new token is pasted into the EA before a run")
    parser.add_argument("--comment-tag", action="store_true",
                        help="the user consents to the comment tag (trading.comment_tag)")
    parser.add_argument("--squat-rate", type=float, default=0.01,
                        help="chance an impostor takes the bridge port or the console's "
                             "address before a run")
    parser.add_argument("--ea-version", default=None,
                        help='the EA version the terminal announces (default: the emulator\'s '
                             '1.3.0; "1.1.0": a record without echoes)')
    args = parser.parse_args(argv)
    report = asyncio.run(chaos(args.runs, args.seed, args.fault_rate,
                               ea_version=args.ea_version,
                               timeout_fill_rate=args.timeout_fill_rate,
                               rotate_rate=args.rotate_rate, squat_rate=args.squat_rate,
                               comment_tag=args.comment_tag))
    print("\n".join(report.lines()))
    return 0 if not report.violations else 1


if __name__ == "__main__":
    sys.exit(main())
