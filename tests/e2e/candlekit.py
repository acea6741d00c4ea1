"""Reading bars back in the candle tests: ``copy_rates_range`` over the socket, a streamed
bar's fields, and the notifications of a subscription until enough bars closed.

The daemon's candle tests (with the emulated terminal) and the compiled EA's
(``daemon/tests/ea_mql``) compare streamed bars with the terminal's own the same way, so these
live here.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.wskit import Client

RATE_FIELDS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")


async def rates_range(client: Client, symbol: str, timeframe: int, first: int,
                      last: int) -> list[dict[str, Any]]:
    """``copy_rates_range`` over the socket, as dicts."""
    page = await client.result("copy_rates_range", {"symbol": symbol, "timeframe": timeframe,
                                                     "date_from": first, "date_to": last})
    assert page["next_cursor"] is None
    return [dict(zip(page["columns"], row, strict=True)) for row in page["rows"]]


def bar_of(note: dict[str, Any]) -> dict[str, Any]:
    return {name: note[name] for name in RATE_FIELDS}


async def collect(client: Client, sid: str, closed_wanted: int
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Notifications of ``sid`` until ``closed_wanted`` closed bars came: (all, closed)."""
    notes: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    while len(closed) < closed_wanted:
        note = await client.note()
        assert note["subscription"] == sid
        notes.append(note)
        if note.get("closed"):
            closed.append(note)
    return notes, closed
