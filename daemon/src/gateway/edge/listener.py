"""Serving the application: aiohttp's runner behind the connection guard, on loopback.

The guard's site (:class:`~mtgateway_base.guard.GuardedSite`, shared with the console) wraps
each connection's protocol in :class:`~mtgateway_base.guard.GuardedProtocol` before aiohttp sees it;
everything else (graceful shutdown, keep-alive handling) stays aiohttp's.

The hot path skips the application's machinery: aiohttp's low-level server hands every request
to :func:`rpc_fast_path`, which sends a request for ``/rpc`` straight to
:func:`~gateway.edge.http_rpc.serve_rpc` (the door, ``edge/door.py``, then the call) and
passes anything else to the application as before (router, middleware, ``/ws``, ``/health``,
404s). ``docs/performance.md`` has the A/B.

With ``[server] rpc_edge = "llhttp"`` (the default) the guard wraps the ground floor's llhttp
edge instead (:class:`~mtgateway_base.httpedge.HttpEdge`, given the daemon's ``/rpc`` by
``llhttp.py``): ``POST /rpc`` never reaches aiohttp's parser, and any other request is handed
to aiohttp's protocol on the same connection (where the fast path above still serves an
``/rpc`` that follows on it).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mtgateway_base.guard import ConnectionBudget, GuardedProtocol, GuardedSite, serve_as_work
from mtgateway_base.httpedge import HttpEdge
from mtgateway_base.log import log_access

from ..config import ServerConfig
from ..keys import CONFIG, CONNECTIONS
from .door import DOOR
from .http_rpc import RPC_METHODS, serve_rpc
from .llhttp import LINGERING_S, answerer, edge_settings

__all__ = ["AccessLogger", "RpcSite", "bind_tcp", "rpc_fast_path", "start_http"]

RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def rpc_fast_path(app: web.Application, fallback: RequestHandler) -> RequestHandler:
    """A low-level request handler: a request for ``/rpc`` (any method, any query) straight to
    :func:`~gateway.edge.http_rpc.serve_rpc`, which goes through the door; everything else to
    ``fallback`` (the application's handler), including an ``/rpc`` with an ``Expect`` header,
    whose ``100 Continue`` (or 417) the router's expect handler answers before the same
    ``serve_rpc`` runs."""
    budget = app[CONNECTIONS]

    async def route(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/rpc" and "Expect" not in request.headers:
            return await serve_rpc(app, request)
        return await fallback(request)

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        # working from here until the response is written (``base/guard.serve_as_work``)
        return await serve_as_work(budget.find(request.transport), request, route)

    return handle

#: At shutdown, how long the requests in progress on the llhttp edge may take.
_SHUTDOWN_S = 60.0


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path *without* its query string, status, size, time,
    and for ``/rpc`` the JSON-RPC method(s) answered (``[account_info]``; a batch names each).

    The path only, because a query string may carry a token (which the daemon refuses with
    400, but the refusal itself is logged); records also pass the redaction filter. The
    JSON-RPC names are the method table's (an unknown name is logged as ``unknown``).
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log_access(self.logger, request.remote, request.method, request.path,
                   request.get(RPC_METHODS) or (), response.status, response.body_length, time)


class RpcSite(GuardedSite):
    """The daemon's TCP site: the guard's, with ``POST /rpc`` on the llhttp edge."""

    __slots__ = ("_app", "_edges")

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 budget: ConnectionBudget, sock: socket.socket | None = None,
                 app: web.Application | None = None) -> None:
        """``app``: serve its ``POST /rpc`` on the llhttp edge (``llhttp.py``), handing
        every other request to aiohttp; None: aiohttp parses everything."""
        super().__init__(runner, host, port, budget, sock)
        self._app = app
        self._edges: set[HttpEdge] = set()

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        app, budget, edges = self._app, self._budget, self._edges
        if app is None:
            return super().protocol_factory(server)
        access_log = (logging.getLogger("gateway.access")
                      if app[CONFIG].logging.access_log else None)
        answer, settings = answerer(app[DOOR], access_log), edge_settings(app[CONFIG].server)

        def factory() -> asyncio.Protocol:
            edge = HttpEdge(answer, settings, budget, server, edges)
            guard = edge.guard = GuardedProtocol(edge, budget, parses=True)  # (told, not found)
            return guard
        return factory

    async def stop(self) -> None:
        """Stop listening; each llhttp connection answers the request in progress and closes
        (within the runner's shutdown timeout), as aiohttp's shutdown does for its own."""
        await super().stop()
        tasks = {task for edge in list(self._edges) if (task := edge.shut_down()) is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=_SHUTDOWN_S)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6 as ``host`` resolves), bound now.

    The daemon binds both its ports with this before it opens anything in its data dir, so a
    start that fails on a port in use leaves the journal untouched.

    Raises:
        OSError: the address cannot be bound (port in use, ...).
    """
    families = [info[0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)]
    # One socket, so one address: for a name with both (``localhost``), IPv4, the address the
    # EA, the examples and the docs use.
    family = socket.AF_INET if socket.AF_INET in families else families[0]
    return socket.create_server((host, port), family=family)


async def start_http(app: web.Application, sock: socket.socket | None = None
                     ) -> tuple[web.AppRunner, int]:
    """Serve ``app`` per its ``[server]`` config; returns the runner and the bound port.

    Args:
        app: the application (its startup opens the journal and starts the bridge).
        sock: a listening socket from :func:`bind_tcp` to serve on instead of binding
            ``[server] host:port`` after the startup.

    Raises:
        OSError: the address cannot be bound (port in use, ...), or a start-up step refused
            (``InsecurePath``: a data file others could read).
        Exception: whatever else the application's startup raised (its parts already
            started are cleaned up first), e.g. :class:`~gateway.trading.journal.JournalUnusable`.
    """
    cfg: ServerConfig = app[CONFIG].server
    runner = web.AppRunner(
        app, handle_signals=False, keepalive_timeout=cfg.keepalive_timeout_s,
        # After answering early (408, 413) aiohttp reads on to drain the body before closing;
        # a slow client must not hold its connection slot for aiohttp's default 10 s.
        lingering_time=LINGERING_S,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("gateway.access") if app[CONFIG].logging.access_log
        else None)
    try:
        await runner.setup()
    except BaseException:  # a refused start (data dir check, journal, ...) stops what did start
        await runner.cleanup()
        raise
    server = runner.server
    assert server is not None
    server.request_handler = rpc_fast_path(app, server.request_handler)
    site = RpcSite(runner, cfg.host, cfg.port, app[CONNECTIONS], sock,
                       app if cfg.rpc_edge == "llhttp" else None)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site.port
