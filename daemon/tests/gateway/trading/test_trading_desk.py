"""The trade desk's housekeeping: which retcodes leave an outcome unknown, and journal pruning at
open and from the periodic loop (stepped through an injected sleep, on a real SQLite file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.tests.gateway.conftest import SteppedSleep, wired_desk
from ea_bridge import Bridge
from gateway.config import GatewayConfig, TradingConfig
from gateway.trading.desk import OUTCOME_UNKNOWN_RETCODES, TradeDesk
from gateway.trading.journal import OrderJournal, OrderRow, OrderState, order_key, params_hash
from gateway.trading.reconciler import PRUNE_PERIOD_S
from mt5model.mt5 import SUCCESS_RETCODES, TradeRetcode
from tests.bridgekit import StaticVerifier
from tests.testkit import FakeClock

REQUEST: dict[str, Any] = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
TERMINAL = "5012345@MTG-Demo"
HOUR = 3600.0
RETENTION_H = 48.0


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(1_763_650_000.0)


@pytest.fixture
def mono() -> FakeClock:
    return FakeClock(500.0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orders.sqlite3"


def _idle_bridge() -> Bridge:
    """A real bridge that is never started: no terminal is connected."""
    return Bridge(StaticVerifier({}), port=0)


def _desk(path: Path, wall: FakeClock, mono: FakeClock, sleep: SteppedSleep) -> TradeDesk:
    config = GatewayConfig(trading=TradingConfig(journal_retention_h=RETENTION_H))
    return wired_desk(OrderJournal(path, clock=wall), _idle_bridge(), config, clock=mono,
                      sleep=sleep)


@pytest.fixture
def stepped() -> SteppedSleep:
    return SteppedSleep()


@pytest.fixture
async def desk(path: Path, wall: FakeClock, mono: FakeClock,
               stepped: SteppedSleep) -> AsyncIterator[TradeDesk]:
    desk = _desk(path, wall, mono, stepped)
    desk.open()
    yield desk
    await desk.close()


def _accepted(journal: OrderJournal, client_id: str) -> OrderRow:
    row = journal.receive(token_id="tok_a", client_id=client_id, terminal=TERMINAL,
                          params_hash=params_hash(REQUEST), request=REQUEST)
    sent = journal.mark_sent(row, REQUEST)
    return journal.record_result(sent, {"retcode": 10009, "order": 1}, success=True, ticket=1)


def _rejected(journal: OrderJournal, client_id: str) -> OrderRow:
    row = journal.receive(token_id="tok_a", client_id=client_id, terminal=TERMINAL,
                          params_hash=params_hash(REQUEST), request=REQUEST)
    sent = journal.mark_sent(row, REQUEST)
    return journal.record_result(sent, {"retcode": 10014}, success=False, ticket=None)


def _unknown(journal: OrderJournal, client_id: str) -> OrderRow:
    row = journal.receive(token_id="tok_a", client_id=client_id, terminal=TERMINAL,
                          params_hash=params_hash(REQUEST), request=REQUEST)
    return journal.mark_unknown(journal.mark_sent(row, REQUEST))


def test_outcome_unknown_retcodes_are_error_timeout_and_connection() -> None:
    """Exactly 10011, 10012 and 10031 leave the outcome unknown; none of them is a success."""
    assert OUTCOME_UNKNOWN_RETCODES == {10011, 10012, 10031}
    assert OUTCOME_UNKNOWN_RETCODES == {TradeRetcode.ERROR, TradeRetcode.TIMEOUT,
                                        TradeRetcode.CONNECTION}
    assert not OUTCOME_UNKNOWN_RETCODES & SUCCESS_RETCODES


async def test_open_prunes_what_a_previous_run_left(path: Path, wall: FakeClock,
                                                    mono: FakeClock) -> None:
    """At start the desk deletes old rows that left nothing open, and keeps unknown, recent and
    executed ones (no terminal is connected yet to say whether those orders are still open)."""
    before = OrderJournal(path, clock=wall)
    before.open()
    _rejected(before, "old")
    _accepted(before, "old-accepted")
    _unknown(before, "old-unknown")
    wall.advance(RETENTION_H * HOUR + 1)
    _rejected(before, "recent")
    before.close()
    desk = _desk(path, wall, mono, SteppedSleep())
    desk.open()
    try:
        assert desk.journal.get("tok_a", "old") is None
        kept = [desk.journal.get("tok_a", cid)
                for cid in ("old-accepted", "old-unknown", "recent")]
        assert [row.state for row in kept if row is not None] == [
            OrderState.ACCEPTED, OrderState.UNKNOWN, OrderState.REJECTED]
    finally:
        await desk.close()


async def test_periodic_loop_prunes_once_per_prune_period(desk: TradeDesk, wall: FakeClock,
                                                          mono: FakeClock,
                                                          stepped: SteppedSleep) -> None:
    """The reconciliation loop prunes when PRUNE_PERIOD_S has passed since the last prune, not
    on every reconciliation period."""
    _rejected(desk.journal, "done")
    wall.advance(RETENTION_H * HOUR + 1)
    await stepped.one_period()  # the open's prune was just now: not due yet
    assert desk.journal.get("tok_a", "done") is not None
    mono.advance(PRUNE_PERIOD_S)
    await stepped.one_period()
    assert desk.journal.get("tok_a", "done") is None
    assert [a.event for a in desk.journal.audit()][-1] == "pruned"
    assert set(stepped.periods) == {GatewayConfig().trading.reconcile_interval_s}


async def test_periodic_prune_keeps_unknown_rows(desk: TradeDesk, wall: FakeClock,
                                                 mono: FakeClock,
                                                 stepped: SteppedSleep) -> None:
    """An UNKNOWN row is still there, UNKNOWN, after the periodic prune of a much later day."""
    _unknown(desk.journal, "open")
    wall.advance(30 * 24 * HOUR)
    mono.advance(PRUNE_PERIOD_S)
    await stepped.one_period()
    row = desk.journal.get("tok_a", "open")
    assert row is not None and row.state is OrderState.UNKNOWN


class _FailingOncePrune(OrderJournal):
    """The real journal whose next prune raises an unexpected error (a bug's stand-in)."""

    fail_next = False

    def prune(self, *, older_than_s: float,
              open_tags: Any = None) -> int:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("unexpected")
        return super().prune(older_than_s=older_than_s, open_tags=open_tags)


async def test_a_failed_prune_does_not_end_the_loop(path: Path, wall: FakeClock,
                                                     mono: FakeClock,
                                                     stepped: SteppedSleep) -> None:
    """Whatever a prune raises is logged; the loop sleeps again and the next prune works."""
    config = GatewayConfig(trading=TradingConfig(journal_retention_h=RETENTION_H))
    journal = _FailingOncePrune(path, clock=wall)
    desk = wired_desk(journal, _idle_bridge(), config, clock=mono, sleep=stepped)
    desk.open()
    try:
        _rejected(journal, "done")
        wall.advance(RETENTION_H * HOUR + 1)
        journal.fail_next = True
        mono.advance(PRUNE_PERIOD_S)
        await stepped.one_period()  # raises inside, and the loop must sleep again
        assert journal.get("tok_a", "done") is not None
        mono.advance(PRUNE_PERIOD_S)
        await stepped.one_period()
        assert journal.get("tok_a", "done") is None
    finally:
        await desk.close()


def test_an_order_key_is_16_random_bytes_in_base64url() -> None:
    """22 characters of [A-Za-z0-9_-] from the injected randomness; 16 bytes asked."""
    asked: list[int] = []

    def randomness(n: int) -> bytes:
        asked.append(n)
        return bytes(range(250, 250 - n, -1))

    key = order_key(randomness)
    assert asked == [16]
    assert key == "-vn49_b19PPy8fDv7u3s6w"
    assert len(order_key(lambda n: b"\xff" * n)) == 22
