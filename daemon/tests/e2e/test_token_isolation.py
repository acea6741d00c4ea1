"""A client sees only what the session its own token record opened sees, streams included.

Two owners over real sockets: the victim's EA (the emulator) is connected with the victim's
token; a second token for the same login and server (another owner's, from a database that
predates the authority's "one owner per terminal" check, or a second one of the victim's own)
subscribes to everything and must receive nothing of the session: no ticks, no trade events,
the terminal shown as not connected. For a terminal whose account the victim registered, the
other owner's token does not work at the daemon at all. A token presented for a terminal it
is not bound to (an EA's hello, a /ws ``authenticate``) leaves a security log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

import aiohttp
import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth import generate_token
from gateway.hub import StreamKey
from gateway.keys import HUB
from mtgateway.credential import TokenKeys, token_hint
from mtgateway_console.service import AccountRegistration
from mtgateway_console.tables.store import TokenRow
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, TERMINAL, WAIT_S, Daemon
from tests.e2e.wskit import SYMBOLS, connect

OTHER, OTHER_PASSWORD = "intruder@example.com", "another long password"


async def _legacy_token_of_another_owner(daemon: Daemon) -> tuple[str, str]:
    """A token of another owner for the victim's terminal, as a database written before the
    authority refused such tokens would hold it (the authority now refuses to issue it)."""
    await daemon.authority.owners.create(OTHER, OTHER_PASSWORD)
    token = generate_token()
    keys, token_id = TokenKeys.of(token), "tok_legacy0000000"
    store = daemon.authority.store
    row = TokenRow(token_id=token_id, stored_key=keys.verifier.stored_key.hex(),
                   server_key_enc=store.seal_server_key(token_id, keys.verifier.server_key),
                   token_hint=keys.hint, owner_email=OTHER, login=LOGIN, server=SERVER,
                   scopes=("read", "trade"), created_at=int(time.time()))
    await daemon.authority.run(store.add_token, row)
    return token, row.token_id


@pytest.mark.parametrize("whose", ["another_owner", "same_owner"])
async def test_another_token_of_the_terminal_receives_nothing_of_the_session(
        daemon: Daemon, emulator: EmulatedTerminal, whose: str) -> None:
    """The other token's ticks, trades and terminal subscriptions get only a "not connected"
    snapshot while the victim's get the session's ticks, its fill and "connected"; the other
    token's /ws calls to the terminal are refused as ``terminal_mismatch``."""
    if whose == "another_owner":
        other_token, other_id = await _legacy_token_of_another_owner(daemon)
    else:
        issued = await daemon.issue()
        other_token, other_id = issued.token, issued.token_id
    async with connect(daemon) as victim, connect(daemon, other_token) as intruder:
        for client in (victim, intruder):
            await client.result("subscribe", {"channel": "terminal"})
            await client.result("subscribe", {"channel": "ticks", "symbols": SYMBOLS})
            await client.result("subscribe", {"channel": "trades"})
        assert (await victim.note("terminal_status"))["connected"] is True
        result = emulator.broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01,
                                             "type": 0, "type_filling": 1})
        assert result["retcode"] == 10009
        while (await victim.note("trade_event"))["type"] != "position_opened":
            pass
        for _ in range(5):
            await victim.note("tick")
        refused = await intruder.call("account_info")
        assert refused["error"]["data"]["reason"] == "terminal_mismatch"
        got = list(intruder.notes)
        assert [(n["method"], n["params"]["connected"]) for n in got] == [
            ("terminal_status", False)]
        (theirs,) = daemon.app[HUB].clients(StreamKey(TERMINAL, other_id))
        assert theirs.frames_taken == 1 and not theirs.has_pending
        status = (await intruder.result("gateway_status"))["terminal"]
        assert (status["connected"], status["session_id"], status["platform"],
                status["ticks_received"]) == (False, None, None, 0)
        assert (await victim.result("gateway_status"))["terminal"]["connected"] is True


async def test_another_owners_token_for_a_registered_terminal_is_refused(
        daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A token another owner obtained for a terminal whose account the victim registered (the
    authority used to issue those) gets no record from the authority: the daemon refuses it as
    ``invalid_token`` on /rpc and on /ws, while the victim's token works."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Main", broker="Co", login=LOGIN, password="mt5-secret", server=SERVER))
    other_token, _ = await _legacy_token_of_another_owner(daemon)
    async with daemon.session.post(daemon.rpc_url, json={
            "jsonrpc": "2.0", "id": 1, "method": "gateway_status"},
            headers={"Authorization": f"Bearer {other_token}"}) as response:
        body = await response.json()
    assert response.status == 401 and body["error"]["data"]["reason"] == "invalid_token"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await daemon.session.ws_connect(f"http://127.0.0.1:{daemon.http_port}/ws",
                                        headers={"Authorization": f"Bearer {other_token}"})
    assert refused.value.status == 401
    assert "result" in await daemon.call("gateway_status")


def _security_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.security"]


def _no_secret(records: list[logging.LogRecord], token: str) -> None:
    text = " ".join(r.getMessage() for r in records)
    keys = TokenKeys.of(token)
    for secret in (token, hashlib.sha256(token.encode()).hexdigest(), token_hint(token),
                   keys.client_key.hex(), keys.verifier.stored_key.hex(),
                   keys.verifier.server_key.hex()):
        assert secret not in text


async def test_an_ea_rebinding_attempt_leaves_a_security_log_line(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    """An EA of another terminal presenting this terminal's token is refused and leaves one
    WARNING on ``gateway.security`` naming both terminals and the token id, no secret."""
    caplog.set_level(logging.INFO)
    terminal = EmulatedTerminal(daemon.token, port=daemon.bridge.port,
                                settings=EmulatorSettings(login=999, server="Other-Broker",
                                                          symbols=("BTCUSD",)))
    with pytest.raises(TerminalRefused) as refused:
        await asyncio.wait_for(terminal.run(reconnect=False), WAIT_S)
    assert refused.value.reason == "terminal_mismatch"
    (line,) = _security_lines(caplog)
    assert line.levelno == logging.WARNING
    message = line.getMessage()
    assert "rebinding" in message and "999@Other-Broker" in message
    assert daemon.issued.token_id in message and f"{LOGIN}@{SERVER}" in message
    _no_secret([line], daemon.token)


async def test_a_ws_rebinding_attempt_leaves_a_security_log_line(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    """A /ws connection presenting (``authenticate``) a token of another terminal is refused
    and leaves one WARNING on ``gateway.security`` naming the token id and both terminals,
    no secret."""
    caplog.set_level(logging.INFO)
    other = await daemon.issue(999, "Other-Broker")
    async with connect(daemon) as client:
        answer = await client.call("authenticate", {"token": other.token})
        assert "error" in answer
        assert "result" in await client.call("gateway_status")  # still bound as before
    (line,) = _security_lines(caplog)
    message = line.getMessage()
    assert "rebinding" in message and other.token_id in message
    assert "999@Other-Broker" in message and f"{LOGIN}@{SERVER}" in message
    _no_secret([line], other.token)
