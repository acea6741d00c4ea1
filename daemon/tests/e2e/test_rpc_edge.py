"""The llhttp ``/rpc`` edge (``gateway/edge/llhttp.py`` on ``mtgateway_base.httpedge``) against
aiohttp's: the same bytes, the same answers.

A daemon on each edge (``[server] rpc_edge``) is sent the same raw requests (valid, refused,
malformed, pipelined, chunked, ``Expect: 100-continue``, HTTP/1.0, requests handed on to
aiohttp) and the answers are compared: status, HTTP version, the headers a client acts on, the
body, and whether the connection was closed. Two requests are also sent split in two at every
byte. Then what only the new edge promises in so many words: a request smuggled with
conflicting ``Content-Length``/``Transfer-Encoding`` is refused 400 and the connection closed,
and HTTP/1.0 keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.connection import Welcomed
from gateway.keys import CONNECTIONS
from mtgateway_base.httpedge import HttpEdge
from tests.bridgekit import ScriptedEA
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, Daemon, running_daemon

pytestmark = pytest.mark.network_edge

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
NOTIFY = b'{"jsonrpc":"2.0","method":"ping"}'
#: The headers a client acts on (Date and Server are aiohttp's alone).
_COMPARED = ("content-type", "content-length", "connection", "retry-after", "www-authenticate",
             "allow", "upgrade", "transfer-encoding")


def rpc(body: bytes = PING, *, token: str = "{token}", version: bytes = b"1.1",
        extra: bytes = b"", path: bytes = b"/rpc", method: bytes = b"POST",
        content_type: bytes = b"application/json") -> bytes:
    """A request with ``{token}`` standing for each daemon's own token."""
    return (method + b" " + path + b" HTTP/" + version + b"\r\nHost: 127.0.0.1\r\n"
            + (b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b"")
            + (b"Content-Type: " + content_type + b"\r\n" if content_type else b"")
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(body: bytes, *, extra: bytes = b"", pieces: int = 3) -> bytes:
    size = -(-len(body) // pieces)
    chunks = b"".join(f"{len(part):x}".encode() + b"\r\n" + part + b"\r\n"
                      for part in (body[i:i + size] for i in range(0, len(body), size)))
    return (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + extra
            + b"\r\n" + chunks + b"0\r\n\r\n")


CLOSE = b"Connection: close\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

#: Each case: the bytes of one connection (the last request closes it, or the server does).
CASES: dict[str, bytes] = {
    "ping": rpc(extra=CLOSE),
    "notification (204)": rpc(NOTIFY, extra=CLOSE),
    "batch": rpc(b'[' + PING + b',' + NOTIFY + b',{"jsonrpc":"2.0","id":2,"method":"x"}]',
                 extra=CLOSE),
    "parse error": rpc(b'{"jsonrpc":', extra=CLOSE),
    "charset": rpc(content_type=b"application/json; charset=utf-8", extra=CLOSE),
    "pipelined keep-alive": rpc() + rpc(NOTIFY) + rpc(extra=CLOSE),
    "pipelined then health": rpc() + HEALTH,
    # a header block repeated byte for byte (the llhttp edge parses and judges it once), with
    # refused blocks, themselves repeated, between: each answered as if alone
    "repeated blocks, refusals between": rpc() * 2
    + rpc(extra=b"Origin: https://evil.example\r\n") * 2 + rpc()
    + rpc(token="mtgw_not_a_token") * 2 + rpc() + rpc(content_type=b"text/plain") * 2
    + rpc() * 2 + rpc(extra=CLOSE),
    # more than the edge queues before it stops reading (16), ids in order
    "pipelined twenty": b"".join(rpc(PING.replace(b'"id":1', b'"id":%d' % i))
                                 for i in range(19)) + rpc(extra=CLOSE),
    "pipelined, handed off, more": rpc() + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    + rpc() + HEALTH,
    "health then rpc": b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + rpc(extra=CLOSE),
    "chunked": chunked(PING, extra=CLOSE),
    "chunked then plain": chunked(PING) + rpc(extra=CLOSE),
    "chunked with trailer": chunked(PING, extra=CLOSE)[:-2] + b"X-Trailer: 1\r\n\r\n",
    "bad token": rpc(token="mtgw_not_a_token", extra=CLOSE),
    "no token": rpc(token="", extra=CLOSE),
    "wrong content type": rpc(content_type=b"text/plain", extra=CLOSE),
    "no content type": rpc(content_type=b"", extra=CLOSE),
    "too large by length": rpc(b"x" * 70_000, extra=CLOSE),
    "too large chunked": chunked(b"x" * 70_000, extra=CLOSE, pieces=7),
    "host refused": rpc(extra=CLOSE).replace(b"Host: 127.0.0.1", b"Host: evil.example"),
    "host with port": rpc(extra=CLOSE).replace(b"Host: 127.0.0.1", b"Host: localhost:8710"),
    "origin refused": rpc(extra=CLOSE + b"Origin: https://evil.example\r\n"),
    "token in query": rpc(path=b"/rpc?access_token=abc", extra=CLOSE),
    "harmless query": rpc(path=b"/rpc?x=1", extra=CLOSE),
    "GET /rpc": b"GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    "unknown path": rpc(path=b"/nowhere", extra=CLOSE),
    "expect 100-continue": rpc(extra=CLOSE + b"Expect: 100-continue\r\n"),
    "expect something else": rpc(extra=CLOSE + b"Expect: magic\r\n"),
    "HTTP/1.0": rpc(version=b"1.0"),
    "HTTP/1.0 keep-alive": rpc(version=b"1.0", extra=b"Connection: keep-alive\r\n")
    + rpc(version=b"1.0"),
    "ws without upgrade": b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    "garbage": b"NONSENSE\r\nHost: 127.0.0.1\r\n\r\n",
    "bad request line": b"POST /rpc HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    "content-length and chunked": chunked(PING).replace(
        b"Transfer-Encoding", b"Content-Length: 5\r\nTransfer-Encoding") + rpc(extra=CLOSE),
    "two content-lengths": rpc().replace(b"Content-Length", b"Content-Length: 3\r\nContent-Length")
    + rpc(extra=CLOSE),
    "transfer-encoding not chunked": rpc().replace(
        b"Content-Length", b"Transfer-Encoding: gzip\r\nContent-Length"),
    "bad chunk size": chunked(PING, extra=CLOSE).partition(b"\r\n\r\n")[0]
    + b"\r\n\r\nzz\r\n" + PING + b"\r\n0\r\n\r\n",
    "header line too long": rpc(extra=b"X-Long: " + b"a" * 9000 + b"\r\n"),
}

#: Cases whose 400 comes from each parser's own error page: the statuses up to it are
#: compared, not its version, headers or body (aiohttp's is plain text naming its parser's
#: complaint); the connection closes after it on both.
_PARSER_400 = {"garbage", "bad request line", "content-length and chunked",
               "two content-lengths", "transfer-encoding not chunked", "bad chunk size",
               "header line too long"}


#: Where the edges differ on purpose. Empty lines before a request line are ignored (RFC 9112
#: section 2.2) by llhttp; the aiohttp path's connection guard took them for a header block
#: without a Host and answered 421. And bytes that are no request line at all are 400 on the
#: new edge (not HTTP) where the guard answered 421 (no Host); both close.
EMPTY_LINES_FIRST = b"\r\n\r\n" + rpc(extra=CLOSE)
GARBAGE_WITHOUT_HOST = b"NONSENSE\r\n\r\n"


@contextlib.asynccontextmanager
async def both_edges(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    async with running_daemon(tmp_path / "llhttp", rpc_edge="llhttp",
                              auth_failure_limit=1000) as new, \
            running_daemon(tmp_path / "aiohttp", rpc_edge="aiohttp",
                           auth_failure_limit=1000) as old:
        yield new, old


async def exchange(daemon: Daemon, pieces: list[bytes]) -> bytes:
    """Send ``pieces`` (one write each, drained) and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
    try:
        for piece in pieces:
            writer.write(piece.replace(b"{token}", daemon.token.encode()))
            await writer.drain()
        async with asyncio.timeout(WAIT_S):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def answers(raw: bytes, *, body: bool = True) -> list[tuple[Any, ...]]:
    """The responses in ``raw``: (version, status, compared headers, body)."""
    found: list[tuple[Any, ...]] = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        version, status = lines[0].split(b" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower().decode() in _COMPARED:
                headers[name.strip().lower().decode()] = value.strip().decode()
        length = int(headers.get("content-length", "0"))
        content, raw = raw[:length], raw[length:]
        if not body and status == b"400":  # each parser's own error page, then closed
            found.append((int(status),))
            break
        found.append((version, int(status), headers, content))
    return found


async def test_every_case_is_answered_alike(tmp_path: Path) -> None:
    """Each case gets the same answers from both edges (and the new edge really served it:
    the old one puts ``Server`` on every answer, the new one on none of its own)."""
    async with both_edges(tmp_path) as (new, old):
        for name, request in CASES.items():
            got = await exchange(new, [request])
            want = await exchange(old, [request])
            body = name not in _PARSER_400
            assert answers(got, body=body) == answers(want, body=body), name
        [(_, status, _, _)] = answers(await exchange(new, [EMPTY_LINES_FIRST]))
        assert status == 200
        assert answers(await exchange(new, [GARBAGE_WITHOUT_HOST]), body=False) == [(400,)]
        assert answers(await exchange(old, [GARBAGE_WITHOUT_HOST]))[0][1] == 421
        served_here = await exchange(new, [CASES["ping"]])
        assert b"Server:" not in served_here and b"Server:" in await exchange(old, [CASES["ping"]])


@pytest.mark.parametrize("name", ["ping", "chunked then plain"])
async def test_a_request_split_at_every_byte_is_answered_alike(tmp_path: Path,
                                                              name: str) -> None:
    """The same request written in two parts, cut at each byte, gets the same answer."""
    async with both_edges(tmp_path) as (new, old):
        request = CASES[name]
        want = answers(await exchange(old, [request]))
        # the token's length is the same on both daemons: cut the request each will receive
        filled = request.replace(b"{token}", new.token.encode())
        for cut in range(1, len(filled)):
            got = answers(await exchange(new, [filled[:cut], filled[cut:]]))
            assert got == want, cut


async def test_conflicting_lengths_are_refused_and_nothing_is_smuggled(tmp_path: Path) -> None:
    """``Content-Length`` beside ``Transfer-Encoding: chunked`` (CL.TE smuggling): 400 and
    closed; the request hidden in the body is never answered."""
    async with running_daemon(tmp_path, rpc_edge="llhttp") as daemon:
        hidden = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        body = b"0\r\n\r\n" + hidden
        smuggle = (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   b"\r\nContent-Length: " + str(len(body)).encode()
                   + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        raw = await exchange(daemon, [smuggle])
        [(_, status, headers, _)] = answers(raw)
        assert status == 400 and headers["connection"] == "close"
        assert b"mtgateway" not in raw  # /health's answer
        doubled = (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   b"\r\nContent-Length: 0\r\nContent-Length: " + str(len(hidden)).encode()
                   + b"\r\n\r\n" + hidden)
        raw = await exchange(daemon, [doubled])
        assert [status for _, status, _, _ in answers(raw)] == [400]


async def test_http_1_0_is_answered_in_kind(tmp_path: Path) -> None:
    """An HTTP/1.0 request is answered ``HTTP/1.0`` and closed, unless it asked to be kept
    alive: then the answer says ``Connection: keep-alive`` and a second request follows."""
    async with running_daemon(tmp_path, rpc_edge="llhttp") as daemon:
        [(version, status, headers, body)] = answers(await exchange(daemon, [CASES["HTTP/1.0"]]))
        assert (version, status) == (b"HTTP/1.0", 200) and b'"id":1' in body
        assert "connection" not in headers
        kept = answers(await exchange(daemon, [CASES["HTTP/1.0 keep-alive"]]))
        assert [(v, s, h.get("connection")) for v, s, h, _ in kept] == [
            (b"HTTP/1.0", 200, "keep-alive"), (b"HTTP/1.0", 200, None)]


async def test_shutdown_lets_the_request_in_progress_answer(tmp_path: Path) -> None:
    """Stopping the daemon with an ``/rpc`` call waiting on the EA: the call is answered (with
    ``Connection: close``), then the connection closes; an idle keep-alive connection closes at
    once."""
    async with running_daemon(tmp_path, rpc_edge="llhttp") as daemon:
        ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
        try:
            assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
            idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1",
                                                                     daemon.http_port)
            idle_writer.write(rpc(b"{").replace(b"{token}", daemon.token.encode()))
            async with asyncio.timeout(WAIT_S):  # a parse error: answered without the EA
                await idle_reader.readuntil(b'"id":null}')
            reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
            writer.write(rpc(b'{"jsonrpc":"2.0","id":7,"method":"account_info"}').replace(
                b"{token}", daemon.token.encode()))
            async with asyncio.timeout(WAIT_S):
                sent = await ea.next_request()
            assert sent.method == "account_info"
            stopping = asyncio.create_task(daemon.runner.cleanup())
            async with asyncio.timeout(WAIT_S):
                assert await idle_reader.read() == b""  # the idle one closed without a word
            assert not stopping.done()
            ea.respond(sent.id, {"login": LOGIN})
            async with asyncio.timeout(WAIT_S):
                [(_, status, headers, body)] = answers(await reader.read())
                await stopping
            assert status == 200 and b'"id":7' in body and headers["connection"] == "close"
            for w in (writer, idle_writer):
                w.close()
        finally:
            await ea.close()


async def test_the_header_deadline_holds_before_and_after_a_hand_off(tmp_path: Path) -> None:
    """The connection guard reads the llhttp edge's own view of the stream (no watch of its
    own) and watches again once a request is handed to aiohttp: trickled headers are cut off
    at the deadline on either side of the hand-off."""
    async with running_daemon(tmp_path, rpc_edge="llhttp", header_timeout_s=0.3) as daemon:
        slow = b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        health = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        # the trickle after the answer, or in the same write as the request handed off
        for first, then in ((rpc(), slow), (health, slow), (health + slow, b"")):
            reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
            writer.write(first.replace(b"{token}", daemon.token.encode()))
            async with asyncio.timeout(WAIT_S):
                head = await reader.readuntil(b"\r\n\r\n")
                assert b" 200 " in head
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(then)
                assert await reader.read() == b""  # closed without a response
            writer.close()
            await writer.wait_closed()


async def test_keepalive_closes_an_idle_connection_counted_from_its_last_answer(
        tmp_path: Path) -> None:
    """One keep-alive timer per connection (armed at the first idle moment, re-armed lazily):
    a call held by the EA past that first deadline keeps the connection open, and the idle
    connection closes a whole ``keepalive_timeout_s`` after its last answer, not earlier."""
    timeout_s = 0.4
    async with running_daemon(tmp_path, rpc_edge="llhttp", keepalive_timeout_s=timeout_s) \
            as daemon:
        ea = ScriptedEA(daemon.token, login=LOGIN, server=SERVER)
        try:
            assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
            writer.write(rpc(b"{").replace(b"{token}", daemon.token.encode()))
            async with asyncio.timeout(WAIT_S):  # answered without the EA: the timer arms
                await reader.readuntil(b'"id":null}')
            writer.write(rpc(b'{"jsonrpc":"2.0","id":7,"method":"account_info"}').replace(
                b"{token}", daemon.token.encode()))
            async with asyncio.timeout(WAIT_S):
                sent = await ea.next_request()
            # busy past the first idle period's deadline: nothing closes the connection
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(timeout_s * 1.5):
                    await reader.read(1)
            ea.respond(sent.id, {"login": LOGIN})
            async with asyncio.timeout(WAIT_S):
                await reader.readuntil(b'"id":7')
            answered = loop.time()
            async with asyncio.timeout(WAIT_S):
                rest = await reader.read()  # the close, when it comes
            closed = loop.time()
            assert b"HTTP/1.1" not in rest  # closed without another answer
            assert closed - answered >= timeout_s - 0.05
            writer.close()
        finally:
            await ea.close()


@contextlib.asynccontextmanager
async def patient_edges(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    """Both edges with a header deadline far beyond WAIT_S: an answer within WAIT_S is the
    edge's own, not the deadline's."""
    async with running_daemon(tmp_path / "llhttp", rpc_edge="llhttp", header_timeout_s=300,
                              auth_failure_limit=1000) as new, \
            running_daemon(tmp_path / "aiohttp", rpc_edge="aiohttp", header_timeout_s=300,
                           auth_failure_limit=1000) as old:
        yield new, old


async def test_bare_lf_is_answered_400_at_once_on_both_edges(tmp_path: Path) -> None:
    """Round-4 T4-F11: a request whose lines end in a bare LF (RFC 9112 §2.2 lets a server
    refuse it) got no byte back from the llhttp edge, which waited for CRLF CRLF until the
    header deadline; aiohttp answered 400 at once. Now both answer 400 and close: a request
    all in bare LFs, one with a single bare LF, one cut just before its first LF, and one
    sent after an answered request on the same connection."""
    bare = rpc(extra=CLOSE).replace(b"\r\n", b"\n")
    one_line = rpc(extra=CLOSE).replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\n")
    async with patient_edges(tmp_path) as (new, old):
        for daemon in (new, old):
            for request in (bare, one_line):
                assert answers(await exchange(daemon, [request]), body=False) == [(400,)]
            # split before the LF: the edge still sees it once the rest arrives
            cut = bare.index(b"\n") + 1
            assert answers(await exchange(daemon, [bare[:cut - 1], bare[cut - 1:]]),
                           body=False) == [(400,)]
            # after a request answered on the connection, the next one's bare LF
            reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
            try:
                writer.write(rpc().replace(b"{token}", daemon.token.encode()))
                async with asyncio.timeout(WAIT_S):
                    head = await reader.readuntil(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 200 ")
                    await reader.readexactly(int(head.lower().partition(
                        b"content-length: ")[2].partition(b"\r\n")[0]))
                    writer.write(bare)
                    assert answers(await reader.read(), body=False) == [(400,)]
            finally:
                writer.close()


async def test_an_absolute_form_target_is_held_to_the_host_rule(tmp_path: Path) -> None:
    """Round-4 T4-F11: `POST http://evil.example/rpc` with `Host: 127.0.0.1` was served (200)
    on both edges: the Host rule read the header and not the target's authority, which RFC
    9112 §3.2.2 says wins. Now a foreign authority is 421 on both edges (for /rpc and any
    other route), a loopback one is served, and the Host header is still held to the rule."""
    async with both_edges(tmp_path) as (new, old):
        for daemon in (new, old):
            port = str(daemon.http_port).encode()
            for target, host, status in [
                    (b"http://evil.example/rpc", b"127.0.0.1", 421),
                    (b"http://evil.example:" + port + b"/rpc", b"127.0.0.1", 421),
                    (b"HTTP://EVIL.example/rpc?x=1", b"127.0.0.1", 421),
                    (b"http://127.0.0.1@evil.example/rpc", b"127.0.0.1", 421),
                    (b"http://127.0.0.1:" + port + b"/rpc", b"127.0.0.1", 200),
                    (b"http://localhost/rpc", b"127.0.0.1", 200),
                    (b"http://[::1]:" + port + b"/rpc", b"127.0.0.1", 200),
                    (b"http://127.0.0.1/rpc", b"evil.example", 421)]:
                request = rpc(path=target, extra=CLOSE).replace(b"Host: 127.0.0.1",
                                                                 b"Host: " + host)
                got = answers(await exchange(daemon, [request]))
                assert [a[1] for a in got] == [status], (target, host, got)
            health = (b"GET http://evil.example/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
            assert answers(await exchange(daemon, [health]))[0][1] == 421


async def status_of(daemon: Daemon, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send ``request`` (``{token}`` standing for the daemon's) on a kept-alive connection;
    the status of its answer, whose body is read to the end."""
    writer.write(request.replace(b"{token}", daemon.token.encode()))
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(
            head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0]))
    return int(head.split(b" ", 2)[1])


async def test_the_guard_and_the_edge_step_out_of_the_data_path(tmp_path: Path) -> None:
    """The connection guard admits a connection and hands the transport to the llhttp edge
    (``transport.set_protocol``): the edge is the transport's protocol, so the guard sees no
    byte of the ``/rpc`` traffic. At a hand-off (``GET /health``) the guard takes the
    transport back with aiohttp's protocol inside: the edge sees no more bytes, and an
    ``/rpc`` after it is served by aiohttp. (Before, the guard forwarded every byte to the
    edge, and the edge forwarded every byte after a hand-off to aiohttp.)"""
    async with running_daemon(tmp_path, rpc_edge="llhttp") as daemon:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        try:
            answer = partial(status_of, daemon, reader, writer)
            assert await answer(rpc()) == 200
            [guard] = daemon.app[CONNECTIONS].connections()
            assert guard.transport is not None
            edge = guard.transport.get_protocol()
            assert isinstance(edge, HttpEdge) and edge is guard.inner
            assert await answer(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200
            assert guard.transport.get_protocol() is guard
            assert not isinstance(guard.inner, HttpEdge)
            assert await answer(rpc()) == 200
            assert daemon.app[CONNECTIONS].connections() == [guard]
        finally:
            writer.close()


async def test_a_keep_alive_connection_is_answered_by_one_task_that_ends_with_it(
        tmp_path: Path) -> None:
    """Calls one after another on one connection are answered by one task (a task per request
    cost its creation and asyncio's registration of it on every call); after a hand-off to
    aiohttp and at the connection's close, no task of the edge is left waiting."""
    async with running_daemon(tmp_path, rpc_edge="llhttp") as daemon:
        loop = asyncio.get_running_loop()
        made: list[asyncio.Task[Any]] = []
        factory = loop.get_task_factory()

        def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
            task = (factory(loop, coro, **kwargs) if factory is not None
                    else asyncio.Task(coro, loop=loop, **kwargs))
            # the edge's own (the daemon runs background tasks beside it); a compiled build's
            # coroutine has no __qualname__ but its type names the method and the class
            if "HttpEdge" in getattr(coro, "__qualname__", "") + type(coro).__name__:
                made.append(task)
            return task

        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        loop.set_task_factory(counting)
        try:
            answer = partial(status_of, daemon, reader, writer)
            for _ in range(10):
                assert await answer(rpc()) == 200
            assert len(made) == 1, made
            assert await answer(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200
            await asyncio.sleep(0)  # (the released task runs its last step)
            assert all(task.done() for task in made), made
        finally:
            loop.set_task_factory(factory)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
