"""The console's edge rules (issue 16 F7): a foreign Host is refused 421 before anything else,
as the daemon refuses it, from the one rule both processes share (``gateway.authority.edge``);
a configured name (a TLS proxy's) is served; refusals are one security log line per window."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from gateway.authority.config import ConsoleConfig
from gateway.authority.console import create_console_app, start_console
from gateway.config import GatewayConfig
from tests.e2e.test_console import Console, console  # noqa: F401 (the fixture)

pytestmark = pytest.mark.network_edge

PATHS = ("/login", "/v1/keys", "/health")


@pytest.mark.parametrize("host", ["evil.example:8720", "evil.example", "127.0.0.1.nip.io:8720"])
async def test_the_console_refuses_a_foreign_host(
        console: Console, host: str,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    """The review's reproduction (200 for each before): every path answers 421."""
    caplog.set_level(logging.WARNING, logger="gateway.security")
    for path in PATHS:
        async with console.session.get(console.url + path, headers={"Host": host}) as r:
            assert r.status == 421
            assert (await r.json())["error"]["reason"] == "misdirected"
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.security"]
    assert len(lines) == 1 and "the console" in lines[0] and repr(host) in lines[0]
    async with console.session.get(console.url + "/health") as r:  # loopback: served
        assert r.status == 200


async def test_the_console_serves_a_configured_proxy_name(tmp_path: Path) -> None:
    """``[console] allowed_hosts`` names the TLS proxy in front; other names stay refused."""
    config = GatewayConfig(data_dir=str(tmp_path),
                           console=ConsoleConfig(port=0, allowed_hosts=("console.example",)))
    runner, port = await start_console(create_console_app(config), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/health"
            async with session.get(url, headers={"Host": "console.example"}) as r:
                assert r.status == 200
            async with session.get(url, headers={"Host": "other.example"}) as r:
                assert r.status == 421
    finally:
        await runner.cleanup()
