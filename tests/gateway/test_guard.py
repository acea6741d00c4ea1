"""HeaderWatch: request boundaries found the same way whatever the byte split."""

from __future__ import annotations

from gateway.guard import HeaderWatch
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


def test_upgrade_and_chunked_stop_the_watch() -> None:
    """After a WebSocket upgrade or a chunked body the stream is not HTTP headers any more."""
    for head in (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
                 b"POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"):
        watch = HeaderWatch()
        watch.feed(head + b"\x81\x05hello")
        assert watch.state == "off" and not watch.awaiting_headers


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
