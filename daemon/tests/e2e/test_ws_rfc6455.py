"""``/ws`` held to RFC 6455's MUSTs for what a client sends: an Autobahn-style case list.

A raw client (a loopback socket, frames built here) upgrades with the token and sends each
case's frames; the test reads the server's frames until its close and checks the close code
the RFC names (or the answer, for the cases a server must serve). The cases follow the
sections of the Autobahn TestSuite's client-to-server list that apply to a server without
extensions: framing (§5.2: reserved bits, opcodes), masking (§5.1), fragmentation (§5.4),
control frames (§5.5), UTF-8 (§8.1) and close codes (§7.4).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest

from tests.e2e.fixtures import WAIT_S, Daemon

pytestmark = pytest.mark.network_edge

CALL = orjson.dumps({"jsonrpc": "2.0", "id": 7, "method": "version"})


def frame(payload: bytes, opcode: int = 0x1, *, fin: bool = True, masked: bool = True,
          rsv: int = 0) -> bytes:
    """One client frame (RFC 6455 §5.2), masked unless said otherwise."""
    size = len(payload)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    bit = 0x80 if masked else 0
    if size < 126:
        head = bytes([first, bit | size])
    elif size < 65536:
        head = bytes([first, bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, bit | 127]) + size.to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close(code: int, reason: bytes = b"") -> bytes:
    return frame(struct.pack("!H", code) + reason, 0x8)


@dataclass
class Raw:
    """A raw WebSocket client on one connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))
        await self.writer.drain()

    async def next_frame(self) -> tuple[int, bytes]:
        """The server's next frame (unmasked, §5.1): its opcode and payload."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), WAIT_S)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(await self.reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await self.reader.readexactly(8), "big")
        assert not second & 0x80, "a server's frames are not masked"
        return first & 0x0F, await self.reader.readexactly(size)

    async def close_code(self) -> tuple[int, list[tuple[int, bytes]]]:
        """Read to the server's close frame: its code, and the frames before it."""
        before = []
        while True:
            opcode, payload = await self.next_frame()
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0], before
            before.append((opcode, payload))


async def upgraded(daemon: Daemon, behind: bytes = b"") -> Raw:
    """A client upgraded with the token; ``behind`` is written in the same write as the
    upgrade request, before the 101 arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{daemon.http_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {daemon.token}\r\n\r\n").encode() + behind)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
    assert head.startswith(b"HTTP/1.1 101"), head
    return Raw(reader, writer)


@pytest.fixture
async def raw(daemon: Daemon) -> AsyncIterator[Raw]:
    """A client upgraded with the token, nothing sent since."""
    client = await upgraded(daemon)
    try:
        yield client
    finally:
        client.writer.close()


#: case id → the client's frames and the close code RFC 6455 requires of the server.
FAILING = {
    # §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    "unmasked-text": ([frame(CALL, masked=False)], 1002),
    "unmasked-ping": ([frame(b"x", 0x9, masked=False)], 1002),
    "unmasked-close": ([frame(struct.pack("!H", 1000), 0x8, masked=False)], 1002),
    # §5.2: reserved bits MUST be 0 unless an extension says otherwise; none is negotiated.
    "rsv1": ([frame(CALL, rsv=4)], 1002),
    "rsv3": ([frame(CALL, rsv=1)], 1002),
    # §5.2: reserved opcodes.
    "opcode-3": ([frame(b"", 0x3)], 1002),
    "opcode-11": ([frame(b"", 0xB)], 1002),
    # §5.4: a continuation with nothing to continue; a new message inside a fragmented one.
    "lone-continuation": ([frame(CALL, 0x0)], 1002),
    "text-inside-fragments": ([frame(CALL[:5], fin=False), frame(CALL[5:])], 1002),
    # §5.5: control frames are not fragmented and carry at most 125 bytes.
    "fragmented-ping": ([frame(b"x", 0x9, fin=False)], 1002),
    "ping-126-bytes": ([frame(b"x" * 126, 0x9)], 1002),
    # §8.1 / §7.4.1: a text message that is not UTF-8 fails the connection with 1007.
    "invalid-utf8": ([frame(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")], 1007),
    "overlong-utf8": ([frame(b'{"a":"\xc0\xaf"}')], 1007),
    "invalid-utf8-across-fragments": ([frame(b'{"a":"\xf4', fin=False),
                                       frame(b'\x90\x80\x80"}', 0x0)], 1007),
    # §7.4.1/§7.4.2: close codes a peer must not send, and a reason that is not UTF-8.
    "close-code-999": ([close(999)], 1002),
    "close-code-1005": ([close(1005)], 1002),
    "close-code-1015": ([close(1015)], 1002),
    "close-1-byte": ([frame(b"\x03", 0x8)], 1002),
    "close-reason-not-utf8": ([close(1000, b"\xff")], 1007),
}


@pytest.mark.parametrize("case", sorted(FAILING))
async def test_what_the_rfc_forbids_fails_the_connection(case: str, raw: Raw) -> None:
    frames, code = FAILING[case]
    await raw.send(*frames)
    got, before = await raw.close_code()
    assert got == code, (case, before)
    assert not [f for f in before if f[0] in (0x1, 0x2)], before  # nothing was answered


async def test_an_unmasked_frame_behind_a_masked_one_fails_the_connection(raw: Raw) -> None:
    """One write, a masked call then an unmasked one: the connection fails at the second (the
    first is read, and answered if its answer is out before the close: §7.1.7 lets a failing
    endpoint drop what is in flight)."""
    await raw.send(frame(CALL), frame(CALL.replace(b"7", b"8"), masked=False))
    got, before = await raw.close_code()
    assert got == 1002
    assert {orjson.loads(p)["id"] for op, p in before if op == 0x1} <= {7}


async def test_a_fragmented_call_split_anywhere_is_answered(raw: Raw) -> None:
    """§5.4: a message in three fragments with a ping between them, written byte by byte."""
    stream = frame(CALL[:4], fin=False) + frame(b"hi", 0x9) + frame(CALL[4:9], 0x0, fin=False) \
        + frame(CALL[9:], 0x0)
    for i in range(len(stream)):
        await raw.send(stream[i:i + 1])
    assert await raw.next_frame() == (0xA, b"hi")  # §5.5.3: the pong echoes the ping's data
    opcode, payload = await raw.next_frame()
    assert opcode == 0x1 and orjson.loads(payload)["id"] == 7


async def test_a_close_is_answered_with_its_code(raw: Raw) -> None:
    """§5.5.1: an endpoint answers a Close frame with a Close frame (the code echoed)."""
    await raw.send(close(1000, b"bye"))
    got, before = await raw.close_code()
    assert got == 1000 and before == []


async def test_an_unmasked_frame_sent_behind_the_upgrade_fails_the_connection(
        daemon: Daemon) -> None:
    """Frames written with the upgrade request (before the 101) are held to §5.1 as well."""
    client = await upgraded(daemon, frame(CALL, masked=False))
    try:
        got, before = await client.close_code()
        assert got == 1002 and before == []
    finally:
        client.writer.close()
