"""Fixtures for the EA tests: the compiled EA (built once per session) and its fixture file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.e2e.conftest import LOGIN, SERVER, Daemon, running_daemon
from tests.ea_mql.eakit import build_ea, write_fixture

SYMBOLS = ("EURUSD", "USDJPY", "BTCUSD")
TICK_RATE_HZ = 10.0


@pytest.fixture(scope="session")
def ea_binary() -> Path:
    """The EA compiled with g++ -Werror (cached by source hash; never skipped)."""
    return build_ea()


def reference_terminal(token: str = "mtgw_unused") -> EmulatedTerminal:
    """An emulated terminal of the test account, not connected: the fixture's source."""
    return EmulatedTerminal(token, settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                             symbols=SYMBOLS,
                                                             tick_rate_hz=TICK_RATE_HZ))


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    path = tmp_path / "terminal.json"
    write_fixture(path, reference_terminal())
    return path


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    """The real daemon (embedded authority, short heartbeats) on port 0."""
    async with running_daemon(tmp_path) as running:
        yield running
