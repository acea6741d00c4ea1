"""TOTP and recovery codes (``mtgateway_console/totp.py``) against RFC 6238's own test vectors."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from mtgateway_console import totp

#: RFC 6238 Appendix B, the SHA-1 rows: the seed is the ASCII "12345678901234567890", the
#: codes have 8 digits, X = 30 s, T0 = 0.
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
SEED = b"12345678901234567890"


@pytest.mark.parametrize(("at", "code"), RFC6238_SHA1)
def test_rfc6238_appendix_b_sha1_vectors(at: int, code: str) -> None:
    assert totp.totp(SEED, at, digits=8) == code


def test_rfc4226_appendix_d_hotp_vectors() -> None:
    # RFC 4226 Appendix D: the same seed, counters 0..9, six digits.
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922",
                "162583", "399871", "520489"]
    assert [totp.hotp(SEED, counter) for counter in range(10)] == expected


def test_a_code_matches_its_step_and_one_either_side_only() -> None:
    at = 1_700_000_000.0
    now = totp.step_of(at)
    for offset in (-1, 0, 1):
        code = totp.hotp(SEED, now + offset)
        assert totp.match_step(SEED, code, at) == now + offset
    for offset in (-2, 2):
        assert totp.match_step(SEED, totp.hotp(SEED, now + offset), at) is None
    assert totp.match_step(SEED, "12345", at) is None
    assert totp.match_step(SEED, "abcdef", at) is None


def test_typed_codes_are_normalized() -> None:
    assert totp.normalize_code(" 123 456 ") == "123456"
    assert totp.normalize_code("123-456") == "123456"
    assert totp.normalize_code("１２３４５６") is None  # fullwidth digits are not ASCII
    assert totp.normalize_code("1234567") is None


def test_the_secret_comes_from_the_injected_randomness_and_reads_back() -> None:
    draws = iter(range(totp.SECRET_BYTES))
    key = totp.new_secret(lambda bound: next(draws) % bound)
    assert key == bytes(range(totp.SECRET_BYTES))
    typed = totp.b32_secret(key).replace(" ", "")
    assert base64.b32decode(typed + "=" * (-len(typed) % 8)) == key
    uri = urlsplit(totp.otpauth_uri(key, "owner@example.com"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/MT%20Gateway:owner@example.com"
    query = parse_qs(uri.query)
    assert query["secret"] == [typed] and query["issuer"] == ["MT Gateway"]
    assert (query["digits"], query["period"], query["algorithm"]) == (["6"], ["30"], ["SHA1"])


def test_recovery_codes_are_ten_distinct_and_normalize() -> None:
    import secrets

    codes = totp.new_recovery_codes(secrets.randbelow)
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert totp.normalize_recovery(code.upper().replace("-", " ")) == code.replace("-", "")
    assert totp.normalize_recovery("0000000000") is None  # 0 is not in the alphabet
    pepper = b"k" * 32
    assert (totp.recovery_mac(pepper, "a@example.com", "abcdeabcde")
            != totp.recovery_mac(pepper, "b@example.com", "abcdeabcde"))
