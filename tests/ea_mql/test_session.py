"""The compiled EA's session against the real daemon: handshake, refusals, drop and reconnect,
heartbeats, bye, and the socket-read quirks of MQL5 as a matrix."""

from __future__ import annotations

from pathlib import Path

from ea_bridge import token_hint
from tests.e2e.conftest import TERMINAL, WAIT_S, Daemon
from tests.ea_mql.eakit import CompiledEA


async def test_handshake_goes_live_with_the_terminals_identity(
        daemon: Daemon, ea_binary: Path, fixture_file: Path) -> None:
    """The hand-built HMAC is accepted by the daemon and the hello carries the terminal."""
    async with CompiledEA(ea_binary, fixture_file, token=daemon.token,
                          port=daemon.bridge.port) as ea:
        info = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert info.hello.platform == "MT5"
        assert info.hello.build == 4755
        assert info.hello.token_hint == token_hint(daemon.token)
        await ea.wait_for_chart("connected, session")
        response = await daemon.call("ping")
        assert response.get("result") is not None, response
