"""Issue 16 F17: an approval code and a token can be given on standard input (or from the
environment), never only as arguments, which every local user can read in the process list."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from gateway.app import open_device
from gateway.auth.client import RemoteAuthority
from gateway.config import load_config
from gateway.mailsink import MailSink
from mtgateway.credential import token_hint
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from tests.e2e.commands import device_config
from tests.e2e.consolekit import boxed
from tests.e2e.fixtures import LOGIN, TERMINAL, WAIT_S, Daemon, FakeClock
from tests.e2e.world import served_port

OWNER, PASSWORD = "owner@example.com", "owner password 123"
_CODE = re.compile(r"device verify (\d{4} \d{4})")


async def _run(*args: str | Path, stdin: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *map(str, args), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_device_verify_reads_the_code_from_standard_input(tmp_path: Path) -> None:
    """`echo CODE | mtgateway device verify` approves the device: no argument carries it."""
    sink = MailSink()
    await sink.start()
    try:
        console = create_console_app(ConsoleFile(
            data_dir=str(tmp_path / "console"), console=ConsoleConfig(port=0),
            smtp=SmtpConfig(host="127.0.0.1", port=sink.port, security="none",
                            from_address="gateway@example.net")), clock=FakeClock())
        async with served_port(await start_console(console, "127.0.0.1", 0)) as port:
            url = f"http://127.0.0.1:{port}"
            authority = console[AUTHORITY]
            await authority.owners.create(OWNER, PASSWORD)
            token = (await authority.tokens.issue(OWNER, 777, "Broker-Live")).token
            config_file = device_config(tmp_path, url, authority.store.signer.key.b64)
            device = open_device(load_config(config_file))
            hint = token_hint(token)
            async with RemoteAuthority(url, device.private_key) as daemon:
                assert (await daemon.lookup(device.info, token_hint=hint,
                                            **boxed(device.device_id))).status == "pending"
                async with asyncio.timeout(WAIT_S):
                    [mail] = await sink.wait_for(1)
            match = _CODE.search(mail.get_content())
            assert match is not None
            code, out, err = await _run("device", "verify", "-c", config_file, stdin="12\n")
            assert code == 2 and "no try was used" in err, out + err
            code, out, err = await _run("device", "verify", "-c", config_file,
                                        stdin=match.group(1) + "\n")
            assert code == 0 and "approved" in out, out + err
    finally:
        await sink.close()


async def test_the_emulator_reads_its_token_from_standard_input(daemon: Daemon) -> None:
    """`mtgateway emulator --token -` takes the token from stdin and connects with it."""
    env = {k: v for k, v in os.environ.items() if k != "MTGATEWAY_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "emulator", "--token", "-", "--bridge",
        f"127.0.0.1:{daemon.bridge.port}", "--login", str(LOGIN), "--server", TERMINAL.server,
        "--symbols", "EURUSD", env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdin is not None
        proc.stdin.write(daemon.token.encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    finally:
        proc.terminate()
        await proc.wait()
