"""Ed25519 and X25519 through libsodium: the same bytes as ``cryptography``'s, both ways, and
the same errors for bad input; stricter only on degenerate keys."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from mtgateway_base.curve25519 import ExchangeKey, SigningKey, verify

#: RFC 8032 section 7.1, TEST 2: a one-byte message.
RFC8032_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC8032_MESSAGE = bytes.fromhex("72")
RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
#: The identity point, a public key of small order, and a "signature" (R = the base point,
#: s = 1) that satisfies OpenSSL's equation for it over any message.
IDENTITY_KEY = b"\x01" + bytes(31)
IDENTITY_FORGERY = bytes.fromhex("58" + "66" * 31) + b"\x01" + bytes(31)


def test_the_rfc_8032_vector_signs_and_verifies() -> None:
    """A key from the RFC's seed has the RFC's public key and signs the RFC's bytes."""
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(RFC8032_SEED))
    assert key.public_raw == RFC8032_PUBLIC
    assert key.sign(RFC8032_MESSAGE) == RFC8032_SIGNATURE
    verify(RFC8032_PUBLIC, RFC8032_SIGNATURE, RFC8032_MESSAGE)


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 1000])
def test_signatures_are_cryptographys_bytes_and_verify_both_ways(length: int) -> None:
    """libsodium's signature is the one OpenSSL makes; each library accepts the other's."""
    private = Ed25519PrivateKey.generate()
    key, message = SigningKey(private), os.urandom(length)
    ours, theirs = key.sign(message), private.sign(message)
    assert ours == theirs
    private.public_key().verify(ours, message)
    verify(key.public_raw, theirs, message)


def test_a_bad_signature_is_invalid_signature_as_before() -> None:
    """A flipped bit, another message, another key and a signature of the wrong length are
    all ``InvalidSignature``, as ``Ed25519PublicKey.verify`` raises for each."""
    key, other = SigningKey(Ed25519PrivateKey.generate()), Ed25519PrivateKey.generate()
    signature = key.sign(b"message")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    other_raw = other.public_key().public_bytes_raw()
    cases = [(key.public_raw, flipped, b"message"), (key.public_raw, signature, b"massage"),
             (other_raw, signature, b"message"), (key.public_raw, signature[:63], b"message"),
             (key.public_raw, signature + b"\x00", b"message"), (key.public_raw, b"", b"")]
    for public_raw, sig, message in cases:
        with pytest.raises(InvalidSignature):
            Ed25519PublicKey.from_public_bytes(public_raw).verify(sig, message)
        with pytest.raises(InvalidSignature):
            verify(public_raw, sig, message)


@pytest.mark.parametrize("length", [0, 31, 33])
def test_a_public_key_of_the_wrong_length_is_the_same_value_error(length: int) -> None:
    """The message ``Ed25519PublicKey.from_public_bytes`` gives, word for word."""
    with pytest.raises(ValueError) as before:
        Ed25519PublicKey.from_public_bytes(bytes(length))
    with pytest.raises(ValueError) as now:
        verify(bytes(length), bytes(64), b"message")
    assert str(now.value) == str(before.value)


def test_a_small_order_key_is_refused_where_openssl_accepted_it() -> None:
    """The one difference: with the identity point as its key, one fixed signature verifies
    for every message under OpenSSL; libsodium accepts it for none."""
    for message in (b"anything", b"anything else"):
        Ed25519PublicKey.from_public_bytes(IDENTITY_KEY).verify(IDENTITY_FORGERY, message)
        with pytest.raises(InvalidSignature):
            verify(IDENTITY_KEY, IDENTITY_FORGERY, message)


def test_a_signing_keys_repr_shows_the_public_half_only() -> None:
    """The seed never reaches a log line through ``repr``."""
    private = Ed25519PrivateKey.generate()
    text = repr(SigningKey(private))
    assert private.public_key().public_bytes_raw().hex() in text
    assert private.private_bytes_raw().hex() not in text


def test_x25519_agrees_with_cryptography_both_ways() -> None:
    """A libsodium key and an OpenSSL key reach the same shared secret from either side, and
    two libsodium keys reach one between them."""
    ours, theirs = ExchangeKey(), X25519PrivateKey.generate()
    shared = ours.exchange(theirs.public_key().public_bytes_raw())
    assert shared == theirs.exchange(X25519PublicKey.from_public_bytes(ours.public_raw))
    other = ExchangeKey()
    assert ours.exchange(other.public_raw) == other.exchange(ours.public_raw)
    assert len(shared) == 32 and ours.public_raw != other.public_raw


@pytest.mark.parametrize("their_public", [bytes(32), b"\x01" + bytes(31), bytes(31), bytes(33)],
                         ids=["zero", "one", "short", "long"])
def test_a_degenerate_or_misshapen_x25519_key_is_the_same_value_error(
        their_public: bytes) -> None:
    """A point of small order (an all-zero secret) or a key of the wrong length: the
    ``ValueError`` and the message ``X25519PrivateKey.exchange`` gives."""
    with pytest.raises(ValueError) as before:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(their_public))
    with pytest.raises(ValueError) as now:
        ExchangeKey().exchange(their_public)
    assert str(now.value) == str(before.value)


def test_an_exchange_keys_repr_shows_the_public_half_only() -> None:
    """Only the public key is in ``repr``."""
    key = ExchangeKey()
    assert repr(key) == f"ExchangeKey(public_raw={key.public_raw.hex()})"
