"""``create_app``: composition only. Routes, the long-lived parts, and their start/stop pairs.

Each long-lived part is built here and stored under a typed key (``keys.py``); each that needs
starting and stopping gets one ``cleanup_ctx`` generator, so start-up and shutdown stay paired
and ordered (the bridge starts after the token store, and stops before it).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from aiohttp import web

from ea_bridge import Bridge, HeartbeatSettings

from . import http_rpc, ws
from .auth import Authenticator, LocalTokenStore
from .config import GatewayConfig
from .hub import Hub, HubLimits
from .journal import OrderJournal
from .keys import (
    AUTH_THROTTLE,
    AUTHENTICATOR,
    BRIDGE,
    CONFIG,
    HUB,
    RPC_METHODS,
    TERMINALS,
    TOKEN_STORE,
    TRADING,
    WEBSOCKETS,
)
from .methods.trading import TradeDesk
from .middleware import guard_middleware
from .rpc import build_methods
from .terminals import TerminalDirectory
from .throttle import AuthThrottle

__all__ = ["JOURNAL_DB_NAME", "TOKEN_DB_NAME", "create_app"]

TOKEN_DB_NAME = "tokens.sqlite3"
#: The idempotency journal and audit trail of trades.
JOURNAL_DB_NAME = "orders.sqlite3"


def create_app(config: GatewayConfig, *, token_store: LocalTokenStore | None = None
               ) -> web.Application:
    """Build the daemon's application.

    Args:
        config: the validated configuration.
        token_store: the record source; by default ``tokens.sqlite3`` in the data directory.
    """
    app = web.Application(client_max_size=config.server.max_body_bytes,
                          middlewares=[guard_middleware])
    app[CONFIG] = config
    store = token_store or LocalTokenStore(config.resolved_data_dir() / TOKEN_DB_NAME)
    app[TOKEN_STORE] = store
    app[AUTHENTICATOR] = Authenticator(store)
    server_cfg = config.server
    app[AUTH_THROTTLE] = AuthThrottle(
        delay_s=server_cfg.auth_failure_delay_s, limit=server_cfg.auth_failure_limit,
        window_s=server_cfg.auth_failure_window_s, lockout_s=server_cfg.auth_lockout_s)
    ws_cfg = config.ws
    app[HUB] = Hub(HubLimits(
        event_queue_max=ws_cfg.event_queue_max, tick_high_water_bytes=ws_cfg.tick_high_water_bytes,
        max_queued_ticks=ws_cfg.max_queued_ticks, max_subscriptions=ws_cfg.max_subscriptions,
        max_symbols=ws_cfg.max_symbols))
    app[WEBSOCKETS] = weakref.WeakSet()
    app[TERMINALS] = TerminalDirectory(app[HUB])
    app[TRADING] = TradeDesk(OrderJournal(config.resolved_data_dir() / JOURNAL_DB_NAME), config)
    bridge_cfg = config.bridge
    app[BRIDGE] = Bridge(
        app[AUTHENTICATOR], app[TRADING].listener(app[TERMINALS]), host=bridge_cfg.host,
        port=bridge_cfg.port,
        heartbeat=HeartbeatSettings(bridge_cfg.heartbeat_interval_s,
                                    bridge_cfg.heartbeat_timeout_s,
                                    bridge_cfg.handshake_timeout_s),
        max_frame_bytes=bridge_cfg.max_frame_bytes,
        allow_non_loopback=bridge_cfg.insecure_allow_non_loopback)
    app[TRADING].bind(app[BRIDGE])
    app[RPC_METHODS] = build_methods()
    app.cleanup_ctx.append(_trading_ctx)  # open before the bridge starts, close after it stops
    app.cleanup_ctx.append(_bridge_ctx)
    app.router.add_get("/health", http_rpc.health)
    app.router.add_route("*", "/rpc", http_rpc.rpc)
    app.router.add_get("/ws", ws.websocket)
    app.on_shutdown.append(ws.close_all)  # 1001 to every socket
    return app


async def _bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    bridge = app[BRIDGE]
    await bridge.start()
    yield
    await bridge.close()


async def _trading_ctx(app: web.Application) -> AsyncIterator[None]:
    desk = app[TRADING]
    desk.open()
    yield
    await desk.close()
