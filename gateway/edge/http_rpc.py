"""``POST /rpc`` and ``GET /health``: HTTP in, JSON-RPC through ``rpc.handle``, HTTP out.

The HTTP-level refusals run before anything is dispatched, in the one ladder every ``/rpc``
door asks (``edge/ladder.py``: Host, Origin, a token in the query, method, content type, body
size, the body deadline), then the bearer token (401 with the reason word, 429 during a
brute-force lockout, 503 when the authority cannot be asked). What each refusal says is
decided in ``errors.py`` (:class:`~gateway.errors.HttpRefusal`); this module only turns one
into an aiohttp response.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import web

from ea_bridge import TerminalId

from .._version import __version__
from ..auth import Principal
from ..context import RpcContext
from ..errors import (
    HttpRefusal,
    RateLimited,
    Unauthorized,
    Unavailable,
    auth_refusal,
)
from ..keys import (
    AUTH_THROTTLE,
    AUTHENTICATOR,
    BRIDGE,
    CONFIG,
    CONNECTIONS,
    METRICS,
    RPC,
    TERMINALS,
    TRADING,
)
from .ladder import body_refusal, head_refusal

__all__ = ["RPC_METHODS", "AuthRefusal", "authenticate", "authenticate_request", "bearer_of",
           "bearer_token", "error_response", "health", "mark_authenticated",
           "mark_transport_authenticated", "rpc", "serve_rpc"]

_JSON: Final = "application/json"
#: Security events (a token used where it is not bound): WARNING, ids and terminals only.
security_log = logging.getLogger("gateway.security")
_JSON_HEADERS: Final = {"Content-Type": _JSON}
#: The request item holding the JSON-RPC method names of an answered body (the access log's).
RPC_METHODS: Final = web.RequestKey("rpc_methods", list[str])


def error_response(refusal: HttpRefusal) -> web.Response:
    """The aiohttp response of ``refusal`` (its body a JSON-RPC error with ``id: null``)."""
    return web.Response(status=refusal.status, body=refusal.body(), content_type=_JSON,
                        headers=refusal.headers)


def bearer_token(request: web.BaseRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    return bearer_of(request.headers.get("Authorization"))


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization`` header's value if it says ``Bearer``, or None."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class AuthRefusal(Exception):
    """Authentication failed; ``refusal`` is what to answer (401, 429 or 503, decided in
    ``errors.py``), ``reason`` its word."""

    def __init__(self, refusal: HttpRefusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal
        self.reason = refusal.reason or "unauthorized"


async def authenticate(app: web.Application, token: str | None,
                       terminal: TerminalId | None = None) -> Principal:
    """Authenticate ``token`` through the brute-force throttle (``base/throttle.py``).

    With ``terminal``, a token bound to another terminal is refused exactly like an unknown
    one (``invalid_token``, counted and delayed): the caller must not learn that it is valid
    elsewhere.

    Raises:
        Unauthorized: the token is refused (after the throttle's delay).
        RateLimited: a lockout is on and this token, not seen to succeed before, is wrong.
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

    return await app[AUTH_THROTTLE].check(authenticator.throttle_key(token), verify,
                                          Unauthorized)


async def authenticate_request(app: web.Application, token: str | None) -> Principal:
    """:func:`authenticate` for an HTTP request: refusals as their HTTP answers.

    Raises:
        AuthRefusal: carrying the 401 (reason word), 429 (``Retry-After``) or 503 (-32014,
            ``authority_unreachable``) refusal.
    """
    try:
        return await authenticate(app, token)
    except (Unavailable, RateLimited, Unauthorized) as exc:
        # Unavailable: the token authority cannot be asked, not the client's fault (503)
        refusal = auth_refusal(exc)
        app[METRICS].refused(f"auth_{refusal.reason or 'unauthorized'}")
        raise AuthRefusal(refusal) from None


def mark_authenticated(app: web.Application, request: web.BaseRequest) -> None:
    """Tell the connection budget that ``request``'s connection carried a valid token: it is
    the last kind of idle connection evicted for a newcomer (``base/guard.py``)."""
    mark_transport_authenticated(app, request.transport)


def mark_transport_authenticated(app: web.Application, transport: object) -> None:
    """:func:`mark_authenticated` for the connection of ``transport``."""
    conn = app[CONNECTIONS].find(transport)
    if conn is not None:
        conn.authenticated = True


async def health(request: web.Request) -> web.Response:
    """``GET /health``: no auth; says the daemon is up."""
    return web.json_response({"status": "ok", "service": "mtgateway", "version": __version__})


async def rpc(request: web.Request) -> web.StreamResponse:
    """``/rpc`` through the router: only a request with an ``Expect`` header comes this way
    when served by ``listener.py`` (whose fast path sends every other ``/rpc`` request to
    :func:`serve_rpc` without the router), after aiohttp's expect handler answered it."""
    return await serve_rpc(request.app, request)


async def serve_rpc(app: web.Application, request: web.BaseRequest) -> web.StreamResponse:
    """Answer one ``/rpc`` request of ``app`` (which it is given: a request that skipped the
    router has no ``request.app``): the ladder (``edge/ladder.py``), the token, the call."""
    config = app[CONFIG]
    server = config.server
    headers = request.headers
    refusal = head_refusal(
        server, malformed=False,  # aiohttp's parser answered 400 before any handler ran
        hosts=headers.getall("Host", []), target=request.raw_path,
        origin=headers.get("Origin"),
        query_keys=request.query.keys() if request.query_string else (),
        peer=request.remote or "?", method=request.method,
        content_type=headers.get("Content-Type"), content_length=request.content_length,
        host_refusals=app[CONNECTIONS].host_refusals)
    if refusal is not None:
        return error_response(refusal)
    body = b""
    timed_out = too_large = False
    try:
        if request.content.is_eof():  # the whole body came with the headers: no wait, no
            body = await request.read()  # timer (arming one was ~4 % of a request's CPU)
        else:
            async with asyncio.timeout(server.body_timeout_s):
                body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        too_large = True
    except TimeoutError:
        timed_out = True
    refusal = body_refusal(server, timed_out=timed_out, malformed=False, too_large=too_large)
    if refusal is not None:
        return error_response(refusal)
    try:
        principal = await authenticate_request(app, bearer_token(request))
    except AuthRefusal as refused:
        return error_response(refused.refusal)
    mark_authenticated(app, request)
    context = RpcContext(principal, app[BRIDGE], config, app[TERMINALS], app[TRADING])
    called: list[str] = []
    request[RPC_METHODS] = called  # for the access log (``listener.AccessLogger``)
    payload = await app[RPC].handle(body, context, called=called)
    if payload is None:
        return web.Response(status=204)
    # A plain header mapping: aiohttp's content_type setter parses and rebuilds the header.
    return web.Response(body=payload, headers=_JSON_HEADERS)
