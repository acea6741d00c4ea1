"""The compiled EA's session against the real daemon: handshake, every refusal as the user
sees it (chart and Experts log), drop and reconnect, heartbeats, bye, and the MQL5 socket-read
quirks as a matrix."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.terminalkit import fake_gateway
from ea_bridge.connection import BridgeConnection, HeartbeatSettings
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth import generate_token
from gateway.keys import DEVICE
from mtgateway.credential import token_hint
from tests.e2e.fixtures import (
    HEARTBEAT_TIMEOUT_S,
    LOGIN,
    SERVER,
    TERMINAL,
    WAIT_S,
    Daemon,
)
from tests.e2e.world import OWNER, world

#: The socket behaviours MQL5 leaves open, which the EA must survive (kit/mql5/mql5_net.h):
#: fragmented reads, SocketRead waiting for every byte asked, SocketIsReadable's speculative 1
#: on every empty buffer (not only the first), SocketSend writing part of a frame,
#: SocketIsConnected false as soon as the peer's FIN arrives, socket timeouts that end between
#: clock ticks. "plain" is the kit's default reading of the reference.
QUIRKS = {
    "plain": {},
    "chunk1": {"MQLSHIM_CHUNK": "1"},
    "chunk3": {"MQLSHIM_CHUNK": "3"},
    "read_exact": {"MQLSHIM_READ_EXACT": "1"},
    "speculative": {"MQLSHIM_SPECULATIVE_READABLE": "always"},
    "send_chunk": {"MQLSHIM_SEND_CHUNK": "7"},
    "connected_early": {"MQLSHIM_CONNECTED": "early"},
    "fine_timeouts": {"MQLSHIM_FINE_TIMEOUTS": "1"},
    "all": {"MQLSHIM_CHUNK": "5", "MQLSHIM_READ_EXACT": "1",
            "MQLSHIM_SPECULATIVE_READABLE": "always", "MQLSHIM_SEND_CHUNK": "11",
            "MQLSHIM_CONNECTED": "early"},
}


def ea_for(daemon: Daemon, binary: Path, fixture: Path, token: str | None = None,
           **kw: object) -> CompiledEA:
    return CompiledEA(binary, fixture, token=daemon.token if token is None else token,
                      port=daemon.bridge.port, **kw)  # type: ignore[arg-type]


async def test_handshake_goes_live_with_the_terminals_identity(
        daemon: Daemon, ea_binary: Path, fixture_file: Path) -> None:
    """The hand-built HMAC is accepted by the daemon and the hello carries the terminal."""
    async with ea_for(daemon, ea_binary, fixture_file) as ea:
        info = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert info.hello.platform == "MT5"
        assert info.hello.build == 4755
        assert info.hello.token_hint == token_hint(daemon.token)
        await ea.wait_for_chart("connected, session")
        response = await daemon.call("account_info")
        assert response["result"]["login"] == LOGIN, response


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
async def test_socket_read_quirks(daemon: Daemon, ea_binary: Path, fixture_file: Path,
                                  quirk: str) -> None:
    """Under every read behaviour MQL5 may have, calls (one at a time and twenty at once, the
    large symbols_get among them) are all answered, and the heartbeats keep the session up."""
    async with ea_for(daemon, ea_binary, fixture_file, quirks=QUIRKS[quirk]):
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        for _ in range(3):
            assert (await daemon.call("symbol_info_tick", {"symbol": "EURUSD"}))["result"]
        answers = await asyncio.gather(*(daemon.call("symbols_get", rid=i) for i in range(20)))
        assert all(len(a["result"]) == 3 for a in answers), answers[0]
        assert (await daemon.call("account_info"))["result"]["login"] == LOGIN


@pytest.mark.parametrize(("given", "reason", "shown"), [
    ("", "missing_token", "auth token missing: paste it into the EA inputs"),
    ("not-a-token", "malformed_token", "auth token malformed: copy it again from the console"),
    (None, "terminal_mismatch", "this token belongs to another terminal"),
])
async def test_fatal_refusals_stop_and_say_why(daemon: Daemon, ea_binary: Path,
                                               fixture_file: Path, given: str | None,
                                               reason: str, shown: str) -> None:
    """A refusal retrying cannot fix, found locally or told by a daemon that proved it holds
    the token, stops the EA's attempts and puts the words of docs/protocol.md §5 (and what to
    do) on the chart and in the Experts log. (``None``: a token of another terminal.)"""
    token = given if given is not None else \
        (await daemon.issue(login=999, server="Other-Broker")).token
    async with ea_for(daemon, ea_binary, fixture_file, token=token) as ea:
        await ea.wait_for_chart(f"stopped: {shown}")
        assert any(line.startswith("MT Gateway: stopped: " + shown) for line in ea.lines)
        connects = sum("authenticating" in c for c in ea.chart)
        local = reason in ("missing_token", "malformed_token")
        assert connects == (0 if local else 1)  # never retried
    assert daemon.bridge.sessions() == []


async def test_a_refusal_from_an_unproved_peer_is_retried_not_obeyed(
        daemon: Daemon, ea_binary: Path, fixture_file: Path) -> None:
    """A token the daemon does not know is refused at the hello, before any proof: the EA
    cannot tell that daemon from a process squatting on the port, so it does not stop for
    good on its word; it shows the refusal and retries at the slowest pace (5 s)."""
    async with ea_for(daemon, ea_binary, fixture_file, token=generate_token()) as ea:
        await ea.wait_for_chart("refused: invalid auth token")
        shown = next(c for c in ea.chart if "refused: invalid auth token" in c)
        assert "retrying in 5.00 s" in shown
        assert not any("stopped:" in c for c in ea.chart)
    assert daemon.bridge.sessions() == []


async def test_expired_token_is_refused_with_its_word(daemon: Daemon, ea_binary: Path,
                                                      fixture_file: Path) -> None:
    expiring = await daemon.issue(expires_in_s=1)
    daemon.clock.advance(2)
    async with ea_for(daemon, ea_binary, fixture_file, token=expiring.token) as ea:
        await ea.wait_for_chart("stopped: token expired")


async def test_revoked_token_ends_the_live_session(daemon: Daemon, ea_binary: Path,
                                                   fixture_file: Path) -> None:
    """Revoking the token while the EA is live: the daemon says bye token_revoked and the EA
    stops, telling the user to issue a new token."""
    async with ea_for(daemon, ea_binary, fixture_file) as ea:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert await daemon.revoke(daemon.issued.token_id)
        await ea.wait_for_chart("stopped: token revoked")
        assert any("Issue a new token" in c for c in ea.chart)


async def test_device_not_approved_says_check_your_email_and_retries(
        tmp_path: Path, ea_binary: Path, fixture_file: Path) -> None:
    """A daemon on a device still awaiting e-mail approval: the EA shows "check your e-mail",
    keeps retrying with backoff, and goes live once the code is verified, without a restart."""
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        async with CompiledEA(ea_binary, fixture_file, token=token, port=w.bridge_port) as ea:
            await ea.wait_for_chart("device verification pending: check your e-mail")
            await w.approve_device(token)
            await ea.wait_for_chart("connected, session", timeout_s=WAIT_S * 2)
            retries = [c for c in ea.chart if "check your e-mail" in c]
            assert retries and all("retrying in" in c for c in retries)


async def test_a_denied_machine_says_denied_not_check_your_email(
        tmp_path: Path, ea_binary: Path, fixture_file: Path) -> None:
    """The token's owner denies the daemon's machine: the EA's status line says it was denied
    and no code is coming, with what the owner can do (it said "device verification pending:
    check your e-mail" ahead of the daemon's words); the reason word is unchanged, so it keeps
    retrying with backoff."""
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        async with CompiledEA(ea_binary, fixture_file, token=token, port=w.bridge_port) as ea:
            await ea.wait_for_chart("device verification pending: check your e-mail")
            assert await w.authority.approvals.deny(OWNER, w.daemon[DEVICE].device_id)
            await ea.wait_for_chart("refused: this machine was denied by the token's owner: "
                                    "no code is coming", timeout_s=WAIT_S * 2)
            denied = [c for c in ea.chart if "was denied" in c]
            assert all("check your e-mail" not in c and "Devices page" in c
                       and "retrying in" in c for c in denied), denied


async def test_already_connected_retries_until_the_other_ea_leaves(
        daemon: Daemon, ea_binary: Path, fixture_file: Path) -> None:
    """Another EA live for the account: refused already_connected, shown, retried with backoff;
    when the other one leaves, this one connects."""
    other = EmulatedTerminal(daemon.token, port=daemon.bridge.port,
                             settings=EmulatorSettings(login=LOGIN, server=SERVER,
                                                       symbols=("EURUSD",)))
    task = asyncio.create_task(other.run())
    try:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        async with ea_for(daemon, ea_binary, fixture_file) as ea:
            await ea.wait_for_chart("another EA is already connected for this account")
            await other.close()
            await ea.wait_for_chart("connected, session", timeout_s=WAIT_S * 2)
    finally:
        await other.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_drop_and_reconnect_resumes(daemon: Daemon, ea_binary: Path,
                                          fixture_file: Path) -> None:
    """The daemon drops the connection: the EA says so, reconnects after its backoff, and the
    new session answers."""
    async with ea_for(daemon, ea_binary, fixture_file) as ea:
        first = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert daemon.bridge.disconnect(TERMINAL, "shutting_down", "test drop")
        await ea.wait_for_chart("gateway closed the session: gateway is shutting down; retrying")
        await ea.wait_for(lambda _: sum("connected, session" in c for c in ea.chart) == 2)
        second = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert second.session_id != first.session_id
        assert (await daemon.call("account_info"))["result"]["login"] == LOGIN


async def test_idle_session_is_kept_alive_by_heartbeats(daemon: Daemon, ea_binary: Path,
                                                        fixture_file: Path) -> None:
    """With the daemon's short settings (ping 0.2 s, dead after 2 s), an idle EA keeps its
    session through two timeouts: it answers pings and pings back."""
    async with ea_for(daemon, ea_binary, fixture_file):
        first = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        await asyncio.sleep(2 * HEARTBEAT_TIMEOUT_S)  # the property: nothing happens over time
        assert daemon.bridge.session(TERMINAL) == first


SILENT_TOKEN = "mtgw_" + "A" * 38


async def test_silent_gateway_is_declared_dead(ea_binary: Path, fixture_file: Path) -> None:
    """A gateway that completes the handshake and then says nothing: the EA gives up after the
    welcome's heartbeat timeout, says so on the chart, and connects again."""

    async def mute(conn: BridgeConnection, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        conn.accept("silent")  # the proof is not checked: this gateway is a mute
        writer.write(conn.data_to_send())
        await reader.read()  # swallow everything, answer nothing

    async with fake_gateway(mute, token=SILENT_TOKEN,
                            heartbeat=HeartbeatSettings(0.2, 0.6)) as (port, connections), \
            CompiledEA(ea_binary, fixture_file, token=SILENT_TOKEN, port=port) as ea:
        await ea.wait_for_chart("no word from the gateway for 600 ms")
        await ea.wait_for(lambda _: connections[0] >= 2)


async def test_deinit_says_bye(daemon: Daemon, ea_binary: Path, fixture_file: Path) -> None:
    """Removing the EA (SIGTERM -> OnDeinit) closes in order: the daemon sees the session end
    at once with the EA's bye, not after a heartbeat timeout."""
    ea = await ea_for(daemon, ea_binary, fixture_file).start()
    await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    assert await ea.stop() == 0
    await daemon.bridge.wait_for_terminal_down(TERMINAL, 0.3)  # well inside the 2 s timeout
    assert "EXIT sockets_open=0" in ea.lines  # the EA closed every socket it opened
