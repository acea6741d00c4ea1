"""The HTTP checks that run before any handler, for ``/rpc``, ``/ws`` and ``/health`` alike.

In the contract's order (``product.md``, HTTP surface): the ``Host`` allowlist (421: a web
page that rebinds its own domain to 127.0.0.1 still sends its domain as Host), the ``Origin``
allowlist (403: browsers always send Origin, bots usually don't), and a token in the query
string (400: URLs end up in logs, histories and proxies, so the daemon refuses to accept a
credential there; the token is never echoed or logged). Method, content type, size and the
bearer token are the handlers' business, after these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import web

from .base.edge import HostRefusals, host_allowed, target_authority
from .config import ServerConfig
from .errors import MISDIRECTED, ORIGIN_REFUSED, TOKEN_IN_URL, HttpRefusal
from .http_rpc import error_response
from .keys import CONFIG, CONNECTIONS

__all__ = ["edge_refusal", "guard_middleware", "has_token_param", "refusal_of"]

_TOKEN_PARAMS: Final = ("token", "auth", "bearer", "key", "secret", "password")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def has_token_param(keys: Iterable[str]) -> bool:
    """Whether a query-string key (``keys``, decoded) looks like a credential."""
    return any(any(word in key.lower() for word in _TOKEN_PARAMS) for key in keys)


def edge_refusal(request: web.BaseRequest, server: ServerConfig,
                 host_refusals: HostRefusals | None = None) -> HttpRefusal | None:
    """The refusal of the Host, Origin and query-token checks, or None when all pass; a
    refused Host is reported to ``host_refusals`` (one security log line per window)."""
    return refusal_of(request.headers.getall("Host", []), request.headers.get("Origin"),
                      request.query.keys() if request.query_string else (),
                      request.remote or "?", server, host_refusals, target=request.raw_path)


def refusal_of(hosts: list[str], origin: str | None, query_keys: Iterable[str], peer: str,
               server: ServerConfig, host_refusals: HostRefusals | None = None, *,
               target: str = "") -> HttpRefusal | None:
    """:func:`edge_refusal` on a request's parts (the llhttp edge, ``rpcedge.py``, has no
    aiohttp request): the ``Host`` values, the first ``Origin``, the query's keys, and the
    request target (an absolute-form target's authority is held to the Host rule too)."""
    if not host_allowed(hosts, server.allowed_hosts, target):
        if host_refusals is not None:
            named = target_authority(target) if target else None
            host_refusals.note(named or (hosts[0] if len(hosts) == 1 else None), peer)
        return MISDIRECTED
    if origin is not None and origin not in server.allowed_origins:
        return ORIGIN_REFUSED
    if has_token_param(query_keys):
        return TOKEN_IN_URL
    return None


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host, Origin and query-token checks, before any handler or WebSocket upgrade."""
    app = request.app
    refusal = edge_refusal(request, app[CONFIG].server, app[CONNECTIONS].host_refusals)
    if refusal is not None:
        return error_response(refusal)
    return await handler(request)

