"""Length-prefixed frames: the byte layer of the EA bridge, with no I/O and no JSON.

A frame is a 4-byte big-endian unsigned length followed by that many bytes of payload (UTF-8
JSON, one object, decoded a layer up in ``messages.py``). A length prefix rather than newline
delimiting because the EA reads with ``SocketRead(sock, buf, n, timeout)``: knowing ``n`` lets it
read exactly one frame without scanning, and MQL5's ``SocketIsReadable`` may report one byte
speculatively on an empty buffer, so the EA must never rely on "a line is there".

The decoder is fed whatever the socket produced (a whole frame, half a prefix, three frames and
a bit) and returns the complete payloads. It checks the announced length against the limit
*before* buffering the body, so a peer cannot make us hold a gigabyte. A zero-length frame is
rejected: every message is a non-empty JSON object. An HTTP client that wanders onto the port
sends ``GET `` (0x47455420, 1.2 GB) as its "length" and is refused at once.
"""

from __future__ import annotations

from .errors import FrameTooLarge, FramingError

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "HEADER_BYTES", "FrameDecoder", "encode_frame"]

HEADER_BYTES = 4
#: History pages are chunked by the EA so that no frame needs to be bigger than this.
DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024
_MAX_LENGTH = 2**32 - 1


def encode_frame(payload: bytes, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Prefix ``payload`` with its length.

    Raises:
        FrameTooLarge: the payload exceeds ``max_frame_bytes`` (the peer would refuse it).
        FramingError: the payload is empty.
    """
    length = len(payload)
    if length == 0:
        raise FramingError("empty frame")
    if length > max_frame_bytes:
        raise FrameTooLarge(length, max_frame_bytes)
    return length.to_bytes(HEADER_BYTES, "big") + payload


class FrameDecoder:
    """Incremental decoder: feed bytes in any split, get whole payloads out.

    After a :class:`FramingError` the decoder stays failed: the stream has lost its framing and
    the only safe thing is to close the connection.
    """

    __slots__ = ("_buffer", "_failed", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if not 0 < max_frame_bytes <= _MAX_LENGTH:
            raise ValueError("max_frame_bytes must be between 1 and 2**32-1")
        #: May be lowered or raised between feeds (the server allows less before the handshake).
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._failed: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every payload completed by it, in order.

        Raises:
            FrameTooLarge: a length prefix announced more than ``max_frame_bytes``.
            FramingError: a zero-length frame, or the decoder already failed.
        """
        if self._failed is not None:
            raise FramingError("stream already failed") from self._failed
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        available = len(buffer)
        while available - offset >= HEADER_BYTES:
            length = int.from_bytes(buffer[offset : offset + HEADER_BYTES], "big")
            if length == 0 or length > self.max_frame_bytes:
                self._failed = (
                    FramingError("empty frame") if length == 0
                    else FrameTooLarge(length, self.max_frame_bytes)
                )
                buffer.clear()
                raise self._failed
            end = offset + HEADER_BYTES + length
            if end > available:
                break
            frames.append(bytes(buffer[offset + HEADER_BYTES : end]))
            offset = end
        if offset:
            del buffer[:offset]
        return frames
