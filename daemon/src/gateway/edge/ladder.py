"""The ladder of HTTP refusals, written once: every door of the daemon asks it, in this order.

The contract's HTTP rules are ordered "each before any method runs"; the ladder adds the ones
the contract leaves to HTTP itself (a request that is not HTTP, a body that never comes) where
each parser meets them. Every rule reads one value, the request's
:class:`~gateway.edge.head.RequestHead`, whichever parser built it:

====  ========================================================  ==============================
rung  condition                                                 answer (``errors.py``)
====  ========================================================  ==============================
1     the bytes are not an acceptable HTTP/1.x request          400 ``MALFORMED_REQUEST``
2a    not exactly one ``Host`` header                           421 ``NOT_ONE_HOST`` (closes)
2b    ``Host`` (or an absolute target's authority) not allowed  421 ``MISDIRECTED``
3     ``Origin`` present and not in ``allowed_origins``         403 ``ORIGIN_REFUSED``
4     a credential-looking key in the query string              400 ``TOKEN_IN_URL``
5     not ``POST``                                              405 ``USE_POST``
6     ``Content-Type`` not ``application/json``                 415 ``UNSUPPORTED_MEDIA_TYPE``
7     ``Content-Length`` over the door's limit                  413 ``body_too_large``
8     the body not received within ``body_timeout_s``           408 ``BODY_TIMEOUT``
9     the body turned out not to be HTTP (a bad chunk)          400 ``MALFORMED_REQUEST``
10    the body, read, over the door's limit (chunked)           413 ``body_too_large``
11    the bearer token refused (throttled)                      401, 429, 503
====  ========================================================  ==============================

Rungs 1-7 are decided on the header block (:func:`head_refusal`), 8-10 once the door has
waited for the body (:func:`body_refusal`); rung 11 is the one step that is not sans-I/O (the
throttle waits and asks the authority) and :class:`~gateway.edge.door.Door` takes it after
the body. Rung 1 comes first because aiohttp's parser refuses such a request before any
handler runs: the llhttp edge answers the same when it knows as much (the whole request in
one read). Rung 2a on aiohttp's side is the connection guard's
(``base/guard.GuardedProtocol``): it must answer before aiohttp's parser, which refuses a
repeated ``Host`` with 400, and writes the same bytes.

Which door asks which rungs (the door, ``door.py``, runs them in this order for each):

==================================  ==================================================
door                                rungs
==================================  ==================================================
``POST /rpc``, either parser        1-11
``/api/...`` (REST mirror)          2-4 (middleware); 405 per path; 6-10 when a body
                                    comes; 11
``/auth/challenge``, ``/session``   2-4 (middleware); 6-10 (a 1 KiB limit)
``GET /ws``                         2-4 (middleware); 11 on the upgrade or in the first
                                    message
every other route                   2-4 (middleware)
==================================  ==================================================

Nothing here touches a socket, a clock or aiohttp.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from mtgateway_base.edge import HostRefusals, host_allowed, target_authority

from ..config import ServerConfig
from ..errors import (
    BODY_TIMEOUT,
    MALFORMED_REQUEST,
    MISDIRECTED,
    NOT_ONE_HOST,
    ORIGIN_REFUSED,
    TOKEN_IN_URL,
    UNSUPPORTED_MEDIA_TYPE,
    USE_POST,
    HttpRefusal,
    body_too_large,
)
from .head import RequestHead

__all__ = ["EdgeRules", "EdgeSettings", "body_refusal", "content_refusal", "edge_refusal",
           "has_token_param", "head_refusal", "is_json"]

_JSON: Final = "application/json"
_TOKEN_PARAMS: Final = ("token", "auth", "bearer", "key", "secret", "password")


class EdgeSettings(Protocol):
    """What the rungs read of ``[server]``: its :class:`~gateway.config.ServerConfig`, or the
    door's copy of it (:class:`EdgeRules`)."""

    @property
    def allowed_hosts(self) -> tuple[str, ...]: ...

    @property
    def allowed_origins(self) -> tuple[str, ...]: ...

    @property
    def max_body_bytes(self) -> int: ...


class EdgeRules:
    """The settings the rungs read, copied once from ``[server]`` into plain slots (the
    door's, :class:`~gateway.edge.door.Door`): every attribute read of a pydantic model goes
    through its ``__getattr__`` hook, several times the cost of a slot, and the rungs read
    three on every request."""

    __slots__ = ("allowed_hosts", "allowed_origins", "max_body_bytes")

    def __init__(self, server: ServerConfig) -> None:
        self.allowed_hosts: tuple[str, ...] = server.allowed_hosts
        self.allowed_origins: tuple[str, ...] = server.allowed_origins
        self.max_body_bytes: int = server.max_body_bytes


def has_token_param(keys: Iterable[str]) -> bool:
    """Whether a query-string key (``keys``, decoded) looks like a credential."""
    return any(any(word in key.lower() for word in _TOKEN_PARAMS) for key in keys)


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` value says JSON (its media type, parameters aside)."""
    if content_type == _JSON:
        return True
    return (content_type or "").split(";", 1)[0].strip().lower() == _JSON


def edge_refusal(server: EdgeSettings, head: RequestHead,
                 host_refusals: HostRefusals | None = None) -> HttpRefusal | None:
    """Rungs 2-4, which hold for every route (``/ws``, ``/health``, ``/api`` too): the
    ``Host`` values and the request target (an absolute-form target's authority is held to
    the Host rule too), the first ``Origin``, the query's keys. A refused Host is reported to
    ``host_refusals`` (one security log line per window)."""
    hosts, target = head.hosts, head.target
    if len(hosts) != 1:
        if host_refusals is not None:
            host_refusals.note(None, head.peer)
        return NOT_ONE_HOST
    if not host_allowed(hosts, server.allowed_hosts, target):
        if host_refusals is not None:
            named = target_authority(target) if target else None
            host_refusals.note(named or hosts[0], head.peer)
        return MISDIRECTED
    if head.origin is not None and head.origin not in server.allowed_origins:
        return ORIGIN_REFUSED
    if head.query_keys and has_token_param(head.query_keys):
        return TOKEN_IN_URL
    return None


def content_refusal(head: RequestHead, limit: int) -> HttpRefusal | None:
    """Rungs 6-7, for a door that takes a JSON body of at most ``limit`` bytes: the declared
    content type, then the declared length."""
    content_type = head.content_type
    if content_type != _JSON and not is_json(content_type):  # (the usual value, no call)
        return UNSUPPORTED_MEDIA_TYPE
    if head.content_length is not None and head.content_length > limit:
        return body_too_large(limit)
    return None


def head_refusal(server: EdgeSettings, head: RequestHead,
                 host_refusals: HostRefusals | None = None) -> HttpRefusal | None:
    """The first refusal of rungs 1-7 for ``POST /rpc`` (decided on the header block), or
    None."""
    if head.malformed:
        return MALFORMED_REQUEST
    refusal = edge_refusal(server, head, host_refusals)
    if refusal is not None:
        return refusal
    if head.method != "POST":
        return USE_POST
    return content_refusal(head, server.max_body_bytes)


def body_refusal(limit: int, *, timed_out: bool, malformed: bool,
                 too_large: bool) -> HttpRefusal | None:
    """The first refusal of rungs 8-10 (once the door has waited for a body of at most
    ``limit`` bytes), or None."""
    if timed_out:
        return BODY_TIMEOUT
    if malformed:
        return MALFORMED_REQUEST
    if too_large:
        return body_too_large(limit)
    return None
