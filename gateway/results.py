"""What each JSON-RPC method answers, as pydantic models: for the OpenRPC document.

The methods forward the terminal's answers as they come (the EA's field names are MT5's, see
``docs/protocol.md``), so these models are a description, not a filter on the hot path;
``tests/e2e/test_openrpc.py`` checks real answers of the daemon and the emulated terminal
against them (unknown and missing fields both fail), so the description cannot drift from
what is served.

The MT5 records are declared once, in the client (``mtgateway.records``: the ``MetaTrader5``
package's fields in its order, then MT Gateway's additions, with their types): each model here
is built from its record by ``@_mirrors``, so what the daemon documents and what the client
reads cannot disagree by a field. The daemon depends on the client; the client imports nothing
of the daemon. The models of the daemon's own answers (``ping``, ``gateway_status``, pages)
are declared here.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

from mtgateway import records

__all__ = [
    "AccountInfo",
    "BookInfo",
    "ClosedPositions",
    "DaemonStatus",
    "GatewayStatus",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "Page",
    "Ping",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "TerminalLink",
    "TradingState",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
]


class Result(BaseModel):
    """Base of the result models: closed, so a field the emulator adds or drops is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=Result)

#: The model built for each record, so a record inside another (``OrderSendResult.request``)
#: is described by its own model.
_MODELS: dict[type[records.Record], type[Result]] = {}


def _mirrors(record: type[records.Record]) -> Callable[[type[M]], type[M]]:
    """Give the decorated model the record's fields: the tuple's, then the additions, each
    required (the daemon always sends them; the client's defaults are for older daemons)."""
    hints = typing.get_type_hints(record)

    def described(annotation: Any) -> Any:
        if isinstance(annotation, type) and issubclass(annotation, records.Record):
            return _MODELS[annotation]
        if typing.get_origin(annotation) is Sequence:  # a tuple on the client, a JSON array
            return list[typing.get_args(annotation)[0]]  # type: ignore[misc]
        return annotation

    def build(model: type[M]) -> type[M]:
        fields: dict[str, Any] = {name: (described(hints[name]), ...)
                                  for name in (*record._fields, *record._extras)}
        built: type[M] = create_model(model.__name__, __base__=model, __doc__=model.__doc__,
                                      __module__=model.__module__, **fields)
        _MODELS[record] = built
        return built
    return build


@_mirrors(records.AccountInfo)
class AccountInfo(Result):
    """MT5 AccountInfo: ``account_info()``."""


@_mirrors(records.TerminalInfo)
class TerminalInfo(Result):
    """MT5 TerminalInfo: ``terminal_info()``."""


@_mirrors(records.SymbolInfo)
class SymbolInfo(Result):
    """MT5 SymbolInfo: ``symbol_info(symbol)``, each of ``symbols_get()``."""


@_mirrors(records.Tick)
class Tick(Result):
    """MT5 Tick: ``symbol_info_tick(symbol)``."""


@_mirrors(records.BookInfo)
class BookInfo(Result):
    """MT5 BookInfo: one level of ``market_book_get(symbol)`` (``type`` is BOOK_TYPE_*)."""


@_mirrors(records.TradePosition)
class TradePosition(Result):
    """MT5 TradePosition: each of ``positions_get()``."""


@_mirrors(records.TradeOrder)
class TradeOrder(Result):
    """MT5 TradeOrder: each of ``orders_get()`` / ``history_orders_get()``."""


@_mirrors(records.TradeDeal)
class TradeDeal(Result):
    """MT5 TradeDeal: each of ``history_deals_get()``."""


@_mirrors(records.TradeRequest)
class TradeRequest(Result):
    """MT5 TradeRequest as the terminal evaluated it (in OrderCheckResult/OrderSendResult)."""


@_mirrors(records.OrderCheckResult)
class OrderCheckResult(Result):
    """MT5 OrderCheckResult plus ``retcode_name``."""


@_mirrors(records.OrderSendResult)
class OrderSendResult(Result):
    """MT5 OrderSendResult plus ``retcode_name``, ``client_id`` and ``deduplicated``."""


class Ping(Result):
    """``ping()``: a round trip to the EA, timed by the daemon."""

    pong: bool
    ea_rtt_ms: float


@_mirrors(records.ServerTime)
class ServerTime(Result):
    """``server_time()``: the trade server's clock and its offset from UTC."""


class DaemonStatus(Result):
    """``gateway_status().daemon``."""

    version: str
    uptime_s: float


class TerminalLink(Result):
    """``gateway_status().terminal``: the caller's terminal as the daemon sees it."""

    login: int
    server: str
    connected: bool
    session_id: str | None
    connected_at: float | None
    platform: str | None
    build: int | None
    ea_version: str | None
    last_disconnect_reason: str | None
    ticks_received: int
    events_received: int
    events_missed: int


class TradingState(Result):
    """``gateway_status().trading``: whether a new opening order would go to the terminal
    now, and if not, the reason words (``scope``, ``auth_stale``, ``terminal_offline``, ...)."""

    allowed: bool
    refused_because: list[str]


class GatewayStatus(Result):
    """``gateway_status()``: answered by the daemon itself, even with no EA connected."""

    daemon: DaemonStatus
    terminal: TerminalLink
    trading: TradingState


class Page(Result):
    """``copy_rates_*`` / ``copy_ticks_*``: one page of rows under MT5's column names;
    ``next_cursor`` is null exactly when nothing more exists (``docs/api.md`` "Paging")."""

    columns: list[str]
    rows: list[list[int | float]]
    next_cursor: str | None


@_mirrors(records.OrderStatus)
class OrderStatus(Result):
    """``order_status(client_id)``: the daemon's journal row for one order."""


class ClosedPositions(Result):
    """``close_positions_by_symbol``: one ``order_send`` result per position closed."""

    results: list[OrderSendResult]
