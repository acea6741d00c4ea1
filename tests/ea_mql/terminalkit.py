"""The kit's terminal as the fault and rule tests of the MQL5 EA set it up and watch it: the
reference terminal with a position already open (:func:`with_open_position`), a history call
held while a ping overtakes it (:func:`held_then_answered`, asked again while it answers
-32008: :func:`loaded`), and the trade events a bridge listener recorded (:func:`trades`).

The terminal-fault tests, the terminal-rule tests and the MT4 EA's rule tests share these, so
they live here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ea_bridge import Bridge, EAError
from tests.bridgekit import RecordingListener
from tests.e2e.conftest import TERMINAL, WAIT_S
from tests.ea_mql.conftest import reference_terminal


def trades(listener: RecordingListener, kind: str | None = None) -> list[dict[str, Any]]:
    """The trade events ``listener`` recorded (of type ``kind`` only, if given)."""
    return [p for _, n, p, _ in listener.events
            if n == "trade" and (kind is None or p["type"] == kind)]


async def held_then_answered(b: Bridge, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` and, while it is held, a ping: the ping is answered first (an EA that
    copied history that is not local would be stuck in the copy and answer the ping after)."""
    held = asyncio.create_task(b.call(TERMINAL, method, params, WAIT_S))
    await asyncio.sleep(0)  # the request goes out before the ping
    assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}
    assert not held.done(), "the history call was answered before a later ping"
    return await held


async def loaded(b: Bridge, method: str, params: dict[str, Any], tries: int = 10) -> Any:
    """:func:`held_then_answered`, asked again (at most ``tries`` times) while the EA answers
    -32008: the history is still loading after its ``HistoryWaitMs`` (4 s)."""
    for _ in range(tries - 1):
        try:
            return await held_then_answered(b, method, params)
        except EAError as exc:
            if exc.code != -32008:
                raise
    return await held_then_answered(b, method, params)


def with_open_position(volume: float = 0.02) -> tuple[Any, int]:
    """The reference terminal with a BTCUSD buy already open; returns it and the ticket."""
    terminal = reference_terminal()
    sent = terminal._method_table()["order_send"](request={
        "action": 1, "type": 0, "symbol": "BTCUSD", "volume": volume})
    assert sent["retcode"] == 10009, sent
    return terminal, int(sent["order"])
