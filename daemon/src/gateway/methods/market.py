"""Market methods: symbols, quotes, and paged rates and ticks, as the MetaTrader5 package has them.

Every call is validated here, strictly (``gateway/schemas.py``), before anything is sent to the
terminal: a wrong type, NaN, a string for a number, an unknown field or a bound exceeded is
``-32602`` naming the field, and the EA never sees the call.

Why ``copy_*`` differ from MT5: MT5 returns one numpy array of any size; over JSON-RPC that
would be one unbounded response. They take two extra, optional params, ``limit`` (rows per
page, default :data:`~gateway.paging.DEFAULT_LIMIT`, at most :data:`~gateway.paging.MAX_LIMIT`)
and ``cursor`` (the previous page's ``next_cursor``), and answer
``{"columns", "rows", "next_cursor"}``; ``next_cursor`` is null exactly when nothing more
exists. With a cursor the MT5 params may be omitted; any that are given must equal the ones the
cursor was made from. ``limit`` may change from page to page.

* ``copy_ticks_from`` / ``copy_ticks_range`` / ``copy_rates_range`` page forwards: append pages.
* ``copy_rates_from`` / ``copy_rates_from_pos`` count back from a point, so their pages walk
  backwards: the first page holds the newest bars, each next one the bars just before it (each
  page oldest first). Prepend pages. Later pages of ``copy_rates_from_pos`` resume from a time,
  not a bar index, so a bar opening meanwhile neither repeats nor drops a row.

Tick pages ask the EA for ``copy_ticks_from(..., count=limit + 1 + k)`` (k = ticks at the
resume millisecond already returned), so a page moves about ``limit`` rows even for a long
range; see ``gateway/paging.py`` for the cursor and the arithmetic. A page is filled from as
many EA calls as the EA's own row cap needs (:func:`_fill`), so a page shorter than ``limit``
always means the end: without ``limit``, a request of up to 100 000 rows -- MT5's own size --
comes back whole in one answer, and a ported bot that never looks at ``next_cursor`` still
gets every row it asked for.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from mt5model.mt5 import CopyTicks, Timeframe, timeframe_seconds

from .. import results as r
from ..context import RpcContext
from ..errors import InvalidParams
from ..paging import (
    DEFAULT_LIMIT,
    BackPosition,
    Cursor,
    Limit,
    RangePosition,
    TickPosition,
    back_page,
    decode_cursor,
    encode_cursor,
    page,
    range_page,
    range_windows,
    read_table,
    seconds_to_ms,
    tick_page,
    tick_request_count,
)
from ..rpc import RpcMethod, rpc_method
from ..schemas import EpochSeconds, Params, Symbol, enum_param, reusable

if TYPE_CHECKING:
    TimeframeParam = int
    TickFlagsParam = int
else:
    TimeframeParam = enum_param(Timeframe)
    TickFlagsParam = enum_param(CopyTicks)

__all__ = [
    "MAX_COUNT",
    "MAX_GROUP_LENGTH",
    "METHODS",
    "Count",
    "Group",
    "GroupParams",
    "RatesFromParams",
    "RatesFromPosParams",
    "RatesRangeParams",
    "SymbolParams",
    "SymbolSelectParams",
    "TicksFromParams",
    "TicksRangeParams",
    "check_date_order",
]

#: Largest ``count`` of a copy_* call (pages make any count safe; this only stops nonsense).
MAX_COUNT: Final = 10_000_000
MAX_GROUP_LENGTH: Final = 256
_MONTH_S: Final = 31 * 86_400
_RATE_COLUMNS: Final = ("time", "open", "high", "low", "close", "tick_volume", "spread",
                        "real_volume")

Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
#: An MT5 group filter such as ``"*USD*,!EUR*"``.
Group = Annotated[str, Field(min_length=1, max_length=MAX_GROUP_LENGTH)]

Q = TypeVar("Q", bound=Params)
_PAGING_FIELDS: Final = ("limit", "cursor")


def check_date_order(value: Any, info: ValidationInfo) -> Any:
    """Field validator body: ``date_to`` must not be before ``date_from``."""
    date_from = info.data.get("date_from")
    if value is not None and date_from is not None and value < date_from:
        raise ValueError("must not be before date_from")
    return value


@reusable
class SymbolParams(Params):
    """``symbol_info(symbol)``, ``symbol_info_tick(symbol)``."""

    symbol: Symbol


class GroupParams(Params):
    """``symbols_get(group=None)``."""

    group: Group | None = None


class SymbolSelectParams(Params):
    """``symbol_select(symbol, enable=True)``."""

    symbol: Symbol
    enable: bool = True


class RatesFromParams(Params):
    """``copy_rates_from(symbol, timeframe, date_from, count)`` plus ``limit``, ``cursor``."""

    symbol: Symbol | None = None
    timeframe: TimeframeParam | None = None
    date_from: EpochSeconds | None = None
    count: Count | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class RatesFromPosParams(Params):
    """``copy_rates_from_pos(symbol, timeframe, start_pos, count)`` plus ``limit``, ``cursor``."""

    symbol: Symbol | None = None
    timeframe: TimeframeParam | None = None
    start_pos: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    count: Count | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class RatesRangeParams(Params):
    """``copy_rates_range(symbol, timeframe, date_from, date_to)`` plus ``limit``, ``cursor``."""

    symbol: Symbol | None = None
    timeframe: TimeframeParam | None = None
    date_from: EpochSeconds | None = None
    date_to: EpochSeconds | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None

    _order = field_validator("date_to")(check_date_order)


class TicksFromParams(Params):
    """``copy_ticks_from(symbol, date_from, count, flags)`` plus ``limit``, ``cursor``."""

    symbol: Symbol | None = None
    date_from: EpochSeconds | None = None
    count: Count | None = None
    flags: TickFlagsParam | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


class TicksRangeParams(Params):
    """``copy_ticks_range(symbol, date_from, date_to, flags)`` plus ``limit``, ``cursor``."""

    symbol: Symbol | None = None
    date_from: EpochSeconds | None = None
    date_to: EpochSeconds | None = None
    flags: TickFlagsParam | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None

    _order = field_validator("date_to")(check_date_order)


def _query_fields(model: type[Params]) -> list[str]:
    return [name for name in model.model_fields if name not in _PAGING_FIELDS]


def _resolve(ctx: RpcContext, method: str, params: Q, position_model: type[Any]
             ) -> tuple[Q, Any]:
    """The query to run (from the params, or from the cursor) and the cursor's position.

    Raises:
        InvalidParams: a required param missing without a cursor; an invalid cursor; a param
            given next to a cursor that differs from the cursor's query.
    """
    fields = _query_fields(type(params))
    cursor = getattr(params, "cursor", None)
    if cursor is None:
        missing = [name for name in fields if getattr(params, name) is None]
        if missing:
            raise InvalidParams("; ".join(f"{name}: Field required (or pass a cursor)"
                                          for name in missing))
        return params, None
    stored, position = decode_cursor(cursor, method, ctx.principal.token_id, position_model)
    try:
        original = type(params).model_validate(stored)
    except ValidationError:
        raise InvalidParams("cursor: invalid") from None
    if set(stored) != set(fields) or any(getattr(original, name) is None for name in fields):
        raise InvalidParams("cursor: invalid")
    for name in fields:
        given = getattr(params, name)
        if given is not None and given != getattr(original, name):
            raise InvalidParams(f"cursor: made for another {name}; omit {name} or pass the "
                                "original value")
    return original, position


def _query_dump(query: Params) -> dict[str, Any]:
    return query.model_dump(include=set(_query_fields(type(query))))


def _ms_to_seconds(msc: int) -> int | float:
    return msc // 1000 if msc % 1000 == 0 else msc / 1000


def _next(ctx: RpcContext, method: str, query: Params, position: Params | None) -> str | None:
    if position is None:
        return None
    return encode_cursor(method, _query_dump(query), position, ctx.principal.token_id)


# -- symbols --------------------------------------------------------------------------------


def symbols_total(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``symbols_total()``: how many symbols the terminal offers."""
    return ctx.read("symbols_total", {})


def symbols_get(ctx: RpcContext, params: GroupParams) -> Awaitable[Any]:
    """MT5 ``symbols_get(group=None)``: SymbolInfo of each symbol passing the group filter."""
    return ctx.read("symbols_get", params.model_dump(exclude_none=True))


def symbol_info(ctx: RpcContext, params: SymbolParams) -> Awaitable[Any]:
    """MT5 ``symbol_info(symbol)``: every SymbolInfo field."""
    return ctx.read("symbol_info", {"symbol": params.symbol})


def symbol_info_tick(ctx: RpcContext, params: SymbolParams) -> Awaitable[Any]:
    """MT5 ``symbol_info_tick(symbol)``: the last tick of ``symbol``."""
    return ctx.read("symbol_info_tick", {"symbol": params.symbol})


def symbol_select(ctx: RpcContext, params: SymbolSelectParams) -> Awaitable[Any]:
    """MT5 ``symbol_select(symbol, enable=True)``: show or hide it in Market Watch."""
    return ctx.read("symbol_select", params.model_dump())


def market_book_add(ctx: RpcContext, params: SymbolParams) -> Awaitable[Any]:
    """MT5 ``market_book_add(symbol)``: subscribe to the symbol's depth of market."""
    return ctx.read("market_book_add", {"symbol": params.symbol})


def market_book_get(ctx: RpcContext, params: SymbolParams) -> Awaitable[Any]:
    """MT5 ``market_book_get(symbol)``: the book's levels (BookInfo), sells first; the symbol
    must have been added."""
    return ctx.read("market_book_get", {"symbol": params.symbol})


def market_book_release(ctx: RpcContext, params: SymbolParams) -> Awaitable[Any]:
    """MT5 ``market_book_release(symbol)``: drop the subscription (false if there was none)."""
    return ctx.read("market_book_release", {"symbol": params.symbol})


# -- rates ----------------------------------------------------------------------------------


#: One EA call of a paged query: (columns, rows, the position after them or None).
_Step = tuple[list[str], list[list[Any]], Any]


async def _fill(fetch: Callable[[Any, int], Awaitable[_Step]], position: Any, limit: int,
                *, backwards: bool = False) -> _Step:
    """Up to ``limit`` rows from as many EA calls as the EA's own row cap needs.

    Why: an EA answer may be cut short at its cap (``truncated``); passing that on as a short
    page would hand a caller fewer rows than it asked for. So the page is filled until it holds
    ``limit`` rows or nothing more exists; a short page therefore always means the end.
    """
    columns: list[str] = []
    rows: list[list[Any]] = []
    while True:
        columns, got, position = await fetch(position, limit - len(rows))
        rows = got + rows if backwards else rows + got
        if position is None or len(rows) >= limit or not got:
            return columns, rows, position


async def _rates_back(ctx: RpcContext, method: str, query: RatesFromParams | RatesFromPosParams,
                      position: BackPosition | None, limit: int) -> dict[str, Any]:
    assert query.count is not None

    async def fetch(at: BackPosition | None, want: int) -> _Step:
        remaining = at.remaining if at is not None else query.count
        assert remaining is not None
        take = min(want, remaining)
        base = {"symbol": query.symbol, "timeframe": query.timeframe, "count": take + 1}
        if at is not None:
            answer = await ctx.read("copy_rates_from", {**base, "date_from": at.top})
        elif isinstance(query, RatesFromPosParams):
            answer = await ctx.read("copy_rates_from_pos",
                                   {**base, "start_pos": query.start_pos})
        else:
            answer = await ctx.read("copy_rates_from", {**base, "date_from": query.date_from})
        table = read_table(answer)
        rows, following = back_page(table, take, remaining)
        return table.columns, rows, following

    columns, rows, following = await _fill(fetch, position, limit, backwards=True)
    return page(columns, rows, _next(ctx, method, query, following))


async def copy_rates_from(ctx: RpcContext, params: RatesFromParams) -> dict[str, Any]:
    """MT5 ``copy_rates_from(symbol, timeframe, date_from, count)``: the ``count`` bars opened
    at or before ``date_from``, paged backwards (see the module docstring)."""
    query, position = _resolve(ctx, "copy_rates_from", params, BackPosition)
    return await _rates_back(ctx, "copy_rates_from", query, position, params.limit)


async def copy_rates_from_pos(ctx: RpcContext, params: RatesFromPosParams) -> dict[str, Any]:
    """MT5 ``copy_rates_from_pos(symbol, timeframe, start_pos, count)``: ``count`` bars back
    from bar ``start_pos`` (0 = the forming bar), paged backwards."""
    query, position = _resolve(ctx, "copy_rates_from_pos", params, BackPosition)
    return await _rates_back(ctx, "copy_rates_from_pos", query, position, params.limit)


async def copy_rates_range(ctx: RpcContext, params: RatesRangeParams) -> dict[str, Any]:
    """MT5 ``copy_rates_range(symbol, timeframe, date_from, date_to)``: bars opened in the
    inclusive range, oldest first, paged forwards."""
    query, position = _resolve(ctx, "copy_rates_range", params, RangePosition)
    assert query.timeframe is not None and query.date_from is not None
    assert query.date_to is not None
    bar_s = timeframe_seconds(Timeframe(query.timeframe)) or _MONTH_S
    date_to = math.floor(query.date_to)

    async def fetch(at: RangePosition | None, want: int) -> _Step:
        assert query.date_from is not None
        from_s = at.from_s if at is not None else math.ceil(query.date_from)
        columns, rows, truncated = list(_RATE_COLUMNS), [], False
        for low, high in range_windows(from_s, date_to, bar_s, want):
            table = read_table(await ctx.read("copy_rates_range", {
                "symbol": query.symbol, "timeframe": query.timeframe,
                "date_from": low, "date_to": high}))
            columns = table.columns
            rows.extend(table.rows)
            if table.truncated:
                truncated = True
                break
            if len(rows) > want:
                break
        taken, following = range_page(columns, rows, want, truncated)
        return columns, taken, following

    columns, rows, following = await _fill(fetch, position, params.limit)
    return page(columns, rows, _next(ctx, "copy_rates_range", query, following))


# -- ticks ----------------------------------------------------------------------------------


#: The ticks the first EA read of a ``copy_ticks_range`` page asks for; each further read of
#: the same page asks for twice as many. Why: the EA is asked by count (``copy_ticks_from``,
#: which pages exactly through ticks sharing a millisecond), and a range's end is not a count:
#: asking for the whole page (100,000 by default) made the EA copy and send up to 100,000 ticks
#: for a range of one minute -- on the emulator 0.7 s with the terminal's other answers held
#: meanwhile (a quote waited 529 ms). Doubling reads a dense range's full page in 7 reads
#: (1,000 + ... + 64,000), and sends at most 1,001 ticks or twice what the range holds.
RANGE_PROBE_TICKS: Final = 1_000


async def _ticks(ctx: RpcContext, method: str, query: TicksFromParams | TicksRangeParams,
                 position: TickPosition, limit: int, until_msc: int | None) -> dict[str, Any]:
    """A tick page. Why ``on_disk_from_msc``: an EA copies ticks from the first one on its
    terminal's disk, never from before it (a copy reaching before it could make the terminal
    wait up to 45 s), and says where when that is later than asked; a page passes it on, so a
    bot can tell "no older ticks here" (the broker keeps none, or they are still loading) from
    "none happened"."""
    floor: list[int] = []
    probe = [RANGE_PROBE_TICKS]

    async def fetch(at: TickPosition, want: int) -> _Step:
        ask = want
        if until_msc is not None:  # a range: its end, not the page's size, may come first
            ask, probe[0] = min(want, probe[0]), probe[0] * 2
        answer = await ctx.read("copy_ticks_from", {
            "symbol": query.symbol, "date_from": _ms_to_seconds(at.from_msc),
            "count": tick_request_count(at, ask), "flags": query.flags})
        table = read_table(answer)
        if table.from_msc is not None and table.from_msc > at.from_msc and not floor:
            floor.append(table.from_msc)
        rows, following = tick_page(table, at, ask, until_msc)
        return table.columns, rows, following

    columns, rows, following = await _fill(fetch, position, limit)
    return page(columns, rows, _next(ctx, method, query, following),
                floor[0] if floor else None)


async def copy_ticks_from(ctx: RpcContext, params: TicksFromParams) -> dict[str, Any]:
    """MT5 ``copy_ticks_from(symbol, date_from, count, flags)``: the first ``count`` ticks at
    or after ``date_from``, oldest first, paged forwards."""
    query, position = _resolve(ctx, "copy_ticks_from", params, TickPosition)
    assert query.date_from is not None
    if position is None:
        position = TickPosition(from_msc=seconds_to_ms(query.date_from), remaining=query.count)
    return await _ticks(ctx, "copy_ticks_from", query, position, params.limit, None)


async def copy_ticks_range(ctx: RpcContext, params: TicksRangeParams) -> dict[str, Any]:
    """MT5 ``copy_ticks_range(symbol, date_from, date_to, flags)``: ticks with
    ``date_from <= time <= date_to`` (ms resolution, inclusive), oldest first, paged forwards."""
    query, position = _resolve(ctx, "copy_ticks_range", params, TickPosition)
    assert query.date_from is not None and query.date_to is not None
    if position is None:
        position = TickPosition(from_msc=seconds_to_ms(query.date_from))
    return await _ticks(ctx, "copy_ticks_range", query, position, params.limit,
                        seconds_to_ms(query.date_to))


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "symbols_total": rpc_method(symbols_total, result=int),
    "symbols_get": rpc_method(symbols_get, GroupParams, result=list[r.SymbolInfo]),
    "symbol_info": rpc_method(symbol_info, SymbolParams, result=r.SymbolInfo),
    "symbol_info_tick": rpc_method(symbol_info_tick, SymbolParams, result=r.Tick),
    "symbol_select": rpc_method(symbol_select, SymbolSelectParams, result=bool),
    "market_book_add": rpc_method(market_book_add, SymbolParams, result=bool),
    "market_book_get": rpc_method(market_book_get, SymbolParams, result=list[r.BookInfo]),
    "market_book_release": rpc_method(market_book_release, SymbolParams, result=bool),
    "copy_rates_from": rpc_method(copy_rates_from, RatesFromParams, result=r.Page),
    "copy_rates_from_pos": rpc_method(copy_rates_from_pos, RatesFromPosParams, result=r.Page),
    "copy_rates_range": rpc_method(copy_rates_range, RatesRangeParams, result=r.Page),
    "copy_ticks_from": rpc_method(copy_ticks_from, TicksFromParams, result=r.Page),
    "copy_ticks_range": rpc_method(copy_ticks_range, TicksRangeParams, result=r.Page),
}
