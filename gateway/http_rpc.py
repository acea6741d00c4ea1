"""``POST /rpc`` and ``GET /health``: HTTP in, JSON-RPC through ``rpc.handle``, HTTP out.

The HTTP-level refusals run before anything is dispatched, in the contract's order (Host,
Origin and query-string tokens are checked earlier, in ``middleware.py``): method (405),
content type (415), body size (413) and the body deadline (408), then the bearer token (401
with the reason word, or 429 during a brute-force lockout). Each refusal is a JSON-RPC error
object with ``id: null`` so a client has one shape to parse.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import orjson
from aiohttp import web

from ea_bridge import TerminalId

from ._version import __version__
from .auth import Principal
from .context import RpcContext
from .errors import (
    INVALID_REQUEST,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNAVAILABLE,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from .keys import AUTH_THROTTLE, AUTHENTICATOR, BRIDGE, CONFIG, RPC, TERMINALS, TRADING

__all__ = ["AuthRefusal", "authenticate", "authenticate_request", "bearer_token",
           "error_response", "health", "rpc"]

_JSON = "application/json"
#: Security events (a token used where it is not bound): WARNING, ids and terminals only.
security_log = logging.getLogger("gateway.security")


def error_response(status: int, code: int, message: str, data: Any = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    """An HTTP refusal whose body is a JSON-RPC error with ``id: null``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = orjson.dumps({"jsonrpc": "2.0", "error": error, "id": None})
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class AuthRefusal(Exception):
    """Authentication failed; ``response`` is the HTTP answer to send (401 or 429)."""

    def __init__(self, response: web.Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


async def authenticate(app: web.Application, token: str | None,
                       terminal: TerminalId | None = None) -> Principal:
    """Authenticate ``token`` through the brute-force throttle (``throttle.py``).

    With ``terminal``, a token bound to another terminal is refused exactly like an unknown
    one (``invalid_token``, counted and delayed): the caller must not learn that it is valid
    elsewhere.

    Raises:
        Unauthorized: the token is refused (after the throttle's delay).
        RateLimited: a lockout is on and this token has not succeeded before (not checked).
        Unavailable: the token authority cannot be asked (not counted).
    """
    authenticator = app[AUTHENTICATOR]

    async def verify() -> Principal:
        principal = await authenticator.authenticate(token)
        if terminal is not None and principal.terminal != terminal:
            security_log.warning(
                "rebinding refused: token %s, bound to terminal %s, was presented on a "
                "connection bound to terminal %s", principal.token_id, principal.terminal,
                terminal)
            raise Unauthorized("invalid_token", "The auth token is not valid")
        return principal

    return await app[AUTH_THROTTLE].check(token or "", verify, Unauthorized)


async def authenticate_request(app: web.Application, token: str | None) -> Principal:
    """:func:`authenticate` for an HTTP request: refusals as their HTTP answers.

    Raises:
        AuthRefusal: carrying the 401 (reason word), 429 (``Retry-After``) or 503 (-32014,
            ``authority_unreachable``) response.
    """
    try:
        return await authenticate(app, token)
    except Unavailable as exc:  # the token authority cannot be asked: not the client's fault
        raise AuthRefusal(error_response(
            503, UNAVAILABLE, str(exc), {"reason": exc.reason},
            headers={"Retry-After": "5"}), exc.reason) from None
    except RateLimited as exc:
        raise AuthRefusal(error_response(
            429, RATE_LIMITED, "Too many failed authentications",
            {"retry_after_ms": int(exc.retry_after_s * 1000)},
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}),
            "rate_limited") from None
    except Unauthorized as exc:
        raise AuthRefusal(error_response(
            401, UNAUTHORIZED, exc.message, {"reason": exc.reason},
            headers={"WWW-Authenticate": 'Bearer realm="mtgateway"'}), exc.reason) from None


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
        if request.content.is_eof():  # the whole body came with the headers: no wait, no
            body = await request.read()  # timer (arming one was ~4 % of a request's CPU)
        else:
            async with asyncio.timeout(config.server.body_timeout_s):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, INVALID_REQUEST, f"Body larger than {limit} bytes")
    except TimeoutError:
        return error_response(408, INVALID_REQUEST, "Request body not received in time",
                              headers={"Connection": "close"})
    try:
        principal = await authenticate_request(app, bearer_token(request))
    except AuthRefusal as refusal:
        return refusal.response
    context = RpcContext(principal, app[BRIDGE], config, app[TERMINALS], app[TRADING])
    payload = await app[RPC].handle(body, context)
    if payload is None:
        return web.Response(status=204)
    return web.Response(body=payload, content_type=_JSON)
