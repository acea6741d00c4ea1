"""A minimal trading bot against MT Gateway's /rpc (aiohttp): read, buy, move the stops, close.

    python examples/bot.py --url http://127.0.0.1:8710/rpc --token mtgw_... --symbol EURUSD
    python examples/bot.py --state-file demo.json          # what `mtgateway demo` wrote

What it shows, in the order a real bot needs it:
- calls by the MetaTrader5 package's names, with enum constants by name;
- a broker rejection is a *result* (check `retcode`), a JSON-RPC error means "not evaluated";
- every order carries a `client_id`: resending the same request with the same id can never
  open a second position, and after -32003 OUTCOME_UNKNOWN the bot asks `order_status`
  instead of blindly sending again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp

DONE = {10008, 10009, 10010, 10025}


class RpcError(Exception):
    """A JSON-RPC error from the gateway."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['code']}: {error['message']}")
        self.code: int = error["code"]
        self.data: Any = error.get("data")


class Gateway:
    """The smallest useful client: one session, one call method."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self._id = session, url, 0

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self._id += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if args or kwargs:
            body["params"] = list(args) if args else kwargs
        async with self.session.post(self.url, json=body) as response:
            reply = await response.json()
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    async def trade(self, request: dict[str, Any]) -> dict[str, Any]:
        """order_send with a client_id; on an unknown outcome, ask instead of resending."""
        request = {**request, "client_id": request.get("client_id") or secrets.token_hex(8)}
        try:
            result: dict[str, Any] = await self.call("order_send", request=request)
        except RpcError as exc:
            if exc.code != -32003:
                raise
            print(f"outcome unknown for {request['client_id']}; asking order_status")
            status: dict[str, Any] = await self.call("order_status", request["client_id"])
            return status
        print(f"  {request['client_id']}: {result['retcode']} {result['retcode_name']}")
        return result


MARKET_CLOSED = 10018


async def open_symbol(gw: Gateway) -> str | None:
    """The first Market Watch symbol whose market is open now: order_check of its smallest
    buy is not 10018 MARKET_CLOSED (on a weekend FX, metals and indices are closed; the
    emulator's crypto symbol is not). Works the same against a real MT5 terminal."""
    for info in await gw.call("symbols_get"):
        check = await gw.call("order_check", {"action": "TRADE_ACTION_DEAL",
                                              "symbol": info["name"], "type": "ORDER_TYPE_BUY",
                                              "volume": info["volume_min"]})
        if check["retcode"] != MARKET_CLOSED:
            return str(info["name"])
    return None


async def run(url: str, token: str, symbol: str | None, volume: float) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        gw = Gateway(session, url)
        if symbol is None:
            symbol = await open_symbol(gw)
            if symbol is None:
                print("no market is open now", file=sys.stderr)
                return 1
            print(f"trading {symbol}: the first symbol whose market is open now")
        account = await gw.call("account_info")
        print(f"account {account['login']} on {account['server']}: balance {account['balance']}"
              f" {account['currency']}, equity {account['equity']}")
        print(f"open positions: {len(await gw.call('positions_get'))}")
        info = await gw.call("symbol_info", symbol)
        point, digits = info["point"], info["digits"]
        volume = max(volume, info["volume_min"])

        print(f"buy {volume} {symbol}")
        opened = await gw.trade({"action": "TRADE_ACTION_DEAL", "symbol": symbol,
                                 "volume": volume, "type": "ORDER_TYPE_BUY", "deviation": 20})
        if opened.get("retcode") not in DONE:
            print(f"not opened: {opened.get('comment')}", file=sys.stderr)
            return 1
        ticket = opened["order"]  # in MT5 the position's ticket is its opening order's
        position = (await gw.call("positions_get", ticket=ticket))[0]
        print(f"position {ticket} open at {position['price_open']}")

        tick = await gw.call("symbol_info_tick", symbol)
        # Stops well outside the spread and the broker's minimum distance (stops level).
        distance = max(20 * (tick["ask"] - tick["bid"]), (info["trade_stops_level"] + 10) * point)
        sl, tp = round(tick["bid"] - distance, digits), round(tick["bid"] + distance, digits)
        print(f"set stops sl={sl} tp={tp}")
        moved = await gw.trade({"action": "TRADE_ACTION_SLTP", "symbol": symbol,
                                "position": ticket, "sl": sl, "tp": tp})
        if moved.get("retcode") not in DONE:
            print(f"stops not set: {moved.get('comment')}", file=sys.stderr)
            return 1

        print(f"close position {ticket}")
        closed = await gw.trade({"action": "TRADE_ACTION_DEAL", "symbol": symbol,
                                 "volume": volume, "type": "ORDER_TYPE_SELL",
                                 "position": ticket, "deviation": 20})
        if closed.get("retcode") not in DONE:
            print(f"not closed: {closed.get('comment')}", file=sys.stderr)
            return 1
        left = await gw.call("positions_get", ticket=ticket)
        account = await gw.call("account_info")
        print(f"closed; position still open: {bool(left)}; balance now {account['balance']}")
        return 0 if not left else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--state-file", type=Path, help="the JSON `mtgateway demo` writes")
    parser.add_argument("--symbol", default=None,
                        help="default: the first symbol whose market is open now (FX closes "
                             "at weekends; the emulator's BTCUSD trades every day)")
    parser.add_argument("--volume", type=float, default=0.01)
    args = parser.parse_args()
    url, token = args.url, args.token
    if args.state_file is not None:
        state = json.loads(args.state_file.read_text())
        url, token = url or state["rpc_url"], token or state["token"]
    if not url or not token:
        parser.error("give --url and --token, or --state-file")
    return asyncio.run(run(url, token, args.symbol, args.volume))


if __name__ == "__main__":
    sys.exit(main())
