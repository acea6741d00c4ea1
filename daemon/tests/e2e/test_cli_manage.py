"""``mtgateway token list|revoke`` (local mode) and ``mtgateway device resend`` (remote mode)
run as processes through the command's entry point, against real files and a real console.

The local case shares ``authority.sqlite3`` with a daemon running in this process, which is
what `token revoke` is for: the daemon's next refresh sees it and refuses the token. The remote
case runs the console in this process on an injected clock, with a real SMTP server (aiosmtpd),
so the 60 s resend spacing is crossed by moving the clock, not by waiting; the CLI signs with
the real time, which stays well inside the ±300 s proof window.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.app import create_app, open_device
from gateway.auth import MemorySecretStore
from gateway.auth.client import RemoteAuthority
from gateway.auth.device import DeviceIdentity
from gateway.config import load_config
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, RECORD_CACHE
from gateway.mailsink import MailSink
from mtgateway.credential import TokenKeys, token_hint
from mtgateway_base.wire.records import SignedRecord
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority
from tests.e2e.consolekit import boxed
from tests.e2e.fixtures import WAIT_S, FakeClock
from tests.e2e.world import served_port

OWNER, PASSWORD = "owner@example.com", "owner password 123"
LOGIN, SERVER = 777, "Broker-Live"
_CODE = re.compile(r"device verify (\d{4} \d{4})")


async def _cli(*args: str | Path) -> tuple[int, str, str]:
    """``python -m gateway ARGS``: exit code, stdout, stderr (no owner secrets inherited)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MTGATEWAY_OWNER_EMAIL", "MTGATEWAY_OWNER_PASSWORD")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *map(str, args), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_token_create_takes_a_label_that_the_listing_shows(tmp_path: Path) -> None:
    """Review round 4, m9: two tokens of one terminal could not be told apart. `token create
    --label` names one; `token list` shows it; a label too long is one line, exit 2."""
    data = tmp_path / "data"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'data_dir = "{data.as_posix()}"\n', encoding="utf-8")
    authority = await Authority.open(data, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    await authority.close()
    code, out, err = await _cli("token", "create", "-c", config_file, "--login", str(LOGIN),
                                "--server", SERVER, "--label", "EA on the VPS")
    assert code == 0, err
    assert "label:    EA on the VPS" in out.splitlines()
    token_id = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("token_id:"))
    code, listing, err = await _cli("token", "list", "-c", config_file)
    assert code == 0, err
    assert "LABEL" in listing.splitlines()[0]
    (row,) = [line for line in listing.splitlines() if token_id in line]
    assert row.endswith("EA on the VPS")
    code, _, err = await _cli("token", "create", "-c", config_file, "--login", str(LOGIN),
                              "--server", SERVER, "--label", "x" * 61)
    assert code == 2 and "at most 60 characters" in err and "Traceback" not in err


async def test_token_list_and_revoke_in_local_mode(tmp_path: Path) -> None:
    """`token list` shows the new token's id, terminal and owner (never the token, its
    SHA-256, its hint or its keys); `token revoke ID` makes the local daemon refuse it
    token_revoked at its next refresh, and the listing then says revoked."""
    data = tmp_path / "data"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'data_dir = "{data.as_posix()}"\n[server]\nport = 0\n'
                           '[bridge]\nport = 0\n', encoding="utf-8")
    authority = await Authority.open(data, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    await authority.close()
    code, out, err = await _cli("token", "create", "-c", config_file, "--login", str(LOGIN),
                                "--server", SERVER)
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    token, token_id = fields["token"].strip(), fields["token_id"].strip()

    app = create_app(load_config(config_file), secret_store=MemorySecretStore(),
                     clock=FakeClock())
    async with served_port(await start_http(app)) as port, aiohttp.ClientSession() as http:

        async def call() -> tuple[int, dict[str, object]]:
            async with http.post(f"http://127.0.0.1:{port}/rpc", json={
                    "jsonrpc": "2.0", "id": 1, "method": "account_info"},
                    headers={"Authorization": f"Bearer {token}"}) as response:
                return response.status, (await response.json())["error"]

        status, error = await call()
        assert (status, error["code"]) == (200, -32001)  # accepted; no terminal connected

        code, listing, err = await _cli("token", "list", "-c", config_file)
        assert code == 0, err
        (row,) = [line for line in listing.splitlines() if token_id in line]
        assert f"{LOGIN}@{SERVER}" in row and "read,trade" in row and OWNER in row
        assert " active " in row
        keys = TokenKeys.of(token)
        for secret in (token, hashlib.sha256(token.encode()).hexdigest(), token_hint(token),
                       keys.client_key.hex(), keys.verifier.stored_key.hex(),
                       keys.verifier.server_key.hex()):
            assert secret not in listing

        code, out, err = await _cli("token", "revoke", token_id, "-c", config_file)
        assert code == 0 and f"revoked {token_id}" in out, err
        assert "within 2 s" in out and "within 300 s" not in out  # m3 (review round 4)
        await app[RECORD_CACHE].refresh_once()
        status, error = await call()
        assert status == 401 and error["data"] == {"reason": "token_revoked"}

        code, listing, _ = await _cli("token", "list", "-c", config_file)
        assert code == 0
        (row,) = [line for line in listing.splitlines() if token_id in line]
        assert " revoked " in row


@dataclass
class AskingDevice:
    """A console with its owner and a token, and a daemon's device (its config file, its key)
    that asked the owner's approval with that token: pending, its code mailed to ``sink``."""

    authority: Authority
    config_file: Path
    device: DeviceIdentity
    sink: MailSink
    first_code: str


@contextlib.asynccontextmanager
async def asking_device(tmp_path: Path, clock: FakeClock | None = None
                        ) -> AsyncIterator[AskingDevice]:
    """A console on loopback (its SMTP a real sink; ``clock``: its clock) and a device that
    asked its owner's approval, for the ``device`` commands."""
    sink = MailSink()
    await sink.start()
    try:
        console = create_console_app(ConsoleFile(
            data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0),
            smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none")),
            **({} if clock is None else {"clock": clock}))
        async with served_port(await start_console(console, "127.0.0.1", 0)) as port:
            url = f"http://127.0.0.1:{port}"
            authority = console[AUTHORITY]
            await authority.owners.create(OWNER, PASSWORD)
            token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
            config_file = tmp_path / "device.toml"
            config_file.write_text(
                f'data_dir = "{(tmp_path / "device").as_posix()}"\n[authority]\n'
                f'mode = "remote"\nurl = "{url}"\n'
                f'public_key = "{authority.store.signer.key.b64}"\n'
                '[device]\nkey_storage = "file"\nname = "cli-box"\n', encoding="utf-8")
            device = open_device(load_config(config_file))  # the key file the CLI signs with
            async with RemoteAuthority(url, device.private_key,
                                       **({} if clock is None else {"clock": clock})) as daemon:
                asked = await daemon.lookup(device.info, token_hint=token_hint(token),
                                            device_name="cli-box", os="AnyOS",
                                            **boxed(device.device_id))
                assert asked.status == "pending"
                async with asyncio.timeout(WAIT_S):
                    first = _CODE.search((await sink.wait_for(1))[0].get_content())
                assert first is not None
                yield AskingDevice(authority, config_file, device, sink, first.group(1))
    finally:
        await sink.close()


async def test_device_resend_respects_the_spacing_and_voids_the_old_code(
        tmp_path: Path) -> None:
    """`device resend` right after the first code answers resend_limited with the wait; 60 s
    later (console clock) it mails a new code; `device verify` refuses the old code and the
    new one approves the device; `device resend` then says it is approved already."""
    clock = FakeClock()
    async with asking_device(tmp_path, clock) as a:
        code, out, err = await _cli("device", "resend", "-c", a.config_file)
        assert code == 1 and "resend_limited; retry in 60 s" in err, out + err
        clock.advance(60)
        code, out, err = await _cli("device", "resend", "-c", a.config_file)
        assert code == 0 and "new code was e-mailed" in out, err
        async with asyncio.timeout(WAIT_S):
            second = _CODE.search((await a.sink.wait_for(2))[1].get_content())
        assert second is not None and second.group(1) != a.first_code

        code, out, err = await _cli("device", "verify", a.first_code, "-c", a.config_file)
        assert code == 1 and "wrong_code (4 tries left)" in err, out + err
        code, out, err = await _cli("device", "verify", second.group(1), "-c", a.config_file)
        assert code == 0 and f"device {a.device.device_id} approved" in out, err
        code, out, err = await _cli("device", "resend", "-c", a.config_file)
        assert code == 1 and "approved already" in err, out + err


async def test_device_resend_says_a_denied_machine_is_denied(tmp_path: Path) -> None:
    """m9: the owner denied this machine: ``device resend`` says so, and that no code is
    coming (it said "error: no_pending_approval")."""
    async with asking_device(tmp_path) as a:
        assert await a.authority.approvals.deny(OWNER, a.device.device_id)
        code, out, err = await _cli("device", "resend", "-c", a.config_file)
        assert code == 1 and err.startswith("error: denied: the token's owner"), err
        assert "no code is coming" in err and "Allow again" in err, err


async def test_the_cli_refuses_a_plain_http_console_on_another_host(tmp_path: Path) -> None:
    """`token create --console http://<another host>` stops before sending the owner's
    password anywhere: one line saying to use https, exit 2."""
    code, out, err = await _cli("token", "create", "--console", "http://192.0.2.1:8720",
                                "--email", OWNER, "--login", str(LOGIN), "--server", SERVER)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: the console url is plain http to 192.0.2.1, another machine: use https "
        "(plain http is allowed only to 127.0.0.1, ::1 or localhost)"]


async def test_paper_on_and_off_from_the_command_line(tmp_path: Path) -> None:
    """`mtgateway paper on|off --login --server` switches a registered account of the local
    authority; the running daemon on the same data_dir answers from the paper book within
    seconds (the revocation feed), then from the terminal again."""
    data = tmp_path / "data"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'data_dir = "{data.as_posix()}"\n[server]\nport = 0\n'
                           '[bridge]\nport = 0\n', encoding="utf-8")
    authority = await Authority.open(data, RecordingMailer())
    await authority.owners.create(OWNER, PASSWORD)
    token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
    await authority.accounts.register(OWNER, AccountRegistration(
        name="Live", broker="Sim", login=LOGIN, password="", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1")))
    code, _, err = await _cli("paper", "on", "-c", config_file, "--login", "1",
                              "--server", SERVER)
    assert code == 2 and "no account 1@Broker-Live is registered" in err

    app = create_app(load_config(config_file), secret_store=MemorySecretStore())
    async with served_port(await start_http(app)) as port, aiohttp.ClientSession() as http:
        terminal = EmulatedTerminal(token, port=app[BRIDGE].port, settings=EmulatorSettings(
            login=LOGIN, server=SERVER, symbols=("BTCUSD",)))
        task = asyncio.create_task(terminal.run())
        try:
            await app[BRIDGE].wait_for_terminal(TerminalId(LOGIN, SERVER), WAIT_S)

            async def account() -> dict[str, object]:
                async with http.post(f"http://127.0.0.1:{port}/rpc", json={
                        "jsonrpc": "2.0", "id": 1, "method": "account_info"},
                        headers={"Authorization": f"Bearer {token}"}) as response:
                    result: dict[str, object] = (await response.json())["result"]
                    return result

            # the daemon's record cache says when it stores a record naming paper on or off
            # (in place before its callbacks run): the feed's refresh, seconds, not the
            # five-minute one
            stored = {True: asyncio.Event(), False: asyncio.Event()}

            def on_stored(record: SignedRecord) -> None:
                stored[record.risk.paper_trade_enabled].set()
            app[RECORD_CACHE].on_stored(on_stored)

            assert "paper" not in await account()
            for switch, paper in (("on", True), ("off", False)):
                stored[paper].clear()
                code, out, err = await _cli("paper", switch, "-c", config_file, "--login",
                                            str(LOGIN), "--server", SERVER)
                assert code == 0 and f"paper trading of {LOGIN}@{SERVER}: {switch}" in out, err
                async with asyncio.timeout(WAIT_S):
                    await stored[paper].wait()
                assert ("paper" in await account()) == paper
        finally:
            await terminal.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
