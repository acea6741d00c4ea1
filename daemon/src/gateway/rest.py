"""``/api/...``: the REST mirror of the MT4 Web API document, for what a terminal can answer.

The MT4 Web API document describes a REST API over the MT4 *Manager* interface (the broker's
side). A terminal's EA sees one account, its trades and its symbols, so the mirror answers
those endpoints (health, service health, status, ping, server time,
margin, open trades, trade history, symbols, a symbol, its price) with the document's paths and
response shapes, through the same method bodies ``/rpc`` uses. The Manager-only endpoints
(users, deposits, credit, groups, admin, mail, the server's configuration, connecting the
terminal to a trade server) answer ``501`` with a body that says why a terminal cannot.

The same HTTP rules as ``/rpc``: Host, Origin and query-string tokens in the middleware; here
the method (405), then the daemon's door (``edge/door.py``): a JSON body's content type (415),
size (413) and deadline (408), the bearer token (401/429), the mark on the connection and the
call context, in that order, with ``/rpc``'s refusal bodies; then, as on ``/rpc``, the request
is one of its token's requests in progress until answered (429 ``too_many_requests`` past the
token's share: ``edge/tokenshare.py``). A failure after that
is an exception of ``errors.py`` (a method's own error comes back as
:class:`~gateway.errors.MethodFailed`), turned into a JSON-RPC error by the one table
(:func:`gateway.rpc.error_object`, which logs anything unexpected under an ``error_id``) and
answered as :class:`~mtgateway_base.mt4web.daemon_models.ErrorOut` with the HTTP status
``errors.http_status`` gives it. A JSON body is read as strictly as ``/rpc`` reads one
(``strictjson``: no duplicate keys, no NaN, bounded depth).

The endpoints, their models and why a terminal cannot answer the Manager-only ones are the
document's one table (``mtgateway_base/mt4web/table.py``, its ``daemon`` column beside the
console's); :data:`ENDPOINTS` puts this module's handlers to its rows, and
``gateway/openapi.py`` describes them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from mtgateway_base.epoch import MAX_EPOCH_S
from mtgateway_base.mt4web import Route, bind, mt4records
from mtgateway_base.mt4web.daemon_models import (
    ErrorOut,
    HealthOut,
    HistoryIn,
    MarginLevel,
    MarginOut,
    MarginsOut,
    PingOut,
    PriceOut,
    ServerTimeOut,
    ServiceHealthOut,
    StatusOut,
    SymbolConfig,
    SymbolOut,
    SymbolsOut,
    TradeRecord,
    TradesOut,
)
from mtgateway_base.mt4web.shared import MAX_LOGIN

from ._version import __version__
from .context import RpcContext
from .edge.door import DOOR, HEAD, AiohttpBody, error_response
from .errors import (
    INVALID_REQUEST,
    GatewayError,
    HttpRefusal,
    InvalidParams,
    MethodFailed,
    NotFound,
    RpcError,
    Unsupported,
    http_status,
)
from .keys import BRIDGE, RPC
from .rpc import RpcMethod, error_object
from .strictjson import loads_strict

__all__ = ["ENDPOINTS", "MAX_LOGIN", "Endpoint", "Open", "RestCall", "routes"]

_JSON = "application/json"
_LOGIN_DIGITS: Final = len(str(MAX_LOGIN))


@dataclass(frozen=True)
class RestCall:
    """One authenticated request: its context, path params, body, and the daemon's method
    table (the mirror answers through the very methods ``/rpc`` dispatches to)."""

    ctx: RpcContext
    match: dict[str, str]
    methods: Mapping[str, RpcMethod[RpcContext]]
    body: Any = None

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """``method``'s result, params validated by its model as on ``/rpc``.

        Raises:
            MethodFailed: the method's JSON-RPC error (code, message, data), as ``/rpc``
                would answer it.
        """
        ok, value = await self.methods[method].settle(self.ctx, params)
        if not ok:
            raise MethodFailed(RpcError(value["code"], value["message"], value.get("data")))
        return value


Handler = Callable[[RestCall], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Open:
    """An endpoint answered without a token, from the app alone (the document's health
    checks)."""

    answer: Callable[[web.Application], BaseModel]


#: One path and method of the MT4 Web API document as the daemon serves it (the one table,
#: ``mtgateway_base/mt4web/table.py``, its ``daemon`` column, with the handler).
Endpoint = Route[Handler | Open]


# -- the endpoints a terminal answers -----------------------------------------------------------

def _login_of(call: RestCall) -> int:
    """The ``{login}`` of the path; another account than the token's is not found (a token
    reaches exactly one account).

    Raises:
        InvalidParams: a login that is not a positive integer (-32602).
        NotFound: another account's login (-32006).
    """
    raw = call.match["login"]
    # ASCII digits only: str.isdigit() also takes "¹" (which int() refuses) and "٣" (which
    # int() reads as 3); and never more than MAX_LOGIN's digits (int() refuses 4,300).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _LOGIN_DIGITS \
            or not 0 < int(raw) <= MAX_LOGIN:
        raise InvalidParams(f"login: expected an integer from 1 to {MAX_LOGIN}, "
                            f"got {raw[:20]!r}")
    login = int(raw)
    if login != call.ctx.principal.terminal.login:
        raise NotFound(f"account {login} is not this token's account")
    return login


async def _status(call: RestCall) -> StatusOut:
    return StatusOut(connected=call.ctx.bridge.session(call.ctx.principal.terminal) is not None)


async def _ping(call: RestCall) -> PingOut:
    answer = await call.call("ping")
    return PingOut(ping=bool(answer["pong"]))


async def _server_time(call: RestCall) -> ServerTimeOut:
    now = await call.call("server_time")
    seconds = int(now["time"])
    text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
    return ServerTimeOut(server_time=seconds, server_time_str=text)


async def _margin_level(call: RestCall) -> MarginLevel:
    info = await call.call("account_info")
    return MarginLevel(login=info["login"], currency=info["currency"],
                       leverage=info["leverage"], balance=info["balance"],
                       credit=info["credit"], equity=info["equity"], margin=info["margin"],
                       margin_free=info["margin_free"], margin_level=info["margin_level"])


async def _margin(call: RestCall) -> MarginOut:
    _login_of(call)
    level = await _margin_level(call)
    return MarginOut(**level.model_dump())


async def _margins(call: RestCall) -> MarginsOut:
    level = await _margin_level(call)
    return MarginsOut(count=1, margins=[level])


def _position_record(login: int, p: dict[str, Any]) -> TradeRecord:
    return TradeRecord(**mt4records.position_record(login, p))


def _order_record(login: int, o: dict[str, Any]) -> TradeRecord:
    return TradeRecord(**mt4records.order_record(login, o))


async def _open_trades(call: RestCall) -> TradesOut:
    login = call.ctx.principal.terminal.login
    positions = await call.call("positions_get")
    orders = await call.call("orders_get")
    trades = [_position_record(login, p) for p in positions]
    trades += [_order_record(login, o) for o in orders]
    return TradesOut(count=len(trades), trades=trades)


async def _open_trades_of(call: RestCall) -> TradesOut:
    _login_of(call)
    return await _open_trades(call)


def _closed_records(login: int, deals: list[dict[str, Any]],
                    openings: Mapping[int, Mapping[str, Any]]) -> list[TradeRecord]:
    """MT4-style closed trades and balance/credit operations (one mapping, shared with the
    console's API: ``mtgateway_base/mt4web/mt4records.py``)."""
    return [TradeRecord(**r) for r in mt4records.closed_records(login, deals, openings)]


async def _history(call: RestCall) -> TradesOut:
    login = _login_of(call)
    period = call.body if isinstance(call.body, HistoryIn) else HistoryIn()
    date_from = period.date_from if period.date_from is not None else 0
    date_to = period.date_to if period.date_to is not None else MAX_EPOCH_S
    if date_to < date_from:
        raise InvalidParams("to: must not be before from")
    deals: list[dict[str, Any]] = await call.call(
        "history_deals_get", {"date_from": date_from, "date_to": date_to})
    openings: dict[int, Mapping[str, Any]] = dict(mt4records.openings_of(deals))
    for position_id in {d["position_id"] for d in deals
                        if d["entry"] in mt4records.CLOSING_ENTRIES} - set(openings):
        # opened before the period: its opening deal is asked for by position
        for deal in await call.call("history_deals_get", {"position": position_id}):
            if deal["entry"] == 0:
                openings[position_id] = deal
    trades = _closed_records(login, deals, openings)
    return TradesOut(count=len(trades), trades=trades)


def _symbol_config(s: dict[str, Any]) -> SymbolConfig:
    return SymbolConfig(
        symbol=s["name"], description=s["description"], path=s["path"],
        currency=s["currency_base"], currency_profit=s["currency_profit"],
        currency_margin=s["currency_margin"], digits=s["digits"], point=s["point"],
        spread=s["spread"], spread_float=s["spread_float"], stops_level=s["trade_stops_level"],
        freeze_level=s["trade_freeze_level"], contract_size=s["trade_contract_size"],
        tick_size=s["trade_tick_size"], tick_value=s["trade_tick_value"],
        volume_min=s["volume_min"], volume_max=s["volume_max"], volume_step=s["volume_step"],
        trade_mode=s["trade_mode"], execution_mode=s["trade_exemode"],
        swap_long=s["swap_long"], swap_short=s["swap_short"], filling_mode=s["filling_mode"],
        expiration_mode=s["expiration_mode"], order_mode=s["order_mode"])


async def _symbols(call: RestCall) -> SymbolsOut:
    symbols = [_symbol_config(s) for s in await call.call("symbols_get")]
    return SymbolsOut(count=len(symbols), symbols=symbols)


async def _symbol(call: RestCall) -> SymbolOut:
    return SymbolOut(symbol=_symbol_config(
        await call.call("symbol_info", {"symbol": call.match["name"]})))


async def _price(call: RestCall) -> PriceOut:
    name = call.match["name"]
    tick = await call.call("symbol_info_tick", {"symbol": name})
    return PriceOut(symbol=name, bid=tick["bid"], ask=tick["ask"], last=tick["last"],
                    time=tick["time"], time_msc=tick["time_msc"])


def _health(app: web.Application) -> HealthOut:
    return HealthOut(service="mtgateway", version=__version__)


def _service_health(app: web.Application) -> ServiceHealthOut:
    return ServiceHealthOut(service="mtgateway-bridge", connected=bool(app[BRIDGE].sessions()))


# -- the table ----------------------------------------------------------------------------------

#: Every endpoint of the document (Quick Reference, 1-34), in its order, as the daemon serves
#: it: the table's ``daemon`` column (which also says why a terminal cannot answer the
#: Manager-only ones) with the handlers here, by operation id.
ENDPOINTS: Final[tuple[Endpoint, ...]] = bind("daemon", {
    "get_api_health": Open(_health),
    "get_api_test_service_health": Open(_service_health),
    "get_api_test_status": _status,
    "get_api_test_ping": _ping,
    "get_api_test_server_time": _server_time,
    "get_api_accounts_login_margin": _margin,
    "get_api_accounts_margins": _margins,
    "get_api_trades_open": _open_trades,
    "get_api_trades_open_login": _open_trades_of,
    "post_api_trades_history_login": _history,
    "get_api_symbols": _symbols,
    "get_api_symbols_name": _symbol,
    "get_api_symbols_name_price": _price,
})


# -- HTTP -----------------------------------------------------------------------------------------

def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(model.model_dump(mode="json")),
                        content_type=_JSON)


def _error(exc: Exception, where: str) -> web.Response:
    """``exc`` answered through the one error table, with its code's HTTP status."""
    error = error_object(exc, where)
    return _json(ErrorOut(code=error["code"], message=error["message"], data=error.get("data")),
                 http_status(error["code"]))


def _parse_body(raw: bytes, model: type[BaseModel] | None) -> Any:
    """The JSON body validated into ``model`` (None when there is none).

    Raises:
        InvalidParams: the body is not strict JSON (a duplicate key, NaN, too deep: as
            ``/rpc`` refuses them) or not what ``model`` takes (-32602, the field named).
    """
    if not raw.strip():
        return None
    try:
        data = loads_strict(raw)
    except ValueError as exc:  # invalid JSON, NaN, a duplicate key, too deep
        raise InvalidParams(f"body: not valid JSON ({str(exc)[:120]})") from None
    if model is None:
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidParams(f"{where}: {first['msg']}") from None


def _dispatcher(path: str, by_method: dict[str, Endpoint]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
    allowed = ", ".join(sorted(by_method))
    wrong_method = HttpRefusal(405, RpcError(INVALID_REQUEST, f"Use {allowed} for {path}"),
                               {"Allow": allowed})

    async def handle(request: web.Request) -> web.Response:
        endpoint = by_method.get(request.method)
        if endpoint is None:
            return error_response(wrong_method)
        where = f"REST {request.method} {path}"
        if not endpoint.auth:
            if isinstance(endpoint.handler, Open):
                return _json(endpoint.handler.answer(request.app))
            return _error(Unsupported("manager_only", endpoint.why
                                      or "Not available from a terminal", path), where)
        door = request.app[DOOR]
        entry = await door.enter(
            request[HEAD], AiohttpBody(request, door.server.max_body_bytes)
            if request.body_exists else None, door.connection(request))
        if isinstance(entry, HttpRefusal):
            return error_response(entry)
        context = entry.context
        assert context is not None  # noqa: S101 - the door asked for a token
        # one of the token's requests in progress until answered, as on /rpc (429 past it)
        refusal = door.working(context)
        if refusal is not None:
            return error_response(refusal)
        try:
            return await _answer(request, endpoint, path, where, entry.body, context)
        finally:
            door.worked(context)

    return handle


async def _answer(request: web.Request, endpoint: Endpoint, path: str, where: str,
                  data: bytes, context: RpcContext) -> web.Response:
    """``endpoint``'s answer to an authenticated request whose body is ``data``."""
    try:  # what is wrong with the body is told only to a caller with a valid token
        body = _parse_body(data, endpoint.body)
    except GatewayError as exc:
        return _error(exc, where)
    handler = endpoint.handler
    if handler is None or isinstance(handler, Open):
        return _error(Unsupported("manager_only", endpoint.why
                                  or "Not available from a terminal", path), where)
    call = RestCall(context, dict(request.match_info), request.app[RPC].methods, body)
    try:
        return _json(await handler(call))
    except Exception as exc:  # ours through the table; a bug as -32603 with an error_id
        return _error(exc, where)


def routes() -> list[web.RouteDef]:
    """One route per path of :data:`ENDPOINTS`, answering every method (405 for the ones the
    document does not list), for ``create_app`` to add."""
    paths: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    return [web.route("*", path, _dispatcher(path, by_method))
            for path, by_method in paths.items()]
