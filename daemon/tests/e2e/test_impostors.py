"""Review round 4, T4-F1: the EA takes no order from whatever listens on the bridge port.

The emulated terminal (the EA the tests and the demo run, on the same protocol code as the
daemon) is pointed at a squatter, a listener holding no token, no hash and no key, that plays
the review's script: a challenge, a welcome, ``account_info`` and a 0.5-lot ``order_send``.
Before protocol 1.3 the emulator and both compiled EAs executed it (retcode 10009). Now the EA
checks the challenge's proof first: the squatter receives the hello and nothing else, no order
is placed, and the EA keeps retrying (the real daemon may be on its way back), which it then
reaches. The compiled EAs face the same squatter in ``daemon/tests/ea_mql/test_impostors.py``.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from ea_bridge.messages import Challenge
from mtgateway.credential import TokenKeys
from tests.bridgekit import RawEA, Squatter
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, running_daemon

pytestmark = pytest.mark.network_edge


async def genuine_proof_for_another_nonce(bridge_port: int, token: str) -> str:
    """A real challenge proof, asked of the real daemon with the token's hint (seen in an
    EA's hello) and a nonce of the asker's choice: what a squatter can record while the
    daemon is up."""
    ea = await RawEA.connect(bridge_port, TokenKeys.of(token).hint, LOGIN, SERVER)
    try:
        message = await ea.next_message()
        assert isinstance(message, Challenge), message
        return message.proof
    finally:
        ea.close()


@pytest.mark.parametrize("recorded", [False, True], ids=["made_up", "recorded"])
async def test_the_emulator_obeys_no_squatter_on_the_bridge_port(tmp_path: Path,
                                                                 recorded: bool) -> None:
    """A squatter with a made-up proof, or a genuine proof recorded from the real daemon for
    another nonce: the emulator sends it the hello only (no auth, no answer, no event),
    executes no order, retries, and goes live once the real daemon holds the port."""
    async with running_daemon(tmp_path / "daemon") as daemon:
        proof = (await genuine_proof_for_another_nonce(daemon.bridge.port, daemon.token)
                 if recorded else secrets.token_hex(32))
        terminal = EmulatedTerminal(daemon.token, port=0, settings=EmulatorSettings(
            login=LOGIN, server=SERVER, symbols=("EURUSD", "BTCUSD"),
            reconnect_min_s=0.05, reconnect_max_s=0.05))
        async with Squatter(lambda _hello: proof) as squatter:
            terminal.port = squatter.port
            running = asyncio.create_task(terminal.run())
            try:
                await squatter.wait_for(lambda: len(squatter.connections) >= 3)
                assert {f["t"] for f in squatter.frames()} == {"hello"}
                assert terminal.impostors >= 2 and terminal.sessions == 0
                assert terminal.broker.positions_get() == []
                hello = squatter.frames()[0]
                assert hello["v"] == 2 and hello["token_hint"] == TokenKeys.of(daemon.token).hint
                assert len({f["ea_nonce"] for f in squatter.frames()}) == len(squatter.frames())
            finally:
                terminal.port = daemon.bridge.port  # the real daemon is back on the address
            async with asyncio.timeout(WAIT_S):
                await terminal.ready.wait()
            await terminal.close()
            await running
    assert terminal.sessions == 1


async def test_a_daemon_that_holds_the_record_is_believed(tmp_path: Path) -> None:
    """The control: the real daemon's challenge passes the emulator's check at once (the
    session goes live on the first connection, with no impostor counted)."""
    async with running_daemon(tmp_path) as daemon:
        terminal = EmulatedTerminal(daemon.token, port=daemon.bridge.port,
                                    settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                              symbols=("BTCUSD",)))
        running = asyncio.create_task(terminal.run())
        async with asyncio.timeout(WAIT_S):
            await terminal.ready.wait()
        assert terminal.impostors == 0 and terminal.sessions == 1
        await terminal.close()
        await running
