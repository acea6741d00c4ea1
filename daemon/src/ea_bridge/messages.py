"""The EA bridge's messages: one frozen dataclass per wire type, and the JSON codec between them.

Every frame carries one JSON object with a type word under ``"t"``. Short keys (``m``, ``p``,
``r``, ``e``) because the EA writes them with a hand-made MQL JSON builder and ticks are the bulk
of the traffic. Field names here are the wire names the MQL side uses (``docs/protocol.md`` is
the normative description; ``ea_bridge/mql`` must stay in lockstep).

Decoding is strict: unknown type words, missing fields, a ``bool`` where an ``int`` belongs,
a non-finite number (orjson refuses ``NaN``, ``Infinity`` and ``1e999``), all raise
:class:`ProtocolViolation`, because a peer that sends them is broken and guessing would hide it.
Unknown *extra* keys are ignored, so a newer EA can add fields.

The handshake's proofs are :mod:`mtgateway.credential`'s (one definition for every link):
both ends prove themselves, the daemon first. The EA's hello carries a fresh nonce; the
daemon's challenge answers it with a proof by the token's ``server_key`` over both nonces and
the terminal's identity, which the EA checks before it sends or obeys anything; the EA's auth
then proves the token with ``client_key`` XOR ``HMAC(stored_key, …)``. The daemon holds only the
token's verifier (``stored_key``, ``server_key``), which cannot make the EA's proof, and the
raw token never crosses the bridge.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Final, NamedTuple

import orjson

from mt5model.types import Tick

from .errors import ProtocolViolation

__all__ = [
    "EVENT_BOOK",
    "EVENT_TERMINAL",
    "EVENT_TICKS",
    "AUTH_REASONS",
    "DENIED_PREFIX",
    "EVENT_TRADE",
    "PROTOCOL_VERSION",
    "REFUSAL_REASONS",
    "TICK_ROW",
    "TRADE_METHODS",
    "Auth",
    "Bye",
    "Challenge",
    "ErrorResponse",
    "Event",
    "Hello",
    "Message",
    "Ping",
    "Pong",
    "Refuse",
    "Request",
    "Response",
    "Welcome",
    "decode",
    "encode",
    "encode_request",
    "event_problem",
    "tick_row_problem",
]

#: ``hello.v``: the framing and the handshake. Version 2 (EA 1.3) is the mutual handshake;
#: version 1 (EA 1.2 and older) trusted whatever listened and is refused.
PROTOCOL_VERSION: Final = 2

#: Event names the EA sends.
EVENT_TICKS: Final = "ticks"
EVENT_TRADE: Final = "trade"
EVENT_TERMINAL: Final = "terminal"
#: One symbol's whole depth of market after a change (MT5's OnBookEvent), for symbols the
#: terminal subscribed with ``market_book_add``: ``{"symbol", "book": [BookInfo objects]}``.
EVENT_BOOK: Final = "book"

#: The fields of one row of a ``ticks`` event, in order (``docs/protocol.md`` §7): MT5's
#: ``MqlTick`` without ``time``, which is ``time_msc // 1000``, as the MT5 domain's tick holds
#: them (``mt5model.types.Tick``, declared once there). The EA (and the emulator) write rows in
#: this order, the daemon's hub reads them in it.
TICK_ROW: Final[tuple[str, ...]] = tuple(f.name for f in fields(Tick))
#: Whether each :data:`TICK_ROW` field is an integer (else any finite JSON number).
_TICK_ROW_INTEGER: Final = tuple(hint is int for hint in typing.get_type_hints(Tick).values())
#: The record each ``trade`` event type carries (``docs/protocol.md`` §7).
_TRADE_RECORD: Final = {
    "order_added": "order", "order_updated": "order", "order_removed": "order",
    "position_opened": "position", "position_updated": "position",
    "position_closed": "position", "deal_added": "deal", "account_updated": "account",
}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _row_shapes() -> frozenset[tuple[type, ...]]:
    """Every tuple of exact types a good tick row may have: ``int`` where the field is an
    integer, ``int`` or ``float`` where it is a number (``bool`` is neither: JSON ``true``)."""
    shapes: list[tuple[type, ...]] = [()]
    for integer in _TICK_ROW_INTEGER:
        kinds: tuple[type, ...] = (int,) if integer else (int, float)
        shapes = [shape + (kind,) for shape in shapes for kind in kinds]
    return frozenset(shapes)


#: The good rows' type tuples (16 of them): one set look-up per row instead of a walk of its
#: seven fields, which was the largest single cost of a storm of ticks
#: (``docs/history/performance-notes.md``, "Measured costs by module").
_GOOD_ROW_SHAPES: Final = _row_shapes()


def tick_row_problem(row: Any) -> str | None:
    """What is wrong with one row of a ``ticks`` event (the field it broke), or None.

    Why the bridge checks: every listener (the stream hub, paper trading, the terminal
    directory) reads these rows, and one that raised on a bad row would end the EA's session;
    a bad row is dropped instead, with this reason in the log.
    """
    if type(row) is list and tuple(map(type, row)) in _GOOD_ROW_SHAPES:
        return None  # the common case; the walk below says what is wrong otherwise
    if not isinstance(row, list):
        return f"expected an array, got {type(row).__name__}"
    if len(row) != len(TICK_ROW):
        return f"expected {len(TICK_ROW)} fields, got {len(row)}"
    for name, integer, value in zip(TICK_ROW, _TICK_ROW_INTEGER, row, strict=True):
        if integer and not _int(value):
            return f"{name}: expected an integer, got {value!r}"
        if not integer and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{name}: expected a number, got {value!r}"
    return None


def event_problem(name: str, payload: dict[str, Any]) -> str | None:
    """What is wrong with a ``trade`` or ``terminal`` event's payload (the field it broke), or
    None; other event names are not checked (unknown ones are ignored downstream)."""
    if name == EVENT_TRADE:
        kind = payload.get("type")
        record = _TRADE_RECORD.get(kind) if isinstance(kind, str) else None
        if record is None:
            return f"type: expected one of {', '.join(_TRADE_RECORD)}, got {kind!r}"
        if not _int(payload.get("time_msc")):
            return f"time_msc: expected an integer, got {payload.get('time_msc')!r}"
        if not isinstance(payload.get(record), dict):
            return f"{record}: expected an object for {kind}"
    elif name == EVENT_TERMINAL:
        for field in ("connected", "trade_allowed"):
            if not isinstance(payload.get(field), bool):
                return f"{field}: expected true or false, got {payload.get(field)!r}"
    return None

#: Methods with side effects at the broker. A lost answer to one of these is an unknown outcome,
#: never a "retry freely" disconnect.
TRADE_METHODS: frozenset[str] = frozenset({"order_send"})

#: The authentication reason words (``docs/protocol.md``, section 5): the one list, for the EA's
#: ``refuse``, the daemon's ``-32004``/401 ``data.reason`` and the WebSocket's close reason.
AUTH_REASONS: frozenset[str] = frozenset({
    "missing_token", "malformed_token", "invalid_token", "token_expired", "token_revoked",
    "device_not_approved", "terminal_mismatch", "scope",
})

#: How the ``message`` of a ``device_not_approved`` refusal begins when the token's owner
#: denied the machine (rather than it awaiting approval): the reason word stays, so an older EA
#: reads it as before, and an EA that knows this says "denied" (docs/protocol.md section 5).
DENIED_PREFIX: Final = "The token's owner denied this machine"

#: Words a ``refuse`` may carry: the contract's auth reasons, then the bridge's own.
REFUSAL_REASONS: frozenset[str] = AUTH_REASONS | frozenset({
    "already_connected", "unsupported_version", "handshake_timeout", "protocol_error",
    "shutting_down",
})


@dataclass(frozen=True, slots=True)
class Hello:
    """EA → daemon, first frame: who the terminal is."""

    protocol_version: int
    platform: str
    build: int
    ea_version: str
    login: int
    server: str
    company: str
    terminal_name: str = ""
    #: The token's hint (:func:`mtgateway.credential.token_hint`): names the record whose
    #: ``server_key`` the daemon proves itself with; it lets nobody compute a proof.
    token_hint: str = ""
    #: The EA's fresh nonce (64 lowercase hex): the daemon's proof must answer it.
    ea_nonce: str = ""


@dataclass(frozen=True, slots=True)
class Challenge:
    """Daemon → EA: the daemon's nonce (hex, 32 random bytes) and its proof over both nonces
    and the terminal (``HMAC(server_key, …)``, lowercase hex)."""

    nonce: str
    server_time_ms: int
    proof: str = ""


@dataclass(frozen=True, slots=True)
class Auth:
    """EA → daemon: ``proof`` = ``client_key`` XOR ``HMAC(stored_key, …)``, lowercase hex."""

    proof: str


@dataclass(frozen=True, slots=True)
class Welcome:
    """Daemon → EA: the session is live; the EA adopts the heartbeat settings."""

    session_id: str
    heartbeat_interval_s: float
    heartbeat_timeout_s: float
    max_frame_bytes: int


@dataclass(frozen=True, slots=True)
class Refuse:
    """Daemon → EA: the handshake failed; ``reason`` is a word of :data:`REFUSAL_REASONS`."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Request:
    """Daemon → EA: call ``method`` with named ``params``; answered by a response with ``id``."""

    id: int
    method: str
    params: dict[str, Any]


class Response(NamedTuple):
    """EA → daemon: the result of request ``id``.

    A named tuple, unlike the other messages: one is read from the EA for every call, and
    :func:`decode` makes it with ``tuple.__new__`` (:data:`_response`), so no ``__init__`` of
    Python's runs in either build (a frozen dataclass's generated one sets each field
    through ``object.__setattr__``, and one written by hand runs as Python in the pure
    build).
    Tell it from other messages by type, not by ``==``.
    """

    id: int
    result: Any


_response: Final = partial(tuple.__new__, Response)


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """EA → daemon: request ``id`` could not be evaluated; ``code`` is a contract code."""

    id: int
    code: int
    message: str
    data: Any = None


@dataclass(frozen=True, slots=True)
class Event:
    """EA → daemon push (ticks, trade events, terminal state), numbered per direction."""

    seq: int
    name: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ping:
    """Either way: a heartbeat; ``ts`` is opaque to the receiver and echoed in the pong."""

    ts: int


@dataclass(frozen=True, slots=True)
class Pong:
    """Either way: the answer to a ping, echoing its ``ts``."""

    ts: int


@dataclass(frozen=True, slots=True)
class Bye:
    """Either way: an orderly close with a reason (shutdown, token revoked, ...)."""

    reason: str
    message: str = ""


Message = (
    Hello | Challenge | Auth | Welcome | Refuse | Request | Response | ErrorResponse | Event
    | Ping | Pong | Bye
)


@dataclass(frozen=True, slots=True)
class _Field:
    wire: str
    kind: type | tuple[type, ...]
    required: bool = True
    default: Any = None


@dataclass(frozen=True, slots=True)
class _Schema:
    cls: type
    fields: tuple[tuple[str, _Field], ...] = field(default=())


def _f(wire: str, kind: type | tuple[type, ...], *, default: Any = ...) -> _Field:
    return _Field(wire, kind, default is ..., None if default is ... else default)


_NUMBER = (int, float)
_ANY = object
# type word -> how to read each attribute from the wire object.
_SCHEMAS: dict[str, _Schema] = {
    "hello": _Schema(Hello, (
        ("protocol_version", _f("v", int)), ("platform", _f("platform", str)),
        ("build", _f("build", int)), ("ea_version", _f("ea_version", str)),
        ("login", _f("login", int)), ("server", _f("server", str)),
        ("company", _f("company", str)), ("terminal_name", _f("terminal_name", str, default="")),
        ("token_hint", _f("token_hint", str, default="")),
        ("ea_nonce", _f("ea_nonce", str, default="")),
    )),
    "challenge": _Schema(Challenge, (
        ("nonce", _f("nonce", str)), ("server_time_ms", _f("server_time_ms", int)),
        ("proof", _f("proof", str, default="")),
    )),
    "auth": _Schema(Auth, (("proof", _f("proof", str)),)),
    "welcome": _Schema(Welcome, (
        ("session_id", _f("session_id", str)),
        ("heartbeat_interval_s", _f("heartbeat_interval_s", _NUMBER)),
        ("heartbeat_timeout_s", _f("heartbeat_timeout_s", _NUMBER)),
        ("max_frame_bytes", _f("max_frame_bytes", int)),
    )),
    "refuse": _Schema(Refuse, (
        ("reason", _f("reason", str)), ("message", _f("message", str, default="")),
    )),
    "req": _Schema(Request, (
        ("id", _f("id", int)), ("method", _f("m", str)), ("params", _f("p", dict, default={})),
    )),
    "evt": _Schema(Event, (
        ("seq", _f("seq", int)), ("name", _f("m", str)), ("payload", _f("p", dict)),
    )),
    "ping": _Schema(Ping, (("ts", _f("ts", int)),)),
    "pong": _Schema(Pong, (("ts", _f("ts", int)),)),
    "bye": _Schema(Bye, (
        ("reason", _f("reason", str)), ("message", _f("message", str, default="")),
    )),
}
_TYPE_WORDS: dict[type, str] = {schema.cls: word for word, schema in _SCHEMAS.items()}


def _read(obj: dict[str, Any], name: str, spec: _Field, word: str) -> Any:
    if spec.wire not in obj:
        if spec.required:
            raise ProtocolViolation(f"{word}: missing field {spec.wire!r}")
        return dict(spec.default) if isinstance(spec.default, dict) else spec.default
    value = obj[spec.wire]
    # bool is an int subclass in Python; on the wire true is never a number.
    if isinstance(value, bool) and spec.kind is not bool:
        raise ProtocolViolation(f"{word}: field {spec.wire!r} has the wrong type")
    if spec.kind is not _ANY and not isinstance(value, spec.kind):
        raise ProtocolViolation(f"{word}: field {spec.wire!r} has the wrong type")
    return value


def decode(payload: bytes) -> Message:
    """Parse one frame's payload into its message.

    Raises:
        ProtocolViolation: not UTF-8 JSON, not an object, unknown ``t``, or a field missing or
            of the wrong type. The connection that sent it must be closed.
    """
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ProtocolViolation("frame is not valid UTF-8 JSON") from exc
    if not isinstance(obj, dict):
        raise ProtocolViolation("frame is not a JSON object")
    word = obj.get("t")
    if word == "res":
        rid = obj.get("id")
        if type(rid) is int and "r" in obj and "e" not in obj:  # an answer: no call more
            return _response((rid, obj["r"]))
        return _decode_response(obj)  # (an error, or what is wrong with it)
    if word == "req":  # the EA's per-call frame: the common shape without the schema walk
        rid, method, params = obj.get("id"), obj.get("m"), obj.get("p")
        if type(rid) is int and type(method) is str and type(params) is dict:
            return Request(rid, method, params)  # else the walk below says what is wrong
    if not isinstance(word, str) or word not in _SCHEMAS:
        raise ProtocolViolation(f"unknown message type {word!r}"[:80])
    schema = _SCHEMAS[word]
    values = {name: _read(obj, name, spec, word) for name, spec in schema.fields}
    message: Message = schema.cls(**values)
    return message


def _decode_response(obj: dict[str, Any]) -> Response | ErrorResponse:
    rid = obj.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise ProtocolViolation("res: field 'id' missing or not an integer")
    if "e" in obj:
        err = obj["e"]
        if not isinstance(err, dict):
            raise ProtocolViolation("res: field 'e' is not an object")
        code, message = err.get("code"), err.get("message")
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
            raise ProtocolViolation("res: error needs an integer 'code' and a string 'message'")
        return ErrorResponse(rid, code, message, err.get("data"))
    if "r" not in obj:
        raise ProtocolViolation("res: needs 'r' or 'e'")
    return Response(rid, obj["r"])


def encode(message: Message) -> bytes:
    """Serialize ``message`` to a frame payload (not yet length-prefixed).

    Raises:
        TypeError: ``message`` holds something JSON cannot carry (orjson's error), or NaN.
    """
    if isinstance(message, Response):
        return orjson.dumps({"t": "res", "id": message.id, "r": message.result})
    if isinstance(message, ErrorResponse):
        err: dict[str, Any] = {"code": message.code, "message": message.message}
        if message.data is not None:
            err["data"] = message.data
        return orjson.dumps({"t": "res", "id": message.id, "e": err})
    if isinstance(message, Request):
        return encode_request(message.id, message.method, message.params)
    word = _TYPE_WORDS[type(message)]
    obj: dict[str, Any] = {"t": word}
    for name, spec in _SCHEMAS[word].fields:
        obj[spec.wire] = getattr(message, name)
    return orjson.dumps(obj)


def encode_request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    """``encode(Request(request_id, method, params))`` without building the message: the
    daemon sends one per call, and a frozen dataclass and the schema walk were most of its
    cost (``docs/history/performance-notes.md``, "Measured costs by module").

    Raises:
        TypeError: ``params`` holds something JSON cannot carry (orjson's error), or NaN.
    """
    return orjson.dumps({"t": "req", "id": request_id, "m": method, "p": params})
