"""What the MT4 EA's test modules share beyond the build (``eakit4``, which the bench imports
too and so stays free of the tests' fixtures): the kit's fixture file made from the reference
terminal (:func:`fixture4`), the trade events a bridge listener recorded (:func:`trades`), and
a market buy (:data:`BUY`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bridgekit import RecordingListener
from tests.ea_mql.conftest import reference_terminal
from tests.ea_mql.eakit4 import write_fixture4

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "BTCUSD", "volume": 0.01}


def fixture4(tmp_path: Path, **switches: Any) -> tuple[Path, dict[str, Any]]:
    """``terminal4.json`` in ``tmp_path`` from the reference terminal (``switches``: the kit's
    switches); its path and content."""
    path = tmp_path / "terminal4.json"
    return path, write_fixture4(path, reference_terminal(), **switches)


def trades(listener: RecordingListener) -> list[dict[str, Any]]:
    """The trade events ``listener`` recorded, but for account updates."""
    return [p for _, n, p, _ in listener.events if n == "trade" and p["type"] != "account_updated"]
