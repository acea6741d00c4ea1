"""What RFC 6455 requires of a client's frames that aiohttp's reader does not check.

aiohttp's WebSocket reader enforces most of RFC 6455's MUSTs on what a client sends (reserved
bits, unknown opcodes, fragmented or oversize control frames, close codes, a close reason
that is not UTF-8: each fails the connection with 1002 or 1007), but it reads an unmasked
client frame as readily as a masked one, and with ``decode_text=False`` (the daemon hands
text frames to orjson as bytes) it does not check that a text message is UTF-8. Both are
MUSTs:

* §5.1: "The server MUST close the connection upon receiving a frame that is not masked ...
  a server MAY send a Close frame with a status code of 1002 (protocol error)";
* §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte
  stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
  Connection_", with 1007 (§7.4.1: "data within a message that was not consistent with the
  type of the message").

:class:`ClientFrames` is the first, sans-I/O: it follows the frame boundaries in the bytes a
client sends (only the headers are read; a payload is skipped by its length) and says where
the first unmasked frame starts. :func:`is_text` is the second. ``ws.py`` applies both.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ClientFrames", "is_text"]

#: The most bytes a frame header takes: 2, an 8-byte length, a 4-byte mask.
_MAX_HEADER: Final = 14


class ClientFrames:
    """The frame boundaries of one client's byte stream, and whether every frame is masked.

    Feed it every byte the client sends, in order, in chunks of any size.
    """

    __slots__ = ("_head", "_skip", "unmasked")

    def __init__(self) -> None:
        #: Header bytes of the frame being read, when a chunk ended inside its header.
        self._head = b""
        #: Payload bytes of the current frame still to come.
        self._skip = 0
        #: Set once an unmasked frame is seen; nothing is read after it.
        self.unmasked = False

    def feed(self, data: bytes) -> int | None:
        """Follow ``data``; the offset in it where the first unmasked frame starts (0 when its
        header began in an earlier chunk), or None while every frame is masked."""
        if self.unmasked:
            return 0
        pos, size = 0, len(data)
        while True:
            if self._skip:
                step = min(self._skip, size - pos)
                self._skip -= step
                pos += step
            if pos >= size:
                return None
            held = self._head
            head = held + data[pos:pos + _MAX_HEADER - len(held)]
            if len(head) < 2:
                self._head = head
                return None
            if not head[1] & 0x80:
                self.unmasked = True
                return max(pos - len(held), 0)
            length = head[1] & 0x7F
            extra = 2 if length == 126 else 8 if length == 127 else 0
            need = 2 + extra + 4
            if len(head) < need:  # the chunk ends inside the header: all of it is held
                self._head = head
                return None
            if extra:
                length = int.from_bytes(head[2:2 + extra], "big")
            self._head = b""
            pos += need - len(held)
            self._skip = length


def is_text(data: bytes) -> bool:
    """Whether a text message's payload is UTF-8 (RFC 6455 §5.6, §8.1)."""
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True
