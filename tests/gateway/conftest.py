"""Fixtures of the daemon's unit tests: a real bridge with the emulated terminal connected.

BTCUSD is traded because the emulator trades it around the clock (weekends too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

import pytest

from ea_bridge import Bridge, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
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
