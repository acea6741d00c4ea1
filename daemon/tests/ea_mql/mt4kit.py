"""What the MT4 EA's test modules share beyond the build (``eakit4``, which the bench imports
too and so stays free of the tests' fixtures): the kit's fixture file made from the reference
terminal (:func:`fixture4`), with a symbol quoted in whole points and coarser steps
(:func:`coarse_symbol`), the trade events a bridge listener recorded (:func:`trades`), and a
market buy (:data:`BUY`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.conftest import reference_fixture4
from tests.bridgekit import RecordingListener

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "BTCUSD", "volume": 0.01}


def fixture4(tmp_path: Path, **switches: Any) -> tuple[Path, dict[str, Any]]:
    """``terminal4.json`` in ``tmp_path`` from the reference terminal (``switches``: the kit's
    switches); its path and content."""
    path = tmp_path / "terminal4.json"
    return path, reference_fixture4(path, **switches)


#: A symbol's fields that are prices (``symbol_info``), on its price grid in a coarse copy.
PRICE_FIELDS = ("bid", "bidhigh", "bidlow", "ask", "askhigh", "asklow", "last", "lasthigh",
                "lastlow", "session_open", "session_close")


def coarse_symbol(fixture: dict[str, Any], name: str, like: str, tick: float) -> None:
    """Add ``name`` to ``fixture``: ``like`` quoted with 0 digits and moving in steps of
    ``tick`` points (index CFDs such as a JP225 quoted so): its quotes, ticks and bars put on
    that grid, its tick value scaled with the step."""
    source = fixture["symbols"][like]

    def grid(x: float) -> float:
        return float(round(x / tick) * tick)

    info = {**source["info"], "name": name, "path": f"Indices\\{name}", "description": name,
            "digits": 0, "point": 1.0, "trade_tick_size": tick,
            "trade_tick_value": source["info"]["trade_tick_value"] / source["info"]["point"]
            * tick}
    info.update({k: grid(info[k]) for k in PRICE_FIELDS})
    info["spread"] = max(1, round((info["ask"] - info["bid"]) / info["point"]))

    def row(r: list[Any]) -> list[Any]:  # [time_msc, bid, ask, last, volume, flags, real]
        return [r[0], grid(r[1]), max(grid(r[2]), grid(r[1]) + tick), grid(r[3]), *r[4:]]

    fixture["symbols"][name] = {
        **source, "info": info, "ticks": [row(r) for r in source["ticks"]],
        "live": [row(r) for r in source["live"]],
        "m1": [[b[0], *(grid(x) for x in b[1:5]), *b[5:]] for b in source["m1"]]}


def trades(listener: RecordingListener) -> list[dict[str, Any]]:
    """The trade events ``listener`` recorded, but for account updates."""
    return [p for _, n, p, _ in listener.events if n == "trade" and p["type"] != "account_updated"]
