"""The OpenRPC document of the JSON-RPC interface, generated from the method table and models.

``rpc.discover`` answers it (OpenRPC's discovery method; :func:`with_discovery` adds it to a
table), and ``docs/openrpc/mtgateway.json`` is the same document as a file, kept equal by a
test. Each method's params are the pydantic model the dispatcher binds them into
(``RpcMethod.params``), so the schemas are the validation rules themselves; each result is the
one its row registers (``RpcMethod.result``, a model of ``gateway.results``), checked against
real answers in the tests. A method registered without one is still listed (any result,
``x-undocumented``) so the daemon serves it, and ``daemon/tests/e2e/test_openrpc.py`` fails until it
is described.

Pure: no I/O; the document is built once per process and method table (``create_app``), so a
daemon made again in one process (the tests, the benches) does not generate every model's
schema again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mt5model.mt5 import Timeframe

from . import errors as e
from . import results as r
from ._version import __version__
from .candles import MAX_COUNT as MAX_CANDLES
from .rpc import RpcMethod, rpc_method
from .schemas import Params, Symbol, enum_param

if TYPE_CHECKING:
    TimeframeParam = int
else:
    TimeframeParam = enum_param(Timeframe)

__all__ = [
    "ERRORS",
    "NOTIFICATIONS",
    "OPENRPC_VERSION",
    "WS_METHODS",
    "MethodSpec",
    "build_document",
    "undocumented",
    "with_discovery",
]

OPENRPC_VERSION: Final = "1.3.2"
#: OpenRPC's discovery method (reserved ``rpc.`` name: answered, not listed).
DISCOVER: Final = "rpc.discover"
#: Where the document's named schemas are.
_REF: Final = "#/components/schemas/{model}"


class _SubscribeParams(Params):
    """``subscribe`` (WebSocket only)."""

    channel: Literal["ticks", "trades", "terminal", "book", "candles"]
    symbols: list[str] | None = Field(default=None, min_length=1, max_length=256,
                                      description="ticks and book: the symbols")
    symbol: Symbol | None = Field(default=None, description="candles: the symbol")
    timeframe: TimeframeParam | None = Field(default=None, description="candles: the bars' "
                                             "timeframe (MT4 has M1, M5, M15, M30, H1, H4, D1, "
                                             "W1, MN1 only)")
    count: int | None = Field(default=None, ge=0, le=MAX_CANDLES,
                              description="candles: closed bars in the snapshot (default 100)")


class _UnsubscribeParams(Params):
    """``unsubscribe`` (WebSocket only)."""

    subscription: str


class _AuthenticateParams(Params):
    """``authenticate`` (WebSocket only, the first message when the upgrade had no token)."""

    token: str


class Subscribed(BaseModel):
    """``subscribe``'s answer: the id notifications carry."""

    model_config = ConfigDict(extra="forbid")
    subscription: str


#: The notifications ``subscribe`` starts, by method name: their ``params`` (each mirrored
#: from the client's stream record, ``results.py``).
NOTIFICATIONS: Final[dict[str, type[BaseModel]]] = {
    "tick": r.StreamTick, "book": r.StreamBook, "terminal_status": r.TerminalStatus,
    "trade_event": r.TradeEvent, "candle_snapshot": r.CandleSnapshot, "candle": r.Candle}


class Authenticated(BaseModel):
    """``authenticate``'s answer: whose token it is (never the token)."""

    model_config = ConfigDict(extra="forbid")
    authenticated: bool
    token_id: str
    login: int
    server: str
    scopes: list[str]


@dataclass(frozen=True)
class MethodSpec:
    """What :func:`build_document` needs of one method."""

    params: type[BaseModel] | None
    result: Any
    summary: str | None = None
    tags: tuple[str, ...] = ()


_PAGED: Final = ("Paged: pass `limit` and then the previous answer's `next_cursor` as "
                 "`cursor` until it is null; with a cursor the MT5 params may be omitted.")

#: The WebSocket's own methods (``gateway/ws.py``), described alongside.
WS_METHODS: Final[dict[str, MethodSpec]] = {
    "subscribe": MethodSpec(
        _SubscribeParams, Subscribed,
        "Subscribe to a channel: `ticks` (with `symbols`), `trades`, `terminal`, `book` "
        "(with `symbols` added by `market_book_add`) or `candles` (with `symbol`, "
        "`timeframe`, `count`); notifications `tick`, `trade_event`, `terminal_status`, "
        "`book`, `candle_snapshot` then `candle` follow, numbered by `seq`.",
        ("websocket",)),
    "unsubscribe": MethodSpec(_UnsubscribeParams, bool, "End a subscription.",
                              ("websocket",)),
    "authenticate": MethodSpec(
        _AuthenticateParams, Authenticated,
        "Authenticate a socket opened without an Authorization header (first message, "
        "within 5 s).", ("websocket",)),
}

#: The contract's error codes (``docs/api.md``): code -> (name, what the client does).
ERRORS: Final[dict[int, tuple[str, str]]] = {
    e.PARSE_ERROR: ("PARSE_ERROR", "Invalid JSON (NaN, Infinity and duplicate keys too)"),
    e.INVALID_REQUEST: ("INVALID_REQUEST", "Not a JSON-RPC request; a trading method in a "
                        "batch or as a notification"),
    e.METHOD_NOT_FOUND: ("METHOD_NOT_FOUND", "No such method"),
    e.INVALID_PARAMS: ("INVALID_PARAMS", "A param is invalid; the message names it"),
    e.INTERNAL_ERROR: ("INTERNAL_ERROR", "Unexpected; data.error_id points at the log"),
    e.TERMINAL_OFFLINE: ("TERMINAL_OFFLINE", "No EA connected for this token's terminal; "
                         "retry later"),
    e.BROKER_DISCONNECTED: ("BROKER_DISCONNECTED", "The terminal has no broker connection; "
                            "nothing was sent"),
    e.OUTCOME_UNKNOWN: ("OUTCOME_UNKNOWN", "A trade's answer was lost; ask order_status("
                        "data.client_id), never resend blindly"),
    e.UNAUTHORIZED: ("UNAUTHORIZED", "data.reason says why: fix the token or approve the "
                     "device"),
    e.RATE_LIMITED: ("RATE_LIMITED", "Retry after data.retry_after_ms"),
    e.NOT_FOUND: ("NOT_FOUND", "Unknown symbol, ticket or client_id"),
    e.AUTOTRADING_DISABLED: ("AUTOTRADING_DISABLED", "Algo Trading is off in the terminal"),
    e.HISTORY_NOT_READY: ("HISTORY_NOT_READY", "The terminal is still loading data; retry "
                          "after data.retry_after_ms"),
    e.UNSUPPORTED: ("UNSUPPORTED", "Not available on this platform (e.g. MT4)"),
    -32010: ("TRADE_REJECTED", "A convenience trade method's refused trade, or a market "
             "order the daemon could not price (10021, nothing sent): data.retcode, "
             "data.retcode_name, data.retryable"),
    e.IDEMPOTENCY_CONFLICT: ("IDEMPOTENCY_CONFLICT", "The client_id was used with other "
                             "params: use a new id"),
    e.RISK_LIMIT: ("RISK_LIMIT", "Refused by the account's risk policy (data.rule)"),
    e.TIMEOUT: ("TIMEOUT", "The EA did not answer a read in time"),
    e.UNAVAILABLE: ("UNAVAILABLE", "Shutting down or reconciling (data.reason): retry later"),
}


def undocumented(methods: Mapping[str, RpcMethod[Any]]) -> list[str]:
    """The methods of ``methods`` registered with no result description."""
    return sorted(name for name, method in methods.items() if method.result is None)


def _summary(fn: Callable[..., Any] | None) -> str:
    doc = (fn.__doc__ or "").strip() if fn is not None else ""
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split())


def _schema_of(annotation: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of ``annotation``, its named parts moved to ``components``."""
    if annotation is Any:
        return {}
    schema = _merged(TypeAdapter(annotation).json_schema(ref_template=_REF), components,
                     "Result")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = _free_name(annotation.__name__, schema, components, "Result")
        components[name] = schema
        return {"$ref": _REF.format(model=name)}
    return schema


def _free_name(name: str, schema: dict[str, Any], components: dict[str, Any],
               suffix: str) -> str:
    """``name``, or ``name + suffix`` when ``components`` holds another schema by that name."""
    if components.get(name, schema) == schema:
        return name
    if components.get(name + suffix, schema) != schema:
        raise ValueError(f"two different schemas named {name} and {name + suffix}")
    return name + suffix


def _merged(schema: dict[str, Any], components: dict[str, Any], suffix: str
            ) -> dict[str, Any]:
    """``schema`` with its named parts (``$defs``) moved to ``components``.

    Two models of one name (the params' ``TradeRequest`` of ``order_check`` and the MT5
    ``TradeRequest`` record its result echoes) must not share a component: the one merged
    later takes ``suffix`` and the references to it are rewritten, so no method's schema
    silently becomes another's.
    """
    defs: dict[str, Any] = schema.pop("$defs", {})
    renames = {name: new for name, part in defs.items()
               if (new := _free_name(name, part, components, suffix)) != name}
    if renames:
        text = json.dumps({"schema": schema, "defs": defs})
        for old, new in renames.items():
            text = text.replace(json.dumps(_REF.format(model=old)),
                                json.dumps(_REF.format(model=new)))
        moved = json.loads(text)
        schema, defs = moved["schema"], moved["defs"]
    for name, part in defs.items():
        components[renames.get(name, name)] = part
    return schema


def _params(model: type[BaseModel] | None, components: dict[str, Any]) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = _merged(model.model_json_schema(ref_template=_REF), components, "Params")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        descriptor: dict[str, Any] = {"name": name, "required": name in required,
                                      "schema": prop}
        if "description" in prop:
            descriptor["description"] = prop["description"]
        out.append(descriptor)
    return out


def _method(name: str, spec: MethodSpec, components: dict[str, Any]) -> dict[str, Any]:
    method: dict[str, Any] = {
        "name": name,
        "params": _params(spec.params, components),
        "result": {"name": f"{name}_result", "schema": _schema_of(spec.result, components)},
        "paramStructure": "either",
    }
    if spec.summary:
        method["summary"] = spec.summary
    if name.startswith("copy_"):
        method["description"] = _PAGED
    if spec.tags:
        method["tags"] = [{"name": tag} for tag in spec.tags]
    if name == "subscribe":
        method["x-notifications"] = [
            {"name": note, "params": _schema_of(model, components)}
            for note, model in NOTIFICATIONS.items()]
    return method


def build_document(methods: Mapping[str, RpcMethod[Any]],
                   version: str = __version__) -> dict[str, Any]:
    """The OpenRPC document of ``methods`` (the daemon's method table) and the WebSocket's.

    A method registered without a ``result`` is listed with any result and marked
    ``"x-undocumented": true`` (see :func:`undocumented`).
    """
    components: dict[str, Any] = {}
    specs = {name: MethodSpec(method.params, Any if method.result is None else method.result,
                              _summary(method.fn))
             for name, method in methods.items() if name != DISCOVER}
    specs.update(WS_METHODS)
    listed = [_method(name, spec, components) for name, spec in specs.items()]
    for method in listed:
        if method["name"] in undocumented(methods):
            method["x-undocumented"] = True
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "MT Gateway",
            "version": version,
            "description": (
                "JSON-RPC 2.0 access to a MetaTrader 5/4 terminal, named as the MetaTrader5 "
                "Python package. POST /rpc with `Authorization: Bearer <token>`; the same "
                "methods over the /ws WebSocket, plus subscriptions (tagged `websocket`). "
                "Params by position (in the listed order) or by name. `rpc.discover` answers "
                "this document."),
            "license": {"name": "MIT"},
        },
        "servers": [{"name": "local daemon", "url": "http://127.0.0.1:8710/rpc"}],
        "methods": listed,
        "components": {
            "schemas": dict(sorted(components.items())),
            "errors": {name: {"code": code, "message": text}
                       for code, (name, text) in sorted(ERRORS.items(), reverse=True)},
        },
    }


@functools.lru_cache(maxsize=4)
def _document_of(table: tuple[tuple[str, RpcMethod[Any]], ...]) -> dict[str, Any]:
    """:func:`build_document` of one table (its methods are frozen and hashable), kept: the
    document is a function of the code alone and never changed once built."""
    return build_document(dict(table))


def with_discovery(methods: Mapping[str, RpcMethod[Any]]) -> dict[str, RpcMethod[Any]]:
    """``methods`` plus ``rpc.discover``, answering their OpenRPC document (built on the first
    call, then kept once per process and table: building it, every model's JSON schema, costs
    more than the rest of a daemon's start, and few daemons are ever asked for it)."""
    table = tuple(methods.items())

    async def discover(ctx: Any) -> dict[str, Any]:
        """OpenRPC service discovery: this interface's OpenRPC document."""
        return _document_of(table)

    return {**methods, DISCOVER: rpc_method(discover)}


def main() -> None:
    """``python -m gateway.openrpc``: print the document (how ``docs/openrpc/mtgateway.json``
    is written)."""
    import json

    from .methods import method_table

    print(json.dumps(build_document(method_table()), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
