"""The token format: ``mtgw_`` + 32 base62 random characters + 6 base62 characters of CRC32.

Shaped after GitHub's tokens: the prefix makes a leaked token recognisable to secret scanners,
the checksum lets us refuse a mistyped or truncated token as ``malformed_token`` without a
lookup, and base62 keeps it one double-click to select. 32 base62 characters are ~190 bits,
far beyond guessing. The token is never stored: the authority keeps its hint and its verifier
(``mtgateway.credential``).
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_LIFETIME_DAYS", "TOKEN_LENGTH", "TOKEN_PREFIX", "display_token",
           "generate_token", "is_well_formed"]

TOKEN_PREFIX: Final = "mtgw_"
_BODY_LENGTH: Final = 32
_CHECK_LENGTH: Final = 6
TOKEN_LENGTH: Final = len(TOKEN_PREFIX) + _BODY_LENGTH + _CHECK_LENGTH
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET: Final = frozenset(_ALPHABET)
#: How long a new token lives when its maker does not choose: ``mtgateway token create``'s
#: ``--expires-in`` and the console's token form both start from it, so one fact has one
#: answer. Long enough that an EA is not cut off by surprise within a season, short enough that
#: a token pasted somewhere and forgotten dies by itself (the owner chooses "never" explicitly).
DEFAULT_LIFETIME_DAYS: Final = 90


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(_CHECK_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def generate_token(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A new random token. ``randbelow`` is injectable so tests can make known tokens."""
    body = "".join(_ALPHABET[randbelow(62)] for _ in range(_BODY_LENGTH))
    return TOKEN_PREFIX + body + _checksum(body)


def is_well_formed(token: str) -> bool:
    """Prefix, length, alphabet and checksum are right (says nothing of validity)."""
    if len(token) != TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return False
    rest = token[len(TOKEN_PREFIX):]
    if not _ALPHABET_SET.issuperset(rest):
        return False
    body, check = rest[:_BODY_LENGTH], rest[_BODY_LENGTH:]
    return secrets.compare_digest(_checksum(body), check)


def display_token(token: str) -> str:
    """A recognisable but useless form for logs and listings: ``mtgw_AbCd…``."""
    return token[: len(TOKEN_PREFIX) + 4] + "…"
