"""Issue 4 end to end: the console (authority), a real SMTP server and the daemon as separate
parts on loopback, and every enforcement point (EA handshake, /rpc, /ws) checked against them.

The console and the daemon are two aiohttp apps on their own ports in this process (one test
runs ``mtgateway-console`` and ``mtgateway run`` as real subprocesses); mail goes over SMTP to
an aiosmtpd server; the daemon reaches the console through a pass-through HTTP relay that a
test can switch to tampering (a man in the middle). The daemon's record-cache clock is a
:class:`FakeClock`, so 300 s of staleness and 24 h of grace pass without sleeping. That world
is :func:`tests.e2e.world.world`, which other tests stand in too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType

from ea_bridge.connection import Closed, Welcomed
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth import generate_token
from gateway.keys import DEVICE
from gateway.mailsink import MailSink
from tests.bridgekit import ScriptedEA
from tests.e2e.fixtures import WAIT_S
from tests.e2e.world import (
    LOGIN,
    MAILED_CODE,
    OWNER,
    PASSWORD,
    SERVER,
    live_terminal,
    world,
)

STALE_AFTER_S = 300 + 61


async def test_a_denied_device_is_told_so_and_promised_no_code(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Once the owner denied this machine, its EA and its clients are told the owner denied it
    and that no code is coming (they kept reading "a code is being e-mailed to the owner",
    which never came), and the daemon's log says so; the reason word stays
    ``device_not_approved``, so an older EA reads it as before."""
    caplog.set_level(logging.INFO)
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        first = await w.ea_refusal(token)
        assert first.reason == "device_not_approved" and "being e-mailed" in str(first)
        device_id = w.daemon[DEVICE].device_id
        assert await w.authority.approvals.deny(OWNER, device_id)
        caplog.clear()
        refusal = await w.ea_refusal(token)
        assert refusal.reason == "device_not_approved"
        assert "denied this machine" in str(refusal) and "e-mailed" not in str(refusal)
        # the emulated EA's status line says denied, as both EAs' Session.mqh do
        assert refusal.text == "this machine was denied by the token's owner: no code is coming"
        assert "verification pending" not in str(refusal)
        status, body = await w.rpc(token)
        assert status == 401 and body["error"]["data"]["reason"] == "device_not_approved"
        assert "denied this machine" in body["error"]["message"], body
        logged = [r.getMessage() for r in caplog.records if r.name.startswith(("gateway",
                                                                               "ea_bridge"))]
        assert any("denied this machine" in line for line in logged), logged
    assert len(w.sink.messages) == 1  # the first request's code, and nothing after


async def test_new_device_is_approved_by_the_emailed_code_without_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Pending device: EA refused device_not_approved, client 401 device_not_approved; the code
    from the real e-mail, verified with the device key, makes both work; no secret is logged."""
    caplog.set_level(logging.DEBUG)
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        refusal = await w.ea_refusal(token)
        assert refusal.reason == "device_not_approved"
        assert refusal.text == "device verification pending: check your e-mail"
        status, body = await w.rpc(token)
        assert status == 401 and body["error"]["data"]["reason"] == "device_not_approved"
        code = await w.approve_device(token)
        async with live_terminal(w, token):
            status, body = await w.rpc(token)
            assert status == 200 and body["result"]["login"] == LOGIN
            async with w.session.ws_connect(f"http://127.0.0.1:{w.http_port}/ws", headers={
                    "Authorization": f"Bearer {token}"}) as ws:
                await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"ping"}')
                assert orjson.loads((await ws.receive(timeout=WAIT_S)).data)["result"]["pong"]
    # mail.log is aiosmtpd, the owner's mailbox here: receiving the code is its job.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    for secret in (token, code, code.replace(" ", ""), PASSWORD):
        assert secret not in logged


async def test_bad_tokens_are_refused_at_every_enforcement_point(tmp_path: Path) -> None:
    """Wrong, malformed, expired and revoked tokens are refused by /rpc, /ws and the EA
    handshake with the contract's reason words."""
    async with world(tmp_path) as w:
        good, _ = await w.issue()
        await w.approve_device(good)
        expired, _ = await w.issue(expires_in_s=1)
        revoked, revoked_id = await w.issue()
        assert await w.owner.revoke_token(OWNER, PASSWORD, revoked_id)
        # Past the expiry by the console's real clock: the daemon's fake clock started at the
        # world's creation and lags the console by however long the set-up took (over 1 s
        # under load, which let the expired token through).
        w.clock.now = max(w.clock.now, time.time()) + 2
        wrong = good[:-8] + ("A" if good[-8] != "A" else "B") + good[-7:]
        cases = [
            (generate_token(), "invalid_token", "invalid_token"),
            (wrong, "malformed_token", "invalid_token"),  # the checksum fails on the client
            (expired, "token_expired", "token_expired"),
            (revoked, "token_revoked", "token_revoked"),
        ]
        for token, client_reason, ea_reason in cases:
            status, body = await w.rpc(token)
            assert (status, body["error"]["code"]) == (401, -32004), (client_reason, body)
            assert body["error"]["data"]["reason"] == client_reason
            assert await w.ws_refusal(token) == 401
            assert (await w.ea_refusal(token)).reason == ea_reason


async def test_token_of_another_terminal_and_mismatched_tokens(tmp_path: Path) -> None:
    """A token bound to another terminal is refused at the EA handshake; a client whose token
    differs from the connected EA's is refused terminal_mismatch."""
    async with world(tmp_path) as w:
        mine, _ = await w.issue()
        other_terminal, _ = await w.issue(login=999, server="Other-Broker")
        second, _ = await w.issue()
        await w.approve_device(mine)
        refusal = await w.ea_refusal(other_terminal)
        assert refusal.reason == "terminal_mismatch"
        async with live_terminal(w, mine):
            status, body = await w.rpc(second)
            assert status == 200 and body["error"]["data"]["reason"] == "terminal_mismatch"
            assert (await w.rpc(mine))[1]["result"]["login"] == LOGIN


async def test_tampered_record_is_refused(tmp_path: Path) -> None:
    """A record altered on its way from the console fails verification: -32014, never served;
    an altered refresh keeps the last good copy."""
    async with world(tmp_path) as w:
        token, token_id = await w.issue()
        await w.approve_device(token)
        w.relay.tamper = True
        status, body = await w.rpc(token)
        assert (status, body["error"]["code"]) == (503, -32014)
        assert body["error"]["data"]["reason"] == "authority_unreachable"
        w.relay.tamper = False
        status, body = await w.rpc(token)  # verified now; no EA connected, so -32001
        assert (status, body["error"]["code"]) == (200, -32001)
        record = w.cache.get(token_id)
        assert record is not None and record.scopes == {"read", "trade"}
        w.relay.tamper = True
        await w.cache.refresh_once()
        assert w.cache.get(token_id) == record


async def test_unreachable_authority_grace_for_reads_and_no_trades(tmp_path: Path) -> None:
    """With the console stopped, reads go on through the grace period, trades answer -32014
    auth_stale once the record is stale, and after valid_until the token is refused."""
    async with world(tmp_path) as w:
        token, token_id = await w.issue()
        await w.approve_device(token)
        async with live_terminal(w, token):
            assert (await w.rpc(token))[0] == 200
            await w.console_runner.cleanup()  # the console goes away
            w.clock.advance(STALE_AFTER_S)
            assert not await w.cache.refresh_once()
            status, body = await w.rpc(token)
            assert status == 200 and body["result"]["login"] == LOGIN
            _, body = await w.rpc(token, "order_send", {"request": {
                "action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "symbol": "EURUSD",
                "volume": 0.1}})
            assert body["error"]["code"] == -32014
            assert body["error"]["data"]["reason"] == "auth_stale"
            record = w.cache.get(token_id)
            assert record is not None
            w.clock.now = record.valid_until
            status, body = await w.rpc(token)
            assert status == 401 and body["error"]["data"]["reason"] == "invalid_token"


async def test_revocation_closes_the_socket_and_the_ea_session(tmp_path: Path) -> None:
    """A revocation seen at refresh closes the token's WebSocket with 1008 and says bye
    token_revoked to its EA."""
    async with world(tmp_path) as w:
        token, token_id = await w.issue()
        await w.approve_device(token)
        ea = ScriptedEA(token, login=LOGIN, server=SERVER)
        assert isinstance(await ea.connect(w.bridge_port), Welcomed)
        try:
            async with w.session.ws_connect(f"http://127.0.0.1:{w.http_port}/ws", headers={
                    "Authorization": f"Bearer {token}"}) as ws:
                await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"subscribe",'
                                  '"params":{"channel":"trades"}}')  # the socket is set up
                assert orjson.loads((await ws.receive(timeout=WAIT_S)).data)["id"] == 1
                assert await w.owner.revoke_token(OWNER, PASSWORD, token_id)
                await w.cache.refresh_once()
                msg = await ws.receive(timeout=WAIT_S)
                assert msg.type is WSMsgType.CLOSE
                assert (msg.data, msg.extra) == (1008, "token_revoked")
            closed = await ea.next_event((Closed,))
            assert isinstance(closed, Closed) and closed.reason == "token_revoked"
        finally:
            await ea.close()


@pytest.mark.not_on_windows("posix-signals")
async def test_console_and_daemon_as_processes(tmp_path: Path) -> None:
    """`mtgateway-console` and `mtgateway run` as processes: owner and token by the CLI, the
    EA refused until `mtgateway device verify CODE` with the code from the e-mail."""
    sink = MailSink()
    await sink.start()
    env = {**os.environ, "MTGATEWAY_OWNER_PASSWORD": PASSWORD}
    console_cfg = tmp_path / "console.toml"
    console_cfg.write_text(
        f'data_dir = "{(tmp_path / "console").as_posix()}"\n[console]\nport = 0\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n', "utf-8")
    procs: list[asyncio.subprocess.Process] = []

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", *args, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), WAIT_S * 2)
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    async def start(*args: str, ready: bytes, stream: str) -> tuple[asyncio.subprocess.Process,
                                                                   bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", *args, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        procs.append(proc)
        reader = proc.stdout if stream == "stdout" else proc.stderr
        assert reader is not None
        seen = b""
        async with asyncio.timeout(WAIT_S * 2):
            while ready not in seen:
                line = await reader.readline()
                assert line, seen.decode()
                seen += line
        return proc, seen

    try:
        assert (await cli("owner", "create", "-c", str(console_cfg), "--email", OWNER))[0] == 0
        _, out = await start("console", "-c", str(console_cfg), ready=b"public_key=",
                             stream="stdout")
        match = re.search(rb"http://127\.0\.0\.1:(\d+)", out)
        assert match
        console_url = match.group(0).decode()
        printed = re.search(rb"public_key=(\S+)", out)  # the console prints its key at start
        assert printed, out
        code, out = await cli("token", "create", "--console", console_url, "--console-key",
                              printed.group(1).decode(), "--email", OWNER,
                              "--login", str(LOGIN), "--server", SERVER)
        assert code == 0, out
        token = next(line.split()[1] for line in out.splitlines() if line.startswith("token:"))
        async with aiohttp.ClientSession() as session:
            async with session.get(console_url + "/v1/keys") as r:
                public_key = (await r.json())["keys"][0]["public_key"]
        daemon_cfg = tmp_path / "daemon.toml"
        daemon_cfg.write_text(
            f'data_dir = "{(tmp_path / "daemon").as_posix()}"\n[server]\nport = 0\n'
            f'[bridge]\nport = 0\n[authority]\nmode = "remote"\nurl = "{console_url}"\n'
            f'public_key = "{public_key}"\n[device]\nkey_storage = "file"\n', "utf-8")
        _, log = await start("run", "-c", str(daemon_cfg), ready=b"HTTP on", stream="stderr")
        bridge = re.search(rb"EA bridge listening on 127\.0\.0\.1:(\d+)", log)
        http = re.search(rb"HTTP on 127\.0\.0\.1:(\d+)", log)
        assert bridge and http and token.encode() not in log
        terminal = EmulatedTerminal(token, port=int(bridge.group(1)),
                                    settings=EmulatorSettings(symbols=("EURUSD",)))
        with pytest.raises(TerminalRefused) as info:
            await asyncio.wait_for(terminal.run(reconnect=False), WAIT_S)
        assert info.value.reason == "device_not_approved"
        async with asyncio.timeout(WAIT_S):
            mail = (await sink.wait_for(1))[0]
        found = MAILED_CODE.search(mail.get_content())
        assert found is not None
        code, out = await cli("device", "verify", found.group(1), "-c", str(daemon_cfg))
        assert code == 0 and "approved" in out, out
        code, out = await cli("device", "status", "-c", str(daemon_cfg))
        assert code == 0 and "approved" in out and "o***@example.com" in out, out
        live = asyncio.create_task(terminal.run())
        try:
            await asyncio.wait_for(terminal.ready.wait(), WAIT_S)  # no daemon restart
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{int(http.group(1))}/rpc",
                    json={"jsonrpc": "2.0", "id": 1, "method": "account_info"},
                    headers={"Authorization": f"Bearer {token}"}) as r:
                assert (await r.json())["result"]["login"] == LOGIN
        finally:
            await terminal.close()
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        await sink.close()


async def test_a_replayed_refresh_answer_does_not_keep_a_revoked_token_trading(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A network attacker captures a refresh answer, the owner revokes the token, and the
    attacker answers every later refresh with the captured one: each copy is refused as not
    answering the request (a security log line), the record goes stale and trades answer
    -32014 auth_stale, however many replays; once the console answers again the revocation
    lands."""
    caplog.set_level(logging.INFO)
    async with world(tmp_path) as w:
        token, token_id = await w.issue()
        await w.approve_device(token)
        async with live_terminal(w, token):
            assert (await w.rpc(token))[0] == 200
            assert await w.cache.refresh_once()  # the answer the attacker captures
            assert "/v1/records/refresh" in w.relay.captured
            # replaying from before the revocation: the refresh the revocation's long-poll
            # wakes may reach the relay before revoke_token's thread has returned
            w.relay.replay = True
            assert await w.owner.revoke_token(OWNER, PASSWORD, token_id)
            for _ in range(4):
                w.clock.advance(STALE_AFTER_S / 3)
                await w.cache.refresh_once()
            assert w.relay.replayed >= 4  # the revocation long-poll's refresh is replayed too
            _, body = await w.rpc(token, "order_send", {"request": {
                "action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY", "symbol": "EURUSD",
                "volume": 0.1}})
            assert body["error"]["code"] == -32014
            assert body["error"]["data"]["reason"] == "auth_stale"
            replays = [r for r in caplog.records if r.name == "gateway.security"
                       and "replayed" in r.getMessage()]
            assert len(replays) >= 4 and token_id in replays[0].getMessage()
            w.relay.replay = False
            assert await w.cache.refresh_once()
            status, body = await w.rpc(token)
            assert status == 401 and body["error"]["data"]["reason"] == "token_revoked"
