"""MQL5 constants the ``MetaTrader5`` package does not export: MT Gateway's additions.

The package gives ``SymbolInfo.filling_mode``, ``expiration_mode`` and ``order_mode`` as bit
masks but no names for their bits, and no name for retcode 10046. These are MQL5's names and
values (MQL5 reference, "Symbol Properties" and "Trade Server Return Codes"). They live here,
outside the package's namespace, so code written on ``import mtgateway as mt5`` does not come
to rely on a name that ``import MetaTrader5 as mt5`` lacks: import them as
``from mtgateway.flags import SYMBOL_FILLING_FOK``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SYMBOL_EXPIRATION_DAY",
    "SYMBOL_EXPIRATION_GTC",
    "SYMBOL_EXPIRATION_SPECIFIED",
    "SYMBOL_EXPIRATION_SPECIFIED_DAY",
    "SYMBOL_FILLING_FOK",
    "SYMBOL_FILLING_IOC",
    "SYMBOL_ORDER_CLOSEBY",
    "SYMBOL_ORDER_LIMIT",
    "SYMBOL_ORDER_MARKET",
    "SYMBOL_ORDER_SL",
    "SYMBOL_ORDER_STOP",
    "SYMBOL_ORDER_STOP_LIMIT",
    "SYMBOL_ORDER_TP",
    "TRADE_RETCODE_HEDGE_PROHIBITED",
]

# SYMBOL_FILLING_*: SymbolInfo.filling_mode bits (not the request's ORDER_FILLING_* enum)
SYMBOL_FILLING_FOK: Final = 1
SYMBOL_FILLING_IOC: Final = 2

# SYMBOL_EXPIRATION_*: SymbolInfo.expiration_mode bits
SYMBOL_EXPIRATION_GTC: Final = 1
SYMBOL_EXPIRATION_DAY: Final = 2
SYMBOL_EXPIRATION_SPECIFIED: Final = 4
SYMBOL_EXPIRATION_SPECIFIED_DAY: Final = 8

# SYMBOL_ORDER_*: SymbolInfo.order_mode bits
SYMBOL_ORDER_MARKET: Final = 1
SYMBOL_ORDER_LIMIT: Final = 2
SYMBOL_ORDER_STOP: Final = 4
SYMBOL_ORDER_STOP_LIMIT: Final = 8
SYMBOL_ORDER_SL: Final = 16
SYMBOL_ORDER_TP: Final = 32
SYMBOL_ORDER_CLOSEBY: Final = 64

# TRADE_RETCODE_HEDGE_PROHIBITED: "opening a position is prohibited: hedging is off"
TRADE_RETCODE_HEDGE_PROHIBITED: Final = 10046
