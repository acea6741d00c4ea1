"""Sealed boxes: a record's one secret, readable only by the request that asked for it.

A signed record tells a daemon a token's ``stored_key`` (which verifies a client or an EA and is
no credential, ``mtgateway.credential``) and its ``server_key``, with which the daemon proves
itself to them. ``server_key`` plays the daemon, so it must not be had by replaying a daemon's
request: on one machine any local user may bind the console's address while the console
restarts, collect the daemon's signed ``refresh`` and send it to the console once it is back,
to read ``server_key`` in the answer. So every lookup and refresh carries a fresh X25519
public key, inside the body the device key signs, and the authority seals ``server_key`` to it:

::

    shared = X25519(authority's fresh key, request's box_key)
    key    = HKDF-SHA256(shared, info = "mtgw-record-box-v1" LF device_id LF nonce), 32 bytes
    box    = 12-byte random IV || AES-256-GCM(key, IV, server_key, aad = token_id)

The record carries ``box_key`` (the authority's fresh public key) and ``server_key_box``; both
are covered by the record's signature. A replayed request is answered, and the answer is
useless: only the private half of the box key, which never left the daemon's memory, opens it.
A replayer cannot swap in a key of its own, since the device's signature covers the body.

The fresh X25519 keys on both sides, and their exchanges, are libsodium's
(``mtgateway_base.curve25519``: a key is made there faster than by OpenSSL, and every lookup
and refresh makes two); the HKDF and AES-GCM stay with ``cryptography``. The bytes are
the ones OpenSSL would produce for the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import curve25519
from .errors import RecordRejected
from .records import b64url_decode, b64url_encode

__all__ = ["BOX_INFO", "BoxOpener", "seal"]

BOX_INFO: Final = b"mtgw-record-box-v1"
_IV_BYTES: Final = 12


def _aead(shared: bytes, device_id: str, nonce: str) -> AESGCM:
    """AES-GCM under HKDF-SHA256(``shared``, no salt, info, 32 bytes), the box's key."""
    info = BOX_INFO + f"\n{device_id}\n{nonce}".encode("ascii")
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=info).derive(shared))


def seal(box_key: bytes, device_id: str, nonce: str,
         secrets_by_token: Mapping[str, bytes]) -> tuple[str, dict[str, str]]:
    """Seal each token's secret to the requester's ``box_key`` (raw X25519 public key).

    Returns:
        The authority's fresh public key (base64url), and token id → sealed box (base64url).

    Raises:
        ValueError: ``box_key`` is not a 32-byte X25519 public key.
    """
    if len(box_key) != 32:
        raise ValueError("box_key must be 32 bytes")
    ours = curve25519.ExchangeKey()
    aead = _aead(ours.exchange(box_key), device_id, nonce)
    boxes = {}
    for token_id, secret in secrets_by_token.items():
        iv = os.urandom(_IV_BYTES)  # (what ``secrets.token_bytes`` reads, directly)
        boxes[token_id] = b64url_encode(iv + aead.encrypt(iv, secret, token_id.encode()))
    return b64url_encode(ours.public_raw), boxes


class BoxOpener:
    """The requester's half: a fresh X25519 key for one request, and the opening of its boxes.

    Args:
        device_id: this device (part of the key derivation, as the authority seals it).
        nonce: the request's nonce (likewise).
    """

    def __init__(self, device_id: str, nonce: str) -> None:
        self._key = curve25519.ExchangeKey()
        self.device_id = device_id
        self.nonce = nonce
        #: The raw public key the request carries as ``box_key``.
        self.public_key = self._key.public_raw

    def open(self, authority_key: str, box: str, token_id: str) -> bytes:
        """The secret sealed in ``box`` for ``token_id``.

        Raises:
            RecordRejected: ``bad_box`` (not a box this request's key opens).
        """
        try:
            their = b64url_decode(authority_key)
            raw = b64url_decode(box)
            aead = _aead(self._key.exchange(their), self.device_id, self.nonce)
            return aead.decrypt(raw[:_IV_BYTES], raw[_IV_BYTES:], token_id.encode())
        except (ValueError, InvalidTag) as exc:
            raise RecordRejected("bad_box", "the record's sealed key does not open") from exc
