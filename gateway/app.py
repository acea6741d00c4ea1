"""``create_app``: composition only. Routes, the long-lived parts, and their start/stop pairs.

Each long-lived part is built here and stored under a typed key (``keys.py``); each that needs
starting and stopping gets one ``cleanup_ctx`` generator, so start-up and shutdown stay paired
and ordered (the bridge starts after the token store, and stops before it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ea_bridge import Bridge, HeartbeatSettings

from . import http_rpc
from .auth import Authenticator, LocalTokenStore
from .config import GatewayConfig
from .keys import AUTHENTICATOR, BRIDGE, CONFIG, RPC_METHODS, TERMINALS, TOKEN_STORE
from .rpc import build_methods
from .terminals import TerminalDirectory

__all__ = ["TOKEN_DB_NAME", "create_app"]

TOKEN_DB_NAME = "tokens.sqlite3"


def create_app(config: GatewayConfig, *, token_store: LocalTokenStore | None = None
               ) -> web.Application:
    """Build the daemon's application.

    Args:
        config: the validated configuration.
        token_store: the record source; by default ``tokens.sqlite3`` in the data directory.
    """
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[CONFIG] = config
    store = token_store or LocalTokenStore(config.resolved_data_dir() / TOKEN_DB_NAME)
    app[TOKEN_STORE] = store
    app[AUTHENTICATOR] = Authenticator(store)
    app[TERMINALS] = TerminalDirectory()
    bridge_cfg = config.bridge
    app[BRIDGE] = Bridge(
        app[AUTHENTICATOR], app[TERMINALS], host=bridge_cfg.host, port=bridge_cfg.port,
        heartbeat=HeartbeatSettings(bridge_cfg.heartbeat_interval_s,
                                    bridge_cfg.heartbeat_timeout_s,
                                    bridge_cfg.handshake_timeout_s),
        max_frame_bytes=bridge_cfg.max_frame_bytes,
        allow_non_loopback=bridge_cfg.insecure_allow_non_loopback)
    app[RPC_METHODS] = build_methods()
    app.cleanup_ctx.append(_bridge_ctx)
    app.router.add_get("/health", http_rpc.health)
    app.router.add_route("*", "/rpc", http_rpc.rpc)
    return app


async def _bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    bridge = app[BRIDGE]
    await bridge.start()
    yield
    await bridge.close()
