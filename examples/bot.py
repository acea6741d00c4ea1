"""A minimal trading bot on MT Gateway with the package-style client: read, buy, move the stops,
close.

    python examples/bot.py --url http://127.0.0.1:8710 --token mtgw_... --symbol EURUSD
    python examples/bot.py --state-file demo.json          # what `mtgateway demo` wrote

What it shows, in the order a real bot needs it:
- ``import mtgateway as mt5``: the MetaTrader5 package's functions, constants and results;
- a broker rejection is a *result* (check ``retcode``); ``None`` means "not evaluated", or, with
  ``last_error().gateway_code == -32003``, "outcome unknown";
- every order carries a ``client_id``: resending the same request with the same id can never
  open a second position, and after an unknown outcome the bot asks ``order_status`` instead
  of blindly sending again;
- the opening order carries its stop loss: an account registered in the console gets a risk
  policy (by default at most 1 % of equity at risk per trade), and the gateway refuses an
  opening order without a stop (-32012), whose loss nothing bounds;
- without ``--symbol`` it trades the first symbol on which ``order_check`` of the order it
  opens answers 0: open now, and within the account's policy, whatever the day.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import mtgateway as mt5

DONE = {mt5.TRADE_RETCODE_PLACED, mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE_PARTIAL,
        mt5.TRADE_RETCODE_NO_CHANGES}
OUTCOME_UNKNOWN = -32003


def trade(request: dict[str, Any]) -> Any:
    """order_send with a client_id; on an unknown outcome, ask instead of resending."""
    request = {**request, "client_id": request.get("client_id") or mt5.new_client_id()}
    result = mt5.order_send(request)
    if result is None:
        error = mt5.last_error()
        if error.gateway_code != OUTCOME_UNKNOWN:
            print(f"  not evaluated: {error}", file=sys.stderr)
            return None
        print(f"outcome unknown for {request['client_id']}; asking order_status")
        return mt5.order_status(request["client_id"])
    print(f"  {result.client_id}: {result.retcode} {result.retcode_name}")
    return result


def opening_order(info: Any, volume: float) -> dict[str, Any] | None:
    """The buy this bot opens on ``info``'s symbol: ``volume`` (at least the symbol's
    smallest), with its stop loss and take profit sent with the order, well outside the
    spread and the broker's minimum distance (stops level): the loss at the stop is what an
    account's risk policy bounds. None when the symbol has no quote."""
    tick = mt5.symbol_info_tick(info.name)
    if tick is None or tick.bid <= 0 or tick.ask <= 0:
        return None
    distance = max(20 * (tick.ask - tick.bid), (info.trade_stops_level + 10) * info.point)
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": info.name,
            "volume": max(volume, info.volume_min), "type": mt5.ORDER_TYPE_BUY,
            "sl": round(tick.bid - 2 * distance, info.digits),
            "tp": round(tick.bid + 2 * distance, info.digits), "deviation": 20}


def tradable_symbol(volume: float) -> str | None:
    """The first Market Watch symbol on which the order this bot opens checks out now:
    ``order_check`` of that very order (its volume and its stops) answers 0. A check says a
    closed market (TRADE_RETCODE_MARKET_CLOSED: on a weekend FX, metals and indices are
    closed; the emulator's crypto symbol is not) before what the account's risk policy says
    of the order's stop or size, and a symbol outside the account's allowed ones is refused
    (TRADE_RETCODE_CLOSE_ONLY): so the symbol found is open now *and* takes this order under
    the policy the owner registered. Asking only "is the market closed?" took the policy's
    answer to a stop-less probe for an open market. Works the same against a real MT5
    terminal."""
    for info in mt5.symbols_get() or ():
        request = opening_order(info, volume)
        check = None if request is None else mt5.order_check(request)
        if check is not None and check.retcode == 0:
            return info.name
        said = "no quote" if request is None else \
            f"{check.retcode} {check.comment}" if check is not None else str(mt5.last_error())
        print(f"  not {info.name}: {said}")
    return None


def run(symbol: str | None, volume: float) -> int:
    if symbol is None:
        symbol = tradable_symbol(volume)
        if symbol is None:
            print("no symbol takes this bot's order now (markets closed, or the account's "
                  "policy refuses it)", file=sys.stderr)
            return 1
        print(f"trading {symbol}: the first symbol whose order checks out now (market open, "
              "within the account's policy)")
    account = mt5.account_info()
    print(f"account {account.login} on {account.server}: balance {account.balance}"
          f" {account.currency}, equity {account.equity}")
    print(f"open positions: {mt5.positions_total()}")
    info = mt5.symbol_info(symbol)
    if info is None:
        print(f"no symbol {symbol}: {mt5.last_error()}", file=sys.stderr)
        return 1
    request = opening_order(info, volume)
    if request is None:
        print(f"no quote for {symbol}", file=sys.stderr)
        return 1
    volume = request["volume"]
    print(f"buy {volume} {symbol} sl={request['sl']} tp={request['tp']}")
    opened = trade(request)
    if opened is None or opened.retcode not in DONE:
        print(f"not opened: {opened and opened.comment}", file=sys.stderr)
        return 1
    ticket = opened.order  # in MT5 the position's ticket is its opening order's
    position = mt5.positions_get(ticket=ticket)[0]
    print(f"position {ticket} open at {position.price_open}")

    # the stops move closer: one distance from the price now (they opened two away)
    tick = mt5.symbol_info_tick(symbol)
    distance = (request["tp"] - request["sl"]) / 4
    sl, tp = round(tick.bid - distance, info.digits), round(tick.bid + distance, info.digits)
    print(f"move stops sl={sl} tp={tp}")
    moved = trade({"action": mt5.TRADE_ACTION_SLTP, "symbol": symbol, "position": ticket,
                   "sl": sl, "tp": tp})
    if moved is None or moved.retcode not in DONE:
        print(f"stops not set: {moved and moved.comment}", file=sys.stderr)
        return 1

    print(f"close position {ticket}")
    closed = trade({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": volume,
                    "type": mt5.ORDER_TYPE_SELL, "position": ticket, "deviation": 20})
    if closed is None or closed.retcode not in DONE:
        print(f"not closed: {closed and closed.comment}", file=sys.stderr)
        return 1
    left = mt5.positions_get(ticket=ticket)
    print(f"closed; position still open: {bool(left)}; balance now "
          f"{mt5.account_info().balance}")
    return 0 if not left else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the gateway, e.g. http://127.0.0.1:8710")
    parser.add_argument("--token")
    parser.add_argument("--state-file", type=Path, help="the JSON `mtgateway demo` writes")
    parser.add_argument("--symbol", default=None,
                        help="default: the first symbol whose order checks out now: market "
                             "open (FX closes at weekends; the emulator's BTCUSD trades every "
                             "day) and within the account's risk policy")
    parser.add_argument("--volume", type=float, default=0.01)
    args = parser.parse_args()
    if not mt5.initialize(token=args.token, url=args.url, state_file=args.state_file,
                          timeout=10_000):
        print(f"initialize() failed: {mt5.last_error()}", file=sys.stderr)
        return 1
    try:
        return run(args.symbol, args.volume)
    finally:
        mt5.shutdown()


if __name__ == "__main__":
    sys.exit(main())
