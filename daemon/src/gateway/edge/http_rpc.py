"""``POST /rpc`` on aiohttp's parser, and ``GET /health``: the aiohttp adapter of the door.

Everything a ``/rpc`` request goes through (the ladder, the body deadline, the bearer token,
the mark on the connection, the call context, the dispatcher) is the door's
(``edge/door.py``), as on the llhttp edge; this module only hands it aiohttp's request (its
head, :class:`~gateway.edge.door.AiohttpBody`) and turns its answer into aiohttp's response.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .._version import __version__
from .door import DOOR, HEAD, AiohttpBody
from .head import RequestHead

__all__ = ["RPC_METHODS", "health", "rpc", "serve_rpc"]

#: The request item holding the JSON-RPC method names of an answered body (the access log's).
RPC_METHODS: Final = web.RequestKey("rpc_methods", list[str])
_JSON_HEADERS: Final = {"Content-Type": "application/json"}


async def health(request: web.Request) -> web.Response:
    """``GET /health``: no auth; says the daemon is up."""
    return web.json_response({"status": "ok", "service": "mtgateway", "version": __version__})


async def rpc(request: web.Request) -> web.StreamResponse:
    """``/rpc`` through the router: only a request with an ``Expect`` header comes this way
    when served by ``listener.py`` (whose fast path sends every other ``/rpc`` request to
    :func:`serve_rpc` without the router), after aiohttp's expect handler answered it; the
    middleware has built its head."""
    return await serve_rpc(request.app, request, request[HEAD])


async def serve_rpc(app: web.Application, request: web.BaseRequest,
                    head: RequestHead | None = None) -> web.StreamResponse:
    """Answer one ``/rpc`` request of ``app`` (which it is given: a request that skipped the
    router has no ``request.app``, nor a head from the middleware, so it is built here)
    through the door."""
    door = app[DOOR]
    called: list[str] = []
    request[RPC_METHODS] = called  # for the access log (``listener.AccessLogger``)
    status, payload, headers = await door.rpc(
        head if head is not None else RequestHead.of_aiohttp(request),
        AiohttpBody(request, door.server.max_body_bytes), door.connection(request), called)
    if status == 200:
        # A plain header mapping: aiohttp's content_type setter parses and rebuilds the header.
        return web.Response(body=payload, headers=_JSON_HEADERS)
    if payload is None:
        return web.Response(status=status)
    return web.Response(status=status, body=payload, headers={**_JSON_HEADERS,
                                                               **(headers or {})})
