"""The HTTP checks that run before any handler, for ``/ws``, ``/health`` and ``/api`` alike.

Rungs 2-4 of the one ladder (``edge/ladder.py``), in the contract's order (``product.md``,
HTTP surface): the ``Host`` allowlist (421: a web page that rebinds its own domain to
127.0.0.1 still sends its domain as Host), the ``Origin`` allowlist (403: browsers always send
Origin, bots usually don't), and a token in the query string (400: URLs end up in logs,
histories and proxies, so the daemon refuses to accept a credential there; the token is never
echoed or logged). ``/rpc`` asks the whole ladder in its handler (``http_rpc.serve_rpc``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..keys import CONFIG, CONNECTIONS
from .http_rpc import error_response
from .ladder import edge_refusal

__all__ = ["guard_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host, Origin and query-token checks, before any handler or WebSocket upgrade."""
    app = request.app
    refusal = edge_refusal(app[CONFIG].server, request.headers.getall("Host", []),
                           request.raw_path, request.headers.get("Origin"),
                           request.query.keys() if request.query_string else (),
                           request.remote or "?", app[CONNECTIONS].host_refusals)
    if refusal is not None:
        return error_response(refusal)
    return await handler(request)
