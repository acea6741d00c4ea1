"""Owner passwords: scrypt in the documented string form, checked in constant time."""

from __future__ import annotations

import pytest

from mtgateway_console.passwords import hash_password, verify_password


def test_hash_has_the_documented_form_and_verifies() -> None:
    """``scrypt$16384$8$1$salt$hash``; the right password matches, a wrong one does not."""
    stored = hash_password("correct horse")
    parts = stored.split("$")
    assert parts[:4] == ["scrypt", "16384", "8", "1"] and len(bytes.fromhex(parts[4])) == 16
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)


def test_same_password_gets_a_fresh_salt() -> None:
    """Two hashes of one password differ (a random salt each time)."""
    assert hash_password("pw") != hash_password("pw")
    assert hash_password("pw", salt=b"s" * 16) == hash_password("pw", salt=b"s" * 16)


@pytest.mark.parametrize("stored", [
    "", "plain", "bcrypt$1$2$3$00$00", "scrypt$16384$8$1$zz$00",
    "scrypt$1073741824$8$1$00$00", "scrypt$1000$8$1$00$00",
])
def test_malformed_or_hostile_hashes_never_match(stored: str) -> None:
    """A broken or absurdly expensive stored string is a mismatch, not a crash or a hang."""
    assert not verify_password("anything", stored)
