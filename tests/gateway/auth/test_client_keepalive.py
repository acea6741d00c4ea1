"""The daemon's client keeps its connection to the console from one report to the next.

A daemon reports every 30 s (``reports.REPORT_INTERVAL_S``) and aiohttp closes a connection
idle for 15 s by default: every report opened a connection (the console's accept and set-up,
and behind a balancer that ends TLS, a handshake), per daemon every 30 s. The client now keeps
an idle connection :data:`~gateway.auth.client.KEEPALIVE_S`, under what the balancer
``docs/authority.md`` configures keeps one, so the daemon closes it first.

The time between two calls passes on the clock aiohttp's connector measures idleness with
(``time.monotonic``, as its module imported it): it is told a report interval has gone by,
not slept through.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp.connector
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.client import KEEPALIVE_S, RemoteAuthority
from gateway.authority.reports import REPORT_INTERVAL_S

pytestmark = pytest.mark.network_edge

ROOT = Path(__file__).resolve().parents[3]


async def test_a_report_interval_later_the_next_call_goes_on_the_same_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    peers: list[tuple[str, int]] = []

    async def status(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[:2])  # type: ignore[union-attr]
        return web.json_response({"approvals": []})

    app = web.Application()
    app.router.add_get("/v1/device/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    remote = RemoteAuthority(f"http://127.0.0.1:{port}", Ed25519PrivateKey.generate())
    try:
        await remote.device_status(remote.device)
        # One report interval and a little more goes by on the connector's clock.
        monkeypatch.setattr(aiohttp.connector, "monotonic",
                            lambda: time.monotonic() + REPORT_INTERVAL_S + 1)
        await remote.device_status(remote.device)
        assert len(peers) == 2
        assert peers[0] == peers[1], "the second call opened a new connection"
    finally:
        monkeypatch.undo()
        await remote.close()
        await runner.cleanup()


def test_the_daemon_closes_an_idle_connection_before_the_documented_balancer_does() -> None:
    """The balancer's ``timeout http-keep-alive`` (the template ``docs/authority.md`` shows
    filled) is longer than the daemon's keep-alive, which is longer than a report interval:
    the balancer never closes a connection the daemon is about to send on."""
    template = (ROOT / "deploy" / "haproxy-console.cfg.template").read_text()
    [balancer] = re.findall(r"timeout http-keep-alive (\d+)s", template)
    assert REPORT_INTERVAL_S < KEEPALIVE_S < int(balancer)
