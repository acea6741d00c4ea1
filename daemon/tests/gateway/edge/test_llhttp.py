"""The llhttp edge's request assembly (``mtgateway_base.httpedge``, with the daemon's ``/rpc``
settings of ``gateway/edge/llhttp.py``), byte by byte (style rule 2).

Every stream is fed whole, one byte at a time and split in two at every offset, and must give
the same events: the same requests with the same bodies, and a hand-off carrying exactly the
bytes from the handed request's first on.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.edge.head import edge_head
from gateway.edge.llhttp import assembly as RequestAssembly  # noqa: N812 - the daemon's
from mtgateway_base.httpedge import EdgeRequest, HandOff, has_bare_lf

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
LIMIT = 1024


def post(body: bytes = PING, extra: bytes = b"", path: bytes = b"/rpc",
         version: bytes = b"1.1") -> bytes:
    return (b"POST " + path + b" HTTP/" + version + b"\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + extra + b"Content-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n" + extra
            + b"\r\n" + b"".join(f"{len(body[i:i + 7]):x}".encode() + b"\r\n" + body[i:i + 7]
                                 + b"\r\n" for i in range(0, len(body), 7)) + b"0\r\n\r\n")


HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def summary(events: Sequence[object]) -> list[tuple[object, ...]]:
    """The events, a request's ``completed`` after its ``started`` when its body came whole
    (by the end of the stream: a request's body ends before the next request begins)."""
    out: list[tuple[object, ...]] = []
    for event in events:
        if isinstance(event, EdgeRequest):
            out.append(("started", event.method, event.target))
            if event.complete:
                out.append(("completed", bytes(event.body), event.keep_alive, event.minor,
                            event.too_large))
        elif isinstance(event, HandOff):
            out.append(("handoff",))
        else:
            out.append(("malformed",))
    return out


def feed_all(pieces: list[bytes]) -> tuple[list[tuple[object, ...]], bytes]:
    """The events of ``pieces`` fed in turn, and the handed-off bytes (those in the hand-off
    event plus every byte fed after it, as the protocol forwards them)."""
    assembly = RequestAssembly(LIMIT)
    events: list[object] = []
    handed = b""
    for piece in pieces:
        if any(isinstance(event, HandOff) for event in events):
            handed += piece
            continue
        got = assembly.feed(piece)
        handed += b"".join(event.data for event in got if isinstance(event, HandOff))
        events += got
    return summary(events), handed


def every_split(stream: bytes) -> list[list[bytes]]:
    return ([[stream], [stream[i:i + 1] for i in range(len(stream))]]
            + [[stream[:i], stream[i:]] for i in range(1, len(stream))])


def same_under_every_split(stream: bytes) -> tuple[list[tuple[object, ...]], bytes]:
    first = feed_all([stream])
    for pieces in every_split(stream):
        assert feed_all(pieces) == first, pieces
    return first


def test_pipelined_requests_and_a_chunked_body() -> None:
    events, handed = same_under_every_split(post() + chunked(PING) + post(b"[]"))
    assert events == [("started", b"POST", b"/rpc"), ("completed", PING, True, 1, False)] * 2 + [
        ("started", b"POST", b"/rpc"), ("completed", b"[]", True, 1, False)]
    assert handed == b""


def test_a_chunked_body_with_a_trailer_and_empty_lines_between_requests() -> None:
    stream = chunked(PING)[:-2] + b"X-Trailer: 1\r\n\r\n" + b"\r\n" + post()
    events, _ = same_under_every_split(stream)
    assert [event[0] for event in events] == ["started", "completed"] * 2
    assert events[1][1] == PING


def test_a_repeated_header_block_gives_the_same_requests_under_every_split() -> None:
    """A client sends one header block on every call of a connection: its repeats are the
    same requests (bodies by their length, kept alive, the version), whatever follows them;
    a block that differs by one byte (another length) is parsed afresh, and a repeat
    after it too."""
    other = post(b"[]")
    closing = post(extra=b"Connection: close\r\n")
    events, handed = same_under_every_split(post() * 3 + other + post() + closing + post())
    assert events == [("started", b"POST", b"/rpc"), ("completed", PING, True, 1, False)] * 3 + [
        ("started", b"POST", b"/rpc"), ("completed", b"[]", True, 1, False),
        ("started", b"POST", b"/rpc"), ("completed", PING, True, 1, False),
        ("started", b"POST", b"/rpc"), ("completed", PING, False, 1, False)]
    assert handed == b""
    rest = HEALTH + post()
    events, handed = same_under_every_split(post() * 2 + rest)
    assert events[-1] == ("handoff",) and handed == rest
    kept = post(version=b"1.0", extra=b"Connection: keep-alive\r\n")
    events, _ = same_under_every_split(kept * 2)
    assert [(e[2], e[3]) for e in events if e[0] == "completed"] == [(True, 0), (True, 0)]
    large = post(b"x" * (LIMIT + 1))  # over the limit: never a repeat, each read and dropped
    events, _ = same_under_every_split(large * 2 + post())
    assert [e[4] for e in events if e[0] == "completed"] == [True, True, False]


def test_after_a_repeated_header_block_llhttp_still_refuses_what_it_refuses() -> None:
    """The repeats leave llhttp between messages: a smuggling shape or garbage after them is
    malformed, a chunked body still parsed."""
    smuggled = post().replace(b"Content-Length", b"Content-Length: 3\r\nContent-Length")
    for tail, last in [(smuggled, [("malformed",)]), (b"NONSENSE\r\n\r\n", [("malformed",)]),
                       (chunked(PING), [("started", b"POST", b"/rpc"),
                                        ("completed", PING, True, 1, False)])]:
        events, _ = same_under_every_split(post() * 2 + tail)
        assert events == [("started", b"POST", b"/rpc"),
                          ("completed", PING, True, 1, False)] * 2 + last, tail


def _declared_fields(cls: type) -> list[str]:
    """The fields ``cls`` declares in its module's source: read from the text, because the
    compiled build's classes keep neither ``__slots__`` nor ``__annotations__`` as Python's do."""
    module = sys.modules[cls.__module__]
    path = Path(module.__file__ or "").with_name(cls.__module__.rpartition(".")[2] + ".py")
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return [item.target.id for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)]
    raise AssertionError(f"{cls.__name__} is not in {module.__file__}")


def test_the_repeats_of_a_header_block_share_its_head() -> None:
    """The head the rules read is built once for a connection's repeated block (the same
    object for each repeat, for the same peer), and is the head the block says."""
    assembly = RequestAssembly(LIMIT)
    requests = [event for event in assembly.feed(post() * 3)
                if isinstance(event, EdgeRequest)]
    heads = [edge_head(request, "127.0.0.1") for request in requests]
    assert heads[0] is heads[1] is heads[2]
    assert (heads[0].method, heads[0].target, list(heads[0].hosts), heads[0].content_type,
            heads[0].content_length, heads[0].peer, heads[0].malformed) == (
        "POST", "/rpc", ["127.0.0.1"], "application/json", len(PING), "127.0.0.1", False)
    assert edge_head(requests[1], "10.0.0.1").peer == "10.0.0.1"  # another peer: its own
    fields = _declared_fields(EdgeRequest)
    for request in requests:  # a repeat has every field a parsed request has, alike
        assert all(hasattr(request, name) for name in fields)
    assert [getattr(requests[2], name) for name in fields if name not in (
        "template", "counted", "known", "wait_body")] == [
        getattr(requests[0], name) for name in fields if name not in (
            "template", "counted", "known", "wait_body")]


def test_anything_else_is_handed_off_with_its_bytes() -> None:
    """An ``/rpc`` request, then ``/health``: the second goes to aiohttp byte for byte, with
    what follows it (here a request aiohttp must then serve)."""
    rest = HEALTH + post()
    events, handed = same_under_every_split(post() + rest)
    assert events == [("started", b"POST", b"/rpc"), ("completed", PING, True, 1, False),
                      ("handoff",)]
    assert handed == rest


def test_websocket_upgrades_and_other_expectations_are_handed_off() -> None:
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n\x81\x85frame")
    assert same_under_every_split(upgrade) == ([("handoff",)], upgrade)
    expect = post(extra=b"Expect: magic\r\n")
    assert same_under_every_split(expect) == ([("handoff",)], expect)
    assert same_under_every_split(post(path=b"/rpc/x")) == ([("handoff",)], post(path=b"/rpc/x"))
    continued, _ = same_under_every_split(post(extra=b"Expect: 100-continue\r\n"))
    assert continued[0] == ("started", b"POST", b"/rpc")


def test_http_1_0_keeps_alive_only_when_asked() -> None:
    events, _ = same_under_every_split(post(version=b"1.0") + post())
    assert events == [("started", b"POST", b"/rpc"), ("completed", PING, False, 0, False)]
    kept, _ = same_under_every_split(post(version=b"1.0", extra=b"Connection: keep-alive\r\n")
                                     + post(version=b"1.0"))
    assert [(e[2], e[3]) for e in kept if e[0] == "completed"] == [(True, 0), (False, 0)]


def test_a_connection_close_request_ends_parsing() -> None:
    events, _ = same_under_every_split(post(extra=b"Connection: close\r\n") + b"GARBAGE\r\n\r\n")
    assert events == [("started", b"POST", b"/rpc"), ("completed", PING, False, 1, False)]


def test_smuggling_shapes_are_malformed() -> None:
    """Content-Length beside chunked, two Content-Lengths, a non-chunked Transfer-Encoding,
    a bad chunk size: refused, and nothing after them is parsed as a request."""
    hidden = post()
    for stream in [
        chunked(PING).replace(b"Transfer-Encoding", b"Content-Length: 5\r\nTransfer-Encoding")
        + hidden,
        post().replace(b"Content-Length", b"Content-Length: 3\r\nContent-Length") + hidden,
        post().replace(b"Content-Length", b"Transfer-Encoding: gzip\r\nContent-Length"),
        post(b"").replace(b"Content-Length: 0", b"Transfer-Encoding: gzip") + hidden,
        post(extra=b"Content-Length: 40\r\n") + hidden,
    ]:
        events, _ = same_under_every_split(stream)
        assert events == [("malformed",)], stream
    bad_chunk = chunked(PING).replace(b"\r\n\r\n7\r\n", b"\r\n\r\nzz\r\n", 1) + hidden
    events, _ = same_under_every_split(bad_chunk)
    assert events == [("started", b"POST", b"/rpc"), ("malformed",)]


def test_garbage_and_over_long_lines_are_malformed() -> None:
    for stream in [b"NONSENSE\r\n\r\n", b"POST /rpc HTTP/9.9\r\nHost: x\r\n\r\n",
                   post(extra=b"X-Long: " + b"a" * 9000 + b"\r\n")]:
        assert feed_all([stream])[0] == [("malformed",)]
    assembly = RequestAssembly(LIMIT)  # a header line that never ends is refused on its way
    assert summary(assembly.feed(b"POST /rpc HTTP/1.1\r\nX: " + b"a" * 9000)) == [("malformed",)]
    endless = b"POST /rpc HTTP/1.1\r\n" + b"X: " + b"a" * 8000 + b"\r\n"
    assembly = RequestAssembly(LIMIT)  # and a header block that never ends
    assert summary(assembly.feed(endless * 9)) == [("malformed",)]
    assert summary(RequestAssembly(LIMIT).feed(endless * 9 + b"\r\n")) == [("malformed",)]


def test_a_body_over_the_limit_is_read_and_dropped() -> None:
    events, _ = same_under_every_split(chunked(b"x" * (LIMIT + 1)) + post())
    assert events == [("started", b"POST", b"/rpc"), ("completed", b"", True, 1, True),
                      ("started", b"POST", b"/rpc"), ("completed", PING, True, 1, False)]


def test_a_header_line_ended_by_a_bare_lf_is_malformed_under_every_split() -> None:
    for stream in [b"POST /rpc HTTP/1.1\nHost: 127.0.0.1\r\n\r\n",
                   b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\nX: 1\r\n\r\n",
                   post() + b"GET /health HTTP/1.1\r\nHost: x\n\r\n"]:
        events, _ = same_under_every_split(stream)
        assert events[-1] == ("malformed",), stream
    # a body may hold any byte: an LF in it is the body's
    events, _ = same_under_every_split(post(b'{"a":\n1}'))
    assert events[-1][0] == "completed"


#: What :func:`has_bare_lf` answers, as a look-behind search says it.
_LOOK_BEHIND = re.compile(rb"(?<!\r)\n")


@given(st.binary(max_size=40).map(lambda b: bytes(c % 4 for c in b).translate(
           bytes.maketrans(b"\x00\x01\x02\x03", b"\r\nab"))),
       st.integers(0, 45), st.integers(0, 45))
def test_the_bare_lf_count_agrees_with_a_look_behind_search(data: bytes, start: int,
                                                            stop: int) -> None:
    start, stop = min(start, len(data)), min(max(start, stop), len(data))
    assert has_bare_lf(data, start, stop) == (_LOOK_BEHIND.search(data, start, stop)
                                              is not None)
