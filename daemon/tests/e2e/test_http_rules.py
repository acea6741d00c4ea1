"""The HTTP rules, in the contract's order, each refusing before any method runs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.auth import generate_token
from mtgateway_base.log import JsonFormatter
from tests.e2e.fixtures import WAIT_S, Daemon, running_daemon
from tests.e2e.rawhttp import PING, post, raw_http, status, still_served, working
from tests.testkit import FakeClock

pytestmark = pytest.mark.network_edge


@pytest.mark.parametrize("host, expected", [
    (b"127.0.0.1", 200), (b"localhost:8710", 200), (b"[::1]", 200),
    (b"evil.example", 421), (b"127.0.0.1.nip.io", 421), (None, 421),
])
async def test_host_allowlist(daemon: Daemon, emulator: EmulatedTerminal, host: bytes | None,
                              expected: int) -> None:
    """Only loopback Host values reach the API; a rebinding domain or no Host gets 421."""
    response = await raw_http(daemon.http_port, post(host, daemon.token))
    assert status(response) == expected
    if expected == 421:
        assert b'"error"' in response and b'"result"' not in response


async def test_a_refused_host_leaves_one_security_line_per_window(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A DNS-rebinding page retrying is one warning on ``gateway.security`` per window (it was
    none at the default level), whichever path refused it: the ``/rpc`` fast path, the
    middleware (``/health``), or the connection guard (no Host at all)."""
    caplog.set_level(logging.WARNING, logger="gateway.security")
    clock = FakeClock()
    async with running_daemon(tmp_path, monotonic=clock) as daemon:
        port = daemon.http_port
        assert status(await raw_http(port, post(b"evil.example:8710", daemon.token))) == 421
        assert status(await raw_http(port, b"GET /health HTTP/1.1\r\nHost: evil.example\r\n"
                                           b"Connection: close\r\n\r\n")) == 421
        assert status(await raw_http(port, post(None, daemon.token))) == 421
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.security"]
        assert len(lines) == 1 and "'evil.example:8710'" in lines[0]
        assert daemon.token not in lines[0]
        clock.advance(61)
        assert status(await raw_http(port, post(b"rebind.example", daemon.token))) == 421
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.security"]
    assert len(lines) == 2 and "'rebind.example'" in lines[1] and "2 more" in lines[1]


async def test_duplicate_host_header_is_misdirected(daemon: Daemon) -> None:
    """Two Host headers are refused with 421 (an old rebinding trick)."""
    response = await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token,
                                                     extra=b"Host: evil.example\r\n"))
    assert status(response) == 421


async def test_foreign_origin_is_forbidden(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A browser's Origin not in allowed_origins gets 403 and nothing runs."""
    response = await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token,
                                                     extra=b"Origin: https://evil.example\r\n"))
    assert status(response) == 403


async def test_allowed_origin_passes(tmp_path: Path) -> None:
    """An Origin listed in allowed_origins is served."""
    async with running_daemon(tmp_path, allowed_origins=("http://localhost:3000",)) as daemon:
        response = await raw_http(daemon.http_port, post(
            b"127.0.0.1", daemon.token, extra=b"Origin: http://localhost:3000\r\n"))
    assert status(response) == 200  # -32001 inside: no terminal, but the request ran


async def test_query_string_token_is_refused_and_never_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A token in the URL gets 400; neither the response nor any log line contains it."""
    secret = generate_token()
    caplog.set_level(logging.DEBUG)
    async with running_daemon(tmp_path, access_log=True) as daemon:
        request = (b"POST /rpc?token=" + secret.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nConnection: close\r\n"
                   b"Content-Length: " + str(len(PING)).encode() + b"\r\n\r\n" + PING)
        response = await raw_http(daemon.http_port, request)
        async with daemon.session.get(
                f"http://127.0.0.1:{daemon.http_port}/health?auth_token={secret}") as r:
            assert r.status == 400
    assert status(response) == 400
    assert secret.encode() not in response
    access = [r.getMessage() for r in caplog.records if r.name == "gateway.access"]
    assert any("/rpc 400" in line for line in access)  # the refusal is logged, path only
    assert secret not in caplog.text


async def test_access_log_names_the_json_rpc_methods(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each /rpc line names the JSON-RPC method answered; a batch names each entry, a name
    outside the method table is logged as `unknown` (a client's text never reaches the log)."""
    caplog.set_level(logging.INFO, logger="gateway.access")
    async with running_daemon(tmp_path, access_log=True) as daemon:
        assert status(await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token))) == 200
        batch = (b'[{"jsonrpc":"2.0","id":1,"method":"ping"},'
                 b'{"jsonrpc":"2.0","id":2,"method":"evil\\nINFO forged line"}]')
        answer = await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token, body=batch))
        assert status(answer) == 200 and b'"code":-32601' in answer, answer
    access = [r.getMessage() for r in caplog.records if r.name == "gateway.access"]
    assert any("POST /rpc [ping] 200" in line for line in access), access
    assert any("POST /rpc [ping,unknown] 200" in line for line in access), access
    assert "forged" not in caplog.text


async def test_json_access_lines_carry_the_request_as_fields(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """m20 (review round 4): with ``format = "json"`` an access line carried the request only
    inside its ``message`` text. Each line (the llhttp edge's ``/rpc`` and aiohttp's other
    paths) now has ``remote``, ``method``, ``path``, ``rpc_methods``, ``status``, ``bytes``
    and ``duration_ms`` as keys of their own."""
    caplog.set_level(logging.INFO, logger="gateway.access")
    async with running_daemon(tmp_path, access_log=True) as daemon:
        assert status(await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token))) == 200
        async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}/health") as r:
            assert r.status == 200
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records
             if r.name == "gateway.access"]
    rpc = next(line for line in lines if line["path"] == "/rpc")
    health = next(line for line in lines if line["path"] == "/health")
    assert (rpc["method"], rpc["rpc_methods"], rpc["status"]) == ("POST", ["ping"], 200)
    assert (health["method"], health["rpc_methods"], health["status"]) == ("GET", [], 200)
    for line in (rpc, health):
        assert line["remote"] == "127.0.0.1" and line["bytes"] > 0
        assert line["duration_ms"] >= 0 and line["path"] in line["message"]


async def test_rules_apply_in_the_contract_order(daemon: Daemon) -> None:
    """Host is judged before Origin, Origin before the query token, that before auth."""
    bad_everything = (b"GET /rpc?token=x HTTP/1.1\r\nHost: evil.example\r\n"
                      b"Origin: https://evil.example\r\nConnection: close\r\n\r\n")
    assert status(await raw_http(daemon.http_port, bad_everything)) == 421
    assert status(await raw_http(daemon.http_port, bad_everything.replace(
        b"evil.example\r\nOrigin", b"127.0.0.1\r\nOrigin"))) == 403
    assert status(await raw_http(daemon.http_port, b"GET /rpc?token=x HTTP/1.1\r\nHost: "
                                 b"127.0.0.1\r\nConnection: close\r\n\r\n")) == 400
    assert status(await raw_http(daemon.http_port, b"GET /rpc HTTP/1.1\r\nHost: "
                                 b"127.0.0.1\r\nConnection: close\r\n\r\n")) == 405
    assert status(await raw_http(daemon.http_port, post(
        b"127.0.0.1", "mtgw_bad").replace(b"application/json", b"text/plain"))) == 415
    assert status(await raw_http(daemon.http_port, post(b"127.0.0.1", "mtgw_bad"))) == 401


async def test_failed_auth_bursts_get_429_but_tokens_in_use_pass(tmp_path: Path) -> None:
    """After the failure limit, bad tokens get 429 with Retry-After; the owner's token in use
    works (a valid token first presented during the lockout waits it out: see
    test_brute_force.py)."""
    async with running_daemon(tmp_path, auth_failure_limit=3, auth_lockout_s=60.0) as daemon:
        assert (await daemon.call("ping"))["error"]["code"] == -32001  # in use
        codes = []
        for _ in range(5):
            async with daemon.session.post(daemon.rpc_url, data=PING, headers={
                    "Authorization": f"Bearer {generate_token()}",
                    "Content-Type": "application/json"}) as r:
                codes.append(r.status)
                retry_after = r.headers.get("Retry-After")
                body = await r.json()
        assert codes == [401, 401, 401, 401, 429]
        assert retry_after is not None and int(retry_after) >= 59
        assert body["error"]["code"] == -32005 and body["error"]["data"]["retry_after_ms"] > 0
        ok = await daemon.call("ping")
        assert ok["error"]["code"] == -32001  # authenticated; no terminal connected


async def test_failures_are_delayed(tmp_path: Path) -> None:
    """Each failed authentication is answered only after the configured delay."""
    async with running_daemon(tmp_path, auth_failure_delay_s=0.2) as daemon:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with daemon.session.post(daemon.rpc_url, data=PING, headers={
                "Authorization": f"Bearer {generate_token()}",
                "Content-Type": "application/json"}) as r:
            assert r.status == 401
        assert loop.time() - started >= 0.2


async def test_slow_headers_are_cut_off(tmp_path: Path) -> None:
    """A client that never finishes its headers is disconnected at the header deadline."""
    async with running_daemon(tmp_path, header_timeout_s=0.3) as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        writer.write(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        async with asyncio.timeout(WAIT_S):
            assert await reader.read() == b""  # closed without a response
        writer.close()
        await writer.wait_closed()


async def test_header_deadline_still_applies_after_a_chunked_request(tmp_path: Path) -> None:
    """On a keep-alive connection, a chunked request is served and the next request's
    trickled headers are still cut off at the deadline (the watch used to stop at the first
    chunked body, leaving only the keep-alive timeout)."""
    async with running_daemon(tmp_path, header_timeout_s=0.3) as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        body = f"{len(PING):x}".encode() + b"\r\n" + PING + b"\r\n0\r\n\r\n"
        writer.write(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                     + daemon.token.encode() + b"\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + body)
        async with asyncio.timeout(WAIT_S):
            head = await reader.readuntil(b"\r\n\r\n")
            assert status(head) == 200
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            assert await reader.read() == b""  # closed without a response
        writer.close()
        await writer.wait_closed()


async def test_silent_connection_is_cut_off(tmp_path: Path) -> None:
    """A connection that sends nothing at all is closed at the header deadline."""
    async with running_daemon(tmp_path, header_timeout_s=0.3) as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        async with asyncio.timeout(WAIT_S):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()


async def test_slow_body_gets_408(tmp_path: Path) -> None:
    """A body that stops arriving is answered 408 at the body deadline."""
    async with running_daemon(tmp_path, body_timeout_s=0.3) as daemon:
        request = post(b"127.0.0.1", daemon.token, body=PING)
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        writer.write(request[:-10])
        async with asyncio.timeout(WAIT_S):
            status_line = await reader.readline()
        writer.close()
        await writer.wait_closed()
    assert status(status_line) == 408


async def test_connection_cap_refuses_when_every_connection_is_working(tmp_path: Path) -> None:
    """Beyond max_connections a newcomer gets 503 at once when every open connection is a
    token holder's at work (none can make room); that work is still served. Two tokens'
    work: one token's is at most half the budget."""
    async with running_daemon(tmp_path, max_connections=2) as daemon:
        other = await daemon.issue()
        held = await working(daemon, 1) + await working(daemon, 1, other.token)
        try:
            response = await raw_http(daemon.http_port, post(b"127.0.0.1", daemon.token))
            assert status(response) == 503
            await still_served(held)
        finally:
            for ws in held:
                await ws.close()


async def test_expect_100_continue_is_answered(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A client that sends ``Expect: 100-continue`` and waits (curl does for bodies over 1 KiB)
    gets ``100 Continue``, then the answer: the /rpc fast path leaves such a request to the
    application, which answers the expectation."""
    head = post(b"127.0.0.1", daemon.token, extra=b"Expect: 100-continue\r\n")
    headers, body = head.split(b"\r\n\r\n", 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
    try:
        writer.write(headers + b"\r\n\r\n")
        async with asyncio.timeout(WAIT_S):
            interim = await reader.readuntil(b"\r\n\r\n")
            assert status(interim) == 100
            writer.write(body)
            response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert status(response) == 200 and b'"pong":true' in response
