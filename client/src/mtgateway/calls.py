"""The client's namespace as one table: every function, its signature, what it calls.

:class:`Functions` declares each function of ``import mtgateway as mt5`` once: the
``MetaTrader5`` package's 32 with its signatures (parameter names, order, kinds and defaults,
so arguments bind positionally, by keyword or mixed as the package binds them, and
``positions_get`` / ``orders_get`` by keyword only, as the package binds theirs; the
annotations say which types each takes, ``arguments.py``), and MT Gateway's additions. Each
declaration builds the job of one call: a :class:`~mtgateway.wire.Call` (the JSON-RPC method,
its named params, how its result becomes the package's answer) or a
:class:`~mtgateway.functions.Session` step the client carries out itself.

The synchronous client and the asyncio client inherit this table (``functions.py``), the
module-level functions of ``mtgateway`` and ``mtgateway.aio`` are their default clients',
``import MetaTrader5`` is ``mtgateway`` itself, and docs/client.md's list of the functions is
checked against it (``client/tests/test_binding.py``), so a function is declared here and
nowhere else.
"""

from __future__ import annotations

import functools
import operator
import os
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from . import constants as c
from . import records as r
from . import refusals
from .arguments import INVALID_ARGUMENTS, request_refusal
from .errors import CALL_FAILED, NOT_FOUND, LastError, local_error
from .functions import Declared, Session, function, predicate, step
from .wire import RATES_DTYPE, TICKS_DTYPE, Call, Pager, named, to_wire_time

__all__ = ["FUNCTIONS", "Functions", "Request", "Time", "gateway_status_call"]

#: A time argument: a ``datetime`` (a naive one is local time), or epoch seconds.
Time = datetime | int | float
#: A trade request: a dict of ``TradeRequest`` fields (a ``TradeRequest`` is taken too).
Request = Mapping[str, Any] | r.TradeRequest


def _same(value: Any) -> Any:
    return value


def _one(cls: type[Any]) -> Any:
    return functools.partial(r.from_wire, cls)


def _many(cls: type[Any]) -> Any:
    return functools.partial(r.many_from_wire, cls)


#: The gateway's code for an unknown symbol (``docs/api.md``).
UNKNOWN_SYMBOL: Final = -32006
#: An unknown symbol in the package's words, where a terminal's call finds no such symbol:
#: ``(-4, 'Terminal: Not found')`` (``symbol_info``, ``symbol_info_tick``, the ticks, the
#: book, the calculators; public run logs of terminals and the C extension's text).
_NOT_FOUND: Final = {UNKNOWN_SYMBOL: (c.RES_E_NOT_FOUND, NOT_FOUND)}
#: An unknown symbol where a terminal's call fails rather than finds nothing: ``(-1,
#: 'Terminal: Call failed')`` (``copy_rates_*``, whose read of a symbol a server does not
#: carry was measured so on a terminal; ``symbol_select``).
_CALL_FAILED: Final = {UNKNOWN_SYMBOL: (c.RES_E_FAIL, CALL_FAILED)}


def _paged(method: str, params: dict[str, Any], *, backward: bool,
           columns: list[tuple[str, str]], missing: str | None = None,
           package_errors: Mapping[int, tuple[int, str]] | None = None) -> Call[Any]:
    """A ``copy_*`` call; ``missing``: why the package fails it when no row comes back."""
    return Call(method, params, _same,
                lambda: Pager(params, backward=backward, columns=columns, missing=missing),
                package_errors=package_errors or {})


def gateway_status_call() -> Call[dict[str, Any]]:
    """The call of ``gateway_status``, which ``initialize`` and ``login`` make too."""
    return Call("gateway_status", {}, _same)


def _version(result: Any) -> tuple[int, int, str]:
    terminal_version, build, build_date = result
    return int(terminal_version), int(build), str(build_date)


def _by_symbol_first(symbol: str | None, ticket: int | None) -> int | None:
    """The ticket to send beside ``symbol``: none when a symbol is given. The package documents
    for ``orders_get`` and ``positions_get``: "If a symbol is specified, the ticket parameter
    is ignored." (The daemon's own API takes one selector; other pairs, which the package
    documents nothing for, are refused there: ``None`` and ``RES_E_INVALID_PARAMS``.)"""
    return None if symbol is not None else ticket


#: The keys a request dict may carry: the package's ``TradeRequest`` fields, and our
#: ``client_id`` (idempotency, ``docs/client.md``).
_REQUEST_KEYS = frozenset(r.TradeRequest.__match_args__) | {"client_id"}
#: Unknown request keys already warned about (once each per process, as a typo needs).
_warned: set[str] = set()
#: The request's numeric fields as the package's C code reads them, so the gateway is sent
#: the value the package would have sent: ``True`` as a ``magic`` of 1, ``Decimal("0.1")``
#: as a volume of 0.1 (``arguments.REQUEST_FIELDS`` already refused what these cannot read).
_READ_AS: Final[dict[str, Any]] = {
    name: {"int": operator.index, "float": float}[kind]
    for name, kind in r.TradeRequest.__annotations__.items()
    if name in r.TradeRequest.__match_args__ and kind in ("int", "float")
    and name != "expiration"}


def _request_fields(name: str, arguments: Mapping[str, Any]) -> LastError | None:
    """``order_check`` / ``order_send``: a request field the package cannot read is refused
    by name before anything is sent (``arguments.request_refusal``), as the package's C code
    refuses it while filling the ``MqlTradeRequest``; a constant's name (``"ORDER_TYPE_BUY"``)
    is text, which no integer field reads, so it is refused, not filled."""
    return request_refusal(arguments.get("request"))


def _a_selection(name: str, arguments: Mapping[str, Any]) -> LastError | None:
    """``history_orders_get`` / ``history_deals_get`` read a range (both dates), a ticket or
    a position; with none of them the package answers ``(-2, 'Invalid arguments')`` (a
    public project's notes from a build-6231 terminal: ``history_orders_get(None, None)``),
    so the client does, before anything is sent. A group alone selects nothing either."""
    given = {key for key, value in arguments.items() if value is not None}
    if given & {"ticket", "position"} or {"date_from", "date_to"} <= given:
        return None
    return local_error(c.RES_E_INVALID_PARAMS, INVALID_ARGUMENTS, {
        "reason": f"{name}(): give date_from and date_to, ticket= or position="})


def _read_as(key: str, value: Any) -> Any:
    """``value`` of the request field ``key`` as the package reads it; as given when it is no
    numeric field or cannot be read so (refused before sending, or a direct ``build``)."""
    read = _READ_AS.get(key)
    if read is None or value is None:
        return value
    try:
        return read(value)
    except (TypeError, ValueError, OverflowError):
        return value


def _request(request: Mapping[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The request as a plain dict (a ``TradeRequest`` is accepted too), times as epoch
    seconds, numbers as the package reads them (:data:`_READ_AS`; numpy scalars as Python
    numbers).

    A key the package does not know is left out, as the package ignores it, with a
    ``UserWarning`` naming it (once per key), so a typo such as ``"stoploss"`` does not pass
    silently.
    """
    if isinstance(request, tuple) and hasattr(request, "_asdict"):
        request = request._asdict()
    if not isinstance(request, Mapping):
        return request  # type: ignore[return-value]  # the gateway answers -32602
    out: dict[str, Any] = {}
    for key, value in request.items():
        if key not in _REQUEST_KEYS:
            if str(key) not in _warned:
                _warned.add(str(key))
                warnings.warn(f"trade request key {key!r} is not a MetaTrader5 TradeRequest "
                              "field: ignored, as the package ignores it", UserWarning,
                              stacklevel=5)
            continue
        out[key] = to_wire_time(_read_as(key, value))
    return out


class Functions:
    """Every function of the namespace (see the module docstring), in the package's order,
    then MT Gateway's additions. Each is a :class:`~mtgateway.functions.Function`."""

    # -- the connection -----------------------------------------------------------------------

    @predicate()
    def initialize(path: str | None = None, login: int | None = None,
                   password: str | None = None, server: str | None = None,
                   timeout: int | None = None, portable: bool = False, *,
                   token: str | None = None, url: str | None = None,
                   state_file: str | os.PathLike[str] | None = None) -> Session:
        """Connect to the gateway and wait for its terminal; True when it is live.

        The terminal's parameters bind as the package binds them (``initialize(path, login,
        password, server, timeout, portable)``, positionally or by keyword); MT Gateway's
        ``token`` and ``url`` (default ``http://127.0.0.1:8710``) are keywords, and may
        instead come from ``MTGATEWAY_TOKEN`` / ``MTGATEWAY_URL``, or from the JSON file
        ``mtgateway demo --state-file`` writes (``state_file=`` or ``MTGATEWAY_STATE_FILE``).
        The token picks the terminal, so ``path`` and ``portable`` are accepted and ignored,
        and ``password`` is never sent anywhere; ``login`` and ``server``, when given, must be
        the token's terminal. ``timeout`` (ms, default 60 000) bounds the wait for the
        terminal's EA.
        """
        return Session("initialize", {"login": login, "server": server, "timeout": timeout,
                                      "token": token, "url": url, "state_file": state_file})

    @predicate()
    def login(login: int, password: str | None = None, server: str | None = None,
              timeout: int | None = None) -> Session:
        """True when the token's terminal is account ``login`` (on ``server``): a token is
        bound to one account, so this checks rather than switches. ``password`` is ignored."""
        return Session("login", {"login": login, "server": server})

    @predicate()
    def shutdown() -> Session:
        """Close the connection; calls fail until the next ``initialize``. True, as a
        terminal answers (the package's reference page says ``None``, but its C function
        returns True, and agent servers take anything else for a failed disconnect)."""
        return Session("shutdown")

    @function()
    def version() -> Call[tuple[int, int, str]]:
        """``(terminal_version, build, build_date)``."""
        return Call("version", {}, _version)

    @step(LastError)
    def last_error() -> Session:
        """``(code, description)`` of the last call (``(1, "Success")`` after one that
        worked); ``.data`` holds the gateway's error data."""
        return Session("last_error")

    @function()
    def account_info() -> Call[r.AccountInfo]:
        """The trading account."""
        return Call("account_info", {}, _one(r.AccountInfo))

    @function()
    def terminal_info() -> Call[r.TerminalInfo]:
        """The terminal's state and settings."""
        return Call("terminal_info", {}, _one(r.TerminalInfo))

    # -- market -------------------------------------------------------------------------------

    @function()
    def symbols_total() -> Call[int]:
        """The number of the terminal's symbols."""
        return Call("symbols_total", {}, int)

    @function()
    def symbols_get(group: str | None = None) -> Call[tuple[r.SymbolInfo, ...]]:
        """Every symbol (matching ``group``, ``"*USD*,!EUR*"``)."""
        return Call("symbols_get", named(group=group), _many(r.SymbolInfo))

    @function()
    def symbol_info(symbol: str) -> Call[r.SymbolInfo]:
        """Every property of one symbol."""
        return Call("symbol_info", named(symbol=symbol), _one(r.SymbolInfo),
                    package_errors=_NOT_FOUND)

    @function()
    def symbol_info_tick(symbol: str) -> Call[r.Tick]:
        """The symbol's last tick."""
        return Call("symbol_info_tick", named(symbol=symbol), _one(r.Tick),
                    package_errors=_NOT_FOUND)

    @predicate()
    def symbol_select(symbol: str, enable: bool = True) -> Call[bool]:
        """Show (or hide) the symbol in the terminal's Market Watch."""
        return Call("symbol_select", named(symbol=symbol, enable=bool(enable)), bool,
                    package_errors=_CALL_FAILED)

    @predicate()
    def market_book_add(symbol: str) -> Call[bool]:
        """Subscribe to the symbol's depth of market."""
        return Call("market_book_add", named(symbol=symbol), bool,
                    package_errors=_NOT_FOUND)

    @function()
    def market_book_get(symbol: str) -> Call[tuple[r.BookInfo, ...]]:
        """The symbol's depth of market: ``BookInfo`` levels, sells first."""
        return Call("market_book_get", named(symbol=symbol), _many(r.BookInfo),
                    package_errors=_NOT_FOUND)

    @predicate()
    def market_book_release(symbol: str) -> Call[bool]:
        """Unsubscribe from the symbol's depth of market."""
        return Call("market_book_release", named(symbol=symbol), bool,
                    package_errors=_NOT_FOUND)

    @function()
    def copy_rates_from(symbol: str, timeframe: int, date_from: Time, count: int) -> Call[Any]:
        """The ``count`` bars up to ``date_from``, as a numpy structured array (tuples
        without numpy); every page followed. No bar at or before ``date_from`` (before the
        history) fails, as MQL5's ``CopyRates`` does for a request wholly outside it."""
        return _paged("copy_rates_from", named(symbol=symbol, timeframe=timeframe,
                                               date_from=date_from, count=count),
                      backward=True, columns=RATES_DTYPE,
                      missing=f"no {symbol} bar opened at or before {date_from}: the "
                              "terminal's history starts later",
                      package_errors=_CALL_FAILED)

    @function()
    def copy_rates_from_pos(symbol: str, timeframe: int, start_pos: int,
                            count: int) -> Call[Any]:
        """The ``count`` bars from ``start_pos`` back (0: the current bar). A ``start_pos``
        beyond the history fails, as MQL5's ``CopyRates`` does there."""
        return _paged("copy_rates_from_pos", named(symbol=symbol, timeframe=timeframe,
                                                   start_pos=start_pos, count=count),
                      backward=True, columns=RATES_DTYPE,
                      missing=f"no {symbol} bar at position {start_pos} or before it: "
                              "beyond the history the terminal holds",
                      package_errors=_CALL_FAILED)

    @function()
    def copy_rates_range(symbol: str, timeframe: int, date_from: Time,
                         date_to: Time) -> Call[Any]:
        """The bars from ``date_from`` to ``date_to`` (none in the window: an empty array, as
        the package answers a window without trading)."""
        return _paged("copy_rates_range", named(symbol=symbol, timeframe=timeframe,
                                                date_from=date_from, date_to=date_to),
                      backward=False, columns=RATES_DTYPE, package_errors=_CALL_FAILED)

    @function()
    def copy_ticks_from(symbol: str, date_from: Time, count: int, flags: int) -> Call[Any]:
        """The ``count`` ticks from ``date_from``."""
        return _paged("copy_ticks_from", named(symbol=symbol, date_from=date_from,
                                               count=count, flags=flags),
                      backward=False, columns=TICKS_DTYPE, package_errors=_NOT_FOUND)

    @function()
    def copy_ticks_range(symbol: str, date_from: Time, date_to: Time,
                         flags: int) -> Call[Any]:
        """The ticks from ``date_from`` to ``date_to``."""
        return _paged("copy_ticks_range", named(symbol=symbol, date_from=date_from,
                                                date_to=date_to, flags=flags),
                      backward=False, columns=TICKS_DTYPE, package_errors=_NOT_FOUND)

    # -- trading ------------------------------------------------------------------------------

    @function()
    def orders_total() -> Call[int]:
        """The number of pending orders."""
        return Call("orders_total", {}, int)

    @function()
    def orders_get(*, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None, book: str | None = None,
                   ) -> Call[tuple[r.TradeOrder, ...]]:
        """The pending orders (of ``symbol``, of ``group``, or the one ``ticket``), selected
        by keyword only, as the package takes them (a positional argument is ``(-2, 'Unnamed
        arguments not allowed')``); ``book="live"`` (ours) reads the broker's book whatever the
        token trades on: a paper account's reads answer its paper book, and its live positions
        and orders stay at the broker."""
        return Call("orders_get", named(symbol=symbol, group=group,
                                        ticket=_by_symbol_first(symbol, ticket), book=book),
                    _many(r.TradeOrder))

    @function()
    def order_calc_margin(action: int, symbol: str, volume: float,
                          price: float) -> Call[float]:
        """The margin of an order, in the account's currency."""
        return Call("order_calc_margin", named(action=action, symbol=symbol, volume=volume,
                                               price=price), float, package_errors=_NOT_FOUND)

    @function()
    def order_calc_profit(action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> Call[float]:
        """The profit of a trade, in the account's currency."""
        return Call("order_calc_profit", named(action=action, symbol=symbol, volume=volume,
                                               price_open=price_open,
                                               price_close=price_close), float,
                    package_errors=_NOT_FOUND)

    @function(check=_request_fields)
    def order_check(request: Request) -> Call[r.OrderCheckResult]:
        """Check a trade request: an ``OrderCheckResult`` (``retcode`` 0: it would go).

        A refusal by the account's risk policy is a result too, with the trade server's
        retcode closest to the rule (``refusals.py``). A field the package cannot read is
        ``None`` with ``(-2, 'Invalid "<field>" argument')``, nothing sent. A ``client_id``
        on the request is left out: it names a send, and the same dict is usually checked and
        then sent."""
        body = _request(request)
        if isinstance(body, dict):
            body.pop("client_id", None)
        return Call("order_check", {"request": body}, _one(r.OrderCheckResult),
                    refused=refusals.check_result)

    @function(check=_request_fields)
    def order_send(request: Request) -> Call[r.OrderSendResult]:
        """Send a trade request; a broker rejection is a result (check ``retcode``), and so
        is a refusal by the account's risk policy (``refusals.py``). A field the package
        cannot read is ``None`` with ``(-2, 'Invalid "<field>" argument')``, nothing sent.

        ``None`` means the request was not evaluated, or (``last_error().gateway_code ==
        -32003``, or a lost connection) that its outcome is unknown:
        ``last_error().data["client_id"]`` names it for ``order_status``; never send it
        again blindly. The request carries a ``client_id`` (made when it has none)."""
        return Call("order_send", {"request": _request(request)}, _one(r.OrderSendResult),
                    stamped=True, refused=refusals.send_result)

    @function()
    def positions_total() -> Call[int]:
        """The number of open positions."""
        return Call("positions_total", {}, int)

    @function()
    def positions_get(*, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None, book: str | None = None,
                      ) -> Call[tuple[r.TradePosition, ...]]:
        """The open positions (of ``symbol``, of ``group``, or the one ``ticket``), selected
        by keyword only, as the package takes them (a positional argument is ``(-2, 'Unnamed
        arguments not allowed')``); ``book="live"`` (ours) reads the broker's book whatever the
        token trades on: a paper account's reads answer its paper book, and its live positions
        and orders stay at the broker."""
        return Call("positions_get", named(symbol=symbol, group=group,
                                           ticket=_by_symbol_first(symbol, ticket), book=book),
                    _many(r.TradePosition))

    @function()
    def history_orders_total(date_from: Time, date_to: Time) -> Call[int]:
        """The number of orders in the history between the two times."""
        return Call("history_orders_total", named(date_from=date_from, date_to=date_to), int)

    @function(check=_a_selection)
    def history_orders_get(date_from: Time | None = None, date_to: Time | None = None,
                           group: str | None = None, ticket: int | None = None,
                           position: int | None = None) -> Call[tuple[r.TradeOrder, ...]]:
        """The history's orders: between two times (of ``group``), or by ``ticket`` or
        ``position``; none of them is ``(-2, 'Invalid arguments')``, as the package."""
        return Call("history_orders_get", named(date_from=date_from, date_to=date_to,
                                                group=group, ticket=ticket,
                                                position=position), _many(r.TradeOrder))

    @function()
    def history_deals_total(date_from: Time, date_to: Time) -> Call[int]:
        """The number of deals in the history between the two times."""
        return Call("history_deals_total", named(date_from=date_from, date_to=date_to), int)

    @function(check=_a_selection)
    def history_deals_get(date_from: Time | None = None, date_to: Time | None = None,
                          group: str | None = None, ticket: int | None = None,
                          position: int | None = None) -> Call[tuple[r.TradeDeal, ...]]:
        """The history's deals: between two times (of ``group``), or by ``ticket`` (the
        order's) or ``position``; none of them is ``(-2, 'Invalid arguments')``."""
        return Call("history_deals_get", named(date_from=date_from, date_to=date_to,
                                               group=group, ticket=ticket,
                                               position=position), _many(r.TradeDeal))

    # -- MT Gateway's additions ---------------------------------------------------------------

    @function(package=False)
    def order_status(client_id: str) -> Call[r.OrderStatus]:
        """MT Gateway's addition: the daemon's journal row for ``client_id``."""
        return Call("order_status", named(client_id=client_id), _one(r.OrderStatus))

    @function(package=False)
    def ping() -> Call[dict[str, Any]]:
        """MT Gateway's addition: ``{"pong": True, "ea_rtt_ms": ...}``."""
        return Call("ping", {}, _same)

    @function(package=False)
    def server_time() -> Call[r.ServerTime]:
        """MT Gateway's addition: the trade server's clock and its UTC offset."""
        return Call("server_time", {}, _one(r.ServerTime))

    @function(package=False)
    def gateway_status() -> Call[dict[str, Any]]:
        """MT Gateway's addition: the daemon's and the terminal's connection state."""
        return gateway_status_call()


#: Every function of the table by name, in its order.
FUNCTIONS: Final[dict[str, Declared[Any, Any]]] = {
    name: value for name, value in vars(Functions).items() if isinstance(value, Declared)}
