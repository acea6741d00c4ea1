"""Review round 4, T4-F1, against the compiled EAs: neither the MQL5 nor the MQL4 EA obeys a
process squatting on the bridge port.

The squatter (``tests/bridgekit.Squatter``) holds no token: it answers the hello with a
challenge whose proof it made up, then a welcome, ``account_info`` and the review's 0.5-lot
``order_send``. Before protocol 1.3 both EAs logged "connected, session not-the-daemon" and
answered the order with retcode 10009. Now each checks the proof, sends nothing after its hello,
says on the chart that the process is not the gateway holding the token, and retries; once the
real gateway holds the address, the EA goes live with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import TOKEN, reference_fixture, reference_fixture4
from daemon.tests.ea_mql.eakit import CompiledEA, build_ea
from daemon.tests.ea_mql.eakit4 import build_ea4
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener, Squatter
from tests.e2e.fixtures import TERMINAL, WAIT_S

PLATFORMS = ["MT5", "MT4"]


def _ea(platform: str, tmp_path: Path, port: int) -> CompiledEA:
    if platform == "MT5":
        path = tmp_path / "terminal.json"
        reference_fixture(path)
        return CompiledEA(build_ea(), path, token=TOKEN, port=port)
    path = tmp_path / "terminal4.json"
    reference_fixture4(path)
    return CompiledEA(build_ea4(), path, token=TOKEN, port=port)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_compiled_ea_obeys_no_squatter_on_the_bridge_port(
        platform: str, tmp_path: Path, bridge: tuple[Bridge, RecordingListener]) -> None:
    """The squatter receives each connection's hello and nothing else (no auth, no answer,
    no event): no order is placed, the chart names the impostor, and the EA keeps retrying
    with a fresh nonce each time."""
    real, _ = bridge
    async with Squatter() as squatter:
        ea = _ea(platform, tmp_path, squatter.port)
        async with ea:
            await ea.wait_for_chart("did not prove it holds this token")
            await squatter.wait_for(lambda: len(squatter.connections) >= 2, WAIT_S * 2)
            frames = squatter.frames()
            assert {f["t"] for f in frames} == {"hello"}, frames
            assert all(f["v"] == 2 and len(f["ea_nonce"]) == 64 for f in frames)
            assert len({f["ea_nonce"] for f in frames}) == len(frames)  # fresh every time
            assert not any("connected, session" in c for c in ea.chart)
            assert real.sessions() == []
    assert not any("not-the-daemon" in line for line in ea.lines)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_compiled_ea_goes_live_with_the_gateway_that_proves_itself(
        platform: str, tmp_path: Path, bridge: tuple[Bridge, RecordingListener]) -> None:
    """The control: against the real gateway (holding the token's verifier) the same EA's
    check passes and the session goes live."""
    real, _ = bridge
    async with _ea(platform, tmp_path, real.port) as ea:
        await real.wait_for_terminal(TERMINAL, WAIT_S)
        await ea.wait_for_chart("connected, session")
        assert not any("did not prove" in c for c in ea.chart)
