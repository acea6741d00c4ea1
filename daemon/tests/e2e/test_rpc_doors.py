"""Every way into ``/rpc`` refuses the same bad request with the same status: one ladder.

The ladder (``gateway/edge/ladder.py``, after the contract's HTTP status rules) orders the
refusals: bytes that are not HTTP (400), Host (421), Origin (403), a token in the query string
(400), the method (405), the content type (415), the body's declared size (413), its deadline
(408), then the bearer token (401). A request with two faults must be refused for the earlier
one whichever door it came through:

* the llhttp edge (``[server] rpc_edge = "llhttp"``, a fresh connection);
* aiohttp's fast path (``rpc_edge = "aiohttp"``, an exact ``POST /rpc``);
* an ``/rpc`` that follows a request handed to aiohttp on an llhttp connection;
* aiohttp's side with a query string (once the routed handler, now the fast path too);
* aiohttp's side with ``Expect: 100-continue`` (the router, for aiohttp's expect handler).

Each fault alone, then every pair of them in one request. Before the ladder, a bad chunk sent
with the headers was 400 on aiohttp's doors (its parser refuses before any handler runs) and
421, 403 or 415 on the llhttp edge (which checked its header rules first).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.e2e.fixtures import WAIT_S, Daemon, running_daemon

pytestmark = pytest.mark.network_edge

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


class Request:
    """The parts of one ``/rpc`` request, each fault changing one of them."""

    def __init__(self, token: str) -> None:
        self.method = b"POST"
        self.query: list[bytes] = []
        self.headers = {b"Host": b"127.0.0.1", b"Authorization": b"Bearer " + token.encode(),
                        b"Content-Type": b"application/json"}
        self.body = PING
        self.length: int | None = len(PING)
        self.chunked = False

    def bytes(self, *, query: bytes = b"", extra: bytes = b"") -> bytes:
        queries = self.query + ([query] if query else [])
        target = b"/rpc" + (b"?" + b"&".join(queries) if queries else b"")
        head = b"".join(name + b": " + value + b"\r\n" for name, value in self.headers.items())
        framing = (b"Transfer-Encoding: chunked\r\n" if self.chunked else b"") + (
            b"" if self.length is None else b"Content-Length: %d\r\n" % self.length)
        return (self.method + b" " + target + b" HTTP/1.1\r\n" + head + extra + framing
                + b"\r\n" + self.body)


def _malformed(r: Request) -> None:
    r.chunked, r.length = True, None
    r.body = b"zz\r\n" + PING + b"\r\n0\r\n\r\n"  # no chunk size


def _host(r: Request) -> None:
    r.headers[b"Host"] = b"evil.example"


def _origin(r: Request) -> None:
    r.headers[b"Origin"] = b"https://evil.example"


def _query_token(r: Request) -> None:
    r.query.append(b"access_token=abc")


def _method(r: Request) -> None:
    r.method = b"PUT"


def _content_type(r: Request) -> None:
    r.headers[b"Content-Type"] = b"text/plain"


def _too_large(r: Request) -> None:
    # declared, never sent: refused on the headers (beside chunked: not HTTP, rung 1)
    r.body, r.length = r.body if r.chunked else b"", 70_000


def _slow_body(r: Request) -> None:
    r.body = r.body[:10]  # the rest never comes


def _bad_token(r: Request) -> None:
    r.headers[b"Authorization"] = b"Bearer mtgw_not_a_token"


#: The faults in the contract's order, with the status each is refused with.
FAULTS: list[tuple[str, int, Callable[[Request], None]]] = [
    ("malformed body", 400, _malformed), ("host", 421, _host), ("origin", 403, _origin),
    ("query token", 400, _query_token),
    ("method", 405, _method), ("content type", 415, _content_type),
    ("too large", 413, _too_large), ("slow body", 408, _slow_body),
    ("bad token", 401, _bad_token),
]

#: Each case: its faults (one or two) and the status the earliest of them is refused with.
CASES = [([name], status, [fault]) for name, status, fault in FAULTS] + [
    ([a[0], b[0]], a[1], [a[2], b[2]]) for a, b in itertools.combinations(FAULTS, 2)]


@contextlib.asynccontextmanager
async def daemons(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    settings = {"auth_failure_limit": 100_000, "body_timeout_s": 0.3}
    async with running_daemon(tmp_path / "llhttp", rpc_edge="llhttp", **settings) as new, \
            running_daemon(tmp_path / "aiohttp", rpc_edge="aiohttp", **settings) as old:
        yield new, old


async def first_status(daemon: Daemon, before: bytes, request: bytes) -> int:
    """The status of the answer to ``request``, sent after ``before`` (answered and read
    first, on the same connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
    try:
        async with asyncio.timeout(WAIT_S):
            if before:
                writer.write(before)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().partition(b"content-length:")[2].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            while head.startswith(b"HTTP/1.1 100 "):  # an interim answer to Expect
                head = await reader.readuntil(b"\r\n\r\n")
            return int(head.split(b" ", 2)[1])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def test_every_door_refuses_in_the_contracts_order(tmp_path: Path) -> None:
    """The same bad requests through every ``/rpc`` door: the earliest fault's status, on
    each door alike."""
    async with daemons(tmp_path) as (new, old):
        doors: dict[str, tuple[Daemon, bytes, dict[str, bytes]]] = {
            "llhttp edge": (new, b"", {}),
            "aiohttp fast path": (old, b"", {}),
            "after a hand-off": (new, HEALTH, {}),
            "aiohttp with a query string": (old, b"", {"query": b"door=routed"}),
            "aiohttp with Expect": (old, b"", {"extra": b"Expect: 100-continue\r\n"}),
        }
        wrong = []
        for names, want, faults in CASES:
            for door, (daemon, before, variant) in doors.items():
                request = Request(daemon.token)
                for fault in faults:
                    fault(request)
                got = await first_status(daemon, before, request.bytes(**variant))
                if got != want:
                    wrong.append((" + ".join(names), door, got, want))
        assert wrong == [], "\n".join(map(str, wrong))


def _post(path: bytes, token: str | None, *, content_type: bytes = b"application/json",
          body: bytes = b"{}", length: int | None = None, chunked: bool = False) -> bytes:
    """A ``POST`` to ``path`` with a JSON body (declared ``length``, or sent chunked)."""
    head = b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type
    if token is not None:
        head += b"\r\nAuthorization: Bearer " + token.encode()
    if chunked:
        return (head + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body)
                + body + b"\r\n0\r\n\r\n")
    declared = len(body) if length is None else length
    return head + b"\r\nContent-Length: %d\r\n\r\n" % declared + body


async def test_the_other_doors_take_the_body_rungs_in_the_same_order(tmp_path: Path) -> None:
    """The REST mirror and the client challenge go through the same door as ``/rpc``: the
    content type (415), the declared size (413), the body deadline (408) and the size read
    (413, chunked) in the ladder's order, each door with its own limit (64 KiB; the
    challenge's 1 KiB), all before the bearer token (401) on the REST mirror. Before the door
    each wrote these rungs by hand."""
    settings = {"auth_failure_limit": 100_000, "body_timeout_s": 0.3}
    async with running_daemon(tmp_path, **settings) as daemon:
        rest = b"/api/trades/history/1"
        token, bad = daemon.token, "mtgw_not_a_token"
        cases = [
            (rest, _post(rest, bad, content_type=b"text/plain"), 415),
            (rest, _post(rest, bad, length=70_000, body=b""), 413),
            (rest, _post(rest, bad, length=100), 408),
            (rest, _post(rest, token, chunked=True, body=b" " * 70_000), 413),
            (rest, _post(rest, bad), 401),
            (b"/auth/challenge", _post(b"/auth/challenge", None, content_type=b"text/plain"),
             415),
            (b"/auth/challenge", _post(b"/auth/challenge", None, length=1025, body=b""), 413),
            (b"/auth/challenge", _post(b"/auth/challenge", None, length=100), 408),
            (b"/auth/challenge", _post(b"/auth/challenge", None, chunked=True,
                                       body=b" " * 1025), 413),
        ]
        got = [(path, await first_status(daemon, b"", request)) for path, request, _ in cases]
        assert got == [(path, want) for path, _, want in cases]
