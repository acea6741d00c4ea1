"""The HTTP checks that run before any handler, for ``/ws``, ``/health`` and ``/api`` alike.

Rungs 2-4 of the one ladder (``edge/ladder.py``), in the contract's order, asked through the
door (``edge/door.py``): the ``Host`` allowlist (421: a web page that rebinds its own domain
to 127.0.0.1 still sends its domain as Host), the ``Origin`` allowlist (403: browsers always
send Origin, bots usually don't), and a token in the query string (400: URLs end up in logs,
histories and proxies, so the daemon refuses to accept a credential there; the token is never
echoed or logged). The request's head is built here once and kept on the request for the
handler's own steps through the door. ``/rpc`` asks the whole ladder itself
(``http_rpc.serve_rpc``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .door import DOOR, HEAD, error_response
from .head import RequestHead

__all__ = ["guard_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host, Origin and query-token checks, before any handler or WebSocket upgrade."""
    head = request[HEAD] = RequestHead.of_aiohttp(request)
    refusal = request.app[DOOR].edge_refusal(head)
    if refusal is not None:
        return error_response(refusal)
    return await handler(request)
