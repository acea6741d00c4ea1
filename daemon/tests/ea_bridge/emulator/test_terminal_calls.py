"""The emulated terminal answers a call whose params do not fit its method with
``INVALID_PARAMS`` naming them, and a method's own ``TypeError`` as an internal error: the
params are bound only when a call fails, so the common call pays no binding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ea_bridge import Bridge, EAError, TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from mt5model.types import ErrorCode
from tests.bridgekit import TIMEOUT_S, RecordingListener, StaticVerifier

pytestmark = pytest.mark.network_edge

TOKEN = "mtgw_" + "c" * 38
TERM = TerminalId(1001, "Test-Server")


class BrokenMethodTerminal(EmulatedTerminal):
    """An emulated terminal with one more method, whose own body raises ``TypeError``."""

    def _method_table(self) -> dict[str, Callable[..., Any]]:
        def broken(symbol: str) -> None:
            raise TypeError("a bug inside the method")
        return {**super()._method_table(), "broken": broken}


@pytest.fixture
async def terminal_bridge() -> AsyncIterator[Bridge]:
    bridge = Bridge(StaticVerifier({TOKEN: (TERM, "tok-c")}), RecordingListener(), port=0)
    await bridge.start()
    terminal = BrokenMethodTerminal(TOKEN, port=bridge.port, settings=EmulatorSettings(
        login=TERM.login, server=TERM.server))
    running = asyncio.create_task(terminal.run(reconnect=False))
    try:
        await bridge.wait_for_terminal(TERM, TIMEOUT_S)
        yield bridge
    finally:
        await terminal.close()
        await running
        await bridge.close()


async def test_params_that_do_not_fit_are_invalid_params(terminal_bridge: Bridge) -> None:
    with pytest.raises(EAError) as caught:
        await terminal_bridge.call(TERM, "symbol_info_tick", {"symbl": "EURUSD"}, TIMEOUT_S)
    assert caught.value.code == ErrorCode.INVALID_PARAMS
    assert "symbol" in str(caught.value)  # what bind says: the missing one
    with pytest.raises(EAError) as missing:
        await terminal_bridge.call(TERM, "symbol_info_tick", {}, TIMEOUT_S)
    assert missing.value.code == ErrorCode.INVALID_PARAMS


async def test_a_methods_own_type_error_is_internal(terminal_bridge: Bridge) -> None:
    with pytest.raises(EAError) as caught:
        await terminal_bridge.call(TERM, "broken", {"symbol": "EURUSD"}, TIMEOUT_S)
    assert caught.value.code == ErrorCode.INTERNAL


async def test_fitting_params_are_answered(terminal_bridge: Bridge) -> None:
    tick = await terminal_bridge.call(TERM, "symbol_info_tick", {"symbol": "EURUSD"}, TIMEOUT_S)
    assert tick["bid"] > 0
