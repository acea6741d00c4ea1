"""Records of the simulated broker (orders, positions, deals) and trade-request parsing.

The broker keeps its state in the small mutable dataclasses below and converts them to the dicts
of the official ``MetaTrader5`` package (``TradeOrder``, ``TradePosition``, ``TradeDeal``; field
names and order as https://www.mql5.com/en/docs/python_metatrader5 gives them) only at the edge,
with the live price supplied by the caller.

:func:`parse_request` is the one place where a ``TradeRequest`` dict is type-checked. MT5's
terminal refuses a request it cannot even read (the Python package raises or returns None);
we raise :class:`EmulatorError` ``INVALID_PARAMS`` naming the field. Everything that *can* be
read -- even nonsense such as an unknown action or a negative volume -- is left to the broker,
which answers with a trade retcode like the real server. As in MT5, an absent field means 0
(or ``""``), except that the broker still distinguishes "absent" from "0" for the fields it
requires (``symbol``, ``volume``, ``action``, ...), kept in :attr:`TradeRequest.present`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mt5model.mt5 import TradeRetcode
from mt5model.types import EmulatorError, ErrorCode

__all__ = [
    "COMMENT_LENGTH",
    "RETCODE_COMMENTS",
    "Deal",
    "MT5Dict",
    "Order",
    "Position",
    "TradeRequest",
    "check_int",
    "check_str",
    "check_time",
    "parse_request",
]

#: A structure as the MetaTrader5 package reports it, converted to a dict.
MT5Dict = dict[str, Any]

#: MT5 keeps at most 31 characters of an order/deal/position comment.
COMMENT_LENGTH = 31

#: The trade server's comment for each retcode (what MT5 puts in ``OrderSendResult.comment``).
RETCODE_COMMENTS: dict[int, str] = {
    0: "Done",
    TradeRetcode.REQUOTE: "Requote",
    TradeRetcode.PLACED: "Request executed",
    TradeRetcode.DONE: "Request executed",
    TradeRetcode.INVALID: "Invalid request",
    TradeRetcode.INVALID_VOLUME: "Invalid volume",
    TradeRetcode.INVALID_PRICE: "Invalid price",
    TradeRetcode.INVALID_STOPS: "Invalid stops",
    TradeRetcode.TRADE_DISABLED: "Trade disabled",
    TradeRetcode.MARKET_CLOSED: "Market closed",
    TradeRetcode.NO_MONEY: "No money",
    TradeRetcode.PRICE_OFF: "No prices",
    TradeRetcode.INVALID_EXPIRATION: "Invalid expiration",
    TradeRetcode.NO_CHANGES: "No changes",
    TradeRetcode.CLIENT_DISABLES_AT: "AutoTrading disabled by client",
    TradeRetcode.FROZEN: "Order or position frozen",
    TradeRetcode.INVALID_FILL: "Unsupported filling mode",
    TradeRetcode.LIMIT_ORDERS: "Limit orders reached",
    TradeRetcode.LIMIT_VOLUME: "Limit volume reached",
    TradeRetcode.INVALID_ORDER: "Invalid order",
    TradeRetcode.POSITION_CLOSED: "Position already closed",
    TradeRetcode.INVALID_CLOSE_VOLUME: "Invalid close volume",
    TradeRetcode.LONG_ONLY: "Long only allowed",
    TradeRetcode.SHORT_ONLY: "Short only allowed",
    TradeRetcode.CLOSE_ONLY: "Close only allowed",
}

_INT_FIELDS = ("action", "magic", "order", "deviation", "type", "type_filling", "type_time",
               "position", "position_by")
_FLOAT_FIELDS = ("volume", "price", "stoplimit", "sl", "tp")
_STR_FIELDS = ("symbol", "comment")
#: TradeRequest field order of the MetaTrader5 package.
_REQUEST_FIELDS = ("action", "magic", "order", "symbol", "volume", "price", "stoplimit", "sl",
                   "tp", "deviation", "type", "type_filling", "type_time", "expiration",
                   "comment", "position", "position_by")


def _invalid(name: str, why: str) -> EmulatorError:
    return EmulatorError(ErrorCode.INVALID_PARAMS, f"{name}: {why}")


def check_int(name: str, value: object) -> int:
    """``value`` as an int; bools, floats and strings are refused (``INVALID_PARAMS``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"expected an integer, got {type(value).__name__}")
    return value


def check_float(name: str, value: object) -> float:
    """A finite number (int or float, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, f"expected a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise _invalid(name, "must be finite")
    return result


def check_str(name: str, value: object) -> str:
    """A string."""
    if not isinstance(value, str):
        raise _invalid(name, f"expected a string, got {type(value).__name__}")
    return value


def check_time(name: str, value: object) -> float:
    """Epoch seconds (int or float, not bool)."""
    return check_float(name, value)


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """A type-checked ``TradeRequest``; absent fields hold MT5's zero defaults."""

    action: int = 0
    magic: int = 0
    order: int = 0
    symbol: str = ""
    volume: float = 0.0
    price: float = 0.0
    stoplimit: float = 0.0
    sl: float = 0.0
    tp: float = 0.0
    deviation: int = 0
    type: int = 0
    type_filling: int = 0
    type_time: int = 0
    expiration: int = 0
    comment: str = ""
    position: int = 0
    position_by: int = 0
    #: Names of the fields the caller actually sent.
    present: frozenset[str] = frozenset()

    def as_dict(self) -> MT5Dict:
        """The request echo of ``OrderSendResult.request`` (every field, MT5 order)."""
        return {name: getattr(self, name) for name in _REQUEST_FIELDS}


def parse_request(request: object) -> TradeRequest:
    """Type-check a ``TradeRequest`` dict.

    Raises:
        EmulatorError: ``INVALID_PARAMS`` naming the field for a non-dict, an unknown key or a
            value of the wrong type.
    """
    if not isinstance(request, dict):
        raise _invalid("request", f"expected a dict, got {type(request).__name__}")
    values: dict[str, Any] = {}
    for key, value in request.items():
        if not isinstance(key, str):
            raise _invalid("request", f"field names must be strings, got {key!r}")
        if key in _INT_FIELDS:
            values[key] = check_int(key, value)
        elif key in _FLOAT_FIELDS:
            values[key] = check_float(key, value)
        elif key in _STR_FIELDS:
            values[key] = check_str(key, value)
        elif key == "expiration":
            seconds = check_time(key, value)
            if seconds < 0:
                raise _invalid(key, "must not be negative")
            values[key] = int(seconds)
        else:
            raise _invalid(key, "unknown TradeRequest field")
    return TradeRequest(**values, present=frozenset(values))


def _seconds(msc: int) -> int:
    return msc // 1000


@dataclass(slots=True)
class Order:
    """A pending order, or an order of the history (filled, canceled, expired, rejected)."""

    ticket: int
    time_setup_msc: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    symbol: str
    comment: str
    sl: float = 0.0
    tp: float = 0.0
    price_stoplimit: float = 0.0
    time_done_msc: int = 0
    #: ``ORDER_TIME_EXPIRATION`` as reported (epoch seconds, 0 = none).
    time_expiration: int = 0
    #: When the order expires (server msc), None for GTC.
    expires_msc: int | None = None
    position_id: int = 0
    position_by_id: int = 0
    #: Price the order was filled or last seen at; reported as price_current in history.
    price_done: float = 0.0

    def to_dict(self, price_current: float) -> MT5Dict:
        """``TradeOrder`` with ``price_current`` supplied by the caller."""
        return {
            "ticket": self.ticket,
            "time_setup": _seconds(self.time_setup_msc),
            "time_setup_msc": self.time_setup_msc,
            "time_done": _seconds(self.time_done_msc),
            "time_done_msc": self.time_done_msc,
            "time_expiration": self.time_expiration,
            "type": self.type,
            "type_time": self.type_time,
            "type_filling": self.type_filling,
            "state": self.state,
            "magic": self.magic,
            "position_id": self.position_id,
            "position_by_id": self.position_by_id,
            "reason": self.reason,
            "volume_initial": self.volume_initial,
            "volume_current": self.volume_current,
            "price_open": self.price_open,
            "sl": self.sl,
            "tp": self.tp,
            "price_current": price_current,
            "price_stoplimit": self.price_stoplimit,
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }


@dataclass(slots=True)
class Position:
    """An open position; ``ticket`` equals ``identifier`` (the opening order's ticket)."""

    ticket: int
    time_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    symbol: str
    comment: str
    sl: float = 0.0
    tp: float = 0.0
    time_update_msc: int = 0
    #: Swap accumulated at the rollovers since it opened, in the account currency.
    swap: float = 0.0

    def to_dict(self, price_current: float, profit: float) -> MT5Dict:
        """``TradePosition`` with the live price and profit supplied by the caller."""
        return {
            "ticket": self.ticket,
            "time": _seconds(self.time_msc),
            "time_msc": self.time_msc,
            "time_update": _seconds(self.time_update_msc),
            "time_update_msc": self.time_update_msc,
            "type": self.type,
            "magic": self.magic,
            "identifier": self.identifier,
            "reason": self.reason,
            "volume": self.volume,
            "price_open": self.price_open,
            "sl": self.sl,
            "tp": self.tp,
            "price_current": price_current,
            "swap": self.swap,
            "profit": profit,
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }


@dataclass(frozen=True, slots=True)
class Deal:
    """A deal of the history (trade or balance operation)."""

    ticket: int
    order: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    profit: float
    symbol: str
    comment: str
    #: The closed volume's share of the position's accumulated swap (closing deals only).
    swap: float = 0.0

    def to_dict(self) -> MT5Dict:
        """``TradeDeal``; commission and fee are always 0 in the simulation."""
        return {
            "ticket": self.ticket,
            "order": self.order,
            "time": _seconds(self.time_msc),
            "time_msc": self.time_msc,
            "type": self.type,
            "entry": self.entry,
            "magic": self.magic,
            "position_id": self.position_id,
            "reason": self.reason,
            "volume": self.volume,
            "price": self.price,
            "commission": 0.0,
            "swap": self.swap,
            "profit": self.profit,
            "fee": 0.0,
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }
