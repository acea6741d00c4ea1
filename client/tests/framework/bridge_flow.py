"""mt5-bridge's REST API through its own client (``mt5_bridge.client.BridgeClient``, what its
``mt5-bridge client`` commands call): account, health and version, a tick, bars, a market buy
with a comment, the positions, SL/TP modified, the position's deals, the close. One line per
step, ``bridge <step>: <value>``. Argument: the server's URL."""

from __future__ import annotations

import sys

from mt5_bridge.client import BridgeClient

SYMBOL = "BTCUSD"


def say(step: str, value: object) -> None:
    print(f"bridge {step}: {value}", flush=True)


bridge = BridgeClient(sys.argv[1])
say("account", bridge.get_account_info()["login"])  # the handler connects on first use
say("health", (bridge.check_health()["mt5_connected"], bridge.get_version()["version"]))
tick = bridge.get_tick(SYMBOL)
say("tick", tick["bid"] < tick["ask"])
say("rates", len(bridge.get_rates(SYMBOL, "M5", 3)))
sent = bridge.send_order(SYMBOL, "BUY", 0.02, comment="bridge buy", magic=5151)
ticket = sent["ticket"]
(held,) = [p for p in bridge.get_positions([SYMBOL]) if p["ticket"] == ticket]
say("bought", (held["volume"], held["magic"], held["comment"]))
sl, tp = round(tick["bid"] * 0.95, 2), round(tick["ask"] * 1.05, 2)
bridge.modify_position(ticket, sl=sl, tp=tp)
(held,) = [p for p in bridge.get_positions([SYMBOL]) if p["ticket"] == ticket]
say("modified", (held["sl"], held["tp"]) == (sl, tp))
bridge.close_position(ticket)
say("closed", [p["ticket"] for p in bridge.get_positions([SYMBOL])])
say("deals", [d["entry"] for d in bridge.get_history_deals(position=ticket)])
