"""The console's edge rules (issue 16 F6, F7): a foreign Host is refused 421 before anything
else, as the daemon refuses it, from the one rule both processes share
(``gateway.authority.edge``); a configured name (a TLS proxy's) is served; refusals are one
security log line per window; revocation long-polls are bounded per device key."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.authority.config import ConsoleConfig
from gateway.authority.console import (
    LONG_POLLS,
    LONG_POLLS_PER_DEVICE,
    create_console_app,
    start_console,
)
from gateway.config import GatewayConfig
from tests.e2e.conftest import WAIT_S
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


def _device_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes_raw()
    return base64.b32encode(hashlib.sha256(raw).digest()).decode().rstrip("=")[:26]


async def test_revocation_long_polls_are_bounded_per_device_key(
        console: Console) -> None:  # noqa: F811
    """Issue 16 F6: a device key holds at most two long-polls; a third is refused 429 at once
    (with Retry-After: the daemon's watcher backs off), while another key is still served."""
    held = console.app[LONG_POLLS]
    poll = {"cursor": 0, "wait_s": 40}
    path = "/v1/device/revocations"
    other = Ed25519PrivateKey.generate()
    tasks = [asyncio.create_task(console.device("POST", path, poll))
             for _ in range(LONG_POLLS_PER_DEVICE)]
    try:
        async with asyncio.timeout(WAIT_S):
            await held.until_held(_device_id(console.key), LONG_POLLS_PER_DEVICE)
        status, body, headers = await console.device("POST", path, poll)
        assert status == 429 and body["error"]["reason"] == "too_many_long_polls"
        assert int(headers["Retry-After"]) > 0
        tasks.append(asyncio.create_task(console.device("POST", path, poll, key=other)))
        async with asyncio.timeout(WAIT_S):
            await held.until_held(_device_id(other), 1)  # another key is still held
        assert not any(task.done() for task in tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
