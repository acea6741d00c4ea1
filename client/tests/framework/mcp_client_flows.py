"""metatrader-mcp-server 0.5.1's library, as its MCP tools call it, on ``mtgateway`` as
``MetaTrader5``.

metatrader-mcp-server lets language-model agents trade through MCP tools; each tool is a thin
call of its library, ``metatrader_client``, on the client its server's lifespan makes with
``metatrader_mcp.utils.init(login, password, server, path)``. This file makes the client that
way and calls the library as the tools do (``metatrader_mcp/server.py``), without the MCP
transport: the account, symbols, a symbol's properties, its price and candles, a market order
opened, its stops modified, a pending order placed and cancelled, the position closed, and the
deals and orders of the history. It is installed as docs/client.md says, beside the
``mtgateway-metatrader5`` distribution; ``initialize()`` finds the demo through
``MTGATEWAY_STATE_FILE``, and the login and server are the demo's (``MCP_LOGIN``,
``MCP_SERVER``), as the server's ``login``/``server`` environment gives them (the password is
never sent anywhere). BTCUSD, which the emulated terminal trades every day.

Last, ``disconnect()``, what the MCP lifespan ends with: it takes ``shutdown()``'s answer for
a success flag and raises ``DisconnectionError`` on a false one (a terminal answers True).

Each step prints one line the test checks; any exception fails the run.
"""

import os

import MetaTrader5
from metatrader_mcp.utils import init

SYMBOL = "BTCUSD"

client = init(os.environ["MCP_LOGIN"], "unused", os.environ["MCP_SERVER"], None)
print("connected:", client.is_connected())

# get_account_info
statistics = client.account.get_trade_statistics()
print("account:", statistics["currency"], statistics["leverage"], statistics["balance"] > 0)

# get_symbols, and the symbol's properties as the model is shown them
print("symbols:", SYMBOL in client.market.get_symbols(group="*USD*"))
info = client.market.get_symbol_info(SYMBOL)
print("symbol info:", info["name"], info["digits"],
      sorted(set(info) - set(MetaTrader5.SymbolInfo.__match_args__)))

# get_symbol_price, get_candles_latest
price = client.market.get_symbol_price(symbol_name=SYMBOL)
print("price:", price["ask"] >= price["bid"] > 0)
candles = client.market.get_candles_latest(symbol_name=SYMBOL, timeframe="M1", count=50)
print("candles:", len(candles), list(candles.columns)[:5])

# place_market_order: its request always carries "position": 0
volume = info["volume_min"]
opened = client.order.place_market_order(symbol=SYMBOL, volume=volume, type="BUY")
print("market order:", opened["error"], opened["message"].split(" LOT")[0])
ticket = opened["data"].order

# get_positions_by_symbol, modify_position
positions = client.order.get_positions_by_symbol(symbol=SYMBOL)
print("positions:", list(positions["id"]) == [ticket])
stop = round(price["bid"] * 0.95, info["digits"])
take = round(price["ask"] * 1.05, info["digits"])
modified = client.order.modify_position(id=ticket, stop_loss=stop, take_profit=take)
print("modified:", modified["error"], modified["message"][:40])
[position] = MetaTrader5.positions_get(ticket=ticket)
print("stops:", (position.sl, position.tp) == (stop, take))

# place_pending_order, cancel_pending_order
placed = client.order.place_pending_order(symbol=SYMBOL, volume=volume, type="BUY",
                                          price=round(price["bid"] * 0.8, info["digits"]))
print("pending order:", placed["error"], placed["message"][:30])
pending = client.order.get_pending_orders_by_symbol(symbol=SYMBOL)
cancelled = client.order.cancel_pending_order(id=int(pending["id"].iloc[0]))
print("cancelled:", cancelled["error"], len(client.order.get_pending_orders_by_symbol(
    symbol=SYMBOL)))

# close_position
closed = client.order.close_position(id=ticket)
print("closed:", closed["error"], len(client.order.get_positions_by_symbol(symbol=SYMBOL)))

# get_deals, get_orders (the tools' defaults: the last 30 days)
deals = client.history.get_deals_as_dataframe()
print("deals:", sorted(deals[deals["position_id"] == ticket]["entry"].tolist()))
orders = client.history.get_orders_as_dataframe()
print("orders:", len(orders) >= 3, client.history.get_total_deals() >= 2)

# the lifespan's end
print("disconnected:", client.disconnect())
print("done")
