"""The daemon's exceptions, and the one table that turns any exception into a JSON-RPC error.

The tree, and how a client reacts::

    GatewayError
    ├── ConfigError              the config file is wrong: fix it (raised at start only)
    │   └── ConsoleMissing       a command needs the console, not installed: install it
    ├── Unauthorized             -32004, ``reason`` says why: fix the token or approve the device
    ├── InvalidParams            -32602, the message names the field: fix the call
    ├── NotFound                 -32006, unknown symbol or ticket
    ├── Unavailable              -32014, shutting down or reconciling: retry later
    ├── IdempotencyConflict      -32011, a client_id reused with other params: use a new id
    ├── RiskLimit                -32012, the account's risk policy refuses it (``data.rule``)
    │   └── TradingHalted        -32012 ``trading_halted``: the owner's kill switch is on;
    │                            wait for the owner to reconnect the account
    ├── OutcomeUnknown           -32003, a trade's answer was lost (``data.client_id``):
    │                            check ``order_status``, never resend blindly
    ├── TradeRejected            -32010, a refused trade (``data.retcode``, ``retryable``)
    ├── Unsupported              -32009, the terminal cannot do this (``data.reason``)
    └── MethodFailed             a method's own error, re-raised by a door that composes
                                 methods (the REST mirror): answered as the method answered

Bridge exceptions (``ea_bridge.errors``), the token authority's (``mtgateway_base.wire.errors``:
``AuthorityUnreachable`` -32014) and the throttle's lockout (``mtgateway_base.throttle``:
``RateLimited`` -32005 with ``retry_after_ms``, re-exported here for the daemon's doors) are
mapped here too: none knows anything of JSON-RPC codes, and this module is the only place
that does.

HTTP refusals are decided here too (:class:`HttpRefusal`): the status, the JSON-RPC error its
body carries (``id: null``, so a client parses one shape), the headers, and for an
authentication failure the reason word a WebSocket closes with. The aiohttp handlers, the
middleware, the WebSocket handshake and the connection guard (which answers before aiohttp,
with raw bytes) all take their refusals from here. :func:`to_rpc_error` walks the
exception's MRO against :data:`ERROR_TABLE`, so a subclass inherits its parent's code unless it
has its own row. Messages in the table are public; exception text is only used where the
exception is *ours* and written to be shown (``InvalidParams``, ``Unauthorized``,
``NotFound``, an EA's own error message). Anything else becomes ``-32603`` with no details.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ea_bridge import AUTH_REASONS
from ea_bridge.errors import (
    BridgeError,
    EAError,
    FrameTooLarge,
    TerminalDisconnected,
    TerminalNotConnected,
    TerminalTimeout,
    TradeOutcomeUnknown,
)
from mt5model.mt5 import retcode_name
from mt5model.types import ErrorCode
from mtgateway_base.throttle import RateLimited
from mtgateway_base.wire.errors import AuthorityError, AuthorityUnreachable

__all__ = [
    "BODY_TIMEOUT",
    "EA_PASSTHROUGH_CODES",
    "HTTP_STATUS",
    "ERROR_TABLE",
    "MALFORMED_REQUEST",
    "MISDIRECTED",
    "NOT_ONE_HOST",
    "NOT_A_WEBSOCKET",
    "ORIGIN_REFUSED",
    "TOKEN_IN_URL",
    "TOO_MANY_CONNECTIONS",
    "TOO_MANY_REQUESTS",
    "TOO_MANY_STREAMS",
    "UNSUPPORTED_MEDIA_TYPE",
    "USE_POST",
    "ConfigError",
    "ConsoleMissing",
    "GatewayError",
    "HttpRefusal",
    "IdempotencyConflict",
    "InvalidParams",
    "MethodFailed",
    "NotFound",
    "OutcomeUnknown",
    "OverShare",
    "RateLimited",
    "RiskLimit",
    "RpcError",
    "TradeRejected",
    "TradingHalted",
    "Unauthorized",
    "Unavailable",
    "Unsupported",
    "auth_refusal",
    "body_too_large",
    "http_status",
    "share_refusal",
    "to_rpc_error",
    "too_many_streams",
]

# JSON-RPC codes (spec) and the contract's own. The ones an EA answers with are declared once,
# in the MT5 domain the emulated terminal and paper trading raise them from
# (``mt5model.types.ErrorCode``, which imports nothing of ours); this table takes them from
# there and adds the daemon's own.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = int(ErrorCode.METHOD_NOT_FOUND)
INVALID_PARAMS: Final = int(ErrorCode.INVALID_PARAMS)
INTERNAL_ERROR: Final = int(ErrorCode.INTERNAL)
TERMINAL_OFFLINE: Final = -32001
BROKER_DISCONNECTED: Final = int(ErrorCode.BROKER_DISCONNECTED)
OUTCOME_UNKNOWN: Final = -32003
UNAUTHORIZED: Final = -32004
RATE_LIMITED: Final = -32005
NOT_FOUND: Final = int(ErrorCode.NOT_FOUND)
AUTOTRADING_DISABLED: Final = int(ErrorCode.AUTOTRADING_DISABLED)
HISTORY_NOT_READY: Final = int(ErrorCode.HISTORY_NOT_READY)
UNSUPPORTED: Final = int(ErrorCode.UNSUPPORTED)
TRADE_REJECTED: Final = -32010
IDEMPOTENCY_CONFLICT: Final = -32011
RISK_LIMIT: Final = -32012
TIMEOUT: Final = -32013
UNAVAILABLE: Final = -32014


class GatewayError(Exception):
    """Root of every exception raised by ``gateway``."""


class ConfigError(GatewayError):
    """The configuration is invalid; the message says which file and key."""


class ConsoleMissing(ConfigError):
    """A command composes the console into this process (local mode's embedded authority, the
    demo, the operator's commands), and the console (``mtgateway-console``) is not installed
    beside the daemon: the daemon's distribution leaves it out, for a daemon whose console
    runs elsewhere needs none. The message says what to install."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the console (mtgateway-console), which is not "
                         "installed beside the daemon: install it from the repository's root "
                         "with pip install ./base ./client ./console './daemon[console]'")


class Unauthorized(GatewayError):
    """The request's credentials are refused; ``reason`` is one of the contract's words.

    The client must fix its token (or wait for device approval); retrying unchanged is useless.
    """

    #: The contract's auth reason words (one list, owned by ``ea_bridge``: the EA gets them too).
    REASONS: Final = AUTH_REASONS

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown auth failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidParams(GatewayError):
    """The call's parameters are wrong; the message names the field. Fix the call."""


class NotFound(GatewayError):
    """An unknown symbol or ticket."""


class Unavailable(GatewayError):
    """The daemon cannot serve this now (shutting down, reconciling); retry later."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OverShare(GatewayError):
    """A token is past its share of what every caller of the daemon shares (its requests in
    progress, its open streams: ``edge/tokenshare.py``): refused at once, nothing run, 429
    with ``reason`` (``too_many_requests``, ``too_many_streams``) and when to retry. The
    caller waits for its own work, never another caller for it."""

    def __init__(self, reason: str, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


class IdempotencyConflict(GatewayError):
    """A ``client_id`` was reused with different parameters; nothing was sent."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"client_id {client_id!r} was already used with different parameters")
        self.client_id = client_id


class RiskLimit(GatewayError):
    """The account's risk policy refuses the order; ``rule`` names the rule. Nothing was sent:
    change the order (symbol, volume, stop) or the policy."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class TradingHalted(RiskLimit):
    """The account's owner switched its trading off on the console (the kill switch:
    ``POST /api/test/disconnect``); every order is refused, nothing was sent, until the owner
    connects it again. The terminal stays connected and reads go on."""

    def __init__(self) -> None:
        super().__init__("trading_halted", "Trading on this account is halted by its owner "
                         "(the console's kill switch); nothing was sent. Orders go through "
                         "again once the owner reconnects the account.")


class OutcomeUnknown(GatewayError):
    """A trade may have executed but its answer was lost; ``state`` is the journal's."""

    def __init__(self, client_id: str, state: str, message: str) -> None:
        super().__init__(message)
        self.client_id = client_id
        self.state = state


class TradeRejected(GatewayError):
    """The broker answered a convenience trade method with a non-success retcode.

    ``order_send`` answers such a retcode as a result (MT5's way); the MetaApi-named methods
    answer it as this error, carrying ``retcode``, whether sending again may succeed
    (``retryable``) and the full result. Every trade method also answers it, with 10021
    PRICE_OFF, for a market order the daemon had to price and could not (no fresh quote:
    ``trading/pricing.py``): nothing was sent, so there is no broker result to answer.
    """

    def __init__(self, retcode: int, *, retryable: bool, result: dict[str, Any]) -> None:
        self.retcode = retcode
        self.retcode_name = retcode_name(retcode)
        self.retryable = retryable
        self.result = result
        comment = result.get("comment")
        super().__init__(f"Trade rejected: {retcode} {self.retcode_name}"
                         + (f" ({comment})" if isinstance(comment, str) and comment else ""))


@dataclass(frozen=True, slots=True)
class RpcError:
    """A JSON-RPC error object, ready to send."""

    code: int
    message: str
    data: Any = None


class Unsupported(GatewayError):
    """What no terminal can answer (a REST endpoint of the broker's Manager API): ``reason``
    and ``endpoint`` go to ``data``, the message says why."""

    def __init__(self, reason: str, message: str, endpoint: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.endpoint = endpoint


class MethodFailed(GatewayError):
    """A method answered a JSON-RPC error to a door that calls methods itself (the REST
    mirror). ``error`` was made public by this table at the method's boundary, so it is
    answered as it is: the method's code, message and data, nothing re-derived."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


#: Exception class → (code, public message). ``None`` as message: the exception's own text is
#: public by construction (see the module docstring).
ERROR_TABLE: Final[dict[type[BaseException], tuple[int, str | None]]] = {
    Unauthorized: (UNAUTHORIZED, None),
    InvalidParams: (INVALID_PARAMS, None),
    NotFound: (NOT_FOUND, None),
    Unavailable: (UNAVAILABLE, None),
    RateLimited: (RATE_LIMITED, None),
    OverShare: (RATE_LIMITED, None),
    IdempotencyConflict: (IDEMPOTENCY_CONFLICT, None),
    RiskLimit: (RISK_LIMIT, None),
    TradingHalted: (RISK_LIMIT, None),
    OutcomeUnknown: (OUTCOME_UNKNOWN, None),
    TradeRejected: (TRADE_REJECTED, None),
    Unsupported: (UNSUPPORTED, None),
    MethodFailed: (INTERNAL_ERROR, None),
    TerminalNotConnected: (TERMINAL_OFFLINE, "Terminal offline: no EA is connected"),
    TerminalDisconnected: (TERMINAL_OFFLINE, "Terminal offline: the EA disconnected"),
    TerminalTimeout: (TIMEOUT, "The terminal did not answer in time"),
    TradeOutcomeUnknown: (OUTCOME_UNKNOWN,
                          "Outcome unknown: the trade may have executed; do not resend blindly"),
    FrameTooLarge: (INVALID_PARAMS, "Request too large for the terminal link"),
    EAError: (INTERNAL_ERROR, None),
    BridgeError: (INTERNAL_ERROR, "Internal error"),
    GatewayError: (INTERNAL_ERROR, "Internal error"),
    AuthorityUnreachable: (UNAVAILABLE, "The token authority cannot be reached; retry later"),
    AuthorityError: (INTERNAL_ERROR, "Internal error"),
}

#: Codes an EA may answer with that reach the client unchanged: every code it answers with
#: but its internal failure; any other becomes -32603.
EA_PASSTHROUGH_CODES: Final = frozenset(int(code) for code in ErrorCode
                                        if code is not ErrorCode.INTERNAL)


def to_rpc_error(exc: BaseException) -> RpcError | None:
    """The JSON-RPC error for ``exc``, or None when it is unexpected (a bug: log it, send -32603).

    The walk follows ``type(exc).__mro__``, so the most specific row wins.
    """
    for cls in type(exc).__mro__:
        row = ERROR_TABLE.get(cls)
        if row is None:
            continue
        code, message = row
        if isinstance(exc, EAError):
            if exc.code in EA_PASSTHROUGH_CODES:
                return RpcError(exc.code, exc.message)
            return None
        if isinstance(exc, Unauthorized):
            return RpcError(code, exc.message, {"reason": exc.reason})
        if isinstance(exc, Unavailable):
            return RpcError(code, str(exc), {"reason": exc.reason})
        if isinstance(exc, RateLimited):
            return RpcError(code, str(exc), {"retry_after_ms": int(exc.retry_after_s * 1000)})
        if isinstance(exc, OverShare):
            return RpcError(code, str(exc), {"reason": exc.reason,
                                             "retry_after_ms": exc.retry_after_s * 1000})
        if isinstance(exc, AuthorityUnreachable):
            return RpcError(code, message or "", {"reason": exc.reason})
        if isinstance(exc, IdempotencyConflict):
            return RpcError(code, str(exc), {"client_id": exc.client_id})
        if isinstance(exc, RiskLimit):
            return RpcError(code, str(exc), {"rule": exc.rule})
        if isinstance(exc, TradeRejected):
            return RpcError(code, str(exc), {
                "retcode": exc.retcode, "retcode_name": exc.retcode_name,
                "retryable": exc.retryable, "client_id": exc.result.get("client_id"),
                "result": exc.result})
        if isinstance(exc, OutcomeUnknown):
            return RpcError(code, str(exc), {"client_id": exc.client_id, "state": exc.state})
        if isinstance(exc, Unsupported):
            return RpcError(code, str(exc), {"reason": exc.reason, "endpoint": exc.endpoint})
        if isinstance(exc, MethodFailed):
            return exc.error
        if cls in (BridgeError, GatewayError, AuthorityError):
            return None
        return RpcError(code, message if message is not None else str(exc))
    return None


# -- HTTP refusals -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRefusal:
    """An HTTP answer that refuses the request before any method runs.

    ``error`` is what the body carries as a JSON-RPC error with ``id: null``; ``reason`` is the
    contract's word for an authentication refusal (what a WebSocket closes with), else None.
    """

    status: int
    error: RpcError
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None

    def body(self) -> bytes:
        """The response body: ``{"jsonrpc": "2.0", "error": {...}, "id": null}``."""
        return orjson.dumps({"jsonrpc": "2.0", "error": _error_object(self.error), "id": None})

    def raw(self) -> bytes:
        """The whole HTTP/1.1 response, closing the connection: for refusals made before
        aiohttp has parsed anything (``mtgateway_base/guard.py``)."""
        body = self.body()
        head = [f"HTTP/1.1 {self.status} {_PHRASES[self.status]}", "Connection: close",
                "Content-Type: application/json", f"Content-Length: {len(body)}",
                *(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "connection")]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _error_object(error: RpcError) -> dict[str, Any]:
    obj: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        obj["data"] = error.data
    return obj


#: Reason phrases of the statuses refused here (``HttpRefusal.raw``).
_PHRASES: Final = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Content Too Large", 415: "Unsupported Media Type",
    421: "Misdirected Request", 426: "Upgrade Required", 429: "Too Many Requests",
    503: "Service Unavailable",
}

#: ``Host`` is not loopback or an allowed name (a DNS-rebinding page sends its own domain).
MISDIRECTED: Final = HttpRefusal(421, RpcError(INVALID_REQUEST,
                                               "Misdirected request: Host not allowed"))
#: A request without exactly one ``Host`` header: 421 as for a foreign one, and the connection
#: closes, since which of two values something in front of the daemon acted on cannot be
#: known. The connection guard writes these bytes (:meth:`HttpRefusal.raw`) before aiohttp's
#: parser, which would answer a repeated ``Host`` with 400, has read the header block.
NOT_ONE_HOST: Final = HttpRefusal(421, MISDIRECTED.error, {"Connection": "close"})
#: A browser's ``Origin`` that is not allowed.
ORIGIN_REFUSED: Final = HttpRefusal(403, RpcError(INVALID_REQUEST, "Origin not allowed"))
#: A credential-looking query parameter (URLs end up in logs): never accepted there.
TOKEN_IN_URL: Final = HttpRefusal(400, RpcError(
    INVALID_REQUEST, "Credentials are not accepted in the URL; send Authorization: Bearer "
    "<token>"))
USE_POST: Final = HttpRefusal(405, RpcError(INVALID_REQUEST, "Use POST for /rpc"),
                              {"Allow": "POST"})
UNSUPPORTED_MEDIA_TYPE: Final = HttpRefusal(415, RpcError(
    INVALID_REQUEST, "Content-Type must be application/json"))
BODY_TIMEOUT: Final = HttpRefusal(408, RpcError(INVALID_REQUEST,
                                                "Request body not received in time"),
                                  {"Connection": "close"})
NOT_A_WEBSOCKET: Final = HttpRefusal(426, RpcError(INVALID_REQUEST,
                                                   "Upgrade to a WebSocket for /ws"),
                                     {"Upgrade": "websocket", "Connection": "Upgrade"})
#: Bytes that are not an acceptable HTTP/1.x request (a bad request line or header, a doubled or
#: conflicting Content-Length/Transfer-Encoding: no smuggling); the connection closes.
MALFORMED_REQUEST: Final = HttpRefusal(400, RpcError(INVALID_REQUEST, "Malformed HTTP request"))
#: The connection cap is reached (answered by the guard, before aiohttp).
TOO_MANY_CONNECTIONS: Final = HttpRefusal(503, RpcError(UNAVAILABLE, "Too many connections"))


def share_refusal(exc: OverShare) -> HttpRefusal:
    """The HTTP refusal of a token past its share (:class:`OverShare`): 429, -32005 with the
    reason word and ``retry_after_ms``, ``Retry-After`` in seconds; the reason word is also
    what a WebSocket refused at its first message closes with."""
    error = to_rpc_error(exc)
    assert error is not None  # noqa: S101 - OverShare has its row in the table
    return HttpRefusal(429, error, {"Retry-After": str(exc.retry_after_s)}, exc.reason)


#: A token's requests in progress (and open streams) are at their bound: one of them will
#: have been answered within the second (``edge/tokenshare.py``).
TOO_MANY_REQUESTS: Final = share_refusal(OverShare(
    "too_many_requests", "Too many requests in progress for this token; retry when one of "
    "them is answered", 1))


def too_many_streams() -> OverShare:
    """A token's open ``/ws`` streams are at their bound (``[ws] max_streams_per_token``), or
    its requests in progress and streams together: a stream frees its place only when it
    closes, so the retry is far off (what ``/ws``'s in-band ``authenticate`` raises)."""
    return OverShare("too_many_streams", "Too many streams are open for this token; close "
                     "one of them first", 30)


#: :func:`too_many_streams` on the upgrade.
TOO_MANY_STREAMS: Final = share_refusal(too_many_streams())
#: ``/metrics`` or ``/ready`` without ``[server] metrics_token`` (when one is set).
METRICS_TOKEN_REQUIRED: Final = HttpRefusal(
    401, RpcError(UNAUTHORIZED, "This probe needs Authorization: Bearer <the scrape token: "
                  "[server] metrics_token, else the data directory's metrics.token>"),
    {"WWW-Authenticate": 'Bearer realm="mtgateway-metrics"'})


def body_too_large(limit: int) -> HttpRefusal:
    """413 for a body above ``[server] max_body_bytes``."""
    return HttpRefusal(413, RpcError(INVALID_REQUEST, f"Body larger than {limit} bytes"))


#: How long a client should wait before asking again when the authority cannot be asked.
_UNAVAILABLE_RETRY_AFTER_S: Final = 5


def auth_refusal(exc: Unauthorized | Unavailable | RateLimited) -> HttpRefusal:
    """The HTTP refusal of a failed authentication.

    ``Unavailable`` (the token authority cannot be asked: not the client's fault) is 503 with
    its reason; ``RateLimited`` (the brute-force lockout) is 429 ``rate_limited`` with
    ``Retry-After`` in whole seconds, rounded up; any other failure is 401 with the reason word
    and ``WWW-Authenticate``.
    """
    if isinstance(exc, Unavailable):
        return HttpRefusal(503, RpcError(UNAVAILABLE, str(exc), {"reason": exc.reason}),
                           {"Retry-After": str(_UNAVAILABLE_RETRY_AFTER_S)}, exc.reason)
    if isinstance(exc, RateLimited):
        return HttpRefusal(
            429, RpcError(RATE_LIMITED, "Too many failed authentications",
                          {"retry_after_ms": int(exc.retry_after_s * 1000)}),
            {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}, "rate_limited")
    return HttpRefusal(401, RpcError(UNAUTHORIZED, exc.message, {"reason": exc.reason}),
                       {"WWW-Authenticate": 'Bearer realm="mtgateway"'}, exc.reason)


#: The HTTP status a JSON-RPC code answers with on the REST mirror (``/api``, ``rest.py``),
#: where the status is the first thing a REST client reads; ``/rpc`` answers 200 with the
#: error in the body, as JSON-RPC over HTTP does.
HTTP_STATUS: Final[dict[int, int]] = {
    PARSE_ERROR: 400, INVALID_REQUEST: 400, INVALID_PARAMS: 400, METHOD_NOT_FOUND: 404,
    INTERNAL_ERROR: 500, TERMINAL_OFFLINE: 503, BROKER_DISCONNECTED: 503,
    OUTCOME_UNKNOWN: 502, UNAUTHORIZED: 401, RATE_LIMITED: 429, NOT_FOUND: 404,
    AUTOTRADING_DISABLED: 409, HISTORY_NOT_READY: 503, UNSUPPORTED: 501,
    TRADE_REJECTED: 409, IDEMPOTENCY_CONFLICT: 409, RISK_LIMIT: 403, TIMEOUT: 504,
    UNAVAILABLE: 503,
}


def http_status(code: int) -> int:
    """The REST mirror's HTTP status for a JSON-RPC error ``code`` (500 for one not listed)."""
    return HTTP_STATUS.get(code, 500)
