"""The account's risk policy, enforced by the daemon on every new order (``-32012 RISK_LIMIT``).

The policy travels in the signed token record (``risk``), set where the owner registered the
account: ``allowed_symbols``, ``max_lot_size``, ``risk_pct`` and ``auto_trade_enabled`` (the last
is a refusal reason of the trade gate, ``gate.py``, which lists it for ``gateway_status`` too).
It limits what a bot can *add* to the account; reducing risk stays possible, so a tightened
policy can never trap a position:

* opening orders (``TRADE_ACTION_DEAL`` without ``position``, ``TRADE_ACTION_PENDING``) are
  checked against every rule;
* closes (a deal with ``position``), close-by, SL/TP changes, pending-order modifications and
  removals are never refused by the policy.

``risk_pct`` caps the loss at the stop: ``loss(volume, entry → sl) ≤ risk_pct × equity``. It
needs the stop to know the loss, so it applies to orders that carry ``sl``; an opening order
without a stop has no bounded loss and is refused when ``risk_pct`` is below 1 (100 %), the
default meaning "not limited". The loss and the equity are read through the call's venue
(``venue.py``): for a live account the terminal (``order_calc_profit``, so contract sizes and
currency conversion are the broker's), for a paper account its paper book, so a paper order is
sized against the paper account's equity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from mt5model.mt5 import OrderType, TradeAction
from mtgateway_base.wire.records import RiskPolicy

from ..errors import RiskLimit

__all__ = ["adds_risk", "check_order"]

_OPENING_ACTIONS: Final = frozenset({TradeAction.DEAL, TradeAction.PENDING})
_BUY_SIDE: Final = frozenset({OrderType.BUY, OrderType.BUY_LIMIT, OrderType.BUY_STOP,
                              OrderType.BUY_STOP_LIMIT})

Forward = Callable[[str, dict[str, Any]], Awaitable[Any]]


def _decimal(value: str, default: Decimal) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return default
    return number if number.is_finite() else default


def adds_risk(request: dict[str, Any]) -> bool:
    """Whether ``request`` opens something (a deal without ``position``, a pending order):
    the orders the policy, and ``auto_trade_enabled``, apply to."""
    action = request.get("action")
    return action in _OPENING_ACTIONS and not (action == TradeAction.DEAL
                                               and request.get("position"))


async def check_order(policy: RiskPolicy, request: dict[str, Any], forward: Forward) -> None:
    """Refuse an opening order that would add risk beyond ``policy`` (symbols, lots, loss at
    the stop); ``auto_trade_enabled`` is the gate's (``gate.py``), checked before this.

    Args:
        policy: the token record's risk policy.
        request: the validated TradeRequest as sent (enum values as integers).
        forward: calls the call's venue (``forward(method, params)``), for the price, the loss
            at the stop and the equity.

    Raises:
        RiskLimit: with ``rule`` naming the rule broken.
    """
    if not adds_risk(request):
        return
    symbol = str(request.get("symbol") or "")
    allowed = {s.upper() for s in policy.allowed_symbols}
    if allowed and symbol.upper() not in allowed:
        raise RiskLimit("allowed_symbols", f"{symbol} is not among this account's allowed "
                        f"symbols ({', '.join(sorted(allowed))})")
    volume = Decimal(str(request.get("volume") or 0))
    max_lot = _decimal(policy.max_lot_size, Decimal(0))
    if volume > max_lot:
        raise RiskLimit("max_lot_size", f"volume {volume} is above this account's maximum of "
                        f"{max_lot} lots")
    risk_pct = _decimal(policy.risk_pct, Decimal(0))
    if risk_pct >= 1:
        return
    sl = request.get("sl") or 0
    if not sl:
        raise RiskLimit("risk_pct", f"this account risks at most {risk_pct:%} of equity per "
                        "trade; an order without a stop loss has no bounded loss")
    order_type = int(request.get("type") or 0)
    price = request.get("price") or 0
    if not price:
        tick = await forward("symbol_info_tick", {"symbol": symbol})
        price = tick["ask"] if order_type in _BUY_SIDE else tick["bid"]
    side = OrderType.BUY if order_type in _BUY_SIDE else OrderType.SELL
    profit = await forward("order_calc_profit", {
        "action": int(side), "symbol": symbol, "volume": float(volume), "price_open": price,
        "price_close": sl})
    equity = (await forward("account_info", {}))["equity"]
    loss = max(Decimal(0), -Decimal(str(profit)))
    limit = risk_pct * Decimal(str(equity))
    if loss > limit:
        raise RiskLimit("risk_pct", f"the loss at the stop ({loss:.2f}) is above "
                        f"{risk_pct:%} of equity ({limit:.2f})")
