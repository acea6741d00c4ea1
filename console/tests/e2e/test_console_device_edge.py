"""The console's device calls on the llhttp edge (``door/edge.py``) against aiohttp's: the same
bytes, the same answers.

A console on each edge (``[console] device_edge``) is sent the same raw requests, each signed
afresh for its console (a device proof is good once): valid calls, refused ones (no proof, a
replayed proof, bad JSON, an invalid body, too large a body, a foreign Host), chunked bodies,
``Expect: 100-continue``, HTTP/1.0, pipelined calls, requests handed on to aiohttp (a page, a
device call with a query string, an owner API call) and bytes that are not HTTP. The answers
are compared: status, HTTP version, the headers a client acts on, and the body (its keys, for
an answer whose values are each console's own). Then a request split at every byte, a body
that trickles in past the guard's body deadline, and a long-poll whose client leaves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mtgateway_base.wire.proofs import device_info
from mtgateway_console.appkeys import FAIR_SHARE, LONG_POLLS
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import create_console_app, start_console
from tests.e2e.consolekit import (
    Clock,
    Console,
    CountingClock,
    Pauses,
    approved_token,
    device_proof,
    running_console,
)
from tests.e2e.fixtures import WAIT_S
from tests.e2e.tlskit import self_signed

pytestmark = pytest.mark.network_edge

#: The headers a client acts on (Date and Server are aiohttp's alone).
_COMPARED = ("content-type", "content-length", "connection", "retry-after", "www-authenticate",
             "allow", "transfer-encoding")
CLOSE = b"Connection: close\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
KEYS = b"GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"

#: A case: made for one console (its key and clock sign the proofs).
Case = Callable[[Console], bytes]


class Signer:
    """Signs device requests for one console with its key, each proof a millisecond after the
    last (a proof is good once)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.key: Ed25519PrivateKey = console.key
        self.signed = 100_000  # after the kit's own proofs (approved_token)

    def request(self, method: str, path: str, body: bytes = b"", *, extra: bytes = b"",
                version: bytes = b"1.1", chunks: int = 0, sign_path: str | None = None,
                host: bytes = b"127.0.0.1", proof: bool = True) -> bytes:
        """The raw request; ``chunks``: the body chunked in that many pieces."""
        self.signed += 1
        headers = device_proof(self.key, method, sign_path or path.partition("?")[0], body,
                               self.console.clock.now, ms_offset=self.signed) if proof else {}
        head = (f"{method} {path} HTTP/".encode() + version + b"\r\nHost: " + host + b"\r\n"
                + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + extra)
        if chunks:
            size = -(-len(body) // chunks)
            pieces = b"".join(f"{len(part):x}".encode() + b"\r\n" + part + b"\r\n"
                              for part in (body[i:i + size] for i in range(0, len(body), size)))
            return head + b"Transfer-Encoding: chunked\r\n\r\n" + pieces + b"0\r\n\r\n"
        if body or method == "POST":
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        return head + b"\r\n" + body


#: A request's fresh X25519 public key, as a daemon sends it (base64url).
BOX_KEY = base64.urlsafe_b64encode(
    X25519PrivateKey.generate().public_key().public_bytes_raw()).rstrip(b"=").decode()


def hint_body(hint: str = "0" * 32) -> bytes:
    box_key = BOX_KEY
    return json.dumps({"token_hint": hint, "nonce": "a" * 32, "box_key": box_key}).encode()


REPORT = json.dumps({"terminals": []}).encode()
POLL = json.dumps({"wait_s": 0}).encode()


def _cases() -> dict[str, Callable[[Signer], bytes]]:
    return {
        "keys": lambda s: KEYS + CLOSE + b"\r\n",
        "status": lambda s: s.request("GET", "/v1/device/status", extra=CLOSE),
        "lookup, unknown token": lambda s: s.request("POST", "/v1/records/lookup",
                                                     hint_body(), extra=CLOSE),
        "refresh, nothing": lambda s: s.request(
            "POST", "/v1/records/refresh", json.dumps({
                "token_ids": [], "nonce": "b" * 32,
                "box_key": BOX_KEY}
            ).encode(), extra=CLOSE),
        "report, no terminals": lambda s: s.request("POST", "/v1/terminals/report", REPORT,
                                                    extra=CLOSE),
        "revocations, no wait": lambda s: s.request("POST", "/v1/device/revocations", POLL,
                                                    extra=CLOSE),
        "verify, no approval": lambda s: s.request("POST", "/v1/device/verify",
                                                   b'{"code": "123456"}', extra=CLOSE),
        "resend, no approval": lambda s: s.request("POST", "/v1/device/resend", extra=CLOSE),
        "no proof": lambda s: s.request("GET", "/v1/device/status", extra=CLOSE, proof=False),
        "proof for another path": lambda s: s.request("GET", "/v1/device/status", extra=CLOSE,
                                                      sign_path="/v1/keys"),
        "replayed proof": lambda s: (lambda one: one + one.replace(b"HTTP/1.1\r\n",
                                                                   b"HTTP/1.1\r\n" + CLOSE, 1))(
            s.request("POST", "/v1/terminals/report", REPORT)),
        "bad json": lambda s: s.request("POST", "/v1/terminals/report", b'{"terminals":',
                                        extra=CLOSE),
        "invalid body": lambda s: s.request("POST", "/v1/terminals/report",
                                            b'{"terminals": 7}', extra=CLOSE),
        "too large by length": lambda s: s.request("POST", "/v1/terminals/report",
                                                   b" " * 70_000, extra=CLOSE),
        "too large chunked": lambda s: s.request("POST", "/v1/terminals/report",
                                                 b" " * 70_000, extra=CLOSE, chunks=7),
        "chunked": lambda s: s.request("POST", "/v1/terminals/report", REPORT, extra=CLOSE,
                                       chunks=3),
        "expect 100-continue": lambda s: s.request("POST", "/v1/terminals/report", REPORT,
                                                   extra=CLOSE + b"Expect: 100-continue\r\n"),
        "HTTP/1.0": lambda s: s.request("GET", "/v1/device/status", version=b"1.0"),
        "HTTP/1.0 keep-alive": lambda s: s.request(
            "GET", "/v1/device/status", version=b"1.0", extra=b"Connection: keep-alive\r\n")
        + s.request("GET", "/v1/device/status", version=b"1.0"),
        "pipelined keep-alive": lambda s: (
            s.request("POST", "/v1/terminals/report", REPORT)
            + s.request("GET", "/v1/device/status") + KEYS + b"\r\n"
            + s.request("POST", "/v1/device/revocations", POLL, extra=CLOSE)),
        "pipelined twenty": lambda s: b"".join(
            s.request("GET", "/v1/device/status") for _ in range(19))
        + s.request("GET", "/v1/device/status", extra=CLOSE),
        "pipelined, handed off, more": lambda s: (
            s.request("GET", "/v1/device/status") + HEALTH
            + s.request("GET", "/v1/device/status", extra=CLOSE)),
        "page then device call": lambda s: HEALTH + s.request("GET", "/v1/device/status",
                                                              extra=CLOSE),
        "query string (aiohttp's)": lambda s: s.request("GET", "/v1/device/status?x=1",
                                                        extra=CLOSE),
        "owner API (aiohttp's)": lambda s: s.request("GET", "/v1/devices", extra=CLOSE,
                                                     proof=False),
        "HEAD keys (aiohttp's)": lambda s: b"HEAD /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + CLOSE + b"\r\n",
        "host refused": lambda s: s.request("GET", "/v1/device/status", extra=CLOSE,
                                            host=b"evil.example"),
        "host with port": lambda s: s.request("GET", "/v1/device/status", extra=CLOSE,
                                              host=b"localhost:8710"),
        "two hosts": lambda s: s.request("GET", "/v1/device/status",
                                         extra=CLOSE + b"Host: 127.0.0.1\r\n"),
        "absolute target, foreign (aiohttp's)": lambda s: s.request(
            "GET", "http://evil.example/v1/device/status", extra=CLOSE,
            sign_path="/v1/device/status"),
        "garbage": lambda s: b"NONSENSE\r\nHost: 127.0.0.1\r\n\r\n",
        "bad chunk size": lambda s: s.request(
            "POST", "/v1/terminals/report", REPORT, extra=CLOSE, chunks=2).replace(
            b"\r\n\r\n", b"\r\n\r\nzz\r\n", 1),
        "content-length and chunked": lambda s: s.request(
            "POST", "/v1/terminals/report", REPORT, chunks=1,
            extra=b"Content-Length: 5\r\n") + KEYS + CLOSE + b"\r\n",
    }


CASES = _cases()
#: Cases whose 400 comes from each parser's own error page: the statuses up to it are
#: compared, not its headers or body (aiohttp's is plain text naming its parser's
#: complaint); the connection closes after it on both.
_PARSER_400 = {"garbage", "bad chunk size", "content-length and chunked"}
#: Answered by the connection guard itself on aiohttp's path (it reads the header block there;
#: on the edge the Host rule does): the same status, body and closing, the guard's
#: ``Content-Type`` without a charset.
_GUARD_ANSWERS = {"two hosts"}
@contextlib.asynccontextmanager
async def both_edges(tmp_path: Path, **console: Any) -> AsyncIterator[tuple[Console, Console]]:
    """A console on each edge, each with its device approved for a token (a device the
    console knows: its proofs are not held to the bound on new keys)."""
    async with running_console(tmp_path / "llhttp", device_edge="llhttp", **console) as new, \
            running_console(tmp_path / "aiohttp", device_edge="aiohttp", **console) as old:
        for each in (new, old):
            await approved_token(each)
        yield new, old


def port_of(console: Console) -> int:
    return int(console.url.rpartition(":")[2])


async def exchange(console: Console, pieces: list[bytes]) -> bytes:
    """Send ``pieces`` (one write each, drained) and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(console))
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        async with asyncio.timeout(WAIT_S):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def answers(raw: bytes, *, body: bool = True, keys_only: bool = False,
            head: bool = False) -> list[tuple[Any, ...]]:
    """The responses in ``raw``: (version, status, compared headers, body), with
    ``keys_only`` a 200's body as its keys (its values are each console's own: its keys,
    its device ids)."""
    found: list[tuple[Any, ...]] = []
    while raw:
        top, _, raw = raw.partition(b"\r\n\r\n")
        lines = top.split(b"\r\n")
        version, status = lines[0].split(b" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower().decode() in _COMPARED:
                headers[name.strip().lower().decode()] = value.strip().decode()
        length = 0 if head or status == b"100" else int(headers.get("content-length", "0"))
        content, raw = raw[:length], raw[length:]
        if not body and status == b"400":  # each parser's own error page, then closed
            found.append((int(status),))
            break
        if keys_only and content and status == b"200":  # values each console's own
            parsed = json.loads(content)
            headers.pop("content-length", None)
            found.append((version, int(status), headers, sorted(parsed)))
        else:
            found.append((version, int(status), headers, content))
    return found


async def test_every_case_is_answered_alike(tmp_path: Path) -> None:
    """Each case gets the same answers from both edges (and the new edge really served the
    device calls: aiohttp puts ``Server`` on every answer, the edge on none of its own)."""
    async with both_edges(tmp_path) as (new, old):
        signers, seen = (Signer(new), Signer(old)), set()
        for name, make in CASES.items():
            got = await exchange(new, [make(signers[0])])
            want = await exchange(old, [make(signers[1])])
            kw = {"body": name not in _PARSER_400, "keys_only": True,
                  "head": name.startswith("HEAD")}
            mine, theirs = answers(got, **kw), answers(want, **kw)
            if name in _GUARD_ANSWERS:
                for answer in (*mine, *theirs):
                    answer[2].pop("content-type")
            seen.update(answer[0] if len(answer) == 1 else answer[1] for answer in mine)
            assert mine == theirs, name
            assert mine, name
        assert seen == {100, 200, 400, 401, 413, 421}  # every answer a device call can get
        served_here = await exchange(new, [CASES["status"](signers[0])])
        assert b"Server:" not in served_here and b" 200 " in served_here
        assert b"Server:" in await exchange(old, [CASES["status"](signers[1])])
        handed = await exchange(new, [CASES["query string (aiohttp's)"](signers[0])])
        assert b"Server:" in handed  # a device call with a query string: aiohttp's


@pytest.mark.parametrize("name", ["keys", "report, no terminals", "chunked"])
async def test_a_request_split_at_every_byte_is_answered_alike(tmp_path: Path,
                                                              name: str) -> None:
    """The same request written in two parts, cut at each byte, gets the same answer (each
    cut signed afresh: a proof is good once)."""
    async with both_edges(tmp_path) as (new, old):
        want = answers(await exchange(old, [CASES[name](Signer(old))]), keys_only=True)
        signer = Signer(new)
        length = len(CASES[name](signer))
        for cut in range(1, length):
            request = CASES[name](signer)
            got = answers(await exchange(new, [request[:cut], request[cut:]]), keys_only=True)
            assert got == want, cut


async def test_a_slow_body_is_waited_for_and_cut_at_the_body_deadline(tmp_path: Path) -> None:
    """A body that arrives in parts within the guard's body deadline is answered; one that
    stops arriving is cut at the deadline, as on aiohttp's path (the same answer, then
    closed)."""
    async with both_edges(tmp_path, body_timeout_s=0.5, header_timeout_s=300) as (new, old):
        results = []
        for console in (new, old):
            request = Signer(console).request("POST", "/v1/terminals/report", REPORT,
                                              extra=CLOSE)
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(console))
            writer.write(request[:-5])
            await writer.drain()
            await asyncio.sleep(0)  # one pass of the loop between the parts
            writer.write(request[-5:])
            async with asyncio.timeout(WAIT_S):
                whole = answers(await reader.read(), keys_only=True)
            writer.close()
            stalled = Signer(console).request("POST", "/v1/terminals/report", REPORT,
                                              extra=CLOSE)[:-5]
            cut = answers(await exchange(console, [stalled]))
            results.append((whole, cut))
        assert results[0] == results[1]
        assert results[0][0][0][1] == 200


async def test_a_long_poll_ends_when_its_client_leaves(tmp_path: Path) -> None:
    """A revocation long-poll whose daemon goes away is ended at once (as aiohttp's
    ``handler_cancellation`` ends it): its place among the held polls is given back, and
    so is its share of the requests in progress."""
    async with running_console(tmp_path, device_edge="llhttp") as console:
        held, device_id = console.app[LONG_POLLS], device_info(console.key).device_id
        request = Signer(console).request("POST", "/v1/device/revocations",
                                          json.dumps({"wait_s": 50}).encode())
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(console))
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(WAIT_S):
            await held.until_held(device_id, 1)
        assert console.app[FAIR_SHARE].requests.held("credential", "device:" + device_id) == 1
        writer.close()
        async with asyncio.timeout(WAIT_S):
            while held.held(key=device_id):
                await held._changed.wait()  # noqa: SLF001 - the count's own event
        await asyncio.sleep(0)  # the handler's finally (the fair share) runs after leave()
        assert console.app[FAIR_SHARE].requests.held("credential", "device:" + device_id) == 0


async def test_a_device_call_is_the_device_s_in_the_fair_share(tmp_path: Path) -> None:
    """Through the edge, pipelined calls are counted as their device's once each proof is
    checked, one at a time, and given back when answered: nothing stays taken after them."""
    async with running_console(tmp_path, device_edge="llhttp") as console:
        signer, device_id = Signer(console), device_info(console.key).device_id
        raw = await exchange(console, [b"".join(
            signer.request("POST", "/v1/terminals/report", REPORT) for _ in range(5))
            + signer.request("GET", "/v1/device/status", extra=CLOSE)])
        assert [a[1] for a in answers(raw, keys_only=True)] == [200] * 6
        requests = console.app[FAIR_SHARE].requests
        assert requests.most["credential"] == 1
        assert requests.held("credential", "device:" + device_id) == 0
        assert requests.held("address", "127.0.0.1") == 0


async def test_device_calls_and_pages_over_tls(tmp_path: Path) -> None:
    """Over TLS (``start_console``'s ``ssl_context``) the edge reads the device calls from the
    TLS transport and hands a page to aiohttp on the same connection, as over plain TCP."""
    server_ctx, client_ctx = self_signed(tmp_path)
    config = ConsoleFile(data_dir=str(tmp_path / "data"), console=ConsoleConfig(port=0))
    clock = Clock()
    app = create_console_app(config, clock=clock, throttle_clock=CountingClock(),
                             sleep=Pauses())
    runner, port = await start_console(app, "127.0.0.1", 0, ssl_context=server_ctx)
    try:
        key = Ed25519PrivateKey.generate()
        headers = device_proof(key, "GET", "/v1/device/status", b"", clock.now)
        connector = aiohttp.TCPConnector(ssl=client_ctx, limit=1)  # one connection for all
        async with aiohttp.ClientSession(connector=connector) as http:
            url = f"https://127.0.0.1:{port}"
            async with http.get(url + "/v1/keys") as response:
                assert response.status == 200 and "Server" not in response.headers
                assert (await response.json())["keys"]
            async with http.get(url + "/v1/device/status", headers=headers) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["device_id"] == device_info(key).device_id
                assert "Server" not in response.headers  # the edge's answer
            async with http.get(url + "/login") as response:
                assert response.status == 200 and "Server" in response.headers  # aiohttp's
                assert "<form" in await response.text()
    finally:
        await runner.cleanup()
