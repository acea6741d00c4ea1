"""pdmt5 1.2.3's README, its code blocks in order, run on ``mtgateway`` as ``MetaTrader5``.

pdmt5 is a pure-Python pandas/pydantic wrapper of the ``MetaTrader5`` package
(``importlib.import_module("MetaTrader5")``), and the library mt5cli is built on; the test runs
this file in an environment where that import is ``mtgateway`` through the
``mtgateway-metatrader5`` distribution, and ``initialize()`` finds the demo through
``MTGATEWAY_STATE_FILE``. The README's code is kept as written except where the demo's market
differs, each change with its reason:

* ``Mt5Config``: the demo's login and server (``PDMT5_LOGIN``/``PDMT5_SERVER``) for the
  README's placeholders; the password is never sent anywhere;
* BTCUSD for EURUSD: the emulated terminal trades it every day, and its FX closes at weekends;
* the Quick Start's ``datetime(2024, 1, 1)`` becomes 30 days ago: the demo keeps 400 days of
  history;
* the order block's 0.1 lot becomes the symbol's minimum, and the position it opens is
  closed at the end (the README leaves it open); "Analyzing Positions" runs after it, so that
  there is a position to summarise.

Each block prints what the README prints; the test checks those lines.
"""

import os
from datetime import datetime, timedelta

import pdmt5
from pdmt5 import Mt5Config, Mt5DataClient, Mt5RuntimeError, parse_timeframe

SYMBOL = "BTCUSD"
print("pdmt5", pdmt5.__version__)

# -- Quick Start -----------------------------------------------------------------------------
# Configure connection
config = Mt5Config(
    login=int(os.environ["PDMT5_LOGIN"]), password="unused",
    server=os.environ["PDMT5_SERVER"], timeout=60000
)

# Use as context manager
with Mt5DataClient(config=config) as client:
    # Get account information as DataFrame
    account_info = client.account_info_as_df()
    print(account_info)
    print("account columns:", len(account_info.columns), list(account_info.columns)[:3])

    # Get OHLCV data as DataFrame
    rates = client.copy_rates_from_as_df(
        symbol=SYMBOL,
        timeframe=parse_timeframe("H1"),
        date_from=datetime.now() - timedelta(days=30),
        count=100,
    )
    print(rates.head())
    print("quick start rates:", len(rates), rates.index.name, list(rates.columns))

    # Get current positions as DataFrame
    positions = client.positions_get_as_df()
    print(positions)

# -- MT5 Constant Parsing ----------------------------------------------------------------------
from pdmt5 import parse_copy_ticks, parse_order_type  # noqa: E402  (as the README's block)

print("constants:", parse_timeframe("TIMEFRAME_M1"), parse_timeframe("M1"),
      parse_copy_ticks("COPY_TICKS_ALL"), parse_copy_ticks("ALL"),
      parse_order_type("ORDER_TYPE_BUY"), parse_order_type("BUY"), parse_timeframe(16385))

# -- Getting Historical Data -------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    # Get last 1000 H1 bars for EURUSD as DataFrame
    df = client.copy_rates_from_as_df(
        symbol=SYMBOL,
        timeframe=parse_timeframe("TIMEFRAME_H1"),
        date_from=datetime.now(),
        count=1000,
    )

    # Data includes: time, open, high, low, close, tick_volume, spread, real_volume
    print(df.columns)
    print(df.describe())
    print("historical bars:", len(df))

# -- Working with Tick Data --------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    # Get ticks for the last hour as DataFrame
    ticks = client.copy_ticks_from_as_df(
        symbol=SYMBOL,
        date_from=datetime.now() - timedelta(hours=1),
        count=10000,
        flags=parse_copy_ticks("COPY_TICKS_ALL"),
    )

    # Data includes: time, bid, ask, last, volume, flags
    print(ticks.head())
    print("ticks:", len(ticks) > 0, list(ticks.columns)[:3])

# -- Order Check and Send ----------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    volume = client.symbol_info_as_dict(symbol=SYMBOL)["volume_min"]
    # Validate an order request without sending
    request = {
        "action": 1,  # TRADE_ACTION_DEAL
        "symbol": SYMBOL,
        "volume": volume,
        "type": 0,  # ORDER_TYPE_BUY
        "type_filling": 1,
        "type_time": 0,
    }
    check = client.order_check_as_dict(request=request)
    print(f"Check retcode: {check['retcode']}")

    # Send the order to the trade server
    result = client.order_send_as_dict(request=request)
    print(f"Send retcode: {result['retcode']}")

# -- Analyzing Positions -----------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    # Get all open positions as DataFrame
    positions = client.positions_get_as_df()

    if not positions.empty:
        # Calculate summary statistics
        summary = positions.groupby("symbol").agg({
            "volume": "sum",
            "profit": "sum",
            "price_open": "mean",
        })
        print(summary)
    print("positions:", len(positions), list(positions["magic"]), list(positions["comment"]))

    # not in the README: close what it opened, through the package's own order_send
    closing = client.order_send({
        "action": 1, "symbol": SYMBOL, "volume": volume, "type": 1,
        "position": int(result["order"]), "type_filling": 1})
    print("closed:", closing.retcode, client.positions_total())

# -- Error Handling ----------------------------------------------------------------------------
try:
    with Mt5DataClient(config=config) as client:
        data = client.copy_rates_from(
            "INVALID", parse_timeframe("H1"), datetime.now(), 100
        )
except Mt5RuntimeError as e:
    print(f"MT5 Error: {e}")
    print("Inspect the exception message for the MT5 status details.")
print("done")
