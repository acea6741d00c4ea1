"""``POST /rpc`` and ``GET /health``: HTTP in, JSON-RPC through ``rpc.handle``, HTTP out.

The HTTP-level refusals run before anything is dispatched, in the contract's order: method
(405), content type (415), body size (413), then the bearer token (401 with the reason word).
Each refusal is a JSON-RPC error object with ``id: null`` so a client has one shape to parse.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ._version import __version__
from .errors import (
    INVALID_REQUEST,
    UNAUTHORIZED,
    Unauthorized,
)
from .keys import AUTHENTICATOR, BRIDGE, CONFIG, RPC_METHODS, TERMINALS
from .rpc import RpcContext, handle

__all__ = ["health", "rpc"]

_JSON = "application/json"


def error_response(status: int, code: int, message: str, data: Any = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """An HTTP refusal whose body is a JSON-RPC error with ``id: null``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = orjson.dumps({"jsonrpc": "2.0", "error": error, "id": None})
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


async def health(request: web.Request) -> web.Response:
    """``GET /health``: no auth; says the daemon is up."""
    return web.json_response({"status": "ok", "service": "mtgateway", "version": __version__})


async def rpc(request: web.Request) -> web.StreamResponse:
    """``POST /rpc``: JSON-RPC 2.0, one request or a batch."""
    app = request.app
    config = app[CONFIG]
    if request.method != "POST":
        return error_response(405, INVALID_REQUEST, "Use POST for /rpc",
                              headers={"Allow": "POST"})
    if request.content_type != _JSON:
        return error_response(415, INVALID_REQUEST, "Content-Type must be application/json")
    limit = config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return error_response(413, INVALID_REQUEST, f"Body larger than {limit} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, INVALID_REQUEST, f"Body larger than {limit} bytes")
    try:
        principal = await app[AUTHENTICATOR].authenticate(_bearer(request))
    except Unauthorized as exc:
        return error_response(401, UNAUTHORIZED, exc.message, {"reason": exc.reason},
                              headers={"WWW-Authenticate": 'Bearer realm="mtgateway"'})
    context = RpcContext(principal, app[BRIDGE], config, app[TERMINALS])
    payload = await handle(body, context, app[RPC_METHODS])
    if payload is None:
        return web.Response(status=204)
    return web.Response(body=payload, content_type=_JSON)
