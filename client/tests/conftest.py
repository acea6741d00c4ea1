"""A real daemon with an emulated terminal on loopback for the client's tests.

The synchronous client blocks, so tests run it in a worker thread (``asyncio.to_thread``)
while the daemon serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.fixtures import Daemon, connected_terminal, running_daemon

#: BTCUSD quotes around the clock in the emulator; the forex symbols close at weekends.
SYMBOLS = ("EURUSD", "USDJPY", "BTCUSD")


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path) as running:
        yield running


@pytest.fixture
async def terminal(daemon: Daemon) -> AsyncIterator[EmulatedTerminal]:
    async with connected_terminal(daemon, symbols=SYMBOLS) as connected:
        yield connected


def base_url(daemon: Daemon) -> str:
    return f"http://127.0.0.1:{daemon.http_port}"


def pytest_asyncio_loop_factories(config: pytest.Config,
                                  item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The asyncio client's tests (a network edge) run on asyncio's loop and on uvloop; the
    others on asyncio's alone."""
    factories: dict[str, Callable[[], Any]] = {"asyncio": asyncio.new_event_loop}
    if item.path.name == "test_aio_client.py" and sys.platform != "win32":
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
    return factories
