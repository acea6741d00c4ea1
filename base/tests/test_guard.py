"""HeaderWatch: request boundaries found the same way whatever the byte split."""

from __future__ import annotations

from mtgateway_base.guard import HeaderWatch
from tests.testkit import splits

GET = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
POST = (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Content-Type: application/json\r\n\r\n12345")


def _states(chunks: list[bytes]) -> list[str]:
    watch = HeaderWatch()
    seen = []
    for chunk in chunks:
        assert watch.feed(chunk) is not None
        seen.append(watch.state)
    return seen


def test_complete_requests_end_idle_under_every_split() -> None:
    """After whole requests (headers and a Content-Length body) the watch is idle, however cut."""
    for name, chunks in splits(GET + POST + GET):
        assert _states(chunks)[-1] == "idle", name


def test_partial_headers_are_awaiting() -> None:
    """Until the blank line arrives the request is awaiting its headers."""
    watch = HeaderWatch()
    watch.feed(GET[:-2])
    assert watch.awaiting_headers
    watch.feed(GET[-2:])
    assert not watch.awaiting_headers and watch.state == "idle"


def test_body_is_counted_then_next_request_starts() -> None:
    """A body of Content-Length bytes is not mistaken for the next request's headers."""
    watch = HeaderWatch()
    watch.feed(POST[:-2])
    assert watch.state == "body"
    watch.feed(POST[-2:] + b"GET")
    assert watch.awaiting_headers


CHUNKED = (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/json\r\n\r\n"
           b"5;ext=1\r\n12345\r\n1A\r\n" + b"x" * 26 + b"\r\n0\r\nX-Trailer: t\r\n\r\n")


UPGRADE = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
H2C = (b"POST /rpc HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\n12345")


def test_only_a_switch_the_server_made_stops_the_watch() -> None:
    """A request asking to switch protocols is followed to its end; what comes after it is
    kept unread (frames or the next requests: the server's answer decides) and nothing is
    awaited meanwhile; a 101 written stops the watch; the same bytes after an answer that
    did not switch are the next requests, a trickled one awaited as any (a header once
    switched the watch off for good: T7-F1's hold came back behind one ``Upgrade:``)."""
    for name, chunks in splits(UPGRADE + b"\x81\x05hello"):
        watch = HeaderWatch()
        for chunk in chunks:
            assert watch.feed(chunk) is not None
        assert watch.state == "upgrade" and not watch.awaiting_headers, name
        watch.switched()
        assert watch.state == "off" and watch.feed(b"\x81\x05hello") == [], name
    for name, chunks in splits(H2C + GET + b"POST /rpc HTTP/1.1\r\nHo"):
        watch = HeaderWatch()
        heads = [h for chunk in chunks for h in watch.feed(chunk) or ()]
        assert len(heads) == 1 and watch.state == "upgrade", name
        assert watch.declined() == [GET.removesuffix(b"\r\n")], name
        assert watch.awaiting_headers, name  # the trickled request after it: its deadline runs
    assert HeaderWatch().declined() == []  # nothing asked: nothing to read


def test_what_follows_an_unanswered_upgrade_is_bounded() -> None:
    """The bytes kept behind a request that asked to switch are bounded as a header block is:
    past it the watch says the connection is to be closed."""
    watch = HeaderWatch()
    assert watch.feed(UPGRADE) == [UPGRADE.removesuffix(b"\r\n")]
    assert watch.feed(b"x" * 65_536) == []
    assert watch.feed(b"x") is None


def test_a_chunked_body_is_followed_to_its_end_under_every_split() -> None:
    """Chunk sizes (with extensions), chunk data, the last chunk and trailers are followed,
    so the request after a chunked one is watched again: its partial headers are awaited.
    (The watch used to stop at a chunked body: no header deadline for the rest of the
    connection.)"""
    for name, chunks in splits(CHUNKED + GET + b"GET"):
        states = _states(chunks)
        assert states[-1] == "headers", name


def test_a_chunk_body_that_looks_like_headers_is_not_headers() -> None:
    """Bytes inside a chunk are data, even when they spell a request."""
    watch = HeaderWatch()
    data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    body = f"{len(data):x}".encode() + b"\r\n" + data + b"\r\n0\r\n\r\n"
    heads = watch.feed(CHUNKED.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body)
    assert heads is not None and len(heads) == 1 and watch.state == "idle"


def test_an_unreadable_chunk_size_stops_the_watch() -> None:
    """A chunk size that is not hex makes aiohttp refuse the request; the watch stops."""
    watch = HeaderWatch()
    watch.feed(CHUNKED.split(b"\r\n\r\n")[0] + b"\r\n\r\nzz\r\n")
    assert watch.state == "off"


def test_an_endless_chunk_size_line_is_refused() -> None:
    """A chunk-size line that never ends stops being buffered past 4 KiB."""
    watch = HeaderWatch()
    assert watch.feed(CHUNKED.split(b"\r\n\r\n")[0] + b"\r\n\r\n5") is not None
    assert watch.feed(b";" + b"e" * 5000) is None


def test_endless_header_block_is_refused() -> None:
    """A header block that never ends stops being buffered past 64 KiB."""
    watch = HeaderWatch()
    assert watch.feed(b"GET / HTTP/1.1\r\n") == []
    result: list[bytes] | None = []
    for _ in range(70):
        result = watch.feed(b"X-Pad: " + b"a" * 1000 + b"\r\n")
        if result is None:
            break
    assert result is None


def test_completed_header_blocks_are_returned() -> None:
    """Each completed header block is handed back once, for the Host check."""
    watch = HeaderWatch()
    assert watch.feed(GET + POST[:20]) == [GET[:-2]]
    assert watch.feed(POST[20:]) == [POST[: POST.index(b"\r\n\r\n") + 2]]
