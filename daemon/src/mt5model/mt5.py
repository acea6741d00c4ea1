"""MetaTrader 5 constants, with the numeric values the official ``MetaTrader5`` package exports.

One table for the whole product: the emulated terminal produces these values, the daemon accepts
a constant's name wherever MT5 takes the integer (``"ORDER_TYPE_BUY"`` for ``0``), and
``order_send`` results carry ``retcode_name`` looked up here. Source: the MQL5 reference's
constants (https://www.mql5.com/en/docs/constants) and the package's own
(https://www.mql5.com/en/docs/python_metatrader5).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "CopyTicks",
    "DealEntry",
    "DealReason",
    "DealType",
    "OrderFilling",
    "OrderReason",
    "OrderState",
    "OrderTime",
    "OrderType",
    "PositionReason",
    "PositionType",
    "SymbolExpiration",
    "SymbolFilling",
    "SymbolOrder",
    "TickFlag",
    "Timeframe",
    "TradeAction",
    "TradeRetcode",
    "ENUM_PREFIXES",
    "SUCCESS_RETCODES",
    "retcode_name",
    "timeframe_seconds",
]


class TradeAction(IntEnum):
    """TRADE_ACTION_*: the kind of trade request."""

    DEAL = 1
    PENDING = 5
    SLTP = 6
    MODIFY = 7
    REMOVE = 8
    CLOSE_BY = 10


class OrderType(IntEnum):
    """ORDER_TYPE_*."""

    BUY = 0
    SELL = 1
    BUY_LIMIT = 2
    SELL_LIMIT = 3
    BUY_STOP = 4
    SELL_STOP = 5
    BUY_STOP_LIMIT = 6
    SELL_STOP_LIMIT = 7
    CLOSE_BY = 8


class OrderFilling(IntEnum):
    """ORDER_FILLING_*: the request's fill policy (not the symbol's SYMBOL_FILLING_* bit mask)."""

    FOK = 0
    IOC = 1
    RETURN = 2
    BOC = 3


class SymbolFilling(IntFlag):
    """SYMBOL_FILLING_*: the bit mask of fill policies a symbol allows
    (``symbol_info().filling_mode``); not the request's :class:`OrderFilling`."""

    FOK = 1
    IOC = 2
    BOC = 4


class SymbolExpiration(IntFlag):
    """SYMBOL_EXPIRATION_*: the bit mask of pending-order lifetimes a symbol allows."""

    GTC = 1
    DAY = 2
    SPECIFIED = 4
    SPECIFIED_DAY = 8


class SymbolOrder(IntFlag):
    """SYMBOL_ORDER_*: the bit mask of order types a symbol allows."""

    MARKET = 1
    LIMIT = 2
    STOP = 4
    STOP_LIMIT = 8
    SL = 16
    TP = 32
    CLOSEBY = 64


class TickFlag(IntFlag):
    """TICK_FLAG_*: what changed in a tick (``MqlTick.flags``)."""

    BID = 2
    ASK = 4
    LAST = 8
    VOLUME = 16
    BUY = 32
    SELL = 64


class OrderTime(IntEnum):
    """ORDER_TIME_*: how long a pending order lives."""

    GTC = 0
    DAY = 1
    SPECIFIED = 2
    SPECIFIED_DAY = 3


class OrderState(IntEnum):
    """ORDER_STATE_*."""

    STARTED = 0
    PLACED = 1
    CANCELED = 2
    PARTIAL = 3
    FILLED = 4
    REJECTED = 5
    EXPIRED = 6
    REQUEST_ADD = 7
    REQUEST_MODIFY = 8
    REQUEST_CANCEL = 9


class PositionType(IntEnum):
    """POSITION_TYPE_*."""

    BUY = 0
    SELL = 1


class DealType(IntEnum):
    """DEAL_TYPE_*."""

    BUY = 0
    SELL = 1
    BALANCE = 2
    CREDIT = 3
    CHARGE = 4
    CORRECTION = 5
    BONUS = 6
    COMMISSION = 7
    COMMISSION_DAILY = 8
    COMMISSION_MONTHLY = 9
    COMMISSION_AGENT_DAILY = 10
    COMMISSION_AGENT_MONTHLY = 11
    INTEREST = 12
    BUY_CANCELED = 13
    SELL_CANCELED = 14
    DEAL_DIVIDEND = 15
    DEAL_DIVIDEND_FRANKED = 16
    DEAL_TAX = 17


class DealEntry(IntEnum):
    """DEAL_ENTRY_*."""

    IN = 0
    OUT = 1
    INOUT = 2
    OUT_BY = 3


class OrderReason(IntEnum):
    """ORDER_REASON_*."""

    CLIENT = 0
    MOBILE = 1
    WEB = 2
    EXPERT = 3
    SL = 4
    TP = 5
    SO = 6


class PositionReason(IntEnum):
    """POSITION_REASON_*."""

    CLIENT = 0
    MOBILE = 1
    WEB = 2
    EXPERT = 3


class DealReason(IntEnum):
    """DEAL_REASON_*."""

    CLIENT = 0
    MOBILE = 1
    WEB = 2
    EXPERT = 3
    SL = 4
    TP = 5
    SO = 6
    ROLLOVER = 7
    VMARGIN = 8
    SPLIT = 9


class Timeframe(IntEnum):
    """TIMEFRAME_*: minutes for M*, ``0x4000 | hours`` for H*/D1, then W1 and MN1."""

    M1 = 1
    M2 = 2
    M3 = 3
    M4 = 4
    M5 = 5
    M6 = 6
    M10 = 10
    M12 = 12
    M15 = 15
    M20 = 20
    M30 = 30
    H1 = 16385
    H2 = 16386
    H3 = 16387
    H4 = 16388
    H6 = 16390
    H8 = 16392
    H12 = 16396
    D1 = 16408
    W1 = 32769
    MN1 = 49153


class CopyTicks(IntEnum):
    """COPY_TICKS_*: which ticks ``copy_ticks_*`` returns."""

    ALL = -1
    INFO = 1
    TRADE = 2


class TradeRetcode(IntEnum):
    """TRADE_RETCODE_*: the trade server's answer to a request (10005 and 10037 do not exist)."""

    REQUOTE = 10004
    REJECT = 10006
    CANCEL = 10007
    PLACED = 10008
    DONE = 10009
    DONE_PARTIAL = 10010
    ERROR = 10011
    TIMEOUT = 10012
    INVALID = 10013
    INVALID_VOLUME = 10014
    INVALID_PRICE = 10015
    INVALID_STOPS = 10016
    TRADE_DISABLED = 10017
    MARKET_CLOSED = 10018
    NO_MONEY = 10019
    PRICE_CHANGED = 10020
    PRICE_OFF = 10021
    INVALID_EXPIRATION = 10022
    ORDER_CHANGED = 10023
    TOO_MANY_REQUESTS = 10024
    NO_CHANGES = 10025
    SERVER_DISABLES_AT = 10026
    CLIENT_DISABLES_AT = 10027
    LOCKED = 10028
    FROZEN = 10029
    INVALID_FILL = 10030
    CONNECTION = 10031
    ONLY_REAL = 10032
    LIMIT_ORDERS = 10033
    LIMIT_VOLUME = 10034
    INVALID_ORDER = 10035
    POSITION_CLOSED = 10036
    INVALID_CLOSE_VOLUME = 10038
    CLOSE_ORDER_EXIST = 10039
    LIMIT_POSITIONS = 10040
    REJECT_CANCEL = 10041
    LONG_ONLY = 10042
    SHORT_ONLY = 10043
    CLOSE_ONLY = 10044
    FIFO_CLOSE = 10045
    HEDGE_PROHIBITED = 10046


#: Retcodes that mean the request was carried out (MetaApi's list, minus its own 0).
SUCCESS_RETCODES: frozenset[int] = frozenset(
    {TradeRetcode.PLACED, TradeRetcode.DONE, TradeRetcode.DONE_PARTIAL, TradeRetcode.NO_CHANGES}
)

#: Constant-name prefix of each enum, for accepting ``"ORDER_TYPE_BUY"`` where MT5 takes 0.
ENUM_PREFIXES: dict[type[IntEnum], str] = {
    TradeAction: "TRADE_ACTION_",
    OrderType: "ORDER_TYPE_",
    OrderFilling: "ORDER_FILLING_",
    OrderTime: "ORDER_TIME_",
    OrderState: "ORDER_STATE_",
    PositionType: "POSITION_TYPE_",
    DealType: "DEAL_TYPE_",
    DealEntry: "DEAL_ENTRY_",
    OrderReason: "ORDER_REASON_",
    PositionReason: "POSITION_REASON_",
    DealReason: "DEAL_REASON_",
    Timeframe: "TIMEFRAME_",
    CopyTicks: "COPY_TICKS_",
    TradeRetcode: "TRADE_RETCODE_",
}


def retcode_name(retcode: int) -> str:
    """``"TRADE_RETCODE_DONE"`` for 10009; ``"RETCODE_<n>"`` for a code MT5 does not define.

    ``order_check`` answers 0 on success, which MT5 documents as "done" without a constant.
    """
    if retcode == 0:
        return "OK"
    try:
        return "TRADE_RETCODE_" + TradeRetcode(retcode).name
    except ValueError:
        return f"RETCODE_{retcode}"


def timeframe_seconds(timeframe: Timeframe) -> int | None:
    """Length of a fixed-length timeframe in seconds; None for MN1, whose months vary."""
    if timeframe is Timeframe.MN1:
        return None
    if timeframe is Timeframe.W1:
        return 7 * 86400
    if timeframe & 0x4000:
        return (timeframe & 0xFF) * 3600
    return int(timeframe) * 60
