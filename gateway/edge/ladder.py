"""The ladder of HTTP refusals for ``/rpc``, written once: every door asks it, in this order.

``product.md`` (HTTP surface) orders the rules "each before any method runs"; the ladder adds
the two the contract leaves to HTTP itself (a request that is not HTTP, a body that never
comes) where each parser meets them:

====  ========================================================  ==============================
rung  condition                                                 answer (``errors.py``)
====  ========================================================  ==============================
1     the bytes are not an acceptable HTTP/1.x request          400 ``MALFORMED_REQUEST``
2     ``Host`` (or an absolute target's authority) not allowed  421 ``MISDIRECTED``
3     ``Origin`` present and not in ``allowed_origins``         403 ``ORIGIN_REFUSED``
4     a credential-looking key in the query string              400 ``TOKEN_IN_URL``
5     not ``POST``                                              405 ``USE_POST``
6     ``Content-Type`` not ``application/json``                 415 ``UNSUPPORTED_MEDIA_TYPE``
7     ``Content-Length`` over ``max_body_bytes``                413 ``body_too_large``
8     the body not received within ``body_timeout_s``           408 ``BODY_TIMEOUT``
9     the body turned out not to be HTTP (a bad chunk)          400 ``MALFORMED_REQUEST``
10    the body, read, over ``max_body_bytes`` (chunked)         413 ``body_too_large``
11    the bearer token refused (throttled)                      401, 429, 503
====  ========================================================  ==============================

Rungs 1-7 are decided on the header block (:func:`head_refusal`), 8-10 once the door has
waited for the body (:func:`body_refusal`); rung 11 is the one step that is not sans-I/O (the
throttle waits and asks the authority): ``http_rpc.authenticate_request``, which every door
calls last. Rung 1 comes first because aiohttp's parser refuses such a request before any
handler runs: the llhttp edge answers the same when it knows as much (the whole request in
one read). The doors: the llhttp edge (``llhttp.py``) and aiohttp's (``http_rpc.serve_rpc``,
reached through the listener's fast path or the router); the middleware asks rungs 2-4
(:func:`edge_refusal`) for every other route. Each door passes the parts of the request its
own parser gives it; nothing here touches a socket, a clock or aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..base.edge import HostRefusals, host_allowed, target_authority
from ..config import ServerConfig
from ..errors import (
    BODY_TIMEOUT,
    MALFORMED_REQUEST,
    MISDIRECTED,
    ORIGIN_REFUSED,
    TOKEN_IN_URL,
    UNSUPPORTED_MEDIA_TYPE,
    USE_POST,
    HttpRefusal,
    body_too_large,
)

__all__ = ["body_refusal", "edge_refusal", "has_token_param", "head_refusal", "is_json"]

_JSON: Final = "application/json"
_TOKEN_PARAMS: Final = ("token", "auth", "bearer", "key", "secret", "password")


def has_token_param(keys: Iterable[str]) -> bool:
    """Whether a query-string key (``keys``, decoded) looks like a credential."""
    return any(any(word in key.lower() for word in _TOKEN_PARAMS) for key in keys)


def is_json(content_type: str | None, mimetype: str | None = None) -> bool:
    """Whether a ``Content-Type`` value says JSON (``mimetype``: its parsed type, if known)."""
    if content_type == _JSON:
        return True
    if mimetype is None:
        mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    return mimetype == _JSON


def edge_refusal(server: ServerConfig, hosts: list[str], target: str, origin: str | None,
                 query_keys: Iterable[str], peer: str,
                 host_refusals: HostRefusals | None = None) -> HttpRefusal | None:
    """Rungs 2-4, which hold for every route (``/ws``, ``/health``, ``/api`` too): the
    ``Host`` values and the request target (an absolute-form target's authority is held to
    the Host rule too), the first ``Origin``, the query's keys. A refused Host is reported to
    ``host_refusals`` (one security log line per window)."""
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


def head_refusal(server: ServerConfig, *, malformed: bool, hosts: list[str], target: str,
                 origin: str | None, query_keys: Iterable[str], peer: str, method: str,
                 content_type: str | None, content_length: int | None,
                 mimetype: str | None = None,
                 host_refusals: HostRefusals | None = None) -> HttpRefusal | None:
    """The first refusal of rungs 1-7 (decided on the header block), or None."""
    if malformed:
        return MALFORMED_REQUEST
    refusal = edge_refusal(server, hosts, target, origin, query_keys, peer, host_refusals)
    if refusal is not None:
        return refusal
    if method != "POST":
        return USE_POST
    if not is_json(content_type, mimetype):
        return UNSUPPORTED_MEDIA_TYPE
    if content_length is not None and content_length > server.max_body_bytes:
        return body_too_large(server.max_body_bytes)
    return None


def body_refusal(server: ServerConfig, *, timed_out: bool, malformed: bool,
                 too_large: bool) -> HttpRefusal | None:
    """The first refusal of rungs 8-10 (once the door has waited for the body), or None."""
    if timed_out:
        return BODY_TIMEOUT
    if malformed:
        return MALFORMED_REQUEST
    if too_large:
        return body_too_large(server.max_body_bytes)
    return None
