"""The SQLite write-ahead log, read before SQLite opens it, to refuse a damaged one.

Why: when SQLite recovers a WAL it replays frames up to the first one whose checksum or salt
is wrong and silently drops everything after it, committed transactions included (SQLite
cannot tell damage from a write the crash cut short). For the order journal that means
forgetting orders that were sent: their ``client_id`` would be free again and a retry would
trade twice. And the first connection that opens the file then overwrites the WAL, so the
evidence is gone too. So the journal reads the WAL itself first (the format is documented at
https://www.sqlite.org/fileformat2.html#the_write_ahead_log) and refuses to start when
dropping its tail would lose a *commit*:

* the header is invalid (magic, version, page size or checksum) while whole frames follow:
  SQLite would ignore all of them;
* a frame is invalid and a later frame of the same WAL generation (same salts) is a commit
  frame: the commits after the damaged frame would be dropped.

A torn last transaction (frames after the last commit, the last commit frame itself half
written) is what a crash during a write leaves; its commit never returned, so nothing the
daemon acted on is in it, and it is not reported. Frames of an older generation (other salts)
are leftovers SQLite ignores by design.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Final

__all__ = ["wal_damage"]

_HEADER: Final = struct.Struct(">IIIIIIII")
_FRAME_HEADER: Final = struct.Struct(">IIIIII")
_MAGIC_LE, _MAGIC_BE = 0x377F0682, 0x377F0683
_VERSION: Final = 3007000
_MASK: Final = 0xFFFFFFFF


def _checksum(data: bytes, big_endian: bool, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum of ``data`` (a multiple of 8 bytes), continuing from (s0, s1)."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & _MASK
        s1 = (s1 + words[i + 1] + s0) & _MASK
    return s0, s1


def wal_damage(path: Path) -> str | None:
    """What is wrong with the WAL at ``path`` such that recovering it would drop commits, or
    None when it is absent, empty, sound, or only ends in a torn (uncommitted) write."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEADER.size:
        return None  # no frame can follow a header that was never completely written
    magic, version, page_size, _, salt1, salt2, c0, c1 = _HEADER.unpack_from(data)
    frame_size = _FRAME_HEADER.size + page_size
    big_endian = magic == _MAGIC_BE
    header_ok = (magic in (_MAGIC_LE, _MAGIC_BE) and version == _VERSION
                 and 512 <= page_size <= 65536 and page_size & (page_size - 1) == 0
                 and _checksum(data[:24], big_endian, 0, 0) == (c0, c1))
    if not header_ok:
        if len(data) >= _HEADER.size + _FRAME_HEADER.size + 512:
            return "its header is damaged, so SQLite would ignore every transaction in it"
        return None
    s0, s1 = c0, c1
    offset, index, broken_at = _HEADER.size, 0, None
    while offset + frame_size <= len(data):
        page_no, commit, f_salt1, f_salt2, f0, f1 = _FRAME_HEADER.unpack_from(data, offset)
        index += 1
        ours = (f_salt1, f_salt2) == (salt1, salt2)
        if broken_at is None:
            if ours:
                s0, s1 = _checksum(data[offset:offset + 8], big_endian, s0, s1)
                s0, s1 = _checksum(data[offset + _FRAME_HEADER.size:offset + frame_size],
                                   big_endian, s0, s1)
            if not ours or (s0, s1) != (f0, f1) or page_no == 0:
                broken_at = index
        elif ours and commit:
            return (f"frame {broken_at} is damaged and committed transactions follow it "
                    f"(frame {index}), which SQLite would silently drop")
        offset += frame_size
    return None
