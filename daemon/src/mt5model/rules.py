"""The trade server's admission rules, as pure functions of a symbol spec and a quote.

Each ``check_*`` function raises :class:`Rejection` carrying the MT5 ``TRADE_RETCODE_*`` a real
server answers with; the broker turns it into an ``OrderSendResult`` / ``OrderCheckResult``
(a rejection is a result, never an error). The rules follow the MQL5 reference ("Requirements
and Limitations in Making Trades", ``ENUM_ORDER_TYPE_FILLING``, ``SYMBOL_*`` properties):

* volume: ``volume_min <= v <= volume_max`` and a whole number of ``volume_step`` (compared with
  a tolerance, since ``0.1 / 0.01`` is not an integer in binary floating point);
* filling: FOK needs ``SYMBOL_FILLING_FOK``, IOC needs ``SYMBOL_FILLING_IOC``; RETURN is taken
  for pending orders always and for market orders in *exchange execution* (MetaTrader 5's
  help, "Fill Policy": "For market orders, the Return policy is used only in the Exchange
  Execution mode"; the reference's ``ENUM_ORDER_TYPE_FILLING`` also names market execution,
  which a broker was seen refusing: the stricter is kept); BOC only for limit orders with
  ``SYMBOL_FILLING_BOC``. In *request* and *instant execution* "the Fill or Kill policy is
  always used for market orders ... there is no need to specify a fill policy"
  (``SYMBOL_FILLING_MODE``): a market order's FOK, IOC or RETURN is taken whatever the mask
  (fills are complete here, as FOK's);
* stops: for a buy, SL below and TP above the price the position would close at (Bid for a
  market buy, the order price for a pending order), each at least ``trade_stops_level`` points
  away and strictly on the right side even when the level is 0 (the mirror image for a sell);
  prices must be on the ``trade_tick_size`` grid;
* pending price: Buy Limit below Ask, Sell Limit above Bid, Buy Stop above Ask, Sell Stop below
  Bid, by at least the stops level; a Buy Stop Limit's limit price (``stoplimit``) below its
  stop price, a Sell Stop Limit's above, by the stops level too;
* freeze level: an order whose price, or a position whose SL/TP, is closer than
  ``trade_freeze_level`` points to the market can be neither modified nor deleted;
* expiration: ``type_time`` must be allowed by the symbol's ``SYMBOL_EXPIRATION_*`` mask, and a
  specified time must lie in the future. ORDER_TIME_DAY ends at the end of the server day.
"""

from __future__ import annotations

from mt5model.mt5 import OrderFilling, OrderTime, OrderType, TradeRetcode
from mt5model.types import (
    SYMBOL_EXPIRATION_DAY,
    SYMBOL_EXPIRATION_GTC,
    SYMBOL_EXPIRATION_SPECIFIED,
    SYMBOL_EXPIRATION_SPECIFIED_DAY,
    SYMBOL_FILLING_BOC,
    SYMBOL_FILLING_FOK,
    SYMBOL_FILLING_IOC,
    SYMBOL_ORDER_LIMIT,
    SYMBOL_ORDER_MARKET,
    SYMBOL_ORDER_SL,
    SYMBOL_ORDER_STOP,
    SYMBOL_ORDER_STOP_LIMIT,
    SYMBOL_ORDER_TP,
    SYMBOL_TRADE_EXECUTION_EXCHANGE,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    SYMBOL_TRADE_MODE_CLOSEONLY,
    SYMBOL_TRADE_MODE_DISABLED,
    SYMBOL_TRADE_MODE_LONGONLY,
    SYMBOL_TRADE_MODE_SHORTONLY,
    SymbolSpec,
    Tick,
)

__all__ = [
    "BUY_TYPES",
    "MS_PER_DAY",
    "PENDING_TYPES",
    "Rejection",
    "check_filling",
    "check_order_mode",
    "check_pending_price",
    "check_stops",
    "check_trade_mode",
    "check_volume",
    "expiry",
    "on_grid",
    "order_frozen",
    "position_frozen",
]

MS_PER_DAY = 86_400_000
#: Pending order types (TRADE_ACTION_PENDING).
PENDING_TYPES: frozenset[int] = frozenset(range(OrderType.BUY_LIMIT, OrderType.SELL_STOP_LIMIT + 1))
#: Order types that buy.
BUY_TYPES: frozenset[int] = frozenset(
    {OrderType.BUY, OrderType.BUY_LIMIT, OrderType.BUY_STOP, OrderType.BUY_STOP_LIMIT}
)
_VOLUME_EPS = 1e-9
_STEP_EPS = 1e-6


class Rejection(Exception):
    """The trade server refuses a request with ``retcode``."""

    def __init__(self, retcode: int, comment: str | None = None) -> None:
        super().__init__(retcode, comment)
        self.retcode = retcode
        self.comment = comment


def _eps(spec: SymbolSpec) -> float:
    """Price tolerance: a thousandth of a point."""
    return spec.point * 1e-3


def on_grid(value: float, step: float) -> bool:
    """Whether ``value`` is a whole multiple of ``step`` (within floating-point noise)."""
    if step <= 0:
        return True
    ratio = value / step
    return abs(ratio - round(ratio)) < _STEP_EPS


def check_volume(spec: SymbolSpec, volume: float) -> None:
    """``INVALID_VOLUME`` below ``volume_min``, above ``volume_max`` or off ``volume_step``."""
    if volume < spec.volume_min - _VOLUME_EPS or volume > spec.volume_max + _VOLUME_EPS \
            or not on_grid(volume, spec.volume_step):
        raise Rejection(TradeRetcode.INVALID_VOLUME)


def check_filling(spec: SymbolSpec, filling: int, order_type: int) -> None:
    """``INVALID_FILL`` when the symbol does not allow ``filling`` for ``order_type``."""
    pending = order_type in PENDING_TYPES
    fok_always = spec.trade_exemode in (SYMBOL_TRADE_EXECUTION_REQUEST,
                                        SYMBOL_TRADE_EXECUTION_INSTANT)
    if not pending and fok_always and filling in (OrderFilling.FOK, OrderFilling.IOC,
                                                  OrderFilling.RETURN):
        allowed = True
    elif filling == OrderFilling.FOK:
        allowed = bool(spec.filling_mode & SYMBOL_FILLING_FOK)
    elif filling == OrderFilling.IOC:
        allowed = bool(spec.filling_mode & SYMBOL_FILLING_IOC)
    elif filling == OrderFilling.RETURN:
        allowed = pending or spec.trade_exemode == SYMBOL_TRADE_EXECUTION_EXCHANGE
    elif filling == OrderFilling.BOC:
        allowed = order_type in (OrderType.BUY_LIMIT, OrderType.SELL_LIMIT) \
            and bool(spec.filling_mode & SYMBOL_FILLING_BOC)
    else:
        allowed = False
    if not allowed:
        raise Rejection(TradeRetcode.INVALID_FILL)


def check_trade_mode(spec: SymbolSpec, opens_buy: bool | None) -> None:
    """``SYMBOL_TRADE_MODE_*``: ``opens_buy`` is the direction of new exposure, None if none.

    DISABLED refuses everything (``TRADE_DISABLED``); CLOSEONLY refuses any opening
    (``CLOSE_ONLY``); LONGONLY refuses opening a sell (``LONG_ONLY``); SHORTONLY refuses
    opening a buy (``SHORT_ONLY``).
    """
    mode = spec.trade_mode
    if mode == SYMBOL_TRADE_MODE_DISABLED:
        raise Rejection(TradeRetcode.TRADE_DISABLED)
    if opens_buy is None:
        return
    if mode == SYMBOL_TRADE_MODE_CLOSEONLY:
        raise Rejection(TradeRetcode.CLOSE_ONLY)
    if mode == SYMBOL_TRADE_MODE_LONGONLY and not opens_buy:
        raise Rejection(TradeRetcode.LONG_ONLY)
    if mode == SYMBOL_TRADE_MODE_SHORTONLY and opens_buy:
        raise Rejection(TradeRetcode.SHORT_ONLY)


def check_order_mode(spec: SymbolSpec, order_type: int) -> None:
    """``INVALID_ORDER`` when ``SYMBOL_ORDER_MODE`` does not allow the order type."""
    if order_type in (OrderType.BUY, OrderType.SELL):
        bit = SYMBOL_ORDER_MARKET
    elif order_type in (OrderType.BUY_LIMIT, OrderType.SELL_LIMIT):
        bit = SYMBOL_ORDER_LIMIT
    elif order_type in (OrderType.BUY_STOP, OrderType.SELL_STOP):
        bit = SYMBOL_ORDER_STOP
    else:
        bit = SYMBOL_ORDER_STOP_LIMIT
    if not spec.order_mode & bit:
        raise Rejection(TradeRetcode.INVALID_ORDER)


def _gap_ok(gap: float, level_points: int, spec: SymbolSpec) -> bool:
    """A distance on the right side (> 0) and at least ``level_points`` points."""
    eps = _eps(spec)
    return gap > eps and gap >= level_points * spec.point - eps


def check_stops(spec: SymbolSpec, is_buy: bool, reference: float, sl: float, tp: float) -> None:
    """``INVALID_STOPS`` for SL/TP on the wrong side of ``reference`` or too close to it.

    ``reference`` is the price the position closes at now (Bid for a buy, Ask for a sell) or,
    for a pending order, the price it will open at. 0 means "no SL/TP".
    """
    for value, bit in ((sl, SYMBOL_ORDER_SL), (tp, SYMBOL_ORDER_TP)):
        if value < 0 or (value and (not spec.order_mode & bit
                                    or not on_grid(value, spec.trade_tick_size))):
            raise Rejection(TradeRetcode.INVALID_STOPS)
    level = spec.trade_stops_level
    if sl and not _gap_ok(reference - sl if is_buy else sl - reference, level, spec):
        raise Rejection(TradeRetcode.INVALID_STOPS)
    if tp and not _gap_ok(tp - reference if is_buy else reference - tp, level, spec):
        raise Rejection(TradeRetcode.INVALID_STOPS)


def check_pending_price(spec: SymbolSpec, order_type: int, price: float, stoplimit: float,
                        tick: Tick) -> None:
    """``INVALID_PRICE`` for a pending price on the wrong side of the market or too close."""
    if price <= 0 or not on_grid(price, spec.trade_tick_size):
        raise Rejection(TradeRetcode.INVALID_PRICE)
    gaps: dict[int, float] = {
        OrderType.BUY_LIMIT: tick.ask - price,
        OrderType.SELL_LIMIT: price - tick.bid,
        OrderType.BUY_STOP: price - tick.ask,
        OrderType.SELL_STOP: tick.bid - price,
        OrderType.BUY_STOP_LIMIT: price - tick.ask,
        OrderType.SELL_STOP_LIMIT: tick.bid - price,
    }
    level = spec.trade_stops_level
    if not _gap_ok(gaps[order_type], level, spec):
        raise Rejection(TradeRetcode.INVALID_PRICE)
    if order_type in (OrderType.BUY_STOP_LIMIT, OrderType.SELL_STOP_LIMIT):
        if stoplimit <= 0 or not on_grid(stoplimit, spec.trade_tick_size):
            raise Rejection(TradeRetcode.INVALID_PRICE)
        gap = price - stoplimit if order_type == OrderType.BUY_STOP_LIMIT else stoplimit - price
        if not _gap_ok(gap, level, spec):
            raise Rejection(TradeRetcode.INVALID_PRICE)


def expiry(spec: SymbolSpec, type_time: int, expiration: int,
           now_msc: int) -> tuple[int, int | None]:
    """``(ORDER_TIME_EXPIRATION to report, expiry instant in msc or None)`` for a new order.

    Raises ``INVALID_EXPIRATION`` for an unknown ``type_time``, one the symbol's expiration
    mask forbids, or a specified expiration not in the future.
    """
    bits: dict[int, int] = {
        OrderTime.GTC: SYMBOL_EXPIRATION_GTC,
        OrderTime.DAY: SYMBOL_EXPIRATION_DAY,
        OrderTime.SPECIFIED: SYMBOL_EXPIRATION_SPECIFIED,
        OrderTime.SPECIFIED_DAY: SYMBOL_EXPIRATION_SPECIFIED_DAY,
    }
    bit = bits.get(type_time)
    if bit is None or not spec.expiration_mode & bit:
        raise Rejection(TradeRetcode.INVALID_EXPIRATION)
    if type_time == OrderTime.GTC:
        return 0, None
    if type_time == OrderTime.DAY:
        return 0, (now_msc // MS_PER_DAY + 1) * MS_PER_DAY
    if type_time == OrderTime.SPECIFIED:
        at = expiration * 1000
    else:
        at = (expiration * 1000 // MS_PER_DAY + 1) * MS_PER_DAY
    if expiration <= 0 or at <= now_msc:
        raise Rejection(TradeRetcode.INVALID_EXPIRATION)
    return expiration, at


def order_frozen(spec: SymbolSpec, order_type: int, price_open: float, tick: Tick) -> bool:
    """Whether a pending order is within the freeze level of its trigger price."""
    level = spec.trade_freeze_level
    if level <= 0:
        return False
    market = tick.ask if order_type in BUY_TYPES else tick.bid
    return abs(market - price_open) < level * spec.point - _eps(spec)


def position_frozen(spec: SymbolSpec, is_buy: bool, sl: float, tp: float, tick: Tick) -> bool:
    """Whether a position's current SL or TP is within the freeze level of the market."""
    level = spec.trade_freeze_level
    if level <= 0:
        return False
    limit = level * spec.point - _eps(spec)
    price = tick.bid if is_buy else tick.ask
    for value in (sl, tp):
        if value and abs(price - value) < limit:
            return True
    return False
