"""What an NSIS installer (or the uninstaller it writes) says, read back from the ``.exe``.

A silent install (``/S``) shows no page, so the words an owner reads on the installer's pages
and in the uninstaller's questions cannot be watched in the Windows stage; they can be read.
NSIS keeps every string of the script in its header block, compressed after the *first
header* (``NSIS/Source/fileform.h``: ``flags``, ``0xDEADBEEF``, ``"NullsoftInst"``, the
header's length, the data's length), which starts on a 512-byte boundary of the file.
``installer.nsi`` compresses solid (``SetCompressor /SOLID``), the uninstaller it writes too:
with zlib (what the stage builds with) everything after the first header is one raw deflate
stream whose first four bytes are the header's length, then the header. A Unicode installer
(``Unicode true``) stores its strings as UTF-16LE; a variable inside a string is a code, so
the text compared is the literal part of a string.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Final

__all__ = ["header_text"]

#: The first header's signature and name, after its ``flags`` word.
_SIGNATURE: Final = b"\xef\xbe\xad\xdeNullsoftInst"
_FIRST_HEADER: Final = 28


def header_text(exe: Path) -> str:
    """Every string of the NSIS header in ``exe``, as one text (UTF-16LE decoded, NULs kept
    as separators).

    Raises:
        ValueError: no NSIS first header, or a header not compressed solid with zlib (the
            release's lzma build is not read here).
    """
    data = exe.read_bytes()
    at = -1
    for offset in range(0, len(data) - _FIRST_HEADER, 512):
        if data[offset + 4:offset + 4 + len(_SIGNATURE)] == _SIGNATURE:
            at = offset
            break
    if at < 0:
        raise ValueError(f"{exe} has no NSIS first header")
    length = struct.unpack_from("<i", data, at + 20)[0]
    try:
        solid = zlib.decompressobj(-15).decompress(data[at + _FIRST_HEADER:], 4 + length)
    except zlib.error as exc:
        raise ValueError(f"{exe}'s header is not zlib-compressed ({exc})") from None
    if len(solid) < 4 or struct.unpack_from("<i", solid)[0] != length:
        raise ValueError(f"{exe}'s data does not start with its header (not a solid build)")
    header = solid[4:]
    if len(header) != length:
        raise ValueError(f"{exe}: the header's {len(header)} bytes, not {length}")
    return header.decode("utf-16-le", errors="replace")
