"""The price of a market order on a symbol whose execution wants one (Instant, Request).

Why: "Market orders of symbols, whose execution type is 'Market Execution'
(SYMBOL_TRADE_EXECUTION_MARKET), of TRADE_ACTION_DEAL type, do not require specification of
price" (MqlTradeRequest, https://www.mql5.com/en/docs/constants/structures/mqltraderequest).
In Instant and Request execution the trade server takes a market deal -- an opening or a close
-- only at a price the client names, answers 10015 INVALID_PRICE without one, and 10004
REQUOTE when its own price is further than ``deviation`` points from it. A bot that asks for a
market buy without a price (``create_market_buy_order``, a close, an ``order_send`` written
for a Market-execution broker) means "at the market", so the desk names the market's price
for it: the symbol's current quote, the ask to buy and the bid to sell, as the terminal's
one-click trading and the ``MetaTrader5`` package's ``Buy``/``Sell`` helpers do.

* ``deviation``: the request's (a convenience method's ``slippage``) when given, else
  ``max(``:data:`DEVIATION_POINTS` ``, 2 x the quote's spread)`` points: the ``MetaTrader5``
  package's ``order_send`` example allows 20, and a symbol whose spread is wider than that would be
  requoted on every tick.
* A quote the order cannot be priced from is refused before anything is sent, with MT5's own
  word for it, 10021 PRICE_OFF "there are no quotes to process the request" (retryable), and
  the reason: no quote at all (the terminal answers zeros, or the EA has none yet), or one
  older than :data:`QUOTE_MAX_AGE_MS` on the trade server's clock (the market is closed, or
  the terminal gets no quotes of the symbol), which the server would refuse or requote.

Pure: the desk reads the symbol, the quote and the server's clock; this decides.
"""

from __future__ import annotations

import math
from typing import Any, Final

from mt5model.mt5 import OrderType, TradeAction, TradeRetcode, retcode_name
from mt5model.types import SYMBOL_TRADE_EXECUTION_INSTANT, SYMBOL_TRADE_EXECUTION_REQUEST

from ..errors import TradeRejected
from .paper import STALE_AFTER_MS

__all__ = ["DEVIATION_POINTS", "PRICED_EXECUTIONS", "QUOTE_MAX_AGE_MS", "needs_price",
           "no_quote", "priced"]

#: The ``SYMBOL_TRADE_EXECUTION_*`` modes whose market deals must name their price.
PRICED_EXECUTIONS: Final = frozenset({SYMBOL_TRADE_EXECUTION_REQUEST,
                                      SYMBOL_TRADE_EXECUTION_INSTANT})
#: The least deviation, in points, of a market order the desk prices.
DEVIATION_POINTS: Final = 20
#: A quote older than this on the server's clock prices nothing: the paper book's rule for a
#: market that stopped ticking (closed), one fact for both.
QUOTE_MAX_AGE_MS: Final = STALE_AFTER_MS


def needs_price(request: dict[str, Any], execution: int) -> bool:
    """Whether the desk prices ``request``: a buy or sell market deal without a price (0 is
    the package's "none") on a symbol of ``execution`` mode that wants one."""
    return (request.get("action") == TradeAction.DEAL and execution in PRICED_EXECUTIONS
            and request.get("type") in (OrderType.BUY, OrderType.SELL)
            and not request.get("price"))


def no_quote(request: dict[str, Any], why: str, client_id: str | None) -> TradeRejected:
    """The refusal of a market order that cannot be priced: 10021 PRICE_OFF, retryable, with
    ``why`` as the result's comment (nothing was sent, so the result is the daemon's)."""
    code = TradeRetcode.PRICE_OFF
    result: dict[str, Any] = {"retcode": int(code), "retcode_name": retcode_name(code),
                              "comment": why, "request": request}
    if client_id is not None:
        result["client_id"] = client_id
    return TradeRejected(int(code), retryable=True, result=result)


def _number(value: Any) -> float:
    """A quote's field as a finite float, else 0 (absent, not a number, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def _age(ms: int) -> str:
    """``ms`` for a person: "12 s", "25 min", "20 h 5 min"."""
    seconds = ms // 1000
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def priced(request: dict[str, Any], quote: Any, *, point: float, server_now_ms: int | None,
           client_id: str | None = None) -> dict[str, Any]:
    """``request`` (which :func:`needs_price`) with the quote's price and a deviation.

    Args:
        request: the request as it would be sent.
        quote: the symbol's ``symbol_info_tick`` answer.
        point: the symbol's point (``symbol_info().point``), for the spread in points.
        server_now_ms: the trade server's clock now, epoch milliseconds (the quote's clock);
            None when the terminal did not tell it, and the quote's age is not judged.
        client_id: the order's, carried by a refusal.

    Raises:
        TradeRejected: 10021 PRICE_OFF, the quote missing or older than
            :data:`QUOTE_MAX_AGE_MS` (:func:`no_quote`).
    """
    symbol = request["symbol"]
    quote = quote if isinstance(quote, dict) else {}
    bid, ask = _number(quote.get("bid")), _number(quote.get("ask"))
    at = ask if request["type"] == OrderType.BUY else bid
    time_msc = quote.get("time_msc")
    if at <= 0 or not isinstance(time_msc, int) or isinstance(time_msc, bool) or time_msc <= 0:
        raise no_quote(request, f"{symbol} has no quote to price the market order (the "
                       f"terminal answered bid {bid:g}, ask {ask:g}); select it in Market Watch "
                       "and try again", client_id)
    age = 0 if server_now_ms is None else server_now_ms - time_msc
    if age > QUOTE_MAX_AGE_MS:
        raise no_quote(request, f"{symbol}'s last quote is {_age(age)} old, too old to price "
                       "the market order: its market is closed or the terminal gets no quotes "
                       "of it", client_id)
    out = {**request, "price": at}
    if "deviation" not in out:
        spread = round((ask - bid) / point) if point > 0 and bid > 0 and ask > bid else 0
        out["deviation"] = max(DEVIATION_POINTS, 2 * spread)
    return out
