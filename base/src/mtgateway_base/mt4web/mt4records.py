"""MT4 Manager API trade records (``TradeRecord``) from MT5's records: one mapping, pure.

The MT4 Web API document names trade endpoints without giving their shapes, so both sides
that answer them -- the daemon's REST mirror for one terminal and the console's API across an
owner's terminals -- answer the MT4 Manager API's ``TradeRecord`` fields filled from MT5's
``TradePosition``, ``TradeOrder`` and ``TradeDeal`` (the mapping is in ``docs/rest.md``):
``cmd`` 0 buy, 1 sell, 2-5 buy/sell limit/stop (MT5's 6/7 for stop-limit), 6 balance and 7
credit; ``volume`` in lots; an open position's ``close_price`` is the current price; a closed
trade pairs a position's closing deal with its opening deal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["BALANCE_DEALS", "CLOSING_ENTRIES", "closed_records", "openings_of",
           "order_record", "position_record"]

#: ``DEAL_TYPE_BALANCE`` and ``DEAL_TYPE_CREDIT``: money moved, not a trade.
BALANCE_DEALS: Final = frozenset({2, 3})
#: ``DEAL_ENTRY_OUT``, ``INOUT``, ``OUT_BY``: deals that close (part of) a position.
CLOSING_ENTRIES: Final = frozenset({1, 2, 3})

Record = dict[str, Any]


def position_record(login: int, p: Mapping[str, Any]) -> Record:
    """An open position (``TradePosition``) as a ``TradeRecord`` (``state: open``)."""
    return {"order": p["ticket"], "login": login, "symbol": p["symbol"], "cmd": p["type"],
            "volume": p["volume"], "open_time": p["time"], "open_price": p["price_open"],
            "sl": p["sl"], "tp": p["tp"], "close_time": 0, "close_price": p["price_current"],
            "expiration": 0, "commission": 0.0, "storage": p["swap"], "profit": p["profit"],
            "magic": p["magic"], "comment": p["comment"], "state": "open"}


def order_record(login: int, o: Mapping[str, Any]) -> Record:
    """A pending order (``TradeOrder``) as a ``TradeRecord`` (``state: pending``)."""
    return {"order": o["ticket"], "login": login, "symbol": o["symbol"], "cmd": o["type"],
            "volume": o["volume_current"], "open_time": o["time_setup"],
            "open_price": o["price_open"], "sl": o["sl"], "tp": o["tp"], "close_time": 0,
            "close_price": o["price_current"], "expiration": o["time_expiration"],
            "commission": 0.0, "storage": 0.0, "profit": 0.0, "magic": o["magic"],
            "comment": o["comment"], "state": "pending"}


def openings_of(deals: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """The opening deal (``DEAL_ENTRY_IN``) of each position among ``deals``."""
    return {d["position_id"]: d for d in deals if d["entry"] == 0 and d["position_id"]}


def closed_records(login: int, deals: Iterable[Mapping[str, Any]],
                   openings: Mapping[int, Mapping[str, Any]]) -> list[Record]:
    """Closed trades (each closing deal with its position's opening deal, ``state: closed``)
    and balance and credit operations (``cmd`` 6 and 7, ``state: balance``), in the deals'
    order; opening deals alone are not trades yet."""
    out: list[Record] = []
    for deal in deals:
        if deal["type"] in BALANCE_DEALS:
            out.append({"order": deal["ticket"], "login": login, "symbol": "",
                        "cmd": 6 + deal["type"] - 2, "volume": 0.0, "open_time": deal["time"],
                        "open_price": 0.0, "sl": 0.0, "tp": 0.0, "close_time": deal["time"],
                        "close_price": 0.0, "expiration": 0, "commission": 0.0,
                        "storage": 0.0, "profit": deal["profit"], "magic": deal["magic"],
                        "comment": deal["comment"], "state": "balance"})
            continue
        if deal["entry"] not in CLOSING_ENTRIES:
            continue
        opening = openings.get(deal["position_id"], {})
        out.append({"order": deal["position_id"], "login": login, "symbol": deal["symbol"],
                    "cmd": opening.get("type", 1 - deal["type"]), "volume": deal["volume"],
                    "open_time": opening.get("time", 0),
                    "open_price": opening.get("price", 0.0), "sl": 0.0, "tp": 0.0,
                    "close_time": deal["time"], "close_price": deal["price"], "expiration": 0,
                    "commission": deal["commission"] + opening.get("commission", 0.0),
                    "storage": deal["swap"], "profit": deal["profit"], "magic": deal["magic"],
                    "comment": opening.get("comment", deal["comment"]), "state": "closed"})
    return out
