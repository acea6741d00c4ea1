"""The length-prefixed frame codec, fed whole, byte by byte and split at every offset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ea_bridge.errors import FrameTooLarge, FramingError
from ea_bridge.framing import FrameDecoder, encode_frame
from tests.testkit import splits

PAYLOADS = [b'{"t":"ping","ts":1}', b"{}", b'{"t":"evt","p":{"x":"' + b"\xc3\xa9" * 300 + b'"}}']


def _decode_all(chunks: list[bytes], limit: int = 1 << 20) -> list[bytes]:
    decoder = FrameDecoder(limit)
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    assert decoder.buffered == 0
    return out


def test_encode_prefixes_big_endian_length() -> None:
    """A frame is the payload's length as 4 big-endian bytes, then the payload."""
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"x" * 258)[:4] == b"\x00\x00\x01\x02"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_split_yields_the_same_frame(payload: bytes) -> None:
    """One frame decodes identically whether fed whole, bytewise, or cut at any offset."""
    data = encode_frame(payload)
    for name, chunks in splits(data):
        assert _decode_all(chunks) == [payload], name


def test_several_frames_in_every_split() -> None:
    """Back-to-back frames come out in order under every split of the stream."""
    data = b"".join(encode_frame(p) for p in PAYLOADS)
    for name, chunks in splits(data):
        assert _decode_all(chunks) == PAYLOADS, name


def test_partial_frame_waits_for_more() -> None:
    """An incomplete frame produces nothing and stays buffered."""
    decoder = FrameDecoder()
    data = encode_frame(b"hello world")
    assert decoder.feed(data[:7]) == []
    assert decoder.buffered == 7
    assert decoder.feed(data[7:]) == [b"hello world"]


def test_oversize_length_refused_before_the_body_arrives() -> None:
    """A prefix announcing more than the limit fails on the header alone."""
    decoder = FrameDecoder(max_frame_bytes=100)
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed((101).to_bytes(4, "big"))
    assert info.value.length == 101 and info.value.limit == 100


def test_frame_at_the_limit_is_accepted() -> None:
    """A frame exactly max_frame_bytes long is valid."""
    assert FrameDecoder(10).feed(encode_frame(b"0123456789")) == [b"0123456789"]


def test_http_request_on_the_port_is_refused() -> None:
    """An HTTP client's 'GET ' reads as a 1.2 GB length and is refused at once."""
    with pytest.raises(FrameTooLarge):
        FrameDecoder().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_zero_length_frame_is_refused() -> None:
    """Every message is a non-empty object, so an empty frame is garbage."""
    with pytest.raises(FramingError):
        FrameDecoder().feed(b"\x00\x00\x00\x00")
    with pytest.raises(FramingError):
        encode_frame(b"")


def test_decoder_stays_failed() -> None:
    """After a framing error the stream is unusable: later feeds fail too."""
    decoder = FrameDecoder(8)
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"\x00\x00\x01\x00")
    with pytest.raises(FramingError):
        decoder.feed(encode_frame(b"ok"))


def test_encode_refuses_oversize_payload() -> None:
    """The sender checks the same limit the receiver enforces."""
    with pytest.raises(FrameTooLarge):
        encode_frame(b"x" * 11, max_frame_bytes=10)


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8),
       st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=40))
def test_arbitrary_chunking_round_trips(payloads: list[bytes], cuts: list[int]) -> None:
    """Any payloads, cut into any chunk sizes, come back unchanged and in order."""
    data = b"".join(encode_frame(p) for p in payloads)
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        size = cuts[i % len(cuts)]
        chunks.append(data[pos : pos + size])
        pos += size
        i += 1
    assert _decode_all(chunks) == payloads
