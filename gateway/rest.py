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
call context, in that order, with ``/rpc``'s refusal bodies. A failure after that
is an exception of ``errors.py`` (a method's own error comes back as
:class:`~gateway.errors.MethodFailed`), turned into a JSON-RPC error by the one table
(:func:`gateway.rpc.error_object`, which logs anything unexpected under an ``error_id``) and
answered as :class:`~gateway.rest_models.ErrorOut` with the HTTP status
``errors.http_status`` gives it. A JSON body is read as strictly as ``/rpc`` reads one
(``strictjson``: no duplicate keys, no NaN, bounded depth). :data:`ENDPOINTS` is also what
``gateway/openapi.py`` describes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ._version import __version__
from .authority import mt4records
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
from .rest_models import (
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
from .rpc import RpcMethod, error_object
from .strictjson import loads_strict

__all__ = ["ENDPOINTS", "MAX_LOGIN", "Endpoint", "RestCall", "routes"]

_JSON = "application/json"
#: Far enough for any history (year 2100), as the params models' bound.
_END_OF_TIME_S: Final = 4_102_444_800
#: The largest ``{login}`` (MT5 logins are 64-bit signed integers); the document states it.
MAX_LOGIN: Final = 2**63 - 1
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
class Endpoint:
    """One path and method of the document. ``handler`` None: Manager-only, ``why`` says
    why a terminal cannot answer it (the 501's message)."""

    method: str
    path: str
    summary: str
    handler: Handler | None = None
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    auth: bool = True
    why: str | None = None
    path_params: tuple[str, ...] = field(default=())


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
    console's API: ``gateway/authority/mt4records.py``)."""
    return [TradeRecord(**r) for r in mt4records.closed_records(login, deals, openings)]


async def _history(call: RestCall) -> TradesOut:
    login = _login_of(call)
    period = call.body if isinstance(call.body, HistoryIn) else HistoryIn()
    date_from = period.date_from if period.date_from is not None else 0
    date_to = period.date_to if period.date_to is not None else _END_OF_TIME_S
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


# -- the table ----------------------------------------------------------------------------------

_USERS = ("Trading accounts are created, listed and changed by the broker through the MT4 "
          "Manager API; a terminal's EA sees only its own account (GET "
          "/api/accounts/{login}/margin).")
_MONEY = ("Deposits, withdrawals and credit are balance operations the broker makes through "
          "the Manager API; a terminal cannot move money.")
_GROUPS = "Groups are broker-server configuration that only the Manager API can read."
_ADMIN = ("Looking up, editing or deleting other accounts' trade records, internal mail and "
          "batch user operations need Manager rights on the broker's server.")

#: Every endpoint of the document, in its order (Quick Reference, 1-34).
ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/api/health", "API health check", response=HealthOut, auth=False),
    Endpoint("POST", "/api/auth/login", "Get JWT token", auth=False,
             why="There is no login: this mirror takes the gateway's own token (issued by the "
                 "token authority, bound to one terminal) as Authorization: Bearer <token>."),
    Endpoint("GET", "/api/test/service-health", "Is any terminal's EA connected?",
             response=ServiceHealthOut, auth=False),
    Endpoint("POST", "/api/test/connect", "Connect to MT4 server",
             why="The terminal logs in to its broker's trade server itself; the gateway "
                 "cannot connect a terminal to a trade server."),
    Endpoint("POST", "/api/test/disconnect", "Disconnect from MT4",
             why="The terminal's broker connection is the terminal's own; the gateway cannot "
                 "disconnect it."),
    Endpoint("GET", "/api/test/status", "Connection status", _status, StatusOut),
    Endpoint("GET", "/api/test/ping", "Ping the terminal", _ping, PingOut),
    Endpoint("GET", "/api/test/server-time", "Get server time", _server_time, ServerTimeOut),
    Endpoint("GET", "/api/users/", "List all users", why=_USERS),
    Endpoint("GET", "/api/users/{login}", "Get single user", why=_USERS,
             path_params=("login",)),
    Endpoint("POST", "/api/users/", "Create user account", why=_USERS),
    Endpoint("PUT", "/api/users/{login}", "Update user account", why=_USERS,
             path_params=("login",)),
    Endpoint("PUT", "/api/users/{login}/password", "Change password", why=_USERS,
             path_params=("login",)),
    Endpoint("POST", "/api/accounts/{login}/deposit", "Deposit funds", why=_MONEY,
             path_params=("login",)),
    Endpoint("POST", "/api/accounts/{login}/withdraw", "Withdraw funds", why=_MONEY,
             path_params=("login",)),
    Endpoint("POST", "/api/accounts/{login}/credit", "Add/remove credit", why=_MONEY,
             path_params=("login",)),
    Endpoint("GET", "/api/accounts/{login}/margin", "Get margin level", _margin, MarginOut,
             path_params=("login",)),
    Endpoint("GET", "/api/accounts/margins", "Margin data of the token's account", _margins,
             MarginsOut),
    Endpoint("GET", "/api/trades/open", "All open trades", _open_trades, TradesOut),
    Endpoint("GET", "/api/trades/open/{login}", "User's open trades", _open_trades_of,
             TradesOut, path_params=("login",)),
    Endpoint("POST", "/api/trades/history/{login}", "User's trade history", _history,
             TradesOut, body=HistoryIn, path_params=("login",)),
    Endpoint("GET", "/api/groups/", "List all groups", why=_GROUPS),
    Endpoint("GET", "/api/groups/online", "Online users", why=_GROUPS),
    Endpoint("GET", "/api/groups/{name}", "Get single group", why=_GROUPS,
             path_params=("name",)),
    Endpoint("GET", "/api/symbols/", "List all symbols", _symbols, SymbolsOut),
    Endpoint("GET", "/api/symbols/{name}", "Get symbol config", _symbol, SymbolOut,
             path_params=("name",)),
    Endpoint("GET", "/api/symbols/{name}/price", "Live bid/ask price", _price, PriceOut,
             path_params=("name",)),
    Endpoint("POST", "/api/admin/trades/lookup", "Lookup trades by ticket", why=_ADMIN),
    Endpoint("POST", "/api/admin/trades/by-group", "Trades by group", why=_ADMIN),
    Endpoint("PUT", "/api/admin/trades/{order}/modify", "Modify trade record", why=_ADMIN,
             path_params=("order",)),
    Endpoint("POST", "/api/admin/trades/delete", "Delete trades", why=_ADMIN),
    Endpoint("POST", "/api/admin/mail", "Send internal mail", why=_ADMIN),
    Endpoint("POST", "/api/admin/users/group-op", "Batch user operations", why=_ADMIN),
    Endpoint("GET", "/api/server/config", "Server configuration",
             why="The trade server's configuration is visible only to the Manager API."),
)


# -- HTTP -----------------------------------------------------------------------------------------

def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(model.model_dump(mode="json")),
                        content_type=_JSON)


def _error(exc: Exception, where: str) -> web.Response:
    """``exc`` answered through the one error table, with its code's HTTP status."""
    error = error_object(exc, where)
    return _json(ErrorOut(code=error["code"], message=error["message"], data=error.get("data")),
                 http_status(error["code"]))


async def _health(request: web.Request) -> web.Response:
    return _json(HealthOut(service="mtgateway", version=__version__))


async def _service_health(request: web.Request) -> web.Response:
    return _json(ServiceHealthOut(service="mtgateway-bridge",
                                  connected=bool(request.app[BRIDGE].sessions())))


_OPEN: Final[dict[str, Callable[[web.Request], Awaitable[web.Response]]]] = {
    "/api/health": _health, "/api/test/service-health": _service_health}


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
            if endpoint.why is not None:
                return _error(Unsupported("manager_only", endpoint.why, path), where)
            return await _OPEN[path](request)
        door = request.app[DOOR]
        entry = await door.enter(
            request[HEAD], AiohttpBody(request, door.server.max_body_bytes)
            if request.body_exists else None, door.connection(request))
        if isinstance(entry, HttpRefusal):
            return error_response(entry)
        assert entry.context is not None  # noqa: S101 - the door asked for a token
        try:  # what is wrong with the body is told only to a caller with a valid token
            body = _parse_body(entry.body, endpoint.body)
        except GatewayError as exc:
            return _error(exc, where)
        if endpoint.handler is None:
            return _error(Unsupported("manager_only", endpoint.why
                                      or "Not available from a terminal", path), where)
        call = RestCall(entry.context, dict(request.match_info), request.app[RPC].methods, body)
        try:
            return _json(await endpoint.handler(call))
        except Exception as exc:  # ours through the table; a bug as -32603 with an error_id
            return _error(exc, where)

    return handle


def routes() -> list[web.RouteDef]:
    """One route per path of :data:`ENDPOINTS`, answering every method (405 for the ones the
    document does not list), for ``create_app`` to add."""
    paths: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    return [web.route("*", path, _dispatcher(path, by_method))
            for path, by_method in paths.items()]
