"""Convenience trade methods in MetaApi's names, on top of ``order_send``.

Why: a bot ported from MetaApi calls ``create_market_buy_order(symbol, volume, ...)`` and
expects an error when the broker refuses, not a result to inspect. Each method validates its
params (the bounds of ``gateway/trading/requests.py``) and hands plain values to the desk's
operations (``gateway/trading/operations.py``): the same journal, idempotency (``client_id``),
risk policy, filling mode and outcome handling as ``order_send``, and the answer:

* a success retcode (placed, done, done partially, no changes): the ``order_send`` result;
* any other retcode: ``-32010 TRADE_REJECTED`` with ``data = {retcode, retcode_name,
  retryable, client_id, result}`` (``RETRYABLE_RETCODES`` says which may succeed if sent
  again unchanged, under a NEW ``client_id`` since the old one keeps its outcome);
* everything else exactly as ``order_send`` (``-32003`` when the outcome is unknown, ...).

Every method takes the optional ``comment``, ``client_id``, ``magic`` and (market orders and
closes) ``slippage`` in points (MT5's ``deviation``) -- MetaApi's ``options``, flattened. How
closes stay idempotent (a retry waits for the close in flight, or replays it) is the
operations' docstring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mt5model.mt5 import OrderTime, OrderType, TradeAction

from .. import results as r
from ..rpc import RpcMethod, rpc_method
from ..schemas import EpochSeconds, Params, Symbol
from ..trading.operations import OrderOptions
from ..trading.requests import (
    ClientId,
    Comment,
    Deviation,
    Magic,
    PositivePrice,
    Price,
    Ticket,
    Volume,
)

if TYPE_CHECKING:
    from ..context import RpcContext

__all__ = ["METHODS"]

#: Stop-loss and take-profit levels: 0 (or omitted) means none.
StopPrice = Price


class _Options(Params):
    """MetaApi's ``options``, flattened; after the positional params of every method."""

    comment: Comment | None = None
    client_id: ClientId | None = None
    magic: Magic | None = None


Slippage = Deviation

# Each params class lists the method's own params first (they may be given positionally, in
# this order) and mixes in _Options last: pydantic orders fields from the last base first.


class _MarketFields(Params):
    symbol: Symbol
    volume: Volume
    stop_loss: StopPrice | None = None
    take_profit: StopPrice | None = None
    slippage: Slippage | None = None


class _MarketParams(_Options, _MarketFields):
    pass


class _PendingFields(Params):
    symbol: Symbol
    volume: Volume
    open_price: PositivePrice
    stop_loss: StopPrice | None = None
    take_profit: StopPrice | None = None
    expiration: EpochSeconds | None = None


class _PendingParams(_Options, _PendingFields):
    pass


class _StopLimitFields(Params):
    symbol: Symbol
    volume: Volume
    open_price: PositivePrice
    stop_limit_price: PositivePrice
    stop_loss: StopPrice | None = None
    take_profit: StopPrice | None = None
    expiration: EpochSeconds | None = None


class _StopLimitParams(_Options, _StopLimitFields):
    pass


class _ModifyPositionFields(Params):
    position_id: Ticket
    stop_loss: StopPrice | None = None
    take_profit: StopPrice | None = None


class _ModifyPositionParams(_Options, _ModifyPositionFields):
    pass


class _ClosePositionFields(Params):
    position_id: Ticket
    slippage: Slippage | None = None


class _ClosePositionParams(_Options, _ClosePositionFields):
    pass


class _ClosePartiallyFields(Params):
    position_id: Ticket
    volume: Volume
    slippage: Slippage | None = None


class _ClosePartiallyParams(_Options, _ClosePartiallyFields):
    pass


class _CloseByFields(Params):
    position_id: Ticket
    opposite_position_id: Ticket


class _CloseByParams(_Options, _CloseByFields):
    pass


class _CloseBySymbolFields(Params):
    symbol: Symbol
    slippage: Slippage | None = None


class _CloseBySymbolParams(_Options, _CloseBySymbolFields):
    pass


class _ModifyOrderFields(Params):
    order_id: Ticket
    open_price: PositivePrice
    stop_loss: StopPrice | None = None
    take_profit: StopPrice | None = None
    stop_limit_price: PositivePrice | None = None
    expiration: EpochSeconds | None = None


class _ModifyOrderParams(_Options, _ModifyOrderFields):
    pass


class _CancelOrderFields(Params):
    order_id: Ticket


class _CancelOrderParams(_Options, _CancelOrderFields):
    pass


def _options(p: _Options) -> OrderOptions:
    return OrderOptions(comment=p.comment, client_id=p.client_id, magic=p.magic)


async def _send(ctx: RpcContext, p: _Options, **fields: Any) -> dict[str, Any]:
    """The TradeRequest of ``fields`` and ``p``'s options, through the desk's operations."""
    return await ctx.trading.place(ctx.principal, _options(p), **fields)


# -- the methods ----------------------------------------------------------------------------


async def create_market_buy_order(ctx: RpcContext, params: _MarketParams) -> Any:
    """Buy ``volume`` of ``symbol`` at market, optional ``stop_loss``/``take_profit``."""
    return await _market(ctx, OrderType.BUY, params)


async def create_market_sell_order(ctx: RpcContext, params: _MarketParams) -> Any:
    """Sell ``volume`` of ``symbol`` at market, optional ``stop_loss``/``take_profit``."""
    return await _market(ctx, OrderType.SELL, params)


async def _market(ctx: RpcContext, order_type: int, p: _MarketParams) -> Any:
    return await _send(ctx, p, action=TradeAction.DEAL, symbol=p.symbol, type=order_type,
                       volume=p.volume, sl=p.stop_loss, tp=p.take_profit, deviation=p.slippage)


async def _pending(ctx: RpcContext, order_type: int, p: _PendingParams | _StopLimitParams,
                   stoplimit: float | None = None) -> Any:
    return await _send(
        ctx, p, action=TradeAction.PENDING, symbol=p.symbol, type=order_type, volume=p.volume,
        price=p.open_price, stoplimit=stoplimit, sl=p.stop_loss, tp=p.take_profit,
        expiration=p.expiration, type_time=None if p.expiration is None else OrderTime.SPECIFIED)


async def create_limit_buy_order(ctx: RpcContext, params: _PendingParams) -> Any:
    """Buy limit at ``open_price`` (optional ``expiration``, epoch or ISO: ORDER_TIME_SPECIFIED)."""
    return await _pending(ctx, OrderType.BUY_LIMIT, params)


async def create_limit_sell_order(ctx: RpcContext, params: _PendingParams) -> Any:
    """Sell limit at ``open_price``."""
    return await _pending(ctx, OrderType.SELL_LIMIT, params)


async def create_stop_buy_order(ctx: RpcContext, params: _PendingParams) -> Any:
    """Buy stop at ``open_price``."""
    return await _pending(ctx, OrderType.BUY_STOP, params)


async def create_stop_sell_order(ctx: RpcContext, params: _PendingParams) -> Any:
    """Sell stop at ``open_price``."""
    return await _pending(ctx, OrderType.SELL_STOP, params)


async def create_stop_limit_buy_order(ctx: RpcContext, p: _StopLimitParams) -> Any:
    """Buy stop limit: at ``open_price`` a buy limit at ``stop_limit_price`` is placed."""
    return await _pending(ctx, OrderType.BUY_STOP_LIMIT, p, p.stop_limit_price)


async def create_stop_limit_sell_order(ctx: RpcContext, p: _StopLimitParams) -> Any:
    """Sell stop limit: at ``open_price`` a sell limit at ``stop_limit_price`` is placed."""
    return await _pending(ctx, OrderType.SELL_STOP_LIMIT, p, p.stop_limit_price)


async def modify_position(ctx: RpcContext, p: _ModifyPositionParams) -> Any:
    """Set a position's ``stop_loss``/``take_profit`` (omitted or 0: none)."""
    return await _send(ctx, p, action=TradeAction.SLTP, position=p.position_id,
                       sl=p.stop_loss or 0.0, tp=p.take_profit or 0.0)


async def close_position(ctx: RpcContext, params: _ClosePositionParams) -> Any:
    """Close a whole position at market."""
    return await ctx.trading.close_position(ctx.principal, params.position_id, volume=None,
                                            slippage=params.slippage, options=_options(params))


async def close_position_partially(ctx: RpcContext, p: _ClosePartiallyParams) -> Any:
    """Close ``volume`` of a position at market."""
    return await ctx.trading.close_position(ctx.principal, p.position_id, volume=p.volume,
                                            slippage=p.slippage, options=_options(p))


async def close_by(ctx: RpcContext, p: _CloseByParams) -> Any:
    """Close a position by an opposite one of the same symbol (hedging accounts)."""
    return await _send(ctx, p, action=TradeAction.CLOSE_BY, position=p.position_id,
                       position_by=p.opposite_position_id)


async def close_positions_by_symbol(ctx: RpcContext, p: _CloseBySymbolParams) -> Any:
    """Close every open position of ``symbol``; answers ``{"results": [...]}``, one per close.

    Raises:
        TradeRejected: a close was refused (the closes before it stand; ``data.result`` is
            the refused one); a retry under the same ``client_id`` closes what is still open,
            and never closes a position twice (each close keeps its derived ``client_id``).
    """
    return await ctx.trading.close_positions_by_symbol(ctx.principal, p.symbol,
                                                       slippage=p.slippage,
                                                       options=_options(p))


async def modify_order(ctx: RpcContext, p: _ModifyOrderParams) -> Any:
    """Change a pending order's ``open_price``, stops, stop-limit price or ``expiration``."""
    return await _send(
        ctx, p, action=TradeAction.MODIFY, order=p.order_id, price=p.open_price,
        sl=p.stop_loss or 0.0, tp=p.take_profit or 0.0, stoplimit=p.stop_limit_price,
        expiration=p.expiration, type_time=None if p.expiration is None else OrderTime.SPECIFIED)


async def cancel_order(ctx: RpcContext, p: _CancelOrderParams) -> Any:
    """Remove a pending order."""
    return await _send(ctx, p, action=TradeAction.REMOVE, order=p.order_id)


def _trade(fn: Callable[..., Awaitable[Any]], params: type[Params]) -> RpcMethod[RpcContext]:
    """A convenience trade method: sends orders, answers ``order_send``'s result."""
    return rpc_method(fn, params, trade=True, result=r.OrderSendResult)


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "create_market_buy_order": _trade(create_market_buy_order, _MarketParams),
    "create_market_sell_order": _trade(create_market_sell_order, _MarketParams),
    "create_limit_buy_order": _trade(create_limit_buy_order, _PendingParams),
    "create_limit_sell_order": _trade(create_limit_sell_order, _PendingParams),
    "create_stop_buy_order": _trade(create_stop_buy_order, _PendingParams),
    "create_stop_sell_order": _trade(create_stop_sell_order, _PendingParams),
    "create_stop_limit_buy_order": _trade(create_stop_limit_buy_order, _StopLimitParams),
    "create_stop_limit_sell_order": _trade(create_stop_limit_sell_order, _StopLimitParams),
    "modify_position": _trade(modify_position, _ModifyPositionParams),
    "close_position": _trade(close_position, _ClosePositionParams),
    "close_position_partially": _trade(close_position_partially, _ClosePartiallyParams),
    "close_by": _trade(close_by, _CloseByParams),
    "close_positions_by_symbol": rpc_method(
        close_positions_by_symbol, _CloseBySymbolParams, trade=True, result=r.ClosedPositions),
    "modify_order": _trade(modify_order, _ModifyOrderParams),
    "cancel_order": _trade(cancel_order, _CancelOrderParams),
}
