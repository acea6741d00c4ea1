"""Every typed application and request key, in one module so nothing imports in a circle.

aiohttp's ``AppKey`` instead of string keys: typed access, no collisions, and no module-level
singletons. Everything long-lived is created in ``create_app`` and hangs off the application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from jsonrpcserver import Result

from ea_bridge import Bridge

from .auth import Authenticator, LocalTokenStore
from .config import GatewayConfig
from .terminals import TerminalDirectory

__all__ = ["AUTHENTICATOR", "BRIDGE", "CONFIG", "RPC_METHODS", "TERMINALS", "TOKEN_STORE"]

CONFIG = web.AppKey("config", GatewayConfig)
BRIDGE = web.AppKey("bridge", Bridge)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
TOKEN_STORE = web.AppKey("token_store", LocalTokenStore)
TERMINALS = web.AppKey("terminals", TerminalDirectory)
#: The JSON-RPC method table, built once per application.
RPC_METHODS = web.AppKey("rpc_methods", dict[str, Callable[..., Awaitable[Result]]])
