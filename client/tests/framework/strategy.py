"""A small framework module written for the official ``MetaTrader5`` package, unchanged.

It imports names at module level as frameworks do (so a missing constant fails at import), uses
the package's ``Buy`` and ``Close`` helpers, and reconnects on the package's ``last_error()``
codes. The test runs it with ``MetaTrader5`` resolving to ``mtgateway``.
"""

import sys

import MetaTrader5 as mt5
from MetaTrader5 import (
    RES_E_INTERNAL_FAIL_CONNECT,
    RES_E_NOT_FOUND,
    SYMBOL_CALC_MODE_CFD,
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_CALC_MODE_SERV_COLLATERAL,
    SYMBOL_OPTION_MODE_EUROPEAN,
    SYMBOL_OPTION_RIGHT_CALL,
    SYMBOL_ORDERS_GTC,
    SYMBOL_SWAP_MODE_POINTS,
    SYMBOL_SWAP_MODE_REOPEN_BID,
    TRADE_RETCODE_DONE,
    Buy,
    Close,
)

CALC_MODES = {value: name for name, value in vars(mt5).items()
              if name.startswith("SYMBOL_CALC_MODE_")}
assert SYMBOL_CALC_MODE_FOREX in CALC_MODES and SYMBOL_CALC_MODE_CFD in CALC_MODES
assert (SYMBOL_CALC_MODE_SERV_COLLATERAL, SYMBOL_SWAP_MODE_REOPEN_BID) == (64, 8)
assert (SYMBOL_ORDERS_GTC, SYMBOL_OPTION_RIGHT_CALL, SYMBOL_OPTION_MODE_EUROPEAN) == (0, 0, 0)
assert SYMBOL_SWAP_MODE_POINTS == 1

if not mt5.initialize():
    code, message = mt5.last_error()
    sys.exit(f"initialize failed: {code} {message}")

symbol = "BTCUSD"
info = mt5.symbol_info(symbol)
print("calc mode:", CALC_MODES[info.trade_calc_mode])

result = Buy(symbol, info.volume_min)
print("buy:", result.retcode == TRADE_RETCODE_DONE, result.retcode)
print("close:", Close(symbol))
print("positions left:", len(mt5.positions_get(symbol=symbol)))

if mt5.symbol_info("NO_SUCH_SYMBOL") is None:
    code, message = mt5.last_error()
    print("unknown symbol:", code == RES_E_NOT_FOUND, message)

mt5.shutdown()
if mt5.account_info() is None and mt5.last_error()[0] == RES_E_INTERNAL_FAIL_CONNECT:
    print("after shutdown: reconnect code")
