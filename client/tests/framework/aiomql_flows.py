"""aiomql, the asyncio framework written for the ``MetaTrader5`` package (4.0.14, and its
latest release, 4.1.2, which needs Python 3.13), driven through its own classes as its
documentation shows them: the account, a symbol with its candles, ticks and depth of market, an
``Order`` checked and sent, a ``SimpleTrader`` placing a trade with a stop loss, and the open
positions and the history read back and closed.

Nothing of aiomql is changed: the test runs this file in an environment where ``import
MetaTrader5`` is ``mtgateway`` through the ``mtgateway-metatrader5`` distribution, and
``mtgateway.initialize()`` with no argument finds the demo through ``MTGATEWAY_STATE_FILE``.
aiomql's ``Config`` takes the demo's login and server (``AIOMQL_LOGIN``/``AIOMQL_SERVER``), as
its ``aiomql.json`` would. Where the two releases' APIs differ, this file asks aiomql what it
has: 4.1 resets a trader's order once sent (so the trade is read back from the positions), and
renamed ``Positions.close_all`` to ``close_all_positions``. Each step prints one line the test
checks; any exception fails the run.
"""

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import MetaTrader5
from aiomql import (
    Account,
    Config,
    History,
    Order,
    OrderType,
    Positions,
    Symbol,
    TimeFrame,
)
from aiomql.contrib.symbols import ForexSymbol
from aiomql.contrib.traders import SimpleTrader

SYMBOL = os.environ.get("AIOMQL_SYMBOL", "BTCUSD")


async def main() -> None:
    Config(root=os.getcwd(), login=int(os.environ["AIOMQL_LOGIN"]),
           server=os.environ["AIOMQL_SERVER"], password="unused", record_trades=False)
    print("aiomql", version("aiomql"), "on Python", sys.version_info[:2])
    print("MetaTrader5 is", MetaTrader5.__name__)
    async with Account() as account:
        print("account:", account.login, account.server, account.currency,
              account.balance > 0, account.connected)

        symbol = Symbol(name=SYMBOL)
        print("symbol initialized:", await symbol.initialize(), symbol.name, symbol.digits,
              symbol.volume_min)
        tick = await symbol.info_tick()
        print("tick:", tick.ask >= tick.bid > 0, type(tick).__name__)
        candles = await symbol.copy_rates_from_pos(timeframe=TimeFrame.M1, count=50)
        print("candles:", len(candles), list(candles.data.columns)[:5],
              candles[-1].close > 0)
        since = datetime.now(tz=UTC) - timedelta(minutes=5)
        ticks = await symbol.copy_ticks_from(date_from=since, count=100)
        print("ticks:", len(ticks) > 0, list(ticks.data.columns)[:3])
        print("book add:", await symbol.book_add())
        book = await symbol.book_get()
        print("book levels:", len(book) > 0, type(book[0]).__name__)
        print("book release:", await symbol.book_release())

        # Order: aiomql builds the request from TradeRequest.__match_args__
        order = Order(symbol=SYMBOL, type=OrderType.BUY, volume=symbol.volume_min,
                      price=tick.ask, type_filling=MetaTrader5.ORDER_FILLING_IOC,
                      comment="aiomql order")
        checked = await order.check()
        print("order check:", checked.retcode, type(checked).__name__,
              sorted(order.request) == sorted(k for k in order.request
                                              if k in MetaTrader5.TradeRequest.__match_args__))
        sent = await order.send()
        print("order send:", sent.retcode, sent.order > 0, type(sent).__name__)

        # A trader's flow: SimpleTrader sizes the trade from the amount at risk and the stop
        # (ForexSymbol's arithmetic: amount / (distance x contract size)), checks and sends it
        sized = ForexSymbol(name=SYMBOL)
        await sized.initialize()
        trader = SimpleTrader(symbol=sized)
        distance = round(tick.bid * 0.01, sized.digits)
        trader.ram.fixed_amount = 0.02 * distance * sized.trade_contract_size
        stop = round(tick.bid - distance, sized.digits)
        await trader.place_trade(order_type=OrderType.BUY, sl=stop,
                                 parameters={"name": "aiomql trader"})

        positions = Positions()
        mine = await positions.get_positions(symbol=SYMBOL)
        [traded] = [p for p in mine if p.comment == "aiomql trader"]
        print("trader position:", traded.type == OrderType.BUY, traded.sl == stop,
              traded.volume)
        comments = sorted(p.comment for p in mine)
        print("positions:", len(mine), comments, sorted({p.magic for p in mine}))
        if hasattr(positions, "close_all_positions"):  # 4.1: the results of the closes
            closed = len(await positions.close_all_positions())
        else:  # 4.0: the number closed
            closed = await positions.close_all()
        print("closed:", closed, len(await positions.get_positions(symbol=SYMBOL)))

        history = History(date_from=datetime.now(tz=UTC) - timedelta(hours=1),
                          date_to=datetime.now(tz=UTC) + timedelta(hours=1))
        await history.initialize()
        print("history:", len(history.deals) >= 2 * len(mine), len(history.orders) >= len(mine))
    print("done")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
