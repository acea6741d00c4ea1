"""The trade operations on their own (``gateway/trading/operations.py``): closes by position and
by symbol over the real desk, journal (SQLite in the test's directory) and a real bridge with
the emulated terminal connected (``conftest.py``); no daemon, no HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.gateway.conftest import SYMBOL, TERMINAL, TOKEN_ID, wired_desk
from ea_bridge import Bridge
from gateway.auth import Principal
from gateway.config import GatewayConfig
from gateway.errors import NotFound, TradeRejected, Unauthorized
from gateway.trading.desk import TradeDesk
from gateway.trading.journal import OrderJournal
from gateway.trading.operations import (
    RETRYABLE_RETCODES,
    OrderOptions,
    TradeOperations,
    answer,
    derived_id,
)
from mt5model.mt5 import TradeAction, TradeRetcode

TRADER = Principal(TOKEN_ID, TERMINAL, frozenset({"read", "trade"}))


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path


@pytest.fixture
async def desk(bridge: Bridge, private_dir: Path) -> AsyncIterator[TradeDesk]:
    opened = wired_desk(OrderJournal(private_dir / "orders.sqlite3"), bridge,
                        GatewayConfig(data_dir=str(private_dir)))
    opened.open()
    yield opened
    await opened.close()


async def buy(ops: TradeOperations, volume: float = 0.01) -> int:
    result = await ops.send(TRADER, ops.request(OrderOptions(), action=TradeAction.DEAL,
                                                symbol=SYMBOL, type=0, volume=volume))
    ticket: int = result["order"]
    return ticket


async def open_tickets(desk: TradeDesk) -> list[int]:
    held: list[dict[str, Any]] = await desk.read(TRADER, "positions_get", {"symbol": SYMBOL})
    return sorted(p["ticket"] for p in held)


async def test_a_close_closes_once_and_its_retry_replays(desk: TradeDesk) -> None:
    ops = desk.ops
    ticket = await buy(ops)
    assert await open_tickets(desk) == [ticket]
    first = await ops.close(TRADER, ticket, options=OrderOptions(client_id="close-1"))
    assert first["retcode"] == TradeRetcode.DONE and not first["deduplicated"]
    assert await open_tickets(desk) == []
    again = await ops.close(TRADER, ticket, options=OrderOptions(client_id="close-1"))
    assert again["deduplicated"] is True and again["order"] == first["order"]


async def test_a_partial_close_leaves_the_rest(desk: TradeDesk) -> None:
    ops = desk.ops
    ticket = await buy(ops, volume=0.03)
    await ops.close(TRADER, ticket, volume=0.01)
    (left,) = await desk.read(TRADER, "positions_get", {"symbol": SYMBOL})
    assert left["ticket"] == ticket and left["volume"] == pytest.approx(0.02)


async def test_closing_a_position_that_is_not_open_is_not_found(desk: TradeDesk) -> None:
    with pytest.raises(NotFound):
        await desk.ops.close(TRADER, 987654321)


async def test_close_by_symbol_closes_each_under_its_derived_id(desk: TradeDesk) -> None:
    ops = desk.ops
    tickets = sorted([await buy(ops), await buy(ops)])
    done = await ops.close_by_symbol(TRADER, SYMBOL, options=OrderOptions(client_id="all-1"))
    assert [r["client_id"] for r in done["results"]] == [derived_id("all-1", t)
                                                         for t in tickets]
    assert await open_tickets(desk) == []
    again = await ops.close_by_symbol(TRADER, SYMBOL, options=OrderOptions(client_id="all-1"))
    assert again["results"] == []  # nothing open is left to close, nothing closed twice


async def test_a_caller_who_may_not_trade_learns_nothing(desk: TradeDesk) -> None:
    reader = Principal(TOKEN_ID, TERMINAL, frozenset({"read"}))
    with pytest.raises(Unauthorized):
        await desk.ops.close(reader, 1, options=OrderOptions(client_id="close-1"))
    with pytest.raises(Unauthorized):
        await desk.ops.close_by_symbol(reader, SYMBOL)


def test_answer_and_derived_ids() -> None:
    """A success passes; a refusal is TradeRejected, retryable exactly for the market's
    retcodes; a derived id is stable, 24 characters, and differs by ticket."""
    ok = {"retcode": int(TradeRetcode.DONE)}
    assert answer(ok) is ok
    for code, retryable in ((TradeRetcode.REQUOTE, True), (TradeRetcode.NO_MONEY, False)):
        with pytest.raises(TradeRejected) as refused:
            answer({"retcode": int(code)})
        assert refused.value.retryable is retryable and (code in RETRYABLE_RETCODES) is retryable
    assert derived_id("x" * 24, 5) == derived_id("x" * 24, 5) != derived_id("x" * 24, 6)
    assert len(derived_id("x" * 24, 5)) == 24
