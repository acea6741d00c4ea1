"""mt5-grpc-server's services called by a gRPC client, as a program in another language would
call them: connect and log in, version, account, a tick, bars, the margin of an order, a
market buy, its SL/TP, the positions, the close, a buy limit placed, listed and removed, the
position's deals, the last error, the shutdown. One line per call, ``grpc <call>: <value>``.
Its ``CheckOrder`` is not called: the server hands the package's ``order_check`` its protobuf
message where the package takes a dict (the package answers ``None``, as the client does).
Arguments: the server's port, the account's login and server."""

from __future__ import annotations

import sys
import time

import grpc
import mt5_grpc_proto as p
from google.protobuf.timestamp_pb2 import Timestamp

SYMBOL = "BTCUSD"
port, login, server = sys.argv[1], int(sys.argv[2]), sys.argv[3]
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
grpc.channel_ready_future(channel).result(timeout=60)


def stub(service: str) -> object:
    return getattr(p, service + "Stub")(channel)


def say(call: str, value: object) -> None:
    print(f"grpc {call}: {value}", flush=True)


def moment(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(int(seconds))
    return stamp


meta, init = stub("MetaTraderService"), stub("InitializeService")
say("connect", meta.Connect(p.ConnectRequest(login=login, password="x", server=server)).code)
say("login", init.Login(p.LoginRequest(login=login, password="x", server=server)).success)
say("version", init.GetVersion(p.VersionRequest()).version)
say("account", stub("AccountInfoService").GetAccountInfo(
    p.AccountInfoRequest()).account_info.login)
tick = stub("SymbolInfoTickService").GetSymbolInfoTick(p.SymbolInfoTickRequest(symbol=SYMBOL))
bid, ask = tick.tick.bid, tick.tick.ask
say("tick", bid < ask)
market = stub("MarketDataService")
say("rates", len(market.CopyRatesFromPos(p.CopyRatesFromPosRequest(
    symbol=SYMBOL, timeframe=1, start_pos=0, count=3)).rates))
say("ticks", len(market.CopyTicksFrom(p.CopyTicksFromRequest(
    symbol=SYMBOL, date_from=moment(time.time() - 600), count=3, flags=-1)).ticks) > 0)
say("margin", stub("OrderCalcService").CalcMargin(p.OrderCalcMarginRequest(
    action=0, symbol=SYMBOL, volume=0.1, price=ask)).margin > 0)
orders = stub("OrderSendService")


def send(**fields: object) -> object:
    return orders.SendOrder(p.OrderSendRequest(trade_request=p.TradeRequest(**fields))).trade_result


bought = send(action=1, symbol=SYMBOL, volume=0.02, type=0, price=ask, deviation=20,
              magic=7070, type_filling=1, comment="grpc")
say("bought", bought.retcode)
position = bought.order
say("sltp", send(action=6, symbol=SYMBOL, position=position, sl=round(bid * 0.95, 2),
                 tp=round(ask * 1.05, 2)).retcode)
held = stub("PositionsService").GetPositions(p.PositionsGetRequest(ticket=position)).positions
say("position", [(x.volume, x.magic, x.stop_loss == round(bid * 0.95, 2)) for x in held])
say("closed", send(action=1, symbol=SYMBOL, volume=0.02, type=1, position=position, price=bid,
                   deviation=20, type_filling=1).retcode)
limit = send(action=5, symbol=SYMBOL, volume=0.01, type=2, price=round(bid * 0.9, 2),
             type_filling=2, magic=7070)
say("limit", limit.retcode)
say("orders", [o.ticket == limit.order for o in stub("OrdersService").GetOrders(
    p.OrdersGetRequest(symbol=SYMBOL)).orders])
say("removed", send(action=8, order=limit.order).retcode)
say("deals", len(stub("TradeHistoryService").GetDeals(p.DealsRequest(position=position)).deals))
say("last error", meta.GetLastError(p.Empty()).error.code)
say("shutdown", init.Shutdown(p.ShutdownRequest()).success)
