"""pdmt5 1.0.0's README, its code blocks in order, run on ``mtgateway`` as ``MetaTrader5``.

pdmt5 is a pure-Python pandas/pydantic wrapper of the ``MetaTrader5`` package
(``importlib.import_module("MetaTrader5")``); the test runs this file in a fresh interpreter in
which that import resolves to ``mtgateway``, and ``initialize()`` finds the demo through
``MTGATEWAY_STATE_FILE``. The README's code is kept as written except where the demo's market
differs, each change with its reason:

* ``Mt5Config``: the demo's login and server (``PDMT5_LOGIN``/``PDMT5_SERVER``) for the
  README's placeholders; the password is never sent anywhere;
* BTCUSD for EURUSD: the emulated terminal trades it every day, and its FX closes at weekends;
* the Quick Start's ``datetime(2024, 1, 1)`` becomes 30 days ago: the demo keeps 400 days of
  history;
* the trading block's 0.1 lot becomes the symbol's minimum, and the position it opens is
  closed at the end (the README leaves it open).

Each block prints what the README prints; the test checks those lines.
"""

import os
from datetime import datetime, timedelta

from pdmt5 import Mt5Config, Mt5DataClient, Mt5TradingClient, parse_timeframe

SYMBOL = "BTCUSD"

# Configure connection
config = Mt5Config(
    login=int(os.environ["PDMT5_LOGIN"]),
    password="unused",
    server=os.environ["PDMT5_SERVER"],
    timeout=60000
)

# -- Quick Start -----------------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    # Optional: login when credentials are provided
    client.login(config.login, config.password, config.server)

    # Get account information as DataFrame
    account_info = client.account_info_as_df()
    print(account_info)
    print("account columns:", len(account_info.columns), list(account_info.columns)[:3])

    # Get OHLCV data as DataFrame
    rates = client.copy_rates_from_as_df(
        symbol=SYMBOL,
        timeframe=parse_timeframe("H1"),
        date_from=datetime.now() - timedelta(days=30),
        count=100
    )
    print(rates.head())
    print("quick start rates:", len(rates), rates.index.name, list(rates.columns))

    # Get current positions as DataFrame
    positions = client.positions_get_as_df()
    print(positions)

# -- MT5 Constant Parsing ----------------------------------------------------------------------
print("constants:", parse_timeframe("TIMEFRAME_M1"), parse_timeframe("M1"),
      parse_timeframe(16385))

# -- Getting Historical Data -------------------------------------------------------------------
with Mt5DataClient(config=config) as client:
    # Get last 1000 H1 bars as DataFrame
    df = client.copy_rates_from_as_df(
        symbol=SYMBOL,
        timeframe=parse_timeframe("TIMEFRAME_H1"),
        date_from=datetime.now(),
        count=1000
    )
    # Data includes: time, open, high, low, close, tick_volume, spread, real_volume
    print(df.columns)
    print(df.describe())
    print("historical bars:", len(df))

# -- Working with Tick Data --------------------------------------------------------------------
from pdmt5 import parse_copy_ticks  # noqa: E402  (the README imports it in this block)

with Mt5DataClient(config=config) as client:
    # Get ticks for the last hour as DataFrame
    ticks = client.copy_ticks_from_as_df(
        symbol=SYMBOL,
        date_from=datetime.now() - timedelta(hours=1),
        count=10000,
        flags=parse_copy_ticks("COPY_TICKS_ALL")
    )
    # Tick data includes: time, bid, ask, last, volume, flags
    print(ticks.head())
    print("ticks:", len(ticks) > 0, list(ticks.columns)[:3])

# -- Trading Operations ------------------------------------------------------------------------
with Mt5TradingClient(config=config) as trader:
    volume = trader.symbol_info_as_dict(symbol=SYMBOL)["volume_min"]
    # Place a market buy order
    order_result = trader.place_market_order(
        symbol=SYMBOL,
        volume=volume,
        order_side="BUY",
        order_filling_mode="IOC",  # Immediate or Cancel
        order_time_mode="GTC"      # Good Till Cancelled
    )
    print(f"Order placed: {order_result['retcode']}")

    # Dry run: validate without executing
    check_result = trader.place_market_order(
        symbol=SYMBOL,
        volume=volume,
        order_side="SELL",
        dry_run=True,
    )
    print(f"Check result: {check_result['retcode']}")

    # Calculate minimum margin for a position
    min_margin = trader.calculate_minimum_order_margin(SYMBOL, "BUY")
    print(f"Min volume: {min_margin['volume']}, min margin: {min_margin['margin']}")

    # Fetch recent OHLC bars
    rates_df = trader.fetch_latest_rates_as_df(
        symbol=SYMBOL,
        granularity="M15",
        count=100,
    )
    print(rates_df.tail())
    print("latest rates:", len(rates_df), rates_df.index.name)

    # Fetch recent tick data
    ticks_df = trader.fetch_latest_ticks_as_df(symbol=SYMBOL, seconds=60)
    print(f"Received {len(ticks_df)} ticks")

    # -- Analyzing Positions (the README's block, now that one is open) --------------------
    positions = trader.positions_get_as_df()
    if not positions.empty:
        # Calculate summary statistics
        summary = positions.groupby('symbol').agg({
            'volume': 'sum',
            'profit': 'sum',
            'price_open': 'mean'
        })
        print(summary)
    print("positions:", len(positions), list(positions["magic"]), list(positions["comment"]))

    # not in the README: close what it opened, through the package's own order_send
    ticket = int(order_result["order"])
    closing = trader.order_send({
        "action": 1, "symbol": SYMBOL, "volume": volume, "type": 1, "position": ticket,
        "type_filling": 1})
    print("closed:", closing.retcode, trader.positions_total())
print("done")
