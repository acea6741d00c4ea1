"""Device proofs across the two Ed25519 libraries: the headers are the bytes ``cryptography``
makes, a proof signed either way passes, and every bad one is refused for today's reason."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.curve25519 import SigningKey
from mtgateway_base.wire.proofs import (
    ProofRejected,
    check_device_proof,
    device_info,
    device_proof_headers,
    proof_message,
)
from mtgateway_base.wire.records import b64url_decode, b64url_encode, device_id_for

NOW = 1_800_000_000.0
PATH = "/v1/records/lookup"
BODY = b'{"token_hint":"x"}'
#: The identity point (a key of small order) and a signature OpenSSL accepts for it over any
#: message (``base/tests/test_curve25519.py``).
IDENTITY_KEY = b"\x01" + bytes(31)
IDENTITY_FORGERY = bytes.fromhex("58" + "66" * 31) + b"\x01" + bytes(31)


def _reason(headers: dict[str, str]) -> str:
    with pytest.raises(ProofRejected) as info:
        check_device_proof(headers, "POST", PATH, BODY, NOW)
    return info.value.reason


def test_the_headers_are_the_ones_cryptography_signs() -> None:
    """The same key as a ``cryptography`` key or a converted one gives the same four headers,
    and the signature is ``Ed25519PrivateKey.sign``'s over the proof message."""
    key = Ed25519PrivateKey.generate()
    headers = device_proof_headers(key, "POST", PATH, BODY, NOW)
    assert device_proof_headers(SigningKey(key), "POST", PATH, BODY, NOW) == headers
    message = proof_message("POST", PATH, headers["X-Device-Time"], BODY)
    assert b64url_decode(headers["X-Device-Signature"]) == key.sign(message)
    assert headers["X-Device-Id"] == device_info(key).device_id
    key.public_key().verify(b64url_decode(headers["X-Device-Signature"]), message)


def test_a_proof_signed_by_cryptography_passes() -> None:
    """A proof made the old way (OpenSSL's signature) is checked by libsodium and passes."""
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    stamp = str(int(NOW * 1000))
    headers = {"X-Device-Id": device_id_for(raw),
               "X-Device-Key": base64.b64encode(raw).decode(), "X-Device-Time": stamp,
               "X-Device-Signature": b64url_encode(key.sign(proof_message("POST", PATH, stamp,
                                                                          BODY)))}
    checked = check_device_proof(headers, "POST", PATH, BODY, NOW)
    assert checked.device == device_info(key)


def test_a_bad_signature_is_bad_device_signature() -> None:
    """A flipped bit, a signature cut short or grown, none at all that decodes, or another
    key's signature: ``bad_device_signature``, as before."""
    key = Ed25519PrivateKey.generate()
    headers = device_proof_headers(key, "POST", PATH, BODY, NOW)
    signature = b64url_decode(headers["X-Device-Signature"])
    others = device_proof_headers(Ed25519PrivateKey.generate(), "POST", PATH, BODY, NOW)
    for bad in (bytes([signature[0] ^ 1]) + signature[1:], signature[:63], signature + b"\0",
                b"\0\0\0", b64url_decode(others["X-Device-Signature"])):
        assert _reason({**headers, "X-Device-Signature": b64url_encode(bad)}) == \
            "bad_device_signature"


def test_a_key_of_the_wrong_length_or_another_device_is_device_key_mismatch() -> None:
    """The key is checked against its length and the device id before any signature."""
    headers = device_proof_headers(Ed25519PrivateKey.generate(), "POST", PATH, BODY, NOW)
    for raw in (bytes(31), bytes(33)):
        assert _reason({**headers, "X-Device-Key": base64.b64encode(raw).decode(),
                        "X-Device-Id": device_id_for(raw)}) == "device_key_mismatch"
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert _reason({**headers, "X-Device-Key": base64.b64encode(other).decode()}) == \
        "device_key_mismatch"


def test_a_small_order_device_key_is_bad_device_signature() -> None:
    """A device made on the identity point, whose one signature OpenSSL accepted for every
    request, is refused: libsodium's stricter check, under the usual reason."""
    headers = {"X-Device-Id": device_id_for(IDENTITY_KEY),
               "X-Device-Key": base64.b64encode(IDENTITY_KEY).decode(),
               "X-Device-Time": str(int(NOW * 1000)),
               "X-Device-Signature": b64url_encode(IDENTITY_FORGERY)}
    assert _reason(headers) == "bad_device_signature"
