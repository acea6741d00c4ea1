"""Every method of the contract as a :class:`~mtgateway.wire.Call`, with the package's signature.

The synchronous and the asyncio client both forward here, so the binding of arguments (the
package's order, positional and keyword mixed, ``datetime`` converted) and the shaping of each
result (named tuples, arrays) is written once. ``tests/client/test_api_surface.py`` checks that
both clients' methods have exactly these signatures.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

from . import records as r
from .wire import RATES_DTYPE, TICKS_DTYPE, Call, Pager, named, to_wire_time

__all__ = [
    "account_info",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "gateway_status",
    "history_deals_get",
    "history_deals_total",
    "history_orders_get",
    "history_orders_total",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
    "order_status",
    "orders_get",
    "orders_total",
    "ping",
    "positions_get",
    "positions_total",
    "server_time",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "symbols_get",
    "symbols_total",
    "terminal_info",
    "version",
]


def _same(value: Any) -> Any:
    return value


def _one(cls: type[Any]) -> Any:
    return functools.partial(r.from_wire, cls)


def _many(cls: type[Any]) -> Any:
    return functools.partial(r.many_from_wire, cls)


def _paged(method: str, params: dict[str, Any], *, backward: bool,
           columns: list[tuple[str, str]]) -> Call[Any]:
    return Call(method, params, _same,
                lambda: Pager(params, backward=backward, columns=columns))


def _version(result: Any) -> tuple[int, int, str]:
    terminal_version, build, build_date = result
    return int(terminal_version), int(build), str(build_date)


# -- session ---------------------------------------------------------------------------------

def version() -> Call[tuple[int, int, str]]:
    return Call("version", {}, _version)


def terminal_info() -> Call[r.TerminalInfo]:
    return Call("terminal_info", {}, _one(r.TerminalInfo))


def account_info() -> Call[r.AccountInfo]:
    return Call("account_info", {}, _one(r.AccountInfo))


def ping() -> Call[dict[str, Any]]:
    return Call("ping", {}, _same)


def server_time() -> Call[r.ServerTime]:
    return Call("server_time", {}, _one(r.ServerTime))


def gateway_status() -> Call[dict[str, Any]]:
    return Call("gateway_status", {}, _same)


# -- market ----------------------------------------------------------------------------------

def symbols_total() -> Call[int]:
    return Call("symbols_total", {}, int)


def symbols_get(group: str | None = None) -> Call[tuple[r.SymbolInfo, ...]]:
    return Call("symbols_get", named(group=group), _many(r.SymbolInfo))


def symbol_info(symbol: str) -> Call[r.SymbolInfo]:
    return Call("symbol_info", named(symbol=symbol), _one(r.SymbolInfo))


def symbol_info_tick(symbol: str) -> Call[r.Tick]:
    return Call("symbol_info_tick", named(symbol=symbol), _one(r.Tick))


def symbol_select(symbol: str, enable: bool = True) -> Call[bool]:
    return Call("symbol_select", named(symbol=symbol, enable=enable), bool)


def market_book_add(symbol: str) -> Call[bool]:
    return Call("market_book_add", named(symbol=symbol), bool)


def market_book_get(symbol: str) -> Call[tuple[r.BookInfo, ...]]:
    return Call("market_book_get", named(symbol=symbol), _many(r.BookInfo))


def market_book_release(symbol: str) -> Call[bool]:
    return Call("market_book_release", named(symbol=symbol), bool)


def copy_rates_from(symbol: str, timeframe: int, date_from: Any, count: int) -> Call[Any]:
    return _paged("copy_rates_from", named(symbol=symbol, timeframe=timeframe,
                                           date_from=date_from, count=count),
                  backward=True, columns=RATES_DTYPE)


def copy_rates_from_pos(symbol: str, timeframe: int, start_pos: int, count: int) -> Call[Any]:
    return _paged("copy_rates_from_pos", named(symbol=symbol, timeframe=timeframe,
                                               start_pos=start_pos, count=count),
                  backward=True, columns=RATES_DTYPE)


def copy_rates_range(symbol: str, timeframe: int, date_from: Any, date_to: Any) -> Call[Any]:
    return _paged("copy_rates_range", named(symbol=symbol, timeframe=timeframe,
                                            date_from=date_from, date_to=date_to),
                  backward=False, columns=RATES_DTYPE)


def copy_ticks_from(symbol: str, date_from: Any, count: int, flags: int) -> Call[Any]:
    return _paged("copy_ticks_from", named(symbol=symbol, date_from=date_from, count=count,
                                           flags=flags),
                  backward=False, columns=TICKS_DTYPE)


def copy_ticks_range(symbol: str, date_from: Any, date_to: Any, flags: int) -> Call[Any]:
    return _paged("copy_ticks_range", named(symbol=symbol, date_from=date_from,
                                            date_to=date_to, flags=flags),
                  backward=False, columns=TICKS_DTYPE)


# -- trading ---------------------------------------------------------------------------------

def orders_total() -> Call[int]:
    return Call("orders_total", {}, int)


def _by_symbol_first(symbol: str | None, ticket: int | None) -> int | None:
    """The ticket to send beside ``symbol``: none when a symbol is given. The package documents
    for ``orders_get`` and ``positions_get``: "If a symbol is specified, the ticket parameter
    is ignored." (The daemon's own API takes one selector; other pairs, which the package
    documents nothing for, are refused there: ``None`` and ``RES_E_INVALID_PARAMS``.)"""
    return None if symbol is not None else ticket


def orders_get(symbol: str | None = None, group: str | None = None,
               ticket: int | None = None, *, book: str | None = None,
               ) -> Call[tuple[r.TradeOrder, ...]]:
    """The package's ``orders_get``; ``book="live"`` (ours, keyword only) reads the broker's
    book whatever the token trades on (a paper account's live positions and orders stay
    there, and the token's reads answer its paper book)."""
    return Call("orders_get", named(symbol=symbol, group=group,
                                    ticket=_by_symbol_first(symbol, ticket), book=book),
                _many(r.TradeOrder))


def positions_total() -> Call[int]:
    return Call("positions_total", {}, int)


def positions_get(symbol: str | None = None, group: str | None = None,
                  ticket: int | None = None, *, book: str | None = None,
                  ) -> Call[tuple[r.TradePosition, ...]]:
    """The package's ``positions_get``; ``book="live"`` (ours, keyword only) reads the broker's
    book whatever the token trades on (a paper account's live positions and orders stay
    there, and the token's reads answer its paper book)."""
    return Call("positions_get", named(symbol=symbol, group=group,
                                       ticket=_by_symbol_first(symbol, ticket), book=book),
                _many(r.TradePosition))


def history_orders_total(date_from: Any, date_to: Any) -> Call[int]:
    return Call("history_orders_total", named(date_from=date_from, date_to=date_to), int)


def history_orders_get(date_from: Any = None, date_to: Any = None, group: str | None = None,
                       ticket: int | None = None, position: int | None = None,
                       ) -> Call[tuple[r.TradeOrder, ...]]:
    return Call("history_orders_get", named(date_from=date_from, date_to=date_to, group=group,
                                            ticket=ticket, position=position),
                _many(r.TradeOrder))


def history_deals_total(date_from: Any, date_to: Any) -> Call[int]:
    return Call("history_deals_total", named(date_from=date_from, date_to=date_to), int)


def history_deals_get(date_from: Any = None, date_to: Any = None, group: str | None = None,
                      ticket: int | None = None, position: int | None = None,
                      ) -> Call[tuple[r.TradeDeal, ...]]:
    return Call("history_deals_get", named(date_from=date_from, date_to=date_to, group=group,
                                           ticket=ticket, position=position),
                _many(r.TradeDeal))


def order_calc_margin(action: int, symbol: str, volume: float, price: float) -> Call[float]:
    return Call("order_calc_margin", named(action=action, symbol=symbol, volume=volume,
                                           price=price), float)


def order_calc_profit(action: int, symbol: str, volume: float, price_open: float,
                      price_close: float) -> Call[float]:
    return Call("order_calc_profit", named(action=action, symbol=symbol, volume=volume,
                                           price_open=price_open, price_close=price_close),
                float)


#: The keys a request dict may carry: the package's ``TradeRequest`` fields, and our
#: ``client_id`` (idempotency, ``docs/client.md``).
_REQUEST_KEYS = frozenset(r.TradeRequest.__match_args__) | {"client_id"}
#: Unknown request keys already warned about (once each per process, as a typo needs).
_warned: set[str] = set()


def _request(request: Mapping[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The request as a plain dict (a ``TradeRequest`` is accepted too), times as epoch
    seconds, numpy scalars as Python numbers.

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
                              stacklevel=4)
            continue
        out[key] = to_wire_time(value)
    return out


def order_check(request: Mapping[str, Any]) -> Call[r.OrderCheckResult]:
    """A ``client_id`` on the request is left out: it names a send, and the same dict is
    usually checked and then sent."""
    body = _request(request)
    if isinstance(body, dict):
        body.pop("client_id", None)
    return Call("order_check", {"request": body}, _one(r.OrderCheckResult))


def order_send(request: Mapping[str, Any], client_id: str) -> Call[r.OrderSendResult]:
    """``client_id`` is used when the request has none: with it on the request, resending the
    same call after a dropped connection can never open a second position."""
    body = _request(request)
    if isinstance(body, dict) and body.get("client_id") is None:
        body["client_id"] = client_id
    return Call("order_send", {"request": body}, _one(r.OrderSendResult))


def order_status(client_id: str) -> Call[r.OrderStatus]:
    return Call("order_status", named(client_id=client_id), _one(r.OrderStatus))
