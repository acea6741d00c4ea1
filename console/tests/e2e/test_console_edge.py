"""The console's edge rules (issue 16 F6, F7): a foreign Host is refused 421 before anything
else, as the daemon refuses it, from the one rule both processes share
(``mtgateway_base.edge``); a configured name (a TLS proxy's) is served; refusals are one
security log line per window; revocation long-polls are bounded per device key."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from mtgateway_base.wire.proofs import device_proof_headers
from mtgateway_console.appkeys import FAIR_SHARE
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import (
    AUTHORITY,
    LONG_POLLS,
    LONG_POLLS_PER_DEVICE,
    create_console_app,
    start_console,
)
from tests.e2e.consolekit import OWNER, Browser, Console, running_console, signed_in
from tests.e2e.fixtures import WAIT_S
from tests.testkit import until

pytestmark = pytest.mark.network_edge

PATHS = ("/login", "/v1/keys", "/health")


@pytest.mark.parametrize("host", ["evil.example:8720", "evil.example", "127.0.0.1.nip.io:8720"])
async def test_the_console_refuses_a_foreign_host(
        console: Console, host: str,
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


async def test_the_console_holds_an_absolute_form_target_to_the_host_rule(
        console: Console) -> None:
    """Round-4 T4-F11: `GET http://evil.example/health` with a loopback Host was served; the
    target's authority wins (RFC 9112 §3.2.2), so it is 421 now, and a loopback one is
    served."""
    port = console.url.rpartition(":")[2]
    for target, status in [("http://evil.example/health", 421),
                           ("http://127.0.0.1@evil.example/v1/keys", 421),
                           (f"http://127.0.0.1:{port}/health", 200)]:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "Connection: close\r\n\r\n".encode())
            async with asyncio.timeout(WAIT_S):
                answer = await reader.read()
        finally:
            writer.close()
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (target, answer[:80])


async def test_the_console_serves_a_configured_proxy_name(tmp_path: Path) -> None:
    """``[console] allowed_hosts`` names the TLS proxy in front; other names stay refused."""
    config = ConsoleFile(data_dir=str(tmp_path),
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


async def test_trusted_proxies_are_addresses_and_a_proxy_without_them_is_warned_of(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``[console] trusted_proxies`` lists the proxies whose PROXY header names each client,
    by address or network (a host name is refused: a proxy is known by the address it
    connects from, never by what a resolver answers). A console told a proxy is in front
    (``behind_proxy``, ``allowed_hosts``) without any says so at start: every client then
    counts as the proxy's address (round 8, T8-F3)."""
    with pytest.raises(ValidationError, match="balancer.example"):
        ConsoleConfig(trusted_proxies=("balancer.example",))
    assert ConsoleConfig(trusted_proxies=("10.0.0.5", "fd00::/8")).trusted_proxies \
        == ("10.0.0.5/32", "fd00::/8")
    caplog.set_level(logging.WARNING, logger="mtgateway_console.console")
    for name, console_config, warned in [
            ("alone", ConsoleConfig(port=0), False),
            ("named", ConsoleConfig(port=0, allowed_hosts=("console.example",)), True),
            ("flag", ConsoleConfig(port=0, behind_proxy=True), True),
            ("trusted", ConsoleConfig(port=0, behind_proxy=True,
                                      trusted_proxies=("127.0.0.1",)), False)]:
        caplog.clear()
        create_console_app(ConsoleFile(data_dir=str(tmp_path / name), console=console_config))
        assert ("trusted_proxies is empty" in caplog.text) is warned, (name, caplog.text)


def _device_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes_raw()
    return base64.b32encode(hashlib.sha256(raw).digest()).decode().rstrip("=")[:26]


async def test_revocation_long_polls_are_bounded_per_device_key(
        console: Console) -> None:
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


# -- issue 16 F6: the daemon's connection rules, from the same guard -------------------------


@contextlib.asynccontextmanager
async def _guarded_console(tmp_path: Path, **limits: Any
                           ) -> AsyncIterator[tuple[int, web.Application]]:
    """A console with short deadlines or a small budget; its port and app."""
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(port=0, **limits))
    app = create_console_app(config)
    runner, port = await start_console(app, "127.0.0.1", 0)
    try:
        yield port, app
    finally:
        await runner.cleanup()


async def _closed_without_answer(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(WAIT_S):
        return await reader.read() == b""


async def test_the_console_cuts_off_trickled_headers(tmp_path: Path) -> None:
    """Slowloris: a request whose headers never end is closed at the header deadline (before,
    aiohttp held it open as long as bytes kept coming)."""
    async with _guarded_console(tmp_path, header_timeout_s=0.3) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert await _closed_without_answer(reader)
        writer.close()
        await writer.wait_closed()


async def test_the_console_cuts_off_a_body_that_stops_arriving(tmp_path: Path) -> None:
    """A body announced and never sent is closed at the body deadline (a device's long-poll
    or a sign-in cannot be held open by withholding bytes)."""
    async with _guarded_console(tmp_path, body_timeout_s=0.3) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/records/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok")
        assert await _closed_without_answer(reader)
        writer.close()
        await writer.wait_closed()


async def test_a_full_console_makes_room_by_evicting_an_idle_connection(
        tmp_path: Path) -> None:
    """With every slot taken by idle keep-alive connections that showed no credential, a
    newcomer is served and the oldest idle one is closed (before: no budget at all, so a
    local process could hold every file descriptor)."""
    async with _guarded_console(tmp_path, max_connections=3) as (port, _):
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            async with asyncio.timeout(WAIT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            idle.append((reader, writer))
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}/health") as r:
            assert r.status == 200
        assert await _closed_without_answer(idle[0][0])  # the oldest idle one left
        for _, writer in idle:
            writer.close()


async def test_a_full_console_of_long_polls_makes_room_for_a_newcomer(
        tmp_path: Path) -> None:
    """Every slot holding a daemon's revocation long-poll: a newcomer is served, and the
    oldest poll ends for it (held last, after every idle connection and stream: its daemon
    polls again with its cursor). Before, a poll was work never evicted, so an owner's
    devices, from a few addresses, could hold what every daemon shares."""
    async with _guarded_console(tmp_path, max_connections=2) as (port, app), \
            aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}"
        polls, keys = [], [Ed25519PrivateKey.generate() for _ in range(2)]
        for key in keys:
            body = b'{"cursor": 0, "wait_s": 30}'
            headers = {**device_proof_headers(key, "POST", "/v1/device/revocations", body,
                                              time.time()),
                       "Content-Type": "application/json"}
            polls.append(asyncio.create_task(session.post(
                url + "/v1/device/revocations", data=body, headers=headers)))
        async with asyncio.timeout(WAIT_S):
            for key in keys:
                await app[LONG_POLLS].until_held(_device_id(key), 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(WAIT_S):
            answer = await reader.read()
            done, held = await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
        assert answer.startswith(b"HTTP/1.1 200")
        [ended] = done
        assert isinstance(ended.exception(), aiohttp.ClientError)  # cut: the daemon polls again
        writer.close()
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)


async def test_a_full_console_of_working_connections_refuses_a_newcomer(
        tmp_path: Path) -> None:
    """When every slot holds a credential holder's work (here: a signed-in owner's password
    confirmations, each waiting for a turn of the password-hashing pool, which is held),
    nothing is evicted and a newcomer gets 503 in the console's error shape."""
    async with running_console(tmp_path, max_connections=2) as console:
        browser = Browser(console.url)
        try:
            await signed_in(browser)
            csrf = (await browser.get("/settings")).csrf()
            cookie = next(c.value for c in browser.session.cookie_jar
                          if c.key == "mtgw_session")
        finally:
            await browser.close()
        hashing = console.app[AUTHORITY]._shared.hashing  # noqa: SLF001 - held here
        release, started = threading.Event(), [threading.Event() for _ in range(2)]

        def hold(started: threading.Event) -> bool:
            started.set()
            return release.wait(WAIT_S)

        holding = [asyncio.ensure_future(hashing._submit(hold, e))  # noqa: SLF001
                   for e in started]
        port = int(console.url.rpartition(":")[2])
        body = f"csrf={csrf}&owner_password=x".encode()
        working = []
        try:
            for event in started:
                assert await asyncio.to_thread(event.wait, WAIT_S)
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"POST /settings/password HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Cookie: mtgw_session=" + cookie.encode() + b"\r\nContent-Type: "
                             b"application/x-www-form-urlencoded\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                working.append((reader, writer))
            requests = console.app[FAIR_SHARE].requests
            # both admitted (no event tells): each is a credential holder's work now
            await until(lambda: requests.held("owner", OWNER) == 2, timeout_s=WAIT_S)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            async with asyncio.timeout(WAIT_S):
                answer = await reader.read()
            assert answer.startswith(b"HTTP/1.1 503")
            assert b'"reason": "too_many_connections"' in answer
            writer.close()
        finally:
            release.set()
            await asyncio.gather(*holding)
            for reader, writer in working:
                async with asyncio.timeout(WAIT_S):
                    assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 401")
                writer.close()


async def test_a_long_poll_is_held_no_longer_than_the_consoles_bound(tmp_path: Path) -> None:
    """Behind a proxy that cuts requests held 30 s the operator sets ``[console]
    long_poll_s`` under it: a daemon asking for 50 s is answered (nothing revoked) when the
    console's bound is up, not cut by the proxy later."""
    async with running_console(tmp_path, long_poll_s=0.5) as console:
        path = "/v1/device/revocations"
        status, first, _ = await console.device("POST", path, {})
        assert status == 200
        async with asyncio.timeout(WAIT_S):  # 50 s asked: answered at the bound, 0.5 s
            status, body, _ = await console.device(
                "POST", path, {"cursor": first["cursor"], "wait_s": 50})
        assert (status, body["token_ids"]) == (200, [])
