"""Trading reads: pending orders, positions, history and the margin/profit calculators.

Why a module apart from ``order_check``/``order_send``: these only read, so they are safe in a
batch and need no idempotency or audit; the trade path lives elsewhere.

Validation is as strict as for market data. Two deliberate choices beyond MT5:

* MT5 documents ``symbol`` / ``group`` / ``ticket`` (and ``position`` for history) as
  alternative selectors; giving more than one is refused (``-32602``) instead of being
  silently combined or ignored as the package would.
* ``history_*_get`` may omit the dates only when it selects by ``ticket`` or ``position``
  (MT5 ignores dates then); otherwise both are required, and ``date_to`` must not be before
  ``date_from``.

A ``ticket`` or ``position`` of 0 selects nothing and is answered ``[]`` here, without the
terminal: no MT5 order, position or deal has ticket 0, and the package answers such a read an
empty tuple (code that looks up a ticket it may not have, 0 from a failed ``result.order``,
takes its ``len()``). In a trade request 0 means "none" instead (``trading/requests.py``).

Results are the EA's, unchanged: lists of dicts with MT5's TradeOrder / TradePosition /
TradeDeal field names, ints for the totals, and a number for the calculators.

``positions_get`` and ``orders_get`` take one parameter beyond MT5's: ``book: "live"`` reads
the live book, the broker's, whatever venue the token trades on. While the account trades on
paper its reads answer the daemon's paper book; a bot that must see what stays open at the
broker (a position opened before the switch) asks for it so, and gets the same records, each
``"paper": false``. Without it, the reads answer the token's venue as before.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from mt5model.mt5 import OrderType

from .. import results as r
from ..context import RpcContext
from ..errors import InvalidParams
from ..rpc import RpcMethod, rpc_method
from ..schemas import EpochSeconds, Params, Symbol, enum_param
from ..trading.requests import MAX_TICKET, PositivePrice, Volume
from .market import Group, check_date_order

if TYPE_CHECKING:
    OrderTypeParam = int
else:
    OrderTypeParam = enum_param(OrderType)

__all__ = [
    "METHODS",
    "CalcMarginParams",
    "CalcProfitParams",
    "HistoryGetParams",
    "HistoryRangeParams",
    "SelectionParams",
]

#: The calculators' prices must be given (no 0 = "none" as in a TradeRequest).
Price = PositivePrice
#: A ticket or position a read selects by: 1 and up, or 0, which selects nothing.
SelectedTicket = Annotated[int, Field(ge=0, le=MAX_TICKET)]


def _buy_or_sell(value: int) -> int:
    if value not in (OrderType.BUY, OrderType.SELL):
        raise ValueError("must be ORDER_TYPE_BUY or ORDER_TYPE_SELL")
    return value


CalcAction = Annotated[OrderTypeParam, AfterValidator(_buy_or_sell)]


class SelectionParams(Params):
    """``orders_get`` / ``positions_get(symbol=None, group=None, ticket=None)``, and
    ``book``: ``"live"`` for the broker's book whatever the token trades on (the module
    docstring)."""

    symbol: Symbol | None = None
    group: Group | None = None
    ticket: SelectedTicket | None = None
    book: Literal["live"] | None = None


class HistoryRangeParams(Params):
    """``history_orders_total`` / ``history_deals_total(date_from, date_to)``."""

    date_from: EpochSeconds
    date_to: EpochSeconds

    _order = field_validator("date_to")(check_date_order)


class HistoryGetParams(Params):
    """``history_orders_get`` / ``history_deals_get(date_from, date_to, group=None,
    ticket=None, position=None)``."""

    date_from: EpochSeconds | None = None
    date_to: EpochSeconds | None = None
    group: Group | None = None
    ticket: SelectedTicket | None = None
    position: SelectedTicket | None = None

    _order = field_validator("date_to")(check_date_order)


class CalcMarginParams(Params):
    """``order_calc_margin(action, symbol, volume, price)``."""

    action: CalcAction
    symbol: Symbol
    volume: Volume
    price: Price


class CalcProfitParams(Params):
    """``order_calc_profit(action, symbol, volume, price_open, price_close)``."""

    action: CalcAction
    symbol: Symbol
    volume: Volume
    price_open: Price
    price_close: Price


def _one_selector(params: Params, names: tuple[str, ...]) -> dict[str, Any]:
    """The params to send, after refusing more than one of the alternative ``names``."""
    given = [name for name in names if getattr(params, name) is not None]
    if len(given) > 1:
        raise InvalidParams(f"{given[1]}: give at most one of {', '.join(names)} "
                            f"(got {', '.join(given)})")
    return params.model_dump(exclude_none=True)


async def _selected(ctx: RpcContext, method: str, params: SelectionParams) -> Any:
    """``orders_get``/``positions_get`` of one selector, at the caller's venue or, with
    ``book: "live"``, at the terminal itself."""
    sent = _one_selector(params, ("symbol", "group", "ticket"))
    if sent.pop("book", None) is None:
        return [] if _selects_nothing(sent) else await ctx.read(method, sent)
    return [] if _selects_nothing(sent) else await ctx.trading.read(
        ctx.principal, method, sent, live_book=True)


def _selects_nothing(sent: dict[str, Any]) -> bool:
    """True when the read selects by a ticket or position of 0, which no MT5 record has."""
    return sent.get("ticket") == 0 or sent.get("position") == 0


def _history_selection(params: HistoryGetParams) -> dict[str, Any]:
    sent = _one_selector(params, ("group", "ticket", "position"))
    if params.ticket is None and params.position is None:
        missing = [name for name in ("date_from", "date_to") if getattr(params, name) is None]
        if missing:
            raise InvalidParams("; ".join(f"{name}: Field required (unless ticket or position "
                                          "is given)" for name in missing))
    return sent


def orders_total(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``orders_total()``: number of active pending orders."""
    return ctx.read("orders_total", {})


async def orders_get(ctx: RpcContext, params: SelectionParams) -> Any:
    """MT5 ``orders_get(symbol=None, group=None, ticket=None)``: active pending orders
    (``book: "live"``: the broker's)."""
    return await _selected(ctx, "orders_get", params)


def positions_total(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``positions_total()``: number of open positions."""
    return ctx.read("positions_total", {})


async def positions_get(ctx: RpcContext, params: SelectionParams) -> Any:
    """MT5 ``positions_get(symbol=None, group=None, ticket=None)``: open positions
    (``book: "live"``: the broker's)."""
    return await _selected(ctx, "positions_get", params)


def history_orders_total(ctx: RpcContext, params: HistoryRangeParams) -> Awaitable[Any]:
    """MT5 ``history_orders_total(date_from, date_to)``: history orders set up in the range."""
    return ctx.read("history_orders_total", params.model_dump())


async def history_orders_get(ctx: RpcContext, params: HistoryGetParams) -> Any:
    """MT5 ``history_orders_get(date_from, date_to, group=None, ticket=None, position=None)``."""
    sent = _history_selection(params)
    return [] if _selects_nothing(sent) else await ctx.read("history_orders_get", sent)


def history_deals_total(ctx: RpcContext, params: HistoryRangeParams) -> Awaitable[Any]:
    """MT5 ``history_deals_total(date_from, date_to)``: deals in the range."""
    return ctx.read("history_deals_total", params.model_dump())


async def history_deals_get(ctx: RpcContext, params: HistoryGetParams) -> Any:
    """MT5 ``history_deals_get(date_from, date_to, group=None, ticket=None, position=None)``."""
    sent = _history_selection(params)
    return [] if _selects_nothing(sent) else await ctx.read("history_deals_get", sent)


def order_calc_margin(ctx: RpcContext, params: CalcMarginParams) -> Awaitable[Any]:
    """MT5 ``order_calc_margin(action, symbol, volume, price)``: margin in account currency."""
    return ctx.read("order_calc_margin", params.model_dump())


def order_calc_profit(ctx: RpcContext, params: CalcProfitParams) -> Awaitable[Any]:
    """MT5 ``order_calc_profit(action, symbol, volume, price_open, price_close)``: profit in
    account currency."""
    return ctx.read("order_calc_profit", params.model_dump())


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "orders_total": rpc_method(orders_total, result=int),
    "orders_get": rpc_method(orders_get, SelectionParams, result=list[r.TradeOrder]),
    "positions_total": rpc_method(positions_total, result=int),
    "positions_get": rpc_method(positions_get, SelectionParams, result=list[r.TradePosition]),
    "history_orders_total": rpc_method(history_orders_total, HistoryRangeParams, result=int),
    "history_orders_get": rpc_method(history_orders_get, HistoryGetParams,
                                     result=list[r.TradeOrder]),
    "history_deals_total": rpc_method(history_deals_total, HistoryRangeParams, result=int),
    "history_deals_get": rpc_method(history_deals_get, HistoryGetParams, result=list[r.TradeDeal]),
    "order_calc_margin": rpc_method(order_calc_margin, CalcMarginParams, result=float),
    "order_calc_profit": rpc_method(order_calc_profit, CalcProfitParams, result=float),
}
