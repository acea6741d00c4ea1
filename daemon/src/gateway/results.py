"""What each JSON-RPC method answers, as pydantic models: for the OpenRPC document.

The methods forward the terminal's answers as they come (the EA's field names are MT5's, see
``docs/protocol.md``), so these models are a description, not a filter on the hot path;
``daemon/tests/e2e/test_openrpc.py`` checks real answers of the daemon and the emulated terminal
against them (unknown and missing fields both fail), so the description cannot drift from
what is served.

The MT5 records are declared once, in the client (``mtgateway.records``: the ``MetaTrader5``
package's fields in its order, then MT Gateway's additions, with their types): each model here
is built from its record by ``@_mirrors``, so what the daemon documents and what the client
reads cannot disagree by a field. The ``/ws`` notifications likewise: each is declared once,
as the client's stream record (``mtgateway.stream``: a tick, a book, the terminal's state, a
trade event, a bar and its candles), and its model here is built from that by ``@_notifies``;
``daemon/tests/e2e/test_openrpc.py`` holds real notifications to them. The daemon depends on the
client; the client imports nothing of the daemon. The models of the daemon's own answers
(``ping``, ``gateway_status``, pages) are declared here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

from mtgateway import records, stream

__all__ = [
    "AccountInfo",
    "BookInfo",
    "Candle",
    "CandleSnapshot",
    "ClosedPositions",
    "DaemonStatus",
    "GatewayStatus",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "Page",
    "Ping",
    "Rate",
    "ServerTime",
    "StreamBook",
    "StreamTick",
    "SymbolInfo",
    "TerminalInfo",
    "TerminalLink",
    "TerminalStatus",
    "TradingState",
    "Tick",
    "TradeDeal",
    "TradeEvent",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
]


class Result(BaseModel):
    """Base of the result models: closed, so a field the emulator adds or drops is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=Result)

#: The model built for each client record (a struct sequence of ``mtgateway.records`` or a
#: stream record of ``mtgateway.stream``: each names its fields, in order, in ``__match_args__``,
#: as struct sequences and named tuples do), so
#: a record inside another (``OrderSendResult.request``, a notification's bars) is described
#: by its own model.
_MODELS: dict[type[Any], type[Result]] = {}


def _described(annotation: Any) -> Any:
    """The model-side type of a client record's field: a record inside it by its model, a
    tuple of them (or any sequence) as a JSON array, an optional one as optional."""
    if annotation in _MODELS:
        return _MODELS[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Sequence or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return list[_described(args[0])]  # type: ignore[misc]
    if origin in (types.UnionType, typing.Union):
        described = [_described(arg) for arg in args]
        union = described[0]
        for arg in described[1:]:
            union = union | arg
        return union
    return annotation


def _built(model: type[M], record: type[Any], fields: dict[str, Any]) -> type[M]:
    built: type[M] = create_model(model.__name__, __base__=model, __doc__=model.__doc__,
                                  __module__=model.__module__, **fields)
    _MODELS[record] = built
    return built


def _mirrors(record: type[Any]) -> Callable[[type[M]], type[M]]:
    """Give the decorated model the record's fields: the tuple's, then the additions (a
    client record's ``_extras``), each required (the daemon always sends them; the client's
    defaults are for older daemons) but ``paper``, which only an answer of the daemon's
    paper book carries (true; a live answer never does: docs/api.md, "Paper trading")."""
    hints = typing.get_type_hints(record)
    names = (*record.__match_args__, *getattr(record, "_extras", ()))

    def build(model: type[M]) -> type[M]:
        return _built(model, record, {
            name: (_described(hints[name]), False if name == "paper" else ...)
            for name in names})
    return build


def _notifies(record: type[Any], *, flat: str | None = None,
              optional: Mapping[str, Any] | None = None,
              wire: Mapping[str, tuple[Any, Any]] | None = None
              ) -> Callable[[type[M]], type[M]]:
    """Give the decorated model the params of the notification the client reads into
    ``record``: ``subscription`` (every notification names its own), then the record's
    fields in its order -- the fields of ``flat``, a record inside it, in its place (a
    ``candle`` carries its bar's fields beside its own), the ones in ``optional`` only when
    the daemon has something to say (with the client's default) -- then ``wire``'s, which
    the daemon sends and the client reads into something else (a trade event's ``missed``
    becomes a gap)."""
    hints = typing.get_type_hints(record)
    optional = optional or {}

    def build(model: type[M]) -> type[M]:
        fields: dict[str, Any] = {"subscription": (str, ...)}
        for name in record.__match_args__:
            if name == flat:
                inner = hints[name]
                inner_hints = typing.get_type_hints(inner)
                fields.update({part: (_described(inner_hints[part]), ...)
                               for part in inner.__match_args__})
            elif name in optional:
                fields[name] = (_described(hints[name]), optional[name])
            else:
                fields[name] = (_described(hints[name]), ...)
        fields.update(wire or {})
        return _built(model, record, fields)
    return build


@_mirrors(records.AccountInfo)
class AccountInfo(Result):
    """MT5 AccountInfo: ``account_info()`` (``paper``: true from the daemon's paper book)."""


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
    """MT5 TradePosition: each of ``positions_get()`` (``paper``: true from the paper book)."""


@_mirrors(records.TradeOrder)
class TradeOrder(Result):
    """MT5 TradeOrder: each of ``orders_get()`` / ``history_orders_get()`` (``paper``: true
    from the paper book)."""


@_mirrors(records.TradeDeal)
class TradeDeal(Result):
    """MT5 TradeDeal: each of ``history_deals_get()`` (``paper``: true from the paper book)."""


@_mirrors(records.TradeRequest)
class TradeRequest(Result):
    """MT5 TradeRequest as the terminal evaluated it (in OrderCheckResult/OrderSendResult)."""


@_mirrors(records.OrderCheckResult)
class OrderCheckResult(Result):
    """MT5 OrderCheckResult plus ``retcode_name`` (and ``paper``: true when the paper book
    checked it)."""


@_mirrors(records.OrderSendResult)
class OrderSendResult(Result):
    """MT5 OrderSendResult plus ``retcode_name``, ``client_id`` and ``deduplicated`` (and
    ``paper``: true when the paper book carried it out)."""


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
    now, and if not, the reason words (``scope``, ``auth_stale``, ``terminal_offline``, ...);
    ``paper``: whether this token's orders and account reads go to the daemon's paper book
    instead of the broker."""

    allowed: bool
    refused_because: list[str]
    paper: bool


class GatewayStatus(Result):
    """``gateway_status()``: answered by the daemon itself, even with no EA connected."""

    daemon: DaemonStatus
    terminal: TerminalLink
    trading: TradingState


class Page(Result):
    """``copy_rates_*`` / ``copy_ticks_*``: one page of rows under MT5's column names;
    ``next_cursor`` is null exactly when nothing more exists; ``on_disk_from_msc`` (ticks
    only, when present): the terminal's tick database starts there, later than the page asked,
    so no earlier tick is on its computer (``docs/api.md`` "Paging")."""

    columns: list[str]
    rows: list[list[int | float]]
    next_cursor: str | None
    on_disk_from_msc: int | None = None


@_mirrors(records.OrderStatus)
class OrderStatus(Result):
    """``order_status(client_id)``: the daemon's journal row for one order."""


# -- the /ws notifications (``mtgateway.stream``'s records) ------------------------------------


@_mirrors(stream.Rate)
class Rate(Result):
    """One bar, MT5's MqlRates (the broker server's time)."""


@_notifies(stream.StreamTick, optional={"conflated": 0})
class StreamTick(Result):
    """``tick``: one tick of a subscribed symbol, MT5's Tick fields (``time`` derived from
    ``time_msc``); ``conflated`` (only for a slow client) counts the ticks of that symbol it
    replaced."""


@_notifies(stream.StreamBook)
class StreamBook(Result):
    """``book``: a symbol's whole depth of market after a change (latest wins for a slow
    client), as ``market_book_get`` answers it."""


@_notifies(stream.TerminalStatus)
class TerminalStatus(Result):
    """``terminal_status``: the EA's link (``connected``, ``reason``), the broker's link and
    whether Algo Trading is allowed (null until the EA says); ``reason`` ``trading_terms``:
    the token's trading terms changed (paper on or off, its limits), which
    ``gateway_status().trading`` reads."""


@_notifies(stream.TradeEvent, optional={"order": None, "position": None, "deal": None,
                                        "account": None, "paper": False},
           wire={"missed": (int, 0), "book": (Literal["live", "paper"], ...)})
class TradeEvent(Result):
    """``trade_event``: what changed on the account (``type``), when, and the one record it
    carries; ``missed`` (only when nonzero) counts events the EA lost before it; ``book``
    says whose identifiers the record's are, ``"live"`` (the broker's) or ``"paper"`` (the
    daemon's paper book's), on every event; ``paper`` (only on the paper book's, true) says
    the same in the form earlier releases sent."""


@_notifies(stream.CandleSnapshot)
class CandleSnapshot(Result):
    """``candle_snapshot``, a candles subscription's first notification (``seq`` 1): its last
    closed bars, oldest first."""


@_notifies(stream.Candle, flat="bar")
class Candle(Result):
    """``candle``: the forming bar (``closed`` false; latest wins for a slow client) or a
    closed one (``closed`` true: never dropped; ``confirmed`` true when its values are the
    terminal's own ``copy_rates_range`` bar, false when the terminal could not be asked and
    they are the daemon's count from the streamed ticks)."""


class ClosedPositions(Result):
    """``close_positions_by_symbol``: one ``order_send`` result per position closed."""

    results: list[OrderSendResult]
