"""What one reconciliation pass may count as a miss: only the rows whose answer was lost before
its reads began. A pass reads the terminal once for the rows UNKNOWN when it starts; an order
whose answer is lost while those reads run may be filled after them, and a miss counted from
them would bring it closer to ``RESOLVED_NOT_FOUND`` -- which frees its ``client_id`` for a
retry that opens a second position. A real bridge with the emulated terminal, a real journal
file, the periodic loop stepped through an injected sleep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.tests.gateway.conftest import SYMBOL, TERMINAL, SteppedSleep
from ea_bridge import Bridge, SessionInfo, TerminalId
from gateway.app import PAPER_DIR_NAME, trading_settings
from gateway.auth import Principal
from gateway.config import GatewayConfig, ServerConfig, TradingConfig
from gateway.trading.gate import TradeGate
from gateway.trading.journal import OrderJournal, OrderRow, OrderState, params_hash, terminal_key
from gateway.trading.paper import PaperTrading
from gateway.trading.reconciler import Reconciler
from gateway.trading.venue import Venue, Venues
from tests.bridgekit import TIMEOUT_S
from tests.testkit import FakeClock

#: A market buy of the emulator's around-the-clock symbol, which no order here executes.
REQUEST: dict[str, Any] = {"action": 1, "type": 0, "symbol": SYMBOL, "volume": 0.01,
                           "magic": 0}


@dataclass
class _WatchedVenue:
    """The terminal's venue, which runs ``before`` ahead of each read it passes on (a read of
    the pass under test: the moment an order's answer can be lost while the pass reads)."""

    venue: Venue
    before: Callable[[str], None]

    @property
    def paper(self) -> bool:
        return self.venue.paper

    async def call(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        self.before(method)
        return await self.venue.call(method, params, timeout_s)

    def record_version(self, session: SessionInfo | None) -> tuple[int, int]:
        return self.venue.record_version(session)

    def read(self, gate: TradeGate, principal: Principal, method: str,
             params: dict[str, Any], timeout_s: float) -> Awaitable[Any]:
        return self.venue.read(gate, principal, method, params, timeout_s)


class _WatchedVenues(Venues):
    def __init__(self, bridge: Bridge, paper: PaperTrading,
                 before: Callable[[str], None]) -> None:
        super().__init__(bridge, paper)
        self._before = before

    def of(self, terminal: TerminalId, paper: bool) -> Venue:
        return _WatchedVenue(super().of(terminal, paper), self._before)


def _lost(journal: OrderJournal, client_id: str) -> OrderRow:
    """A row whose order was sent and whose answer was lost (``UNKNOWN``)."""
    row = journal.receive(token_id="tok-p", client_id=client_id,
                          terminal=terminal_key(TERMINAL), params_hash=params_hash(REQUEST),
                          request=REQUEST)
    return journal.mark_unknown(journal.mark_sent(row, REQUEST))


async def test_an_answer_lost_during_a_pass_is_not_judged_by_its_reads(
        bridge: Bridge, tmp_path: Path) -> None:
    """Order A's answer was lost before the pass; order B's while the pass read the terminal
    (its last read, positions, not yet answered). With one pass allowed, A -- found nowhere --
    is RESOLVED_NOT_FOUND, and B stays UNKNOWN with no pass counted: the reads began before its
    answer. Before, B was judged by those reads too and given up as not found at once."""
    config = GatewayConfig(data_dir=str(tmp_path),
                           server=ServerConfig(request_timeout_s=TIMEOUT_S),
                           trading=TradingConfig(reconcile_max_passes=1))
    journal = OrderJournal(tmp_path / "orders.sqlite3", clock=FakeClock(1_763_650_000.0))
    journal.open()
    lost_meanwhile: list[OrderRow] = []

    def before(method: str) -> None:
        if method == "positions_get" and not lost_meanwhile:
            lost_meanwhile.append(_lost(journal, "b"))

    venues = _WatchedVenues(bridge, PaperTrading(bridge, tmp_path / PAPER_DIR_NAME, TIMEOUT_S),
                            before)
    stepped = SteppedSleep()
    reconciler = Reconciler(journal, bridge, venues, trading_settings(config)[1],
                            clock=FakeClock(500.0), sleep=stepped)
    reconciler.open()
    try:
        _lost(journal, "a")
        await stepped.one_period()
        await reconciler.wait_reconciled(TERMINAL)
        assert lost_meanwhile, "the pass read no positions"
        a, b = journal.get("tok-p", "a"), journal.get("tok-p", "b")
        assert a is not None and (a.state, a.passes) == (OrderState.RESOLVED_NOT_FOUND, 1)
        assert b is not None and (b.state, b.passes) == (OrderState.UNKNOWN, 0)
        await stepped.one_period()  # the next pass reads after B's answer: now it counts
        await reconciler.wait_reconciled(TERMINAL)
        b = journal.get("tok-p", "b")
        assert b is not None and (b.state, b.passes) == (OrderState.RESOLVED_NOT_FOUND, 1)
    finally:
        await reconciler.close()
        journal.close()
