"""A daemon and a console one release apart still work together, both ways (the contract's
"Versioned as a protocol", ``mtgateway_base/wire/__init__.py``).

This release's daemon against the last release's console, and the last release's daemon
against this release's console, each pair as real processes (``tests/e2e/releasekit.py``)
walking what the two say to each other: the operator's owner, a token made through the
console's owner API by the daemon's CLI (which proves the console's key first), the daemon's
record lookup refused until the device is approved with the mailed code, the EA admitted and
a call answered, the daemon's reports taken by the console's edge, and a revocation reaching
the daemon through the feed, closing the EA.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.mailsink import MailSink
from tests.e2e.fixtures import WAIT_S
from tests.e2e.releasekit import Release, last_release, this_release
from tests.e2e.world import LOGIN, MAILED_CODE, OWNER, PASSWORD, SERVER
from tests.testkit import until

pytestmark = pytest.mark.not_on_windows("posix-signals")

#: The console's scrape token (the config holding it is 0600).
_SCRAPE = "release-compat-scrape-token"


@pytest.fixture(scope="module")
def last(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The last release, taken out of git once for the module."""
    return last_release(tmp_path_factory.mktemp("releases"))


async def _run(release: Release, command: tuple[str, ...], *args: str) -> tuple[int, str]:
    """One command of ``release`` to its end: exit code and output (stderr into stdout)."""
    proc = await asyncio.create_subprocess_exec(
        *command, *args, cwd=release.cwd, env=release.environ({"MTGATEWAY_OWNER_PASSWORD":
                                                               PASSWORD}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@asynccontextmanager
async def _serving(release: Release, command: tuple[str, ...], *args: str, ready: bytes,
                   stream: str) -> AsyncIterator[bytes]:
    """A server of ``release`` until the block ends; what it printed until ``ready``."""
    proc = await asyncio.create_subprocess_exec(
        *command, *args, cwd=release.cwd, env=release.environ(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        reader = proc.stdout if stream == "stdout" else proc.stderr
        assert reader is not None
        seen = b""
        async with asyncio.timeout(WAIT_S * 3):
            while ready not in seen:
                line = await reader.readline()
                assert line, seen.decode(errors="replace")
                seen += line
        yield seen
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def _reports_taken(url: str) -> int:
    """How many terminal reports the console's edge answered 200 (its ``/metrics``: another
    process's count, which nothing here is told of by an event)."""
    request = urllib.request.Request(f"{url}/metrics",
                                     headers={"Authorization": f"Bearer {_SCRAPE}"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
        text = answer.read().decode()
    found = re.search(r'^mtgateway_console_requests_total\{route="/v1/terminals/report",'
                      r'status="200"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


@pytest.mark.parametrize("pair", ["this daemon, the last console",
                                  "the last daemon, this console"])
async def test_a_daemon_and_a_console_a_release_apart_work_together(
        tmp_path: Path, last: Release, pair: str) -> None:
    """Everything the two processes say to each other, across the releases: the owner's
    token, the device's approval, the record, the EA and a call, the reports, a revocation."""
    daemon, console = ((this_release(), last) if pair.startswith("this") else
                       (last, this_release()))
    sink = MailSink()
    await sink.start()
    try:
        console_cfg = tmp_path / "console.toml"
        console_cfg.write_text(
            f'data_dir = "{(tmp_path / "console").as_posix()}"\n'
            f'[console]\nport = 0\nmetrics_token = "{_SCRAPE}"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n', "utf-8")
        console_cfg.chmod(0o600)
        code, out = await _run(console, (*console.operator, "create"), "-c", str(console_cfg),
                               "--email", OWNER)
        assert code == 0, out
        async with _serving(console, tuple(console.console), "-c", str(console_cfg),
                            ready=b"public_key=", stream="stdout") as said:
            url = re.search(rb"http://127\.0\.0\.1:\d+", said)
            key = re.search(rb"public_key=(\S+)", said)
            assert url and key, said
            console_url, public_key = url.group(0).decode(), key.group(1).decode()
            code, out = await _run(daemon, tuple(daemon.daemon), "token", "create",
                                   "--console", console_url, "--console-key", public_key,
                                   "--email", OWNER, "--login", str(LOGIN), "--server", SERVER)
            assert code == 0, out
            token = next(line.split()[1] for line in out.splitlines()
                         if line.startswith("token:"))
            token_id = next(line.split()[1] for line in out.splitlines()
                            if line.startswith("token_id:"))
            daemon_cfg = tmp_path / "daemon.toml"
            daemon_cfg.write_text(
                f'data_dir = "{(tmp_path / "daemon").as_posix()}"\n[server]\nport = 0\n'
                f'[bridge]\nport = 0\n[authority]\nmode = "remote"\nurl = "{console_url}"\n'
                f'public_key = "{public_key}"\n[device]\nkey_storage = "file"\n', "utf-8")
            async with _serving(daemon, (*daemon.daemon, "run"), "-c", str(daemon_cfg),
                                ready=b"HTTP on", stream="stderr") as log:
                bridge = re.search(rb"EA bridge listening on 127\.0\.0\.1:(\d+)", log)
                http = re.search(rb"HTTP on 127\.0\.0\.1:(\d+)", log)
                assert bridge and http, log
                terminal = EmulatedTerminal(token, port=int(bridge.group(1)),
                                            settings=EmulatorSettings(symbols=("EURUSD",)))
                with pytest.raises(TerminalRefused) as refused:
                    await asyncio.wait_for(terminal.run(reconnect=False), WAIT_S)
                assert refused.value.reason == "device_not_approved"
                async with asyncio.timeout(WAIT_S):
                    mailed = MAILED_CODE.search((await sink.wait_for(1))[0].get_content())
                assert mailed is not None
                code, out = await _run(daemon, tuple(daemon.daemon), "device", "verify",
                                       mailed.group(1), "-c", str(daemon_cfg))
                assert code == 0 and "approved" in out, out
                live = asyncio.create_task(terminal.run(reconnect=False))
                try:
                    await asyncio.wait_for(terminal.ready.wait(), WAIT_S)
                    async with aiohttp.ClientSession() as session, session.post(
                            f"http://127.0.0.1:{int(http.group(1))}/rpc",
                            json={"jsonrpc": "2.0", "id": 1, "method": "account_info"},
                            headers={"Authorization": f"Bearer {token}"}) as r:
                        assert (await r.json())["result"]["login"] == LOGIN
                    # the report of the terminal's new state passed the console's edge
                    await until(lambda: _reports_taken(console_url) >= 1, timeout_s=WAIT_S * 2,
                                step_s=0.1)
                    code, out = await _run(daemon, tuple(daemon.daemon), "token", "revoke",
                                           token_id, "--console", console_url, "--console-key",
                                           public_key, "--email", OWNER)
                    assert code == 0, out
                    # the feed wakes the daemon, which closes the EA's session at once ...
                    await asyncio.wait_for(asyncio.gather(live, return_exceptions=True),
                                           WAIT_S * 2)
                    # ... and refuses it from then on
                    with pytest.raises(TerminalRefused) as again:
                        await asyncio.wait_for(terminal.run(reconnect=False), WAIT_S)
                    assert again.value.reason == "token_revoked"
                finally:
                    await terminal.close()
                    live.cancel()
                    await asyncio.gather(live, return_exceptions=True)
    finally:
        await sink.close()
