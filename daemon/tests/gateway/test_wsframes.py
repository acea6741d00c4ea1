"""``gateway.wsframes``: following a client's frame boundaries, without sockets, at every split."""

from __future__ import annotations

import pytest

from gateway.wsframes import ClientFrames, is_text


def frame(payload: bytes, *, masked: bool = True, opcode: int = 0x1) -> bytes:
    """One final frame with a 7-, 16- or 64-bit length (RFC 6455 §5.2); the mask is fixed."""
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        length = bytes([bit | size])
    elif size < 65536:
        length = bytes([bit | 126]) + size.to_bytes(2, "big")
    else:
        length = bytes([bit | 127]) + size.to_bytes(8, "big")
    mask = b"\x01\x02\x03\x04" if masked else b""
    return bytes([0x80 | opcode]) + length + mask + payload


#: Masked frames of every length form, their payloads holding bytes that look like headers.
MASKED = [frame(b""), frame(b"\x81\x05" * 62 + b"x"), frame(b"\x01" * 126),
          frame(b"\x00" * 65535), frame(b"\x7f" * 65536), frame(b"ping", opcode=0x9)]


def splits(data: bytes) -> list[list[bytes]]:
    """``data`` whole, byte by byte over its first 300 bytes, and cut at every point there."""
    head = [data[i:i + 1] for i in range(min(len(data), 300))] + [data[300:]]
    return [[data], head, *([data[:i], data[i:]] for i in range(1, min(len(data), 300)))]


def offsets(chunks: list[bytes]) -> tuple[int | None, int]:
    """Where the watch says the unmasked frame starts, as an offset in the whole stream, and
    how many chunks reported it."""
    frames, seen, found, reports = ClientFrames(), 0, None, 0
    for chunk in chunks:
        at = frames.feed(chunk)
        if at is not None:
            reports += 1
            found = seen + at if found is None else found
        seen += len(chunk)
    return found, reports


def test_masked_frames_of_every_length_pass_at_every_split() -> None:
    stream = b"".join(MASKED)
    for chunks in splits(stream):
        assert offsets(chunks) == (None, 0)


@pytest.mark.parametrize("before", [0, 1, 3, len(MASKED)])
def test_the_first_unmasked_frame_is_found_where_it_starts(before: int) -> None:
    """After any number of masked frames, an unmasked one is reported at its first byte (or at
    0 when its header began in an earlier chunk), and every chunk after it is refused too."""
    prefix = b"".join(MASKED[:before])
    stream = prefix + frame(b"{}", masked=False) + frame(b"{}")
    for chunks in splits(stream):
        found, reports = offsets(chunks)
        # at its first byte, or at the start of the chunk that holds its second (the mask bit)
        assert found in (len(prefix), len(prefix) + 1), (found, len(prefix))
        assert reports >= 1
    whole, _ = offsets([stream])
    assert whole == len(prefix)


def test_is_text_is_utf8_without_surrogates_or_overlongs() -> None:
    assert is_text("€ ok 𝄞".encode())
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xe2\x82"):
        assert not is_text(bad), bad
