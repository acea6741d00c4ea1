"""Fixtures of the daemon's unit tests: a real bridge with the emulated terminal connected, and
a trade desk wired from its parts as ``create_app`` wires it.

BTCUSD is traded because the emulator trades it around the clock (weekends too).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import pytest

from ea_bridge import Bridge, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.app import PAPER_DIR_NAME, trading_settings
from gateway.config import GatewayConfig
from gateway.trading.desk import TradeDesk
from gateway.trading.gate import TradeGate
from gateway.trading.journal import OrderJournal
from gateway.trading.paper import PaperTrading
from gateway.trading.reconciler import Reconciler
from gateway.trading.venue import Venues
from tests.bridgekit import TIMEOUT_S, StaticVerifier

TOKEN: Final = "mtgw_" + "P" * 32 + "paper1"
#: The token record the terminal's EA connects with.
TOKEN_ID: Final = "tok-p"
TERMINAL: Final = TerminalId(5012345, "MTG-Demo")
SYMBOL: Final = "BTCUSD"


@pytest.fixture
async def bridge() -> AsyncIterator[Bridge]:
    """A bridge with the emulated terminal connected."""
    running = Bridge(StaticVerifier({TOKEN: (TERMINAL, TOKEN_ID)}), port=0)
    await running.start()
    terminal = EmulatedTerminal(TOKEN, port=running.port, settings=EmulatorSettings(
        login=TERMINAL.login, server=TERMINAL.server, symbols=(SYMBOL,)))
    task = asyncio.create_task(terminal.run())
    try:
        await running.wait_for_terminal(TERMINAL, TIMEOUT_S)
        yield running
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await running.close()


def wired_desk(journal: OrderJournal, bridge: Bridge, config: GatewayConfig, *,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> TradeDesk:
    """A desk with its parts, wired as ``gateway.app._trading`` wires them (no listeners:
    these tests feed nothing through the bridge's listeners); ``clock`` and ``sleep`` are the
    reconciler's and the desk's."""
    venues = Venues(bridge, PaperTrading(bridge, config.resolved_data_dir() / PAPER_DIR_NAME,
                                           config.server.request_timeout_s))
    desk_settings, reconcile_settings = trading_settings(config)
    reconciler = Reconciler(journal, bridge, venues, reconcile_settings, clock=clock, sleep=sleep)
    return TradeDesk(journal, bridge, desk_settings, venues=venues, reconciler=reconciler,
                     gate=TradeGate(bridge, reconciler.reconciling), clock=clock)


class SteppedSleep:
    """An injected ``sleep`` that returns only when the test lets one period pass."""

    def __init__(self) -> None:
        self.periods: list[float] = []
        self._sleepers: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        self.periods.append(seconds)
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.put_nowait(wake)
        await wake

    async def one_period(self) -> None:
        """Wake the sleeping loop once; return when it has run its body and sleeps again."""
        async with asyncio.timeout(TIMEOUT_S):
            (await self._sleepers.get()).set_result(None)
            self._sleepers.put_nowait(await self._sleepers.get())
