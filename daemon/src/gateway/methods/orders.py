"""Trading methods ``order_check``, ``order_send`` and ``order_status``: parse, check the
caller may trade, hand the request to the desk (``gateway/trading/desk.py``), which holds the
trading safety (idempotency journal, filling mode, lost answers, reconciliation).
"""

from __future__ import annotations

from typing import Any

from .. import results as r
from ..context import RpcContext
from ..rpc import RpcMethod, rpc_method
from ..schemas import Params
from ..trading.requests import ClientId, SendRequest, TradeRequest

__all__ = ["METHODS", "SendParams", "order_check", "order_send", "order_status"]


class _CheckParams(Params):
    request: TradeRequest


class SendParams(Params):
    """``order_send``'s params: the request (a TradeRequest plus ``client_id``)."""

    request: SendRequest


class _StatusParams(Params):
    client_id: ClientId


async def order_check(ctx: RpcContext, params: _CheckParams) -> dict[str, Any]:
    """MT5 ``order_check(request)``: OrderCheckResult plus ``retcode_name`` (a read)."""
    return await ctx.trading.check_request(ctx.principal, params.request)


async def order_send(ctx: RpcContext, params: SendParams) -> dict[str, Any]:
    """MT5 ``order_send(request)``: OrderSendResult plus ``retcode_name``, ``client_id`` and
    ``deduplicated``. Needs the token's ``trade`` scope."""
    return await ctx.trading.send(ctx.principal, params.request)


async def order_status(ctx: RpcContext, params: _StatusParams) -> dict[str, Any]:
    """The journal's view of one ``client_id`` of this token: state, retcode, ticket, times,
    the request sent and the stored result.

    Raises:
        NotFound: no order with this ``client_id`` under this token.
    """
    return ctx.trading.status(ctx.principal, params.client_id)


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "order_check": rpc_method(order_check, _CheckParams, result=r.OrderCheckResult),
    "order_send": rpc_method(order_send, SendParams, trade=True, result=r.OrderSendResult),
    "order_status": rpc_method(order_status, _StatusParams, result=r.OrderStatus),
}
