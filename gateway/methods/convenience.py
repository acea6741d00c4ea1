"""Convenience trade methods in MetaApi's names, on top of ``order_send``.

Why: a bot ported from MetaApi calls ``create_market_buy_order(symbol, volume, ...)`` and
expects an error when the broker refuses, not a result to inspect. Each method builds the MT5
``TradeRequest`` and goes through :meth:`TradeDesk.send` -- the same journal, idempotency
(``client_id``), risk policy, filling mode chosen from the symbol's ``filling_mode`` and outcome
handling as ``order_send`` -- then answers:

* a success retcode (placed, done, done partially, no changes): the ``order_send`` result;
* any other retcode: ``-32010 TRADE_REJECTED`` with ``data = {retcode, retcode_name,
  retryable, client_id, result}`` (:data:`RETRYABLE_RETCODES` says which may succeed if sent
  again unchanged, under a NEW ``client_id`` since the old one keeps its outcome);
* everything else exactly as ``order_send`` (``-32003`` when the outcome is unknown, ...).

Every method takes the optional ``comment``, ``client_id``, ``magic`` and (market orders and
closes) ``slippage`` in points (MT5's ``deviation``) -- MetaApi's ``options``, flattened.
A method that has to read the terminal first (a close needs the position's symbol, side and
volume) checks the journal first, so a retry of a close that already executed replays its
outcome instead of answering "position not found". ``close_positions_by_symbol`` sends one close
per open position of the symbol, each under a ``client_id`` derived from the call's, so a retry
replays the closes already made and closes only what is still open.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any, Final

from mt5model.mt5 import SUCCESS_RETCODES, OrderTime, OrderType, TradeAction, TradeRetcode

from ..context import forward
from ..errors import IdempotencyConflict, NotFound, TradeRejected
from ..rpc import RpcMethod, rpc_method
from ..schemas import EpochSeconds, Params, Symbol
from ..trading.requests import (
    ClientId,
    Comment,
    Deviation,
    Magic,
    PositivePrice,
    Price,
    SendRequest,
    Ticket,
    Volume,
)
from .orders import SendParams, order_send

if TYPE_CHECKING:
    from ..context import RpcContext

__all__ = ["METHODS", "RETRYABLE_RETCODES"]

#: Retcodes after which the same request, sent again later under a new ``client_id``, may
#: succeed: the market moved or was busy, not the request being wrong.
RETRYABLE_RETCODES: Final = frozenset({
    TradeRetcode.REQUOTE, TradeRetcode.PRICE_CHANGED, TradeRetcode.PRICE_OFF,
    TradeRetcode.TOO_MANY_REQUESTS, TradeRetcode.LOCKED, TradeRetcode.FROZEN,
    TradeRetcode.ORDER_CHANGED, TradeRetcode.MARKET_CLOSED, TradeRetcode.REJECT,
})

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


def _request(options: _Options, **fields: Any) -> SendRequest:
    """The TradeRequest for ``fields`` plus the call's options (absent ones left out)."""
    body = {k: v for k, v in fields.items() if v is not None}
    for name in ("comment", "client_id", "magic"):
        value = getattr(options, name)
        if value is not None:
            body[name] = value
    return SendRequest.model_validate(body)


async def _send(ctx: RpcContext, request: SendRequest) -> dict[str, Any]:
    """``order_send`` (its scope and freshness checks too); a non-success retcode is
    ``TradeRejected``."""
    result: dict[str, Any] = await order_send(ctx, SendParams(request=request))
    return _answer(result)


def _answer(result: dict[str, Any]) -> dict[str, Any]:
    retcode = result.get("retcode")
    if retcode not in SUCCESS_RETCODES:
        raise TradeRejected(int(retcode) if isinstance(retcode, int) else 0,
                            retryable=retcode in RETRYABLE_RETCODES, result=result)
    return result


def _replayed(ctx: RpcContext, client_id: str | None, action: int,
              **wanted: Any) -> dict[str, Any] | None:
    """The stored outcome when ``client_id`` is already journaled for a request of ``action``
    whose fields equal ``wanted`` (a retry), else None.

    Raises:
        IdempotencyConflict: the id is journaled for another request.
        OutcomeUnknown: it is, and its outcome is not settled yet.
    """
    if client_id is None:
        return None
    row = ctx.trading.journal.get(ctx.principal.token_id, client_id)
    if row is None:
        return None
    sent = row.request
    if sent.get("action") != action or any(sent.get(k) != v for k, v in wanted.items()):
        ctx.trading.journal.note(row, "conflict")
        raise IdempotencyConflict(client_id)
    return ctx.trading.replay(row)


async def _position(ctx: RpcContext, ticket: int) -> dict[str, Any]:
    found = await forward(ctx, "positions_get", {"ticket": ticket})
    if not isinstance(found, list) or not found or not isinstance(found[0], dict):
        raise NotFound(f"no open position {ticket}")
    position: dict[str, Any] = found[0]
    return position


async def _close(ctx: RpcContext, params: _ClosePositionParams | _ClosePartiallyParams,
                 volume: float | None,
                 client_id: str | None = None) -> dict[str, Any]:
    client_id = client_id or params.client_id
    stored = _replayed(ctx, client_id, TradeAction.DEAL, position=params.position_id)
    if stored is not None:  # a retry: its outcome, whatever the position has become since
        return _answer(stored)
    position = await _position(ctx, params.position_id)
    close_type = OrderType.SELL if position.get("type") == 0 else OrderType.BUY
    request = _request(params, action=TradeAction.DEAL, symbol=position.get("symbol"),
                       type=close_type, volume=volume or position.get("volume"),
                       position=params.position_id, deviation=params.slippage)
    if client_id is not None:
        request = request.model_copy(update={"client_id": client_id})
    return await _send(ctx, request)


def _derived_id(client_id: str, ticket: int) -> str:
    """A ``client_id`` for one position of a batch close: stable for (id, ticket), 24 chars."""
    digest = hashlib.sha256(f"{client_id}/{ticket}".encode()).digest()
    return client_id[:11] + "-" + base64.b32encode(digest).decode()[:12].lower()


# -- the methods ----------------------------------------------------------------------------


async def create_market_buy_order(ctx: RpcContext, params: _MarketParams) -> Any:
    """Buy ``volume`` of ``symbol`` at market, optional ``stop_loss``/``take_profit``."""
    return await _market(ctx, OrderType.BUY, params)


async def create_market_sell_order(ctx: RpcContext, params: _MarketParams) -> Any:
    """Sell ``volume`` of ``symbol`` at market, optional ``stop_loss``/``take_profit``."""
    return await _market(ctx, OrderType.SELL, params)


async def _market(ctx: RpcContext, order_type: int, p: _MarketParams) -> Any:
    return await _send(ctx, _request(p, action=TradeAction.DEAL, symbol=p.symbol,
                                     type=order_type, volume=p.volume, sl=p.stop_loss,
                                     tp=p.take_profit, deviation=p.slippage))


async def _pending(ctx: RpcContext, order_type: int, p: _PendingParams | _StopLimitParams,
                   stoplimit: float | None = None) -> Any:
    return await _send(ctx, _request(
        p, action=TradeAction.PENDING, symbol=p.symbol, type=order_type, volume=p.volume,
        price=p.open_price, stoplimit=stoplimit, sl=p.stop_loss, tp=p.take_profit,
        expiration=p.expiration, type_time=None if p.expiration is None else OrderTime.SPECIFIED))


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
    return await _send(ctx, _request(p, action=TradeAction.SLTP, position=p.position_id,
                                     sl=p.stop_loss or 0.0, tp=p.take_profit or 0.0))


async def close_position(ctx: RpcContext, params: _ClosePositionParams) -> Any:
    """Close a whole position at market."""
    return await _close(ctx, params, None)


async def close_position_partially(ctx: RpcContext, p: _ClosePartiallyParams) -> Any:
    """Close ``volume`` of a position at market."""
    return await _close(ctx, p, p.volume)


async def close_by(ctx: RpcContext, p: _CloseByParams) -> Any:
    """Close a position by an opposite one of the same symbol (hedging accounts)."""
    return await _send(ctx, _request(p, action=TradeAction.CLOSE_BY, position=p.position_id,
                                     position_by=p.opposite_position_id))


async def close_positions_by_symbol(ctx: RpcContext, p: _CloseBySymbolParams) -> Any:
    """Close every open position of ``symbol``; answers ``{"results": [...]}``, one per close.

    Raises:
        TradeRejected: a close was refused (the closes before it stand; ``data.result`` is
            the refused one); a retry under the same ``client_id`` closes what is still open,
            and never closes a position twice (each close keeps its derived ``client_id``).
    """
    positions = await forward(ctx, "positions_get", {"symbol": p.symbol})
    results = []
    for position in positions if isinstance(positions, list) else []:
        ticket = position.get("ticket") if isinstance(position, dict) else None
        if not isinstance(ticket, int):
            continue
        one = _ClosePositionParams(position_id=ticket, slippage=p.slippage, comment=p.comment,
                                   magic=p.magic)
        cid = None if p.client_id is None else _derived_id(p.client_id, ticket)
        results.append(await _close(ctx, one, None, cid))
    return {"results": results}


async def modify_order(ctx: RpcContext, p: _ModifyOrderParams) -> Any:
    """Change a pending order's ``open_price``, stops, stop-limit price or ``expiration``."""
    return await _send(ctx, _request(
        p, action=TradeAction.MODIFY, order=p.order_id, price=p.open_price,
        sl=p.stop_loss or 0.0, tp=p.take_profit or 0.0, stoplimit=p.stop_limit_price,
        expiration=p.expiration, type_time=None if p.expiration is None else OrderTime.SPECIFIED))


async def cancel_order(ctx: RpcContext, p: _CancelOrderParams) -> Any:
    """Remove a pending order."""
    return await _send(ctx, _request(p, action=TradeAction.REMOVE, order=p.order_id))


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "create_market_buy_order": rpc_method(create_market_buy_order, _MarketParams, trade=True),
    "create_market_sell_order": rpc_method(create_market_sell_order, _MarketParams, trade=True),
    "create_limit_buy_order": rpc_method(create_limit_buy_order, _PendingParams, trade=True),
    "create_limit_sell_order": rpc_method(create_limit_sell_order, _PendingParams, trade=True),
    "create_stop_buy_order": rpc_method(create_stop_buy_order, _PendingParams, trade=True),
    "create_stop_sell_order": rpc_method(create_stop_sell_order, _PendingParams, trade=True),
    "create_stop_limit_buy_order": rpc_method(
        create_stop_limit_buy_order, _StopLimitParams, trade=True),
    "create_stop_limit_sell_order": rpc_method(
        create_stop_limit_sell_order, _StopLimitParams, trade=True),
    "modify_position": rpc_method(modify_position, _ModifyPositionParams, trade=True),
    "close_position": rpc_method(close_position, _ClosePositionParams, trade=True),
    "close_position_partially": rpc_method(
        close_position_partially, _ClosePartiallyParams, trade=True),
    "close_by": rpc_method(close_by, _CloseByParams, trade=True),
    "close_positions_by_symbol": rpc_method(
        close_positions_by_symbol, _CloseBySymbolParams, trade=True),
    "modify_order": rpc_method(modify_order, _ModifyOrderParams, trade=True),
    "cancel_order": rpc_method(cancel_order, _CancelOrderParams, trade=True),
}
