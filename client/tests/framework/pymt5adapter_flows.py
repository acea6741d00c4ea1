"""pymt5adapter 0.4.4 ("a drop in replacement wrapper for the MetaTrader5 package") as its
README uses it, on ``mtgateway`` as ``MetaTrader5``.

Its ``import`` binds ``MetaTrader5._RawOrder`` (the package's module-level deal request); its
``connected`` context manager is entered with every option of its README (logger, trade
checks, errors raised); then the pass-through functions, the README's error example, and a
trade cycle through its ``order_send``: a market buy, SL/TP, a partial close, a buy limit
placed, modified and removed, the close, and the history. Its date-range history queries pass
the dates both by position and as ``datetime_from=``/``datetime_to=`` keywords the package does
not take, so the package answers them ``None`` with ``(-2, 'Invalid arguments')`` (its README's
call log shows a terminal's answer) and pymt5adapter shows an empty tuple, here as there.
``initialize()`` finds the demo through ``MTGATEWAY_STATE_FILE``; the login and server are the
demo's (``ADAPTER_LOGIN``, ``ADAPTER_SERVER``). BTCUSD, which the demo trades every day.

Each step prints one line the test checks; any exception fails the run.
"""

import logging
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import MetaTrader5
import pymt5adapter as mt5

SYMBOL = "BTCUSD"

log_file = Path(tempfile.mkdtemp()) / "mt5.log"
logger = mt5.get_logger(path_to_logfile=log_file, loglevel=logging.DEBUG, time_utc=True)
connection = mt5.connected(server=os.environ["ADAPTER_SERVER"],
                           login=int(os.environ["ADAPTER_LOGIN"]), password="unused",
                           timeout=5000, logger=logger, ensure_trade_enabled=True,
                           enable_real_trading=False, raise_on_errors=True)
with connection as conn:
    print("version:", mt5.version()[0])
    print("account:", mt5.account_info().login, mt5.terminal_info().trade_allowed)
    # the README's error example, raised as MT5Error with the package's code and text
    try:
        mt5.history_orders_total("invalid", "arguments")
    except mt5.MT5Error as error:
        print("MT5Error:", error.error_code.value, str(error))
    conn.raise_on_errors = False
    print("quiet:", mt5.history_deals_get("sdf", "asdfa"), tuple(mt5.last_error()))
    print("symbols:", len(mt5.symbols_get()) > 0, mt5.symbol_info(SYMBOL).name)
    print("rates:", len(mt5.copy_rates_from_pos(SYMBOL, mt5.TIMEFRAME_M1, 0, 5)))

    def send(**request: object) -> object:
        result = mt5.order_send(dict(request))  # a copy: it pops "symbol" from its argument
        assert result is not None, mt5.last_error()
        return result

    tick = mt5.symbol_info_tick(SYMBOL)
    buy = dict(action=mt5.TRADE_ACTION_DEAL, symbol=SYMBOL, volume=0.02,
               type=mt5.ORDER_TYPE_BUY, price=tick.ask, deviation=20, magic=4242,
               comment="pymt5adapter", type_time=mt5.ORDER_TIME_GTC,
               type_filling=mt5.ORDER_FILLING_IOC)
    print("check:", mt5.order_check(dict(buy)).retcode)
    opened = send(**buy)
    position = opened.order
    sltp = send(action=mt5.TRADE_ACTION_SLTP, symbol=SYMBOL, position=position,
                sl=round(tick.bid * 0.95, 2), tp=round(tick.ask * 1.05, 2))
    part = send(action=mt5.TRADE_ACTION_DEAL, symbol=SYMBOL, volume=0.01,
                type=mt5.ORDER_TYPE_SELL, position=position,
                price=mt5.symbol_info_tick(SYMBOL).bid, deviation=20,
                type_filling=mt5.ORDER_FILLING_IOC)
    held = mt5.positions_get(ticket=position)
    print("held:", len(held), held[0].volume, held[0].sl == round(tick.bid * 0.95, 2))
    placed = send(action=mt5.TRADE_ACTION_PENDING, symbol=SYMBOL, volume=0.01,
                  type=mt5.ORDER_TYPE_BUY_LIMIT, price=round(tick.ask * 0.9, 2),
                  type_filling=mt5.ORDER_FILLING_RETURN)
    modified = send(action=mt5.TRADE_ACTION_MODIFY, order=placed.order,
                    price=round(tick.ask * 0.89, 2), sl=round(tick.ask * 0.85, 2))
    print("pending:", mt5.orders_get(ticket=placed.order)[0].price_open
          == round(tick.ask * 0.89, 2))
    removed = send(action=mt5.TRADE_ACTION_REMOVE, order=placed.order)
    closed = send(action=mt5.TRADE_ACTION_DEAL, symbol=SYMBOL, volume=0.01,
                  type=mt5.ORDER_TYPE_SELL, position=position,
                  price=mt5.symbol_info_tick(SYMBOL).bid, deviation=20,
                  type_filling=mt5.ORDER_FILLING_IOC)
    print("retcodes:", [r.retcode for r in (opened, sltp, part, placed, modified, removed,
                                            closed)])
    print("flat:", mt5.positions_get(symbol=SYMBOL), mt5.orders_get(symbol=SYMBOL))
    # a ticket of 0, which pymt5adapter's own tests on a terminal read as an empty tuple
    print("zero:", mt5.positions_get(ticket=0), mt5.orders_get(ticket=0))
    print("by position:", [d.entry for d in mt5.history_deals_get(position=position)])
    print("out deals:", len(mt5.history_deals_get(
        function=lambda d: d.entry == mt5.DEAL_ENTRY_OUT and d.position_id == position)))
    now = datetime.now()
    print("date range:", mt5.history_deals_get(now - timedelta(days=2), now),
          tuple(mt5.last_error()))
# leaving the context shut the connection down, as on a terminal
print("after:", MetaTrader5.account_info(), tuple(MetaTrader5.last_error()))
print("done")
