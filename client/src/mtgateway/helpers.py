"""The package's trading helpers, ``Buy``, ``Sell``, ``Close`` and ``_RawOrder``, on any client.

The ``MetaTrader5`` package defines them in Python in its ``__init__.py`` (version 5.0.6231)
over its own ``order_send``, ``positions_get`` and ``symbol_info_tick``; these do the same
steps over a :class:`mtgateway.Client`, with the same signatures and answers: a market deal
with deviation 10 (``_RawOrder``, the one request the other three send, a module-level name
of the package that code written for it takes: pymt5adapter binds it at import), repeated up
to ten times on a requote or an off quote when no price is given; ``Close`` answers ``True``,
``"Partially"`` or ``False`` (``None`` when a call failed).
One difference on purpose: where the package would raise on a missing quote
(``None.ask``), these answer ``None`` with ``last_error()`` set, as every other function does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from . import constants as c
from . import records as r

__all__ = ["Helpers", "bind"]

_RETRIES = 10
_RETRY_RETCODES = (c.TRADE_RETCODE_REQUOTE, c.TRADE_RETCODE_PRICE_OFF)


class _Trading(Protocol):
    """What the helpers call: the three package functions they are written over."""

    def order_send(self, request: Mapping[str, Any]) -> r.OrderSendResult | None: ...

    def positions_get(self, *, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> tuple[r.TradePosition, ...] | None: ...

    def symbol_info_tick(self, symbol: str) -> r.Tick | None: ...


def _raw_order(client: _Trading, order_type: int, symbol: str, volume: float, price: float,
               comment: str | None, ticket: int | None) -> r.OrderSendResult | None:
    """The package's ``_RawOrder``: one market deal request, sent."""
    order: dict[str, Any] = {"action": c.TRADE_ACTION_DEAL, "symbol": symbol, "volume": volume,
                             "type": order_type, "price": price, "deviation": 10}
    if comment is not None:
        order["comment"] = comment
    if ticket is not None:
        order["position"] = ticket
    return client.order_send(order)


def _market(client: _Trading, order_type: int, symbol: str, volume: float,
            price: float | None, comment: str | None,
            ticket: int | None) -> r.OrderSendResult | None:
    if price is not None:
        return _raw_order(client, order_type, symbol, volume, price, comment, ticket)
    result: r.OrderSendResult | None = None
    for _ in range(_RETRIES):
        tick = client.symbol_info_tick(symbol)
        if tick is None:
            return None
        quote = tick.ask if order_type == c.ORDER_TYPE_BUY else tick.bid
        result = _raw_order(client, order_type, symbol, volume, quote, comment, ticket)
        if result is None or result.retcode not in _RETRY_RETCODES:
            break
    return result


def _close(client: _Trading, symbol: str, comment: str | None,
           ticket: int | None) -> bool | Literal["Partially"] | None:
    positions = (client.positions_get(ticket=ticket) if ticket is not None
                 else client.positions_get(symbol=symbol))
    if positions is None:
        return None
    tried = done = 0
    for pos in positions:
        if pos.type not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            continue
        tried += 1
        for _ in range(_RETRIES):
            tick = client.symbol_info_tick(symbol)
            if tick is None:
                return None
            if pos.type == c.ORDER_TYPE_BUY:
                result = _raw_order(client, c.ORDER_TYPE_SELL, symbol, pos.volume, tick.bid,
                                    comment, pos.ticket)
            else:
                result = _raw_order(client, c.ORDER_TYPE_BUY, symbol, pos.volume, tick.ask,
                                    comment, pos.ticket)
            if result is None:
                return None
            if result.retcode not in _RETRY_RETCODES:
                if result.retcode == c.TRADE_RETCODE_DONE:
                    done += 1
                break
    if done > 0:
        return True if done == tried else "Partially"
    return False


class Helpers:
    """``Buy``, ``Sell``, ``Close`` and ``_RawOrder`` bound to one client (the module's
    default one)."""

    def __init__(self, client: _Trading) -> None:
        self._client = client

    def Buy(self, symbol: str, volume: float, price: float | None = None, *,  # noqa: N802
            comment: str | None = None, ticket: int | None = None) -> r.OrderSendResult | None:
        """A market buy (at ``price``, or the current ask, retried on requotes)."""
        return _market(self._client, c.ORDER_TYPE_BUY, symbol, volume, price, comment, ticket)

    def Sell(self, symbol: str, volume: float, price: float | None = None, *,  # noqa: N802
             comment: str | None = None,
             ticket: int | None = None) -> r.OrderSendResult | None:
        """A market sell (at ``price``, or the current bid, retried on requotes)."""
        return _market(self._client, c.ORDER_TYPE_SELL, symbol, volume, price, comment, ticket)

    def Close(self, symbol: str, *, comment: str | None = None,  # noqa: N802
              ticket: int | None = None) -> bool | Literal["Partially"] | None:
        """Close the symbol's buy and sell positions (or the one ``ticket``) at market."""
        return _close(self._client, symbol, comment, ticket)

    def _RawOrder(self, order_type: int, symbol: str, volume: float,  # noqa: N802
                  price: float, comment: str | None = None,
                  ticket: int | None = None) -> r.OrderSendResult | None:
        """One market deal at ``price``, deviation 10 (closing position ``ticket`` if given),
        as the package's ``_RawOrder`` sends it."""
        return _raw_order(self._client, order_type, symbol, volume, price, comment, ticket)


def bind(client: _Trading) -> tuple[Callable[..., r.OrderSendResult | None],
                                    Callable[..., r.OrderSendResult | None],
                                    Callable[..., bool | Literal["Partially"] | None],
                                    Callable[..., r.OrderSendResult | None]]:
    """``(Buy, Sell, Close, _RawOrder)`` acting on ``client``."""
    helpers = Helpers(client)
    return helpers.Buy, helpers.Sell, helpers.Close, helpers._RawOrder
