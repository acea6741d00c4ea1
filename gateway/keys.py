"""Every typed application and request key, in one module so nothing imports in a circle.

aiohttp's ``AppKey`` instead of string keys: typed access, no collisions, and no module-level
singletons. Everything long-lived is created in ``create_app`` and hangs off the application.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from aiohttp import web
from jsonrpcserver import Result

from ea_bridge import Bridge

from .auth import Authenticator, LocalTokenStore
from .config import GatewayConfig
from .hub import Hub
from .methods.trading import TradeDesk
from .terminals import TerminalDirectory
from .throttle import AuthThrottle

__all__ = ["AUTHENTICATOR", "AUTH_THROTTLE", "BRIDGE", "CONFIG", "HUB", "RPC_METHODS", "TERMINALS",
           "TOKEN_STORE", "TRADING", "WEBSOCKETS"]

CONFIG = web.AppKey("config", GatewayConfig)
BRIDGE = web.AppKey("bridge", Bridge)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
AUTH_THROTTLE = web.AppKey("auth_throttle", AuthThrottle)
TOKEN_STORE = web.AppKey("token_store", LocalTokenStore)
TERMINALS = web.AppKey("terminals", TerminalDirectory)
#: Streams ticks and events to WebSocket subscribers.
HUB = web.AppKey("hub", Hub)
#: Open ``/ws`` sockets, closed with 1001 on shutdown.
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse[bool]])
#: Trading state: the order journal, trades in flight, reconciliation.
TRADING = web.AppKey("trading", TradeDesk)
#: The JSON-RPC method table, built once per application.
RPC_METHODS = web.AppKey("rpc_methods", dict[str, Callable[..., Awaitable[Result]]])
