"""Sealed boxes: what ``seal`` makes opens with the reference construction written with
``cryptography`` alone, and the reverse; every bad box is ``bad_box``, every bad key a
``ValueError``, as before the X25519 keys moved to libsodium."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mtgateway_base.wire.boxes import BOX_INFO, BoxOpener, seal
from mtgateway_base.wire.records import RecordRejected, b64url_decode, b64url_encode

DEVICE = "A" * 26
NONCE = "n" * 22
SECRETS = {"tok_1": b"k" * 32, "tok_2": b"\x00" * 32}


def _reference_aead(private: X25519PrivateKey, their_public: bytes, device_id: str,
                    nonce: str) -> AESGCM:
    """The box's key as the module's docstring writes it, all in ``cryptography``."""
    shared = private.exchange(X25519PublicKey.from_public_bytes(their_public))
    info = b"\n".join((BOX_INFO, device_id.encode("ascii"), nonce.encode("ascii")))
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared))


def test_a_sealed_box_opens_with_the_reference_construction() -> None:
    """``seal`` output is the documented format: an OpenSSL key opens every box of it."""
    requester = X25519PrivateKey.generate()
    authority_key, boxes = seal(requester.public_key().public_bytes_raw(), DEVICE, NONCE,
                                SECRETS)
    aead = _reference_aead(requester, b64url_decode(authority_key), DEVICE, NONCE)
    for token_id, secret in SECRETS.items():
        raw = b64url_decode(boxes[token_id])
        assert aead.decrypt(raw[:12], raw[12:], token_id.encode()) == secret


def test_the_opener_opens_a_box_sealed_by_the_reference_construction() -> None:
    """A box an OpenSSL key sealed to the opener's ``public_key`` opens, for its token only."""
    opener = BoxOpener(DEVICE, NONCE)
    authority = X25519PrivateKey.generate()
    aead = _reference_aead(authority, opener.public_key, DEVICE, NONCE)
    iv = secrets.token_bytes(12)
    box = b64url_encode(iv + aead.encrypt(iv, b"k" * 32, b"tok_1"))
    authority_key = b64url_encode(authority.public_key().public_bytes_raw())
    assert opener.open(authority_key, box, "tok_1") == b"k" * 32
    with pytest.raises(RecordRejected, match="bad_box"):
        opener.open(authority_key, box, "tok_2")


def test_seal_and_open_round_trip_for_their_request_only() -> None:
    """The opener of the request opens; another request's opener, device or nonce does not."""
    opener = BoxOpener(DEVICE, NONCE)
    authority_key, boxes = seal(opener.public_key, DEVICE, NONCE, SECRETS)
    assert {t: opener.open(authority_key, b, t) for t, b in boxes.items()} == SECRETS
    for stranger in (BoxOpener(DEVICE, NONCE), BoxOpener("B" * 26, NONCE),
                     BoxOpener(DEVICE, "m" * 22)):
        with pytest.raises(RecordRejected, match="bad_box"):
            stranger.open(authority_key, boxes["tok_1"], "tok_1")


def test_each_seal_has_a_fresh_key_and_fresh_ivs() -> None:
    """Two seals of the same secrets to the same key share no bytes of key or box."""
    opener = BoxOpener(DEVICE, NONCE)
    first, second = (seal(opener.public_key, DEVICE, NONCE, SECRETS) for _ in range(2))
    assert first[0] != second[0] and first[1]["tok_1"] != second[1]["tok_1"]
    assert len(b64url_decode(first[0])) == 32


@pytest.mark.parametrize("box_key, message", [
    (bytes(31), "box_key must be 32 bytes"), (bytes(33), "box_key must be 32 bytes"),
    (bytes(32), "Error computing shared key."),
    (b"\x01" + bytes(31), "Error computing shared key."),
], ids=["short", "long", "zero", "one"])
def test_seal_refuses_a_misshapen_or_small_order_box_key(box_key: bytes, message: str) -> None:
    """A box key of the wrong length, or of small order (no secret to share), is the
    ``ValueError`` it was: the first from the length check, the second OpenSSL's words."""
    with pytest.raises(ValueError) as info:
        seal(box_key, DEVICE, NONCE, SECRETS)
    assert str(info.value) == message


@pytest.mark.parametrize("authority_key", [
    b64url_encode(bytes(32)), b64url_encode(b"\x01" + bytes(31)), b64url_encode(bytes(31)),
    b64url_encode(bytes(33)), "!!", "",
], ids=["zero", "one", "short", "long", "garbage", "empty"])
def test_a_bad_authority_key_is_bad_box(authority_key: str) -> None:
    """A degenerate, misshapen or undecodable authority key is ``bad_box``, never a crash."""
    opener = BoxOpener(DEVICE, NONCE)
    _, boxes = seal(opener.public_key, DEVICE, NONCE, SECRETS)
    with pytest.raises(RecordRejected, match="bad_box") as info:
        opener.open(authority_key, boxes["tok_1"], "tok_1")
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("cut", [0, 4, 11, 12, 27])
def test_a_truncated_box_is_bad_box(cut: int) -> None:
    """A box cut short (no IV, no tag) is ``bad_box``."""
    opener = BoxOpener(DEVICE, NONCE)
    authority_key, boxes = seal(opener.public_key, DEVICE, NONCE, SECRETS)
    short = b64url_encode(b64url_decode(boxes["tok_1"])[:cut])
    with pytest.raises(RecordRejected, match="bad_box"):
        opener.open(authority_key, short, "tok_1")
