"""A bot written for the ``MetaTrader5`` package, unchanged: ``import MetaTrader5``, then
``initialize()`` with no argument, as a bot beside a terminal calls it, and the package's own
order example (buy the smallest lot, close it) and bars.

Nothing in it names MT Gateway: it finds the daemon only through what ``mtgateway setup``
wrote for the user running it (``mtgateway.places``). ``daemon/tests/e2e/test_setup.py`` runs it on
Linux after setup, the Windows stage (``tests/windows/installed.py``) with the installed
``python.exe``, each with no ``MTGATEWAY_*`` variable set. It prints each step and exits 0
when the buy and its close were done.

    python unchanged_bot.py [SYMBOL]      (default EURUSD)
"""

import sys

import MetaTrader5 as mt5

symbol = sys.argv[1] if len(sys.argv) > 1 else "EURUSD"

if not mt5.initialize():
    print("initialize() failed, error code =", mt5.last_error())
    quit(1)
account = mt5.account_info()
print(f"account {account.login} on {account.server}")

info = mt5.symbol_info(symbol)
if info is None:
    print(symbol, "not found, error code =", mt5.last_error())
    quit(1)
if not info.visible:
    mt5.symbol_select(symbol, True)
if info.filling_mode & 1:  # SYMBOL_FILLING_FOK
    filling = mt5.ORDER_FILLING_FOK
elif info.filling_mode & 2:  # SYMBOL_FILLING_IOC
    filling = mt5.ORDER_FILLING_IOC
else:
    filling = mt5.ORDER_FILLING_RETURN
lot = info.volume_min

result = mt5.order_send({
    "action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": lot,
    "type": mt5.ORDER_TYPE_BUY, "price": mt5.symbol_info_tick(symbol).ask, "deviation": 20,
    "magic": 234000, "comment": "unchanged bot open", "type_time": mt5.ORDER_TIME_GTC,
    "type_filling": filling})
if result is None or result.retcode != mt5.TRADE_RETCODE_DONE:
    print("order_send failed:", result, mt5.last_error())
    quit(1)
print(f"order_send: {result.retcode} {result.comment} order {result.order}")

result = mt5.order_send({
    "action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": lot,
    "type": mt5.ORDER_TYPE_SELL, "position": result.order,
    "price": mt5.symbol_info_tick(symbol).bid, "deviation": 20, "magic": 234000,
    "comment": "unchanged bot close", "type_time": mt5.ORDER_TIME_GTC, "type_filling": filling})
if result is None or result.retcode != mt5.TRADE_RETCODE_DONE:
    print("close failed:", result, mt5.last_error())
    quit(1)
print(f"close: {result.retcode} {result.comment}")

rates = mt5.copy_rates_from_pos(symbol, mt5.TIMEFRAME_M1, 0, 1000)
print(f"rates: {type(rates).__name__} {0 if rates is None else len(rates)}")
mt5.shutdown()
print("done")
