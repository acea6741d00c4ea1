"""Every typed application and request key, in one module so nothing imports in a circle.

aiohttp's ``AppKey`` instead of string keys: typed access, no collisions, and no module-level
singletons. Everything long-lived is created in ``create_app`` and hangs off the application.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Final

from aiohttp import web

from ea_bridge import Bridge
from mtgateway_base.guard import BUDGET
from mtgateway_base.scrape import ScrapeGuard
from mtgateway_base.throttle import AuthThrottle

from .auth import Authenticator, DeviceIdentity, RecordCache
from .auth.link import AuthorityLink
from .auth.reporter import TerminalReporter
from .candles import CandleDesk
from .config import GatewayConfig
from .context import RpcContext
from .hub import Hub
from .metrics import DaemonMetrics, Readiness
from .rpc import Dispatcher
from .terminals import TerminalDirectory
from .trading.desk import TradeDesk
from .trading.instructions import OwnerInstructions

__all__ = ["AUTHENTICATOR", "AUTHORITY", "AUTH_THROTTLE", "BRIDGE", "CANDLES", "CONFIG",
           "CONNECTIONS", "DEVICE", "HUB", "INSTRUCTIONS", "METRICS", "METRICS_TOKEN", "READINESS",
           "RECORD_CACHE", "REPORTER",
           "RPC", "TERMINALS", "TRADING",
           "WEBSOCKETS",
           "WS_REQUESTS",
           "WS_TOKEN_IDS"]

CONFIG = web.AppKey("config", GatewayConfig)
BRIDGE = web.AppKey("bridge", Bridge)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
AUTH_THROTTLE = web.AppKey("auth_throttle", AuthThrottle)
#: The HTTP port's connection budget: the guard's own key (``base/guard.BUDGET``), the one the
#: console keeps its budget under too, so ``mark_authenticated`` finds either's connections.
CONNECTIONS: Final = BUDGET
#: This machine's device identity (its key signs every call to a remote authority).
DEVICE = web.AppKey("device", DeviceIdentity)
#: The authority the cache asks: the embedded one (local mode) or the console client.
AUTHORITY = web.AppKey("authority", AuthorityLink)
#: Verified signed records, refreshed every ``[authority] refresh_interval_s``.
RECORD_CACHE = web.AppKey("record_cache", RecordCache)
TERMINALS = web.AppKey("terminals", TerminalDirectory)
#: Reports each terminal's state (and each refusal) to the token authority.
REPORTER = web.AppKey("reporter", TerminalReporter)
#: Streams ticks and events to WebSocket subscribers.
HUB = web.AppKey("hub", Hub)
#: The ``candles`` channel's series: formed from ticks, confirmed by the terminal.
CANDLES = web.AppKey("candles", CandleDesk)
#: Open ``/ws`` sockets, closed with 1001 on shutdown.
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse[bool]])
#: JSON-RPC requests being answered on ``/ws`` (all sockets): shutdown lets them finish and
#: their answers go out before it closes the sockets, as aiohttp does for ``/rpc`` handlers.
WS_REQUESTS = web.AppKey("ws_requests", set[asyncio.Task[None]])
#: Each open socket's token id, so a revocation closes that token's sockets at once (1008).
WS_TOKEN_IDS = web.AppKey("ws_token_ids",
                          weakref.WeakKeyDictionary[web.WebSocketResponse[bool], str])
#: Trading state: the order journal, trades in flight, reconciliation.
TRADING = web.AppKey("trading", TradeDesk)
#: The owner's instructions the signed records carry: paper money, chart messages.
INSTRUCTIONS = web.AppKey("instructions", OwnerInstructions)
#: The JSON-RPC dispatcher over the method table, built once per application.
RPC = web.AppKey("rpc", Dispatcher[RpcContext])
#: Prometheus counters and the scrape-time collector (``metrics.py``).
METRICS = web.AppKey("metrics", DaemonMetrics)
#: What ``GET /ready`` checks.
READINESS = web.AppKey("readiness", Readiness)
#: The bearer token ``/metrics`` and ``/ready``'s details ask for (``base.scrape``), or
#: ``None`` when ``[server] metrics_open`` leaves them open.
METRICS_TOKEN = web.AppKey("metrics_token", ScrapeGuard)
