"""A MetaTrader5-package script, as the package's documentation writes them, on MT Gateway.

Apart from the two lines that hand ``initialize()`` the state file named by ``--state-file``,
the only line that differs from code written for the ``MetaTrader5`` package is the import:
``import MetaTrader5 as mt5`` became ``import mtgateway as mt5``. ``mt5.initialize()`` finds
the gateway and the token in ``MTGATEWAY_URL`` / ``MTGATEWAY_TOKEN``, or in the state file
``mtgateway demo --state-file`` writes (``--state-file`` or ``MTGATEWAY_STATE_FILE``)::

    mtgateway demo --state-file demo.json &
    python examples/mt5_script.py --state-file demo.json

History dates come from the trade server's clock (its last tick), so the script works as well
against a replayed weekday (``mtgateway demo --start-time 2026-11-18T10:00:00Z``).

It connects, reads the account, picks the first symbol whose buy checks out now (``order_check``
of that very request answers 0: its market is open -- at weekends only crypto trades -- and the
account's risk policy, if its owner registered one, takes its lot and stop loss), buys the
smallest lot with a stop loss and a take profit, finds the position, closes it, reads the two
deals back from history by date and group, and loads 50 000 one-minute bars into numpy.
``daemon/tests/e2e/test_examples.py`` runs it against a real ``mtgateway demo`` on exactly the
README's quick-start install, on a Saturday, a Sunday and a Wednesday, the account registered
with the console form's defaults.
"""

import sys
from datetime import UTC, datetime, timedelta

import mtgateway as mt5

try:
    import numpy  # noqa: F401 - copy_rates_from_pos answers a numpy array, as the package's
except ImportError:
    sys.exit("This example needs numpy for the bars (the MetaTrader5 package's arrays): from "
             "MT Gateway's repository, pip install './client[numpy]'")

# establish connection to the MetaTrader 5 terminal
# `--state-file demo.json` names the demo's state file (else $MTGATEWAY_STATE_FILE)
state_file = sys.argv[2] if sys.argv[1:2] == ["--state-file"] and len(sys.argv) > 2 else None
if not mt5.initialize(state_file=state_file):
    print("initialize() failed, error code =", mt5.last_error())
    quit(1)
print("version:", mt5.version())

account_info = mt5.account_info()
if account_info is None:
    print("account_info() failed, error code =", mt5.last_error())
    quit(1)
print(f"account {account_info.login} on {account_info.server}: balance {account_info.balance} "
      f"{account_info.currency}")
assert account_info._asdict()["login"] == account_info.login


# the buy this script sends: the smallest lot, with a stop loss and a take profit
def prepare_buy(symbol_info):
    tick = mt5.symbol_info_tick(symbol_info.name)
    if tick is None or tick.ask <= 0:
        return None  # no quote
    point = symbol_info.point
    distance = max(100 * point, 10 * (tick.ask - tick.bid),
                   (symbol_info.trade_stops_level + 10) * point)
    if symbol_info.filling_mode & 1:  # SYMBOL_FILLING_FOK (MQL5; the package has no name)
        filling = mt5.ORDER_FILLING_FOK
    elif symbol_info.filling_mode & 2:  # SYMBOL_FILLING_IOC
        filling = mt5.ORDER_FILLING_IOC
    else:
        filling = mt5.ORDER_FILLING_RETURN
    return {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol_info.name,
        "volume": symbol_info.volume_min,
        "type": mt5.ORDER_TYPE_BUY,
        "price": tick.ask,
        "sl": round(tick.ask - distance, symbol_info.digits),
        "tp": round(tick.ask + distance, symbol_info.digits),
        "deviation": deviation,
        "magic": 234000,
        "comment": "python script open",
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": filling,
    }


# a symbol to trade now: the first whose buy checks out (order_check answers 0): its
# market is open (at weekends only crypto trades) and the account's risk policy, if its
# owner registered one, takes that very order (its symbol, lot and stop loss)
deviation = 20
symbol = request = None
for s in mt5.symbols_get():
    candidate = prepare_buy(s)
    check = None if candidate is None else mt5.order_check(candidate)
    if check is not None and check.retcode == 0:
        symbol, request = s.name, candidate
        break
if symbol is None:
    print("no symbol takes the order now (markets closed, or the account's policy refuses it)")
    quit(1)
symbol_info = mt5.symbol_info(symbol)
if not symbol_info.visible:
    mt5.symbol_select(symbol, True)
print(f"trading {symbol} ({symbol_info.description})")
lot, filling = request["volume"], request["type_filling"]

# send a trading request
result = mt5.order_send(request)
if result is None or result.retcode != mt5.TRADE_RETCODE_DONE:
    print("order_send failed:", result, mt5.last_error())
    quit(1)
print(f"1. order_send(): by {symbol} {lot} lots at {result.price} with deviation={deviation} "
      "points")
result_dict = result._asdict()
for field in result_dict.keys():
    if field == "request":
        traderequest_dict = result_dict[field]._asdict()
        assert traderequest_dict["symbol"] == symbol
        assert traderequest_dict["sl"] == request["sl"]

position_id = result.order
positions = mt5.positions_get(symbol=symbol)
position = next(p for p in positions if p.ticket == position_id)
print(f"2. position #{position.ticket} open at {position.price_open}, "
      f"sl={position.sl} tp={position.tp}")
assert (position.sl, position.tp) == (request["sl"], request["tp"])
assert mt5.positions_total() >= 1

# create a close request
price = mt5.symbol_info_tick(symbol).bid
request = {
    "action": mt5.TRADE_ACTION_DEAL,
    "symbol": symbol,
    "volume": lot,
    "type": mt5.ORDER_TYPE_SELL,
    "position": position_id,
    "price": price,
    "deviation": deviation,
    "magic": 234000,
    "comment": "python script close",
    "type_time": mt5.ORDER_TIME_GTC,
    "type_filling": filling,
}
result = mt5.order_send(request)
if result is None or result.retcode != mt5.TRADE_RETCODE_DONE:
    print("close failed:", result, mt5.last_error())
    quit(1)
print(f"3. close position #{position_id}: sell {symbol} {lot} lots at {result.price}")
assert not [p for p in mt5.positions_get(symbol=symbol) if p.ticket == position_id]

# get deals for symbols whose names contain the symbol's first letters within a period
# around the trade server's clock (its last tick's time), not this machine's: MT5 dates
# are the server's, and a replayed or far-away server lives at another moment
server_now = datetime.fromtimestamp((mt5.symbol_info_tick(symbol)).time, UTC)
from_date = server_now - timedelta(days=1)
to_date = server_now + timedelta(days=1)
deals = mt5.history_deals_get(from_date, to_date, group=f"*{symbol[:3]}*")
if deals is None:
    print("No deals with group, error code =", mt5.last_error())
    quit(1)
ours = [d for d in deals if d.position_id == position_id]
print(f"4. history_deals_get(): {len(deals)} deal(s), {len(ours)} of position #{position_id}")
assert sorted(d.entry for d in ours) == [mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT]

# get 50 000 one-minute bars of the symbol, the newest last
rates = mt5.copy_rates_from_pos(symbol, mt5.TIMEFRAME_M1, 0, 50_000)
if rates is None:
    print("copy_rates_from_pos() failed, error code =", mt5.last_error())
    quit(1)
print(f"5. copy_rates_from_pos(): {len(rates)} bars, dtype {rates.dtype.names}")
assert len(rates) == 50_000
assert list(rates.dtype.names) == ["time", "open", "high", "low", "close", "tick_volume",
                                   "spread", "real_volume"]
assert (rates["time"][1:] - rates["time"][:-1] > 0).all()

# a failure answers None, and last_error() says why
assert mt5.symbol_info("NO_SUCH_SYMBOL") is None
print("6. symbol_info('NO_SUCH_SYMBOL'):", mt5.last_error())

# shut down connection to the MetaTrader 5 terminal
mt5.shutdown()
print("done")
