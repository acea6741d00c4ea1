"""Libraries written for the ``MetaTrader5`` package, each through its own trading cycle, unchanged.

Run by ``client/tests/test_third_party_bots.py`` in one interpreter whose ``import
MetaTrader5`` is the client (the ``mtgateway-metatrader5`` distribution), against a demo found
through ``MTGATEWAY_STATE_FILE``: ``python bots_flows.py FLOW...`` runs the named flows one
after the other, each calling only the package's own API as its README and code do, and prints
one line per step (``<flow> <step>: <what it answered>``) for the test to hold. A flow that
raises prints ``<flow> FAILED: ...`` and the next one runs. Every flow trades BTCUSD, whose
market is open every day, and leaves the account as it found it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import MetaTrader5 as mt5

STATE = json.loads(Path(os.environ["MTGATEWAY_STATE_FILE"]).read_text(encoding="utf-8"))
LOGIN, SERVER = int(STATE["login"]), str(STATE["server"])
SYMBOL = "BTCUSD"
MAGIC = 4242
PATH = r"C:\Program Files\MetaTrader 5\terminal64.exe"


def say(flow: str, step: str, value: Any) -> None:
    print(f"{flow} {step}: {value}", flush=True)


def quiet(fn: Callable[[], Any]) -> Any:
    """``fn()`` with what it prints to stdout kept out of the flow's lines."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def prices() -> tuple[float, float, int]:
    """BTCUSD's bid, ask and digits now, read through the package's own functions."""
    tick = mt5.symbol_info_tick(SYMBOL)
    return tick.bid, tick.ask, mt5.symbol_info(SYMBOL).digits


def mine() -> list[Any]:
    """The positions this module opened (its magic number)."""
    return [p for p in mt5.positions_get(symbol=SYMBOL) or () if p.magic == MAGIC]


# -- mas 0.2.9 -----------------------------------------------------------------------------------

def mas_flow() -> None:
    """mas's live path as its README drives it: login with a dict, reads, a check, the
    calculators, depth of market, a market buy with SL/TP, its stops moved, a buy limit
    placed, modified and cancelled, the close by an opposite order naming the position
    (``order_id``), history by time and by position."""
    from mas.mas import MAS

    m = MAS()
    say("mas", "login", quiet(lambda: m.login({"account": LOGIN, "password": "x",
                                                "server": SERVER})))
    say("mas", "version", m.get_version()["version"])
    say("mas", "account", m.get_account_info()["login"])
    say("mas", "symbols", m.get_symbols_total() == len(m.get_symbols()))
    bars = m.get_bars_from_pos({"symbol": SYMBOL, "timeframe": "M5", "start_pos": 0, "count": 3})
    say("mas", "bars", len(bars))
    check = m.order_check({"symbol": SYMBOL, "order_type": "buy", "volume": 0.02})
    say("mas", "check", check["retcode"])
    say("mas", "book", quiet(lambda: m.subscribe_market_book({"symbol": SYMBOL}))
        and len(m.get_market_book({"symbol": SYMBOL})) > 0
        and quiet(lambda: m.unsubscribe_market_book({"symbol": SYMBOL})))
    bid, ask, digits = prices()
    sent = quiet(lambda: m.send_order({
        "symbol": SYMBOL, "order_type": "buy", "volume": 0.02, "magic": MAGIC,
        "sl": round(bid * 0.99, digits), "tp": round(ask * 1.01, digits),
        "backtest_toggle": False}))
    position = next(p for p in m.get_positions({"symbol": SYMBOL}) if p["magic"] == MAGIC)
    say("mas", "bought", (str(sent) == str(position["ticket"]), position["volume"]))
    moved = quiet(lambda: m.modify_position_sltp({
        "position_id": position["ticket"], "sl": round(bid * 0.985, digits),
        "tp": round(ask * 1.015, digits)}))
    say("mas", "stops moved", (moved, mt5.positions_get(ticket=position["ticket"])[0].sl
                               == round(bid * 0.985, digits)))
    quiet(lambda: m.send_order({"symbol": SYMBOL, "order_type": "buy_limit", "volume": 0.01,
                                "magic": MAGIC, "price": round(bid * 0.9, digits),
                                "backtest_toggle": False}))
    (pending,) = m.get_pending_orders({"symbol": SYMBOL})
    modified = quiet(lambda: m.modify_order({"order_id": pending["ticket"],
                                             "price": round(bid * 0.89, digits)}))
    say("mas", "pending", (m.get_orders_total(), modified,
                           mt5.orders_get(ticket=pending["ticket"])[0].price_open
                           == round(bid * 0.89, digits)))
    say("mas", "cancelled", (quiet(lambda: m.cancel_order({"order_id": pending["ticket"]})),
                             m.get_orders_total()))
    quiet(lambda: m.send_order({"symbol": SYMBOL, "order_type": "sell", "volume": 0.02,
                                "order_id": position["ticket"], "backtest_toggle": False}))
    say("mas", "closed", [p["ticket"] for p in m.get_positions({"symbol": SYMBOL})])
    since, until = datetime.now() - timedelta(days=1), datetime.now() + timedelta(days=1)
    orders = m.get_history_orders({"from": since, "to": until})
    say("mas", "history orders", position["ticket"] in [o["ticket"] for o in orders])
    deals = m.get_order_history({"position": position["ticket"]})
    say("mas", "position deals", [d["entry"] for d in deals if d["position_id"] ==
                                  position["ticket"]])
    say("mas", "shutdown", quiet(m.shutdown_mt5))


# -- metatrader-ai 1.2.2 ---------------------------------------------------------------------

def metatrader_ai_flow() -> None:
    """metatrader-ai's MT5 tools through its own dispatch table, as its agent calls them (no
    model): open, account, symbol, bars, the i* series, pip value and risk, a market buy with
    absolute SL/TP, a sell with SL/TP in pips, positions, a position's stops modified, a buy
    limit placed, modified and deleted, each position closed, its history."""
    from metatrader_ai.tools import dispatch
    from metatrader_ai.tools import mt5 as tools

    def tool(name: str, **args: Any) -> Any:
        return quiet(lambda: dispatch.execute_tool(name, args))

    dispatch.set_metatrader(tools.MT5(LOGIN, "x", SERVER))
    say("metatrader-ai", "open", tool("open"))
    say("metatrader-ai", "account", tool("get_account_info")["account_number"])
    say("metatrader-ai", "symbol", tool("get_symbol_info", currency_pair=SYMBOL)["digits"])
    bars = tool("get_recent_bars", currency=SYMBOL, timeframe=mt5.TIMEFRAME_M5,
                number_of_bars=3)
    say("metatrader-ai", "bars", len(bars))
    say("metatrader-ai", "series", [tool(f, symbol=SYMBOL, timeframe=mt5.TIMEFRAME_M5, shift=1)
                                    is not None for f in ("iOpen", "iHigh", "iLow", "iClose",
                                                          "iDate")])
    say("metatrader-ai", "pip value", tool("get_pip_value", symbol=SYMBOL) > 0)
    bid, ask, digits = prices()
    say("metatrader-ai", "buy", tool("order_send", symbol=SYMBOL, order_type="buy", lot=0.02,
                                     stop_loss=round(bid * 0.99, digits),
                                     take_profit=round(ask * 1.01, digits),
                                     magic_number=MAGIC))
    say("metatrader-ai", "sell", tool("order_send_pips", symbol=SYMBOL, order_type="sell",
                                      lot=0.01, stop_loss_pips=3000, take_profit_pips=6000,
                                      magic_number=MAGIC))
    held = [p for p in tool("get_positions", currency_pair=SYMBOL)
            if p["magic_number"] == MAGIC]
    say("metatrader-ai", "positions", sorted(p["lot_size"] for p in held))
    say("metatrader-ai", "opened", tool("is_position_opened", symbol=SYMBOL,
                                        magic_number=MAGIC))
    first = held[0]["ticket"]
    say("metatrader-ai", "modified", tool("position_modify", symbol=SYMBOL, ticket=first,
                                          stop_loss=round(bid * 0.98, digits),
                                          take_profit=round(ask * 1.02, digits)))
    say("metatrader-ai", "limit", tool("order_send", symbol=SYMBOL, order_type="buy limit",
                                       lot=0.01, order_price=round(bid * 0.9, digits),
                                       magic_number=MAGIC))
    (order,) = tool("get_orders", currency_pair=SYMBOL)
    say("metatrader-ai", "order modified", tool(
        "order_modify", ticket=order["ticket"], price=round(bid * 0.89, digits),
        stop_loss=round(bid * 0.85, digits), take_profit=0))
    say("metatrader-ai", "order deleted", (tool("order_delete", ticket=order["ticket"]),
                                           mt5.orders_total()))
    say("metatrader-ai", "closed", [tool("position_close", ticket=p["ticket"]) for p in held])
    say("metatrader-ai", "history", [len(tool("get_history_position", ticket=p["ticket"]))
                                     for p in held])
    say("metatrader-ai", "left", [p.ticket for p in mine()])
    tool("close")


# -- PythonMetaTrader5 2.3.2 -----------------------------------------------------------------

def pythonmetatrader5_flow() -> None:
    """PythonMetaTrader5's Quick Start: a Broker logged in with the terminal's arguments, a
    position with SL/TP offsets in points, a buy and a sell, positions as records and as
    dicts, a buy limit and a sell limit, both cancelled, every position closed."""
    from PythonMetaTrader5 import Broker

    broker = Broker(LOGIN, "x", SERVER)
    opened = broker.OpenPosition(SYMBOL, "buy", 0.02, sl=100_000, sl_type="offset", tp=150_000,
                                 tp_type="offset")
    say("pythonmetatrader5", "position", (opened.retcode, opened.request.sl > 0,
                                          opened.request.tp > opened.price))
    say("pythonmetatrader5", "buy sell", (broker.Buy(SYMBOL, 0.01).retcode,
                                          broker.Sell(SYMBOL, 0.01).retcode))
    say("pythonmetatrader5", "positions", sorted(
        (p.type, p.volume) for p in broker.GetPositions(SYMBOL) or ()))
    say("pythonmetatrader5", "as dicts", sorted(
        p["volume"] for p in broker.GetPositionsBySymbol(SYMBOL, as_dict=True)))
    bid, ask, _ = prices()
    broker.BuyLimit(SYMBOL, 0.01, bid * 0.98)
    broker.SellLimit(SYMBOL, 0.01, ask * 1.02)
    say("pythonmetatrader5", "limits", sorted(o.type for o in mt5.orders_get(symbol=SYMBOL)))
    broker.CancelOrders(SYMBOL)
    say("pythonmetatrader5", "cancelled", mt5.orders_get(symbol=SYMBOL))
    broker.Close(SYMBOL)
    say("pythonmetatrader5", "closed", mt5.positions_get(symbol=SYMBOL))
    broker.Disconnect()


# -- pyta-trader 0.1.0 -----------------------------------------------------------------------

def pyta_trader_flow() -> None:
    """pyta-trader: ``init_mt5(path, login, passw, server)`` (the terminal's parameters
    passed positionally to ``initialize``), a chart of 100 bars read as ``dict(zip(
    dtype.names, row))`` (a second ``initialize()``, with no arguments), its update, the
    shutdown."""
    from pyta_trader.chart.chart import Chart
    from pyta_trader.infras.mt5_manager import init_mt5, shut_mt5

    say("pyta-trader", "init", (quiet(lambda: init_mt5(PATH, LOGIN, "x", SERVER)),
                                tuple(mt5.last_error())))
    chart = Chart(SYMBOL, mt5.TIMEFRAME_M15)
    say("pyta-trader", "chart", (chart.init_chart(), len(chart.prices),
                                 sorted(chart.prices[0])[:4]))
    say("pyta-trader", "update", chart.check_and_update_chart() in (True, False))
    shut_mt5()
    say("pyta-trader", "after", mt5.account_info())


# -- contigion-metatrader 1.0.5 (netting) ----------------------------------------------------

def contigion_flow() -> None:
    """contigion-metatrader's exported functions: connect, the account's figures, bars,
    symbols, point and spread, a long and a short with SL/TP in points, the open trades, the
    stops adjusted, a profit calculation, the closes, the history, disconnect. Its close sends
    the position as ``ticket`` (the package ignores that key), so it assumes a netting account,
    where an opposite deal closes: this flow runs on one."""
    import contigion_metatrader as cm

    say("contigion", "connect", quiet(cm.connect))
    say("contigion", "account", (cm.get_account_number(), cm.get_account_balance(),
                                 cm.get_free_margin() > 0))
    say("contigion", "bars", len(cm.get_market_data(SYMBOL, number_of_candles=50)))
    say("contigion", "symbols", SYMBOL in cm.get_symbol_names())
    say("contigion", "point", (cm.get_point(SYMBOL), cm.get_spread(SYMBOL) > 0))
    long = cm.open_long_trade(SYMBOL, 0.02, stop_loss=100_000, take_profit=100_000)
    say("contigion", "long", (long.retcode, long.request.sl > 0))
    short = cm.open_short_trade(SYMBOL, 0.01, stop_loss=100_000, take_profit=100_000)
    say("contigion", "short", short.retcode)
    (position,) = cm.get_open_trades()
    say("contigion", "netted", position.volume)
    bid, ask, digits = prices()
    say("contigion", "stops", [cm.adjust_take_profit(position.ticket,
                                                     round(ask * 1.02, digits)).retcode,
                               cm.adjust_stop_loss(position.ticket,
                                                   round(bid * 0.98, digits)).retcode,
                               cm.adjust_stops(position.ticket, round(ask * 1.03, digits),
                                               round(bid * 0.97, digits)).retcode])
    say("contigion", "profit", cm.calculate_profit(mt5.ORDER_TYPE_BUY, SYMBOL, 0.1, 100_000.0,
                                                    100_100.0))
    cm.close_all_trades()
    say("contigion", "closed", cm.get_open_trades())
    say("contigion", "history", (len(cm.get_trade_history(days_ago=7)),
                                 len(cm.get_trade_history(days_ago=7, is_close_history=True))))
    say("contigion", "disconnect", quiet(cm.disconnect))


# -- mt5se 0.2.42 (netting) ------------------------------------------------------------------

STOCK = "AAPL"


def mt5se_flow() -> None:
    """mt5se's README on a netting account (it refuses hedging ones), with an exchange stock:
    connect with the terminal's path, the account, the balance, daily and M1 bars, shares,
    affordable shares, a market buy of one share checked and sent, positions, a buy limit
    placed, listed and cancelled, the sell back to flat, orders and deals as DataFrames, the
    shutdown. (Its ``is_market_open`` compares the last tick with the machine's clock less
    three hours, Brazil's; the demo here runs a replayed weekday, so it is not asked.)"""
    import mt5se as se

    ever, never = datetime(2000, 1, 1), datetime(2100, 1, 1)
    say("mt5se", "connect", quiet(lambda: se.connect(LOGIN, "x", PATH)))
    say("mt5se", "account", (se.account_info().login, se.get_balance() > 0))
    say("mt5se", "bars", (len(se.get_bars(STOCK, 10)), len(se.get_bars(STOCK, 30, None,
                                                                         se.INTRADAY))))
    say("mt5se", "shares", se.get_shares(STOCK))
    say("mt5se", "affordable", se.get_affor_shares(STOCK, se.get_last(se.get_bars(STOCK, 5)))
        > 0)
    buy = se.buyOrder(STOCK, 1)
    say("mt5se", "check", se.checkOrder(buy))
    say("mt5se", "bought", (quiet(lambda: se.sendOrder(buy)), se.get_shares(STOCK)))
    say("mt5se", "positions", len(se.get_positions()))
    tick = mt5.symbol_info_tick(STOCK)
    limit = se.buyOrder(STOCK, 1, price=round(tick.bid * 0.95, 2))
    say("mt5se", "limit", (quiet(lambda: se.sendOrder(limit)), se.numOrders()))
    active = se.get_active_orders()
    se.cancel_order(active["order_id"].iloc[0])
    say("mt5se", "cancelled", se.numOrders())
    sell = se.sellOrder(STOCK, 1)
    say("mt5se", "sold", (quiet(lambda: se.sendOrder(sell)), se.get_shares(STOCK)))
    say("mt5se", "orders", len(se.get_orders(ever, never)))
    say("mt5se", "deals", list(se.get_deals(ever, never)["symbol"].iloc[-2:]))
    say("mt5se", "shutdown", se.mt5.shutdown())


# -- simplemt5 0.1.0 -------------------------------------------------------------------------

def simplemt5_flow() -> None:
    """simplemt5's SimpleMT5 as its docstrings use it: a bare ``initialize()`` in the
    constructor, bars as a DataFrame, the account, a buy with SL/TP in points and a
    ``sell_simple``, the positions as dicts and as objects, the buy's stops moved twice in
    points (``modify_tp_sl``, ``modify_tp_sl_simple``), every position of the symbol closed,
    and the ``shutdown()`` its destructor calls, when the cycle lets go of it."""
    simplemt5_cycle()
    say("simplemt5", "after", mt5.account_info())


def simplemt5_cycle() -> None:
    from simplemt5 import SimpleMT5

    bot = quiet(SimpleMT5)
    say("simplemt5", "init", mt5.account_info().login == LOGIN)
    bars = bot.get_data(SYMBOL, "M1", 20)
    say("simplemt5", "data", (len(bars), list(bars.columns), bars["time"].is_monotonic_increasing))
    account = bot.get_account_info()
    say("simplemt5", "account", (sorted(account), account["balance"] > 0))
    point = mt5.symbol_info(SYMBOL).point
    buy = quiet(lambda: bot.buy(SYMBOL, 0.01, tp_points=100_000, sl_points=100_000,
                                comment="simplemt5 buy"))
    sell = quiet(lambda: bot.sell_simple(SYMBOL, 0.01, 100_000, 100_000))
    # its stops in points from the price it read (100,000 points: 1,000.0), as the position holds
    say("simplemt5", "opened", [(o["type"], o["volume"], round(o["take_profit"] - o["price"], 2),
                                 round(o["stop_loss"] - o["price"], 2)) for o in (buy, sell)])
    held = {p.ticket: p for p in mt5.positions_get(symbol=SYMBOL)}
    say("simplemt5", "held", [(held[o["order"]].comment, held[o["order"]].magic,
                               abs(held[o["order"]].tp - o["take_profit"]) < point,
                               abs(held[o["order"]].sl - o["stop_loss"]) < point)
                              for o in (buy, sell)])
    say("simplemt5", "positions", sorted((p["ticket"], p["type"], p["volume"])
                                         for p in bot.get_positions(SYMBOL))
        == sorted([(buy["order"], "BUY", 0.01), (sell["order"], "SELL", 0.01)]))
    say("simplemt5", "simple", sorted((p.type, p.volume) for p in bot.get_positions_simple()))
    # moved from the ask it reads again: TP 2,000.0 above, SL 1,500.0 below, then 2,500.0 and
    # 1,600.0; the distance between them does not depend on the price
    moved = quiet(lambda: bot.modify_tp_sl(buy["order"], tp_points=200_000, sl_points=150_000))
    (position,) = mt5.positions_get(ticket=buy["order"])
    say("simplemt5", "modified", (moved, round(position.tp - position.sl, 1)))
    moved = quiet(lambda: bot.modify_tp_sl_simple(buy["order"], tp_points=250_000,
                                                  sl_points=160_000))
    (position,) = mt5.positions_get(ticket=buy["order"])
    say("simplemt5", "modified simple", (moved, round(position.tp - position.sl, 1)))
    say("simplemt5", "closed", (quiet(lambda: bot.close_positions(SYMBOL)),
                                bot.get_positions_simple()))
    say("simplemt5", "buy deals", [(d.entry, d.comment) for d in mt5.history_deals_get(
        position=buy["order"])] == [(0, "simplemt5 buy"), (1, f"Close position #{buy['order']}")])


# -- shawon-mt5-automation 2.2.3 -------------------------------------------------------------

def shawon_flow() -> None:
    """shawon-mt5-automation's TradingView webhook (``Trader(...).app``, Flask) sent the
    signals TradingView would POST, through Flask's test client: without and with a wrong API
    key, a buy (``initialize()`` and ``login(account, password, server)`` on the first
    signal), a sell (which closes the buy, "Auto-close by webhook", and opens a sell), a signal
    it does not know, then its close of every position of the symbol."""
    from shawon_mt5_automation.core import Trader

    trader = Trader(LOGIN, "x", SERVER, mt5_symbol=SYMBOL, lot=0.01, signal_gap_seconds=0,
                    api_key="k")
    client = trader.app.test_client()

    def post(body: dict[str, str]) -> tuple[int, Any]:
        answer = client.post("/tradingview-webhook", json=body)
        return answer.status_code, answer.get_json()

    say("shawon", "no key", post({"signal": "buy"}))
    say("shawon", "wrong key", post({"signal": "buy", "X-API-Key": "j"}))
    status, body = post({"signal": "buy", "X-API-Key": "k"})
    say("shawon", "buy", (status, body["status"], body["message"]))
    (bought,) = mt5.positions_get(symbol=SYMBOL)
    say("shawon", "bought", (bought.type, bought.volume, bought.comment, bought.magic))
    status, body = post({"signal": "sell", "X-API-Key": "k"})
    say("shawon", "sell", (status, body["status"], body["message"]))
    say("shawon", "sold", [(p.type, p.volume, p.comment) for p in mt5.positions_get(
        symbol=SYMBOL)])
    say("shawon", "buy closed", [(d.entry, d.comment) for d in mt5.history_deals_get(
        position=bought.ticket)])
    say("shawon", "unknown signal", post({"signal": "hold", "X-API-Key": "k"}))
    say("shawon", "close all", (trader._close_all_positions(SYMBOL),
                                mt5.positions_get(symbol=SYMBOL)))
    say("shawon", "shutdown", mt5.shutdown())


# -- crosstrade 0.1.0 ------------------------------------------------------------------------

def crosstrade_flow() -> None:
    """crosstrade's live broker adapter (``crosstrade.live.MT5Broker``) as its docstring
    shows it, its credentials from ``MT5_SERVER``/``MT5_LOGIN``/``MT5_PASSWORD``: connect
    (``initialize()``, ``login`` by keyword, ``symbol_select``), the account snapshot, the
    latest bars, a market buy with SL/TP and a sell, every position's stops updated (the
    sell's take-profit, above its price, is refused and kept at 0.0), the symbol's positions
    closed, disconnect."""
    os.environ.update({"MT5_SERVER": SERVER, "MT5_LOGIN": str(LOGIN), "MT5_PASSWORD": "x"})
    from crosstrade.core import Action
    from crosstrade.live import MT5Broker

    broker = MT5Broker(symbol=SYMBOL, timeframe="M5")
    say("crosstrade", "connect", broker.connect())
    snapshot = broker.get_account_snapshot()
    say("crosstrade", "account", (snapshot.balance > 0, snapshot.equity > 0,
                                  snapshot.free_margin > 0))
    bars = broker.get_latest_bars()
    say("crosstrade", "bars", (len(bars), list(bars.columns),
                               bars["timestamp"].is_monotonic_increasing))
    bid, ask, digits = prices()
    stop_loss, take_profit = round(bid * 0.95, digits), round(ask * 1.05, digits)
    buy = broker.send_market_order(action=Action.BUY, volume=0.01, stop_loss=stop_loss,
                                   take_profit=take_profit)
    sell = broker.send_market_order(action=Action.SELL, volume=0.01)
    say("crosstrade", "orders", (buy.retcode, buy.volume, sell.retcode, sell.volume))
    (held,) = mt5.positions_get(ticket=buy.order)
    say("crosstrade", "buy held", (held.type, held.sl == stop_loss, held.tp == take_profit,
                                   held.comment, held.magic))
    farther = round(ask * 1.06, digits)
    broker.update_position_stops(stop_loss=None, take_profit=farther)
    say("crosstrade", "stops", sorted((p.type, p.tp == farther or p.tp)
                                      for p in mt5.positions_get(symbol=SYMBOL)))
    broker.close_symbol_positions()
    say("crosstrade", "closed", mt5.positions_get(symbol=SYMBOL))
    say("crosstrade", "buy deals", [(d.entry, d.comment) for d in mt5.history_deals_get(
        position=buy.order)])
    say("crosstrade", "disconnect", (broker.disconnect(), mt5.account_info()))


# -- twintradeai 1.0.1 -----------------------------------------------------------------------

def twintradeai_flow() -> None:
    """twintradeai's engine and execution as its runner calls them (its configuration files
    are not in its wheel, so its defaults): ``initialize()``, bars with its indicators on M5,
    H1 and H4, a signal built from them, an order in three take-profit parts, its duplicate
    check, a stop loss modified, its ``PositionManager.update_trailing`` fed as the runner
    feeds it, and its "partial close": an opposite deal without ``position``, which on a
    hedging account opens a sell beside the buys (it assumes netting; a terminal does the
    same). It has no close of its own: the flow closes what is left."""
    from twintradeai import engine, execution
    from twintradeai.position_manager import PositionManager

    say("twintradeai", "initialize", mt5.initialize())
    frames = [engine.get_tf_data(SYMBOL, tf, 200)
              for tf in (mt5.TIMEFRAME_M5, mt5.TIMEFRAME_H1, mt5.TIMEFRAME_H4)]
    say("twintradeai", "bars", [(len(f), {"ema20", "ema50", "atr", "rsi", "macd"} <= set(f))
                                for f in frames])
    tick = mt5.symbol_info_tick(SYMBOL)
    signal = engine.build_signal(SYMBOL, tick, *frames)
    entry, sl, tp1 = signal["entry"], signal["sl"], signal["tp1"]
    say("twintradeai", "signal", (
        signal["decision"] in ("BUY", "SELL", "HOLD"), signal["atr"] > 0,
        round(signal["spread_pts"]) == round((tick.ask - tick.bid) / 0.01),
        # a trade's levels on their sides of its entry; none when it holds
        {"BUY": lambda: sl < entry < tp1, "SELL": lambda: tp1 < entry < sl,
         "HOLD": lambda: entry is None}[signal["decision"]]()))
    ask = tick.ask
    placed = quiet(lambda: execution.execute_order(SYMBOL, "BUY", 0.04, ask, ask * 0.97,
                                                   ask * 1.01, ask * 1.02, ask * 1.03))
    orders = placed["orders"]
    say("twintradeai", "placed", (placed["success"], [r.retcode for r in orders],
                                  [r.volume for r in orders]))
    point = mt5.symbol_info(SYMBOL).point
    held = {p.ticket: p for p in mt5.positions_get(symbol=SYMBOL)}
    say("twintradeai", "held", [(held[r.order].comment, abs(held[r.order].sl - ask * 0.97) < point,
                                 abs(held[r.order].tp - ask * level) < point)
                                for r, level in zip(orders, (1.01, 1.02, 1.03), strict=True)])
    say("twintradeai", "has position", execution.has_open_position(SYMBOL, "BUY"))
    say("twintradeai", "again", execution.execute_order(SYMBOL, "BUY", 0.04, ask, ask * 0.97,
                                                        ask * 1.01, None, None))
    first = orders[0].order
    modified = execution.modify_order(first, SYMBOL, sl=ask * 0.975)
    say("twintradeai", "modified", (modified.retcode, abs(
        mt5.positions_get(ticket=first)[0].sl - ask * 0.975) < point))
    partial = execution.execute_order_partial(SYMBOL, "BUY", 0.04,
                                              mt5.symbol_info_tick(SYMBOL).bid)
    say("twintradeai", "partial", (partial.retcode, partial.volume))
    say("twintradeai", "positions", sorted((p.type, p.volume, p.comment)
                                           for p in mt5.positions_get(symbol=SYMBOL)))
    say("twintradeai", "trailing", trailing(PositionManager()))
    for position in mt5.positions_get(symbol=SYMBOL) or ():
        mt5.Close(SYMBOL, ticket=position.ticket)
    say("twintradeai", "left", mt5.positions_get(symbol=SYMBOL))


def trailing(manager: Any) -> tuple[int, bool]:
    """``manager.update_trailing`` fed the positions as twintradeai's runner builds them (every
    position, each with its symbol's quote and point) with the runner's arguments: how many it
    was fed, and whether each came out as its rule says. A position 10 points or more in profit
    at the quote it was given has its stop loss moved to 10 points behind that quote (the
    quote moves on, so the terminal may refuse that stop or a tick may then close the
    position at it); any other keeps its stop loss, untouched."""
    fed = []
    for pos in mt5.positions_get() or ():
        info, tick = mt5.symbol_info(pos.symbol), mt5.symbol_info_tick(pos.symbol)
        fed.append({"ticket": pos.ticket, "symbol": pos.symbol,
                    "type": "BUY" if pos.type == mt5.POSITION_TYPE_BUY else "SELL",
                    "price_open": pos.price_open, "sl": pos.sl, "tp": pos.tp, "bid": tick.bid,
                    "ask": tick.ask, "point": info.point})
    manager.update_trailing(fed, tp_step_pips=20, trailing_start_pips=10)
    kept = True
    for pos in fed:
        buy = pos["type"] == "BUY"
        profit = (pos["bid"] - pos["price_open"] if buy else pos["price_open"] - pos["ask"])
        now = mt5.positions_get(ticket=pos["ticket"])
        if profit / pos["point"] < 10:
            kept &= len(now) == 1 and now[0].sl == pos["sl"]
        else:
            trailed = round(pos["bid"] - 10 * pos["point"] if buy else
                            pos["ask"] + 10 * pos["point"], mt5.symbol_info(pos["symbol"]).digits)
            kept &= not now or now[0].sl in (pos["sl"], trailed)
    return len(fed), kept


FLOWS: dict[str, Callable[[], None]] = {
    "mas": mas_flow, "metatrader-ai": metatrader_ai_flow,
    "pythonmetatrader5": pythonmetatrader5_flow, "pyta-trader": pyta_trader_flow,
    "contigion": contigion_flow, "mt5se": mt5se_flow, "simplemt5": simplemt5_flow,
    "shawon": shawon_flow, "crosstrade": crosstrade_flow, "twintradeai": twintradeai_flow}
#: The magic numbers the packages put on their orders themselves (the flows above give theirs
#: :data:`MAGIC`): whatever a failed flow left open with them is closed before the next.
OWN_MAGICS = {"simplemt5": 12345, "shawon": 123456, "crosstrade": 234000,
              "twintradeai": 123456}


def main(names: list[str]) -> int:
    for name in names:
        try:
            FLOWS[name]()
        except Exception:  # noqa: BLE001 - reported for the test, the next flow runs
            print(f"{name} FAILED: {traceback.format_exc()}", flush=True)
        finally:
            mt5.initialize()  # the flow may have shut the connection down
            for position in mt5.positions_get(symbol=SYMBOL) or ():
                if position.magic in (MAGIC, OWN_MAGICS.get(name)):  # a failed flow's
                    mt5.Close(SYMBOL, ticket=position.ticket)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
