"""``create_app``: composition only. Routes, the long-lived parts, and their start/stop pairs.

Each long-lived part is built here and stored under a typed key (``keys.py``); each that needs
starting and stopping gets one ``cleanup_ctx`` generator, so start-up and shutdown stay paired
and ordered: the authority link opens first and closes last, the record refresh loop runs
while anything can ask it, and the bridge starts after both and stops before them.

Authentication is wired here too: this machine's device identity (``[device]``), the token
authority (embedded on ``authority.sqlite3`` in local mode, the console client in remote mode,
``[authority]``), the record cache between them and the authenticator, and what a revocation
seen by the cache does: close that token's WebSockets with 1008 and say ``bye`` to its EA.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import socket
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSCloseCode, web

from ea_bridge import Bridge, FanOut, HeartbeatSettings, TerminalId
from ea_bridge.messages import EVENT_TRADE
from mtgateway_base.configfile import database_url
from mtgateway_base.edge import HostRefusals
from mtgateway_base.guard import ConnectionBudget, ConnectionLimits, Refusals, note_switch
from mtgateway_base.scrape import ScrapeGuard
from mtgateway_base.throttle import AuthThrottle
from mtgateway_base.wire.records import AuthorityKey, SignedRecord

from . import client_auth, openapi, probes, rest, ws
from .auth import RecordCache
from .auth.challenge import ChallengeAuthenticator
from .auth.client import RemoteAuthority
from .auth.link import AuthorityLink
from .auth.reporter import (
    TerminalReporter,
    account_details,
    account_figures,
    open_positions,
    symbol_digits,
)
from .auth.secretstore import SecretStore
from .auth.watcher import watch_revocations
from .candles import CandleDesk
from .config import GatewayConfig
from .edge import http_rpc
from .edge.door import DOOR, Door
from .edge.middleware import guard_middleware
from .errors import NOT_ONE_HOST, TOO_MANY_CONNECTIONS
from .hub import Hub, HubLimits
from .identity import device_name, open_device
from .keys import (
    AUTH_THROTTLE,
    AUTHENTICATOR,
    AUTHORITY,
    BRIDGE,
    CANDLES,
    CONFIG,
    CONNECTIONS,
    DEVICE,
    HUB,
    INSTRUCTIONS,
    METRICS,
    METRICS_TOKEN,
    READINESS,
    RECORD_CACHE,
    REPORTER,
    RPC,
    TERMINALS,
    TRADING,
    WEBSOCKETS,
    WS_REQUESTS,
    WS_TOKEN_IDS,
)
from .methods import method_table
from .metrics import DaemonMetrics, Readiness, metered_verifier
from .openrpc import with_discovery
from .rpc import Dispatcher
from .terminals import TerminalDirectory
from .trading.desk import DeskSettings, TradeDesk
from .trading.gate import TradeGate
from .trading.instructions import OwnerInstructions
from .trading.journal import JOURNAL_DB_NAME, OrderJournal
from .trading.paper import PaperEvents, PaperTrading
from .trading.reconciler import Reconciler, ReconcileSettings
from .trading.requests import CommentTags
from .trading.venue import Venues

if TYPE_CHECKING:  # the console is imported at run time only in local mode
    from mtgateway_console.service import Authority

__all__ = ["JOURNAL_DB_NAME", "PAPER_DIR_NAME", "create_app", "device_name", "open_device",
           "trading_settings"]
#: The paper books, one file per terminal, in the data directory.
PAPER_DIR_NAME = "paper"

#: Why a live session is closed when its token dies: the same words as the refusal the token
#: gets everywhere after (``auth/service.py``), so the EA's log tells one story (not "was
#: revoked" at the close and "has been revoked" at the next hello).
_DEAD_MESSAGES = {
    "token_revoked": "The auth token has been revoked",
    "token_expired": "The auth token has expired",
    "invalid_token": "The token authority no longer confirms this token",
}

#: The connection guard's own 421 and 503 answers (``mtgateway_base.guard``, shared with the
#: console) in the daemon's shape: from the one error table, as every other refusal of the
#: daemon. The body deadline is the door's (408, ``edge/door.py``), so the daemon's limits
#: leave the guard's own body deadline off.
_GUARD_REFUSALS: Final = Refusals(misdirected=NOT_ONE_HOST.raw(),
                                  busy=TOO_MANY_CONNECTIONS.raw())


def create_app(config: GatewayConfig, *, secret_store: SecretStore | None = None,
               authority: Authority | None = None,
               authority_keys: Sequence[AuthorityKey] | None = None,
               clock: Callable[[], float] = time.time,
               monotonic: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
               bridge_socket: socket.socket | None = None) -> web.Application:
    """Build the daemon's application.

    Args:
        config: the validated configuration.
        secret_store: where the device key lives; by default per ``[device] key_storage``.
        authority: local mode's embedded authority; by default ``authority.sqlite3`` in the
            data directory (tests pass one with their clock).
        authority_keys: remote mode's pinned keys; by default ``[authority] public_key``.
        clock: epoch seconds for record freshness and expiry (injected by tests).
        monotonic, sleep: the auth throttle's clock and delay (injected by tests).
        bridge_socket: the EA bridge's listening socket, bound by the caller before the app
            starts (``mtgateway run`` binds its ports before it opens the journal); by
            default the bridge binds ``[bridge] host:port`` when it starts.
    """
    app = web.Application(client_max_size=config.server.max_body_bytes,
                          middlewares=[guard_middleware])
    app[CONFIG] = config
    _compose_auth(app, config, secret_store, authority, authority_keys, clock)
    server_cfg = config.server
    app[CONNECTIONS] = ConnectionBudget(ConnectionLimits(
        max_connections=server_cfg.max_connections, header_timeout_s=server_cfg.header_timeout_s,
        max_connections_per_peer=server_cfg.max_connections_per_peer),
        _GUARD_REFUSALS, HostRefusals(monotonic))
    app.on_response_prepare.append(note_switch)  # the guard stops at a 101 written, only
    app[AUTH_THROTTLE] = AuthThrottle(
        delay_s=server_cfg.auth_failure_delay_s, limit=server_cfg.auth_failure_limit,
        window_s=server_cfg.auth_failure_window_s, lockout_s=server_cfg.auth_lockout_s,
        what="daemon tokens", clock=monotonic, sleep=sleep, honour_during_lockout=True)
    ws_cfg = config.ws
    app[HUB] = Hub(HubLimits(
        event_queue_max=ws_cfg.event_queue_max, tick_high_water_bytes=ws_cfg.tick_high_water_bytes,
        max_queued_ticks=ws_cfg.max_queued_ticks, max_subscriptions=ws_cfg.max_subscriptions,
        max_symbols=ws_cfg.max_symbols))
    app[WEBSOCKETS] = weakref.WeakSet()
    app[WS_REQUESTS] = set()
    app[WS_TOKEN_IDS] = weakref.WeakKeyDictionary()
    app[TERMINALS] = TerminalDirectory(app[HUB])
    app[RECORD_CACHE].on_stored(app[TERMINALS].record_stored)  # streams hear of new terms
    table = with_discovery(method_table())  # + rpc.discover (OpenRPC)
    metrics = app[METRICS] = DaemonMetrics(frozenset(table) | ws.WS_ONLY_METHODS)
    app[READINESS] = Readiness(app[TERMINALS], app[RECORD_CACHE], metrics,
                               server_cfg.ready_max_tick_age_s)
    app[METRICS_TOKEN] = ScrapeGuard.of(server_cfg.metrics_token.get_secret_value(),
                                        server_cfg.metrics_open, config.resolved_data_dir())
    listeners = FanOut(app[TERMINALS], app[REPORTER], metrics)
    bridge_cfg = config.bridge
    app[BRIDGE] = Bridge(
        metered_verifier(app[REPORTER].verifier(app[AUTHENTICATOR]), metrics), listeners,
        host=bridge_cfg.host,
        port=bridge_cfg.port,
        heartbeat=HeartbeatSettings(bridge_cfg.heartbeat_interval_s,
                                    bridge_cfg.heartbeat_timeout_s,
                                    bridge_cfg.handshake_timeout_s),
        max_frame_bytes=bridge_cfg.max_frame_bytes,
        max_pending=bridge_cfg.max_pending_handshakes,
        allow_non_loopback=bridge_cfg.insecure_allow_non_loopback)
    app[TRADING] = _trading(config, app[BRIDGE], listeners, _paper_events(app))
    # The owner's paper money and chart messages, as the records carry them (after the
    # paper books: a deposit may need the book a session just made).
    instructions = app[INSTRUCTIONS] = OwnerInstructions(
        app[BRIDGE], app[TRADING].venues.paper, app[RECORD_CACHE].get, app[REPORTER].settled,
        timeout_s=server_cfg.request_timeout_s)
    listeners.add(instructions)
    app[RECORD_CACHE].on_stored(instructions.record_stored)
    app[CANDLES] = CandleDesk(app[HUB], app[BRIDGE].call,
                              timeout_s=server_cfg.request_timeout_s)
    listeners.add(app[CANDLES])  # ticks form the bars of the candles channel
    metrics.watch(app[TERMINALS], app[HUB], app[TRADING].journal)
    app[RPC] = Dispatcher(table, observe=metrics.rpc_answered)
    app[DOOR] = Door(app)  # what every HTTP door goes through; it looks up the parts above
    app.cleanup_ctx.append(_authority_ctx)  # first up, last down
    app.cleanup_ctx.append(_trading_ctx)  # open before the bridge starts, close after it stops
    app.cleanup_ctx.append(_bridge_ctx(bridge_socket))
    app.router.add_get("/health", http_rpc.health)
    app.router.add_routes(probes.routes())  # /ready, /metrics
    app.router.add_routes(rest.routes())  # the MT4 Web API mirror, /api/...
    app.router.add_routes([openapi.route()])
    app.router.add_route("*", "/rpc", http_rpc.rpc)
    app.router.add_get("/ws", ws.websocket)
    # /auth/challenge, /auth/session: the daemon proves itself before a client sends a token
    app.router.add_routes(client_auth.routes())
    app.on_shutdown.append(ws.close_all)  # requests in flight answered, then 1001
    app.on_cleanup.append(lambda app: app[CANDLES].close())
    app.on_cleanup.append(lambda app: app[INSTRUCTIONS].close())
    return app


def _compose_auth(app: web.Application, config: GatewayConfig,
                  secret_store: SecretStore | None, embedded: Authority | None,
                  keys: Sequence[AuthorityKey] | None, clock: Callable[[], float]) -> None:
    device = app[DEVICE] = open_device(config, secret_store)
    cfg = config.authority
    link: AuthorityLink
    if cfg.mode == "local":
        # The embedded console: only in local mode is it imported (a daemon with a remote
        # console runs without it installed). Its database is prepared (and this device
        # approved) when the app starts.
        from mtgateway_console.mailer import NoMailer
        from mtgateway_console.service import Authority

        from .auth.local import SelfApprovingAuthority

        embedded = embedded or Authority.closed(
            config.resolved_data_dir(), NoMailer(), clock=clock, database_url=database_url(cfg),
            connect_timeout_s=cfg.database_connect_timeout_s,
            statement_timeout_s=cfg.database_statement_timeout_s,
            pool_size=cfg.database_connections)
        link = SelfApprovingAuthority(embedded, device.info)
        keys = [embedded.store.signer.key]
    else:
        link = RemoteAuthority(cfg.url, device.private_key, timeout_s=cfg.request_timeout_s)
        keys = keys or [AuthorityKey.from_base64(cfg.public_key)]
    app[AUTHORITY] = link
    # Account figures go to a console's dashboard (remote mode); the embedded authority keeps
    # them in this process's memory, where no console page could show them.
    remote = cfg.mode != "local"
    read = _account_reads(app)
    app[REPORTER] = TerminalReporter(
        link, device.info, figures=account_figures(read) if remote else None,
        positions=open_positions(read) if remote else None,
        details=account_details(read) if remote else None,
        live_details=account_details(_live_reads(app)) if remote else None,
        digits=symbol_digits(read) if remote else None)
    cache = app[RECORD_CACHE] = RecordCache(
        link, keys, device.info, device_name=device_name(config),
        os_name=f"{platform.system()} {platform.release()}".strip(),
        refresh_interval_s=cfg.refresh_interval_s, offline_grace_s=cfg.offline_grace_s,
        clock=clock)
    cache.on_stored(app[REPORTER].record_stored)  # a switch of book is reported at once
    app[AUTHENTICATOR] = ChallengeAuthenticator(cache)  # tokens, and the client challenge
    closing: set[asyncio.Task[Any]] = set()

    def token_dead(record: SignedRecord, reason: str) -> None:
        """Close what the dead token holds open: its sockets (1008) and its EA (bye)."""
        for sock, token_id in list(app[WS_TOKEN_IDS].items()):
            if token_id == record.token_id and not sock.closed:
                task = asyncio.get_running_loop().create_task(sock.close(
                    code=WSCloseCode.POLICY_VIOLATION, message=reason.encode()))
                closing.add(task)
                task.add_done_callback(closing.discard)
        terminal = TerminalId(record.login, record.server)
        session = app[BRIDGE].session(terminal)
        if session is not None and session.token_id == record.token_id:
            app[BRIDGE].disconnect(terminal, reason, _DEAD_MESSAGES.get(reason, reason))

    cache.on_dead(token_dead)


def _account_reads(app: web.Application) -> Callable[
        [TerminalId, str, dict[str, Any], float], Awaitable[Any]]:
    """How the reporter reads a terminal's account: through the venue its session's token
    says (a paper account's figures, positions and deals are its paper book's), as a bot's
    call would."""

    async def call(terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        session = app[BRIDGE].session(terminal)
        record = app[RECORD_CACHE].get(session.token_id) if session is not None else None
        venues = app[TRADING].venues
        venue = venues.live(terminal) if record is None else venues.of_account(terminal,
                                                                              record.risk)
        return await venue.call(method, params, timeout_s)

    return call


def _live_reads(app: web.Application) -> Callable[
        [TerminalId, str, dict[str, Any], float], Awaitable[Any]]:
    """How the reporter reads a terminal's live book whatever its account trades on: the
    broker's margin, positions, orders and deals, reported beside a paper book's."""

    async def call(terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        return await app[TRADING].venues.live(terminal).call(method, params, timeout_s)

    return call


async def _authority_ctx(app: web.Application) -> AsyncIterator[None]:
    cache = app[RECORD_CACHE]
    link = app[AUTHORITY]
    try:
        await link.start()
    except BaseException:
        await link.close()
        raise
    # revocations reach this daemon within seconds, not at the next refresh; a console's
    # long-poll carries the periodic report too, when the console takes it
    watcher = watch_revocations(link, cache.device, cache.refresh_once,
                                carrier=app[REPORTER]) if isinstance(link, RemoteAuthority) \
        else watch_revocations(link, cache.device, cache.refresh_once)
    tasks = [asyncio.create_task(cache.run()), asyncio.create_task(app[REPORTER].run()),
             asyncio.create_task(watcher)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await link.close()


def _bridge_ctx(sock: socket.socket | None
                ) -> Callable[[web.Application], AsyncIterator[None]]:
    async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
        bridge = app[BRIDGE]
        await bridge.start(sock)
        yield
        await bridge.close()

    return bridge_ctx


def _paper_events(app: web.Application) -> PaperEvents:
    """Where the paper books' trade events go: to the terminal's ``trades`` subscribers, as
    the EA's own (marked paper), and to the reporter, which reports the account again at
    once as it does after the EA's."""

    def event(terminal: TerminalId, payload: dict[str, Any]) -> None:
        app[TERMINALS].stream_trade(terminal, payload)
        app[REPORTER].event(terminal, EVENT_TRADE, payload, 0)

    return event


def trading_settings(config: GatewayConfig) -> tuple[DeskSettings, ReconcileSettings]:
    """What the desk and the reconciler read of ``config`` (``[trading]``, ``[server]``), each
    given only its own."""
    trading, server = config.trading, config.server
    tags = CommentTags(trading.comment_prefix, trading.comment_tag)
    return (DeskSettings(tags, trading.magic, trading.symbol_cache_s, server.request_timeout_s,
                         server.trade_timeout_s),
            ReconcileSettings(tags, trading.reconcile_interval_s, trading.reconcile_lookback_s,
                              trading.reconcile_max_passes, trading.journal_retention_h,
                              server.request_timeout_s))


def _trading(config: GatewayConfig, bridge: Bridge, listeners: FanOut,
             paper_events: PaperEvents) -> TradeDesk:
    """The trading parts, wired: the paper books (a bridge listener, for the live ticks; their
    trade events to ``paper_events``), the venues over them, the reconciler over the venues (a
    listener too, added after the terminal directory so a session is known before it
    reconciles), the gate asking the reconciler, and the desk the methods see."""
    journal = OrderJournal(config.resolved_data_dir() / JOURNAL_DB_NAME)
    paper = PaperTrading(bridge, config.resolved_data_dir() / PAPER_DIR_NAME,
                         config.server.request_timeout_s, on_event=paper_events)
    venues = Venues(bridge, paper)
    desk_settings, reconcile_settings = trading_settings(config)
    reconciler = Reconciler(journal, bridge, venues, reconcile_settings)
    listeners.add(reconciler)
    listeners.add(paper)
    return TradeDesk(journal, bridge, desk_settings, venues=venues, reconciler=reconciler,
                     gate=TradeGate(bridge, reconciler.reconciling))


async def _trading_ctx(app: web.Application) -> AsyncIterator[None]:
    desk = app[TRADING]
    desk.open()
    yield
    await desk.close()
