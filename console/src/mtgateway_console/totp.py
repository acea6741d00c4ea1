"""Time-based one-time passwords (RFC 6238) and recovery codes, sans I/O.

The owner's second factor: an authenticator app holds a 160-bit secret and shows, every 30 s,
six digits derived from it and the time (HOTP, RFC 4226, over the 30-second step number,
HMAC-SHA-1: what every authenticator app implements). The console accepts the step before and
after the current one (a phone's clock a little off, a code typed as it rolled over), and each
step at most once per owner: the caller keeps the last accepted step and refuses any step not
after it (RFC 6238 §5.2), so a code seen over a shoulder or in a log is spent once used.

Recovery codes stand in for the app once each: ten codes of ten base32 characters (50 bits)
shown once at enrolment, kept only as keyed hashes (:func:`recovery_mac`).

Everything here is pure: the clock and the randomness are the caller's (injected in tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Callable
from typing import Final
from urllib.parse import quote, urlencode

__all__ = ["DIGITS", "RECOVERY_CODES", "SECRET_BYTES", "STEP_S", "WINDOW", "b32_secret",
           "hotp", "match_step", "new_recovery_codes", "new_secret", "normalize_code",
           "normalize_recovery", "otpauth_uri", "recovery_mac", "step_of", "totp"]

#: The step length and the number of digits authenticator apps use by default.
STEP_S: Final = 30
DIGITS: Final = 6
#: 160 bits: RFC 4226 §4 recommends it, and it is the HMAC-SHA-1 block's natural key size.
SECRET_BYTES: Final = 20
#: Steps accepted either side of the current one.
WINDOW: Final = 1
#: How many recovery codes an enrolment (or a regeneration) makes, and their length.
RECOVERY_CODES: Final = 10
_RECOVERY_CHARS: Final = 10
_B32: Final = "abcdefghijklmnopqrstuvwxyz234567"


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: the ``digits``-digit code for ``counter`` (dynamic truncation)."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFF_FFFF
    return str(value % 10**digits).zfill(digits)


def step_of(at: float, step_s: int = STEP_S) -> int:
    """The RFC 6238 time step ``T`` of epoch second ``at`` (``T0`` = 0)."""
    return int(at // step_s)


def totp(key: bytes, at: float, *, digits: int = DIGITS, digest: str = "sha1",
         step_s: int = STEP_S) -> str:
    """RFC 6238: the code shown at epoch second ``at``."""
    return hotp(key, step_of(at, step_s), digits, digest)


def normalize_code(text: str) -> str | None:
    """Six digits from what the owner typed (blanks and a middle dash allowed), or ``None``."""
    digits = "".join(ch for ch in text if ch not in " -\t")
    if len(digits) != DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def match_step(key: bytes, code: str, at: float, window: int = WINDOW) -> int | None:
    """The step within ``window`` of ``at`` whose code is ``code`` (every candidate compared
    in constant time), or ``None``. Whether that step was already used is the caller's to
    decide (it is kept in the database)."""
    typed = normalize_code(code)
    if typed is None:
        return None
    now = step_of(at)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, step), typed) and found is None:
            found = step
    return found


def new_secret(randbelow: Callable[[int], int]) -> bytes:
    """A fresh secret of :data:`SECRET_BYTES` from the injected randomness."""
    return bytes(randbelow(256) for _ in range(SECRET_BYTES))


def b32_secret(key: bytes) -> str:
    """The secret as the apps take it typed in: base32, no padding, in groups of four."""
    text = base64.b32encode(key).decode("ascii").rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def otpauth_uri(key: bytes, account: str, issuer: str = "MT Gateway") -> str:
    """The ``otpauth://totp/...`` URI authenticator apps import (Google Authenticator's
    key-URI format: issuer in the label and as a parameter, SHA1, 6 digits, 30 s)."""
    secret = base64.b32encode(key).decode("ascii").rstrip("=")
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": STEP_S}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"


def new_recovery_codes(randbelow: Callable[[int], int],
                       count: int = RECOVERY_CODES) -> list[str]:
    """``count`` codes like ``k3m9p-2xq7d`` from the injected randomness."""
    codes = []
    for _ in range(count):
        text = "".join(_B32[randbelow(32)] for _ in range(_RECOVERY_CHARS))
        codes.append(f"{text[:5]}-{text[5:]}")
    return codes


def normalize_recovery(text: str) -> str | None:
    """A recovery code's ten characters, lower case, without blanks or dashes; ``None`` when
    it cannot be one."""
    chars = "".join(ch for ch in text.lower() if ch not in " -\t")
    if len(chars) != _RECOVERY_CHARS or any(ch not in _B32 for ch in chars):
        return None
    return chars


def recovery_mac(pepper: bytes, owner_email: str, code: str) -> str:
    """What is stored of a recovery code: HMAC-SHA-256 under a key derived from the data key,
    over the owner and the normalized code (a copy of the database alone cannot test
    guesses)."""
    return hmac.new(pepper, f"mtgw-recovery-v1\x1f{owner_email}\x1f{code}".encode(),
                    hashlib.sha256).hexdigest()
